//! Interop with real numpy: our files open in `numpy.load` with the same values, and files numpy
//! writes (`savez`, `savez_compressed`, and `savez` to a pipe, which uses data descriptors) read back
//! equal. Needs the project venv (`make setup`).

use rethink_testkit as testkit;
use rethink_testkit::run_python;

#[test]
fn numpy_loads_our_files_with_the_same_values() {
    let dir = testkit::Dir::new();
    let mut d = testkit::tiny_dataset(7, 4, [5, 6, 3], 10, 3);
    d.train_clean_labels = Some(vec![1, 2, 3, 4, 5, 6, 7]);
    d.train_corrupted = Some(vec![1, 0, 1, 0, 1, 0, 1]);
    let path = dir.dataset("ours.npz", &d);
    let printed = run_python(
        r#"
import sys, json, numpy as np
z = np.load(sys.argv[1])
print(json.dumps({k: [str(z[k].dtype), list(z[k].shape), int(z[k].astype(np.int64).sum()), z[k].reshape(-1)[:5].tolist()] for k in z.files}))
print(json.loads(bytes(z["meta"]).decode())["classes"][3])
print(list(z.keys()))
"#,
        &[&path],
    );
    let mut lines = printed.lines();
    let summary: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let train = d.train.as_ref().unwrap();
    let px = train.images.as_u8().unwrap();
    let sum: i64 = px.iter().map(|&v| v as i64).sum();
    assert_eq!(summary["train_images"][0], "uint8");
    assert_eq!(summary["train_images"][1], serde_json::json!([7, 5, 6, 3]));
    assert_eq!(summary["train_images"][2], sum);
    assert_eq!(summary["train_images"][3], serde_json::json!(px[..5]));
    assert_eq!(
        summary["train_labels"][3],
        serde_json::json!(train.labels[..5])
    );
    assert_eq!(
        summary["train_clean_labels"][3],
        serde_json::json!([1, 2, 3, 4, 5])
    );
    assert_eq!(summary["train_corrupted"][2], 4);
    assert_eq!(summary["test_labels"][1], serde_json::json!([4]));
    assert_eq!(lines.next().unwrap(), "class3");
    assert_eq!(
        lines.next().unwrap(),
        "['meta', 'train_images', 'train_labels', 'train_clean_labels', 'train_corrupted', 'test_images', 'test_labels']"
    );
}

#[test]
fn files_written_by_numpy_read_back_equal() {
    let dir = testkit::Dir::new();
    let plain = dir.path("plain.npz");
    let compressed = dir.path("compressed.npz");
    let streamed = dir.path("streamed.npz");
    run_python(
        r#"
import sys, io, json, numpy as np
rng = np.random.default_rng(5)
arrays = dict(
    meta=np.frombuffer(json.dumps({"name": "np", "classes": ["a", "b", "c"], "history": []}).encode(), dtype=np.uint8),
    train_images=rng.integers(0, 256, (9, 4, 3, 2), dtype=np.uint8),
    train_labels=rng.integers(0, 3, 9).astype(np.uint16),
    test_images=rng.standard_normal((2, 4, 3, 2)).astype(np.float32),
    test_labels=np.array([2, 0], dtype=np.uint8),
)
np.savez(sys.argv[1], **arrays)
np.savez_compressed(sys.argv[2], **arrays)
class Pipe(io.RawIOBase):  # a non-seekable sink, as stdout would be
    def __init__(self): self.buf = bytearray()
    def writable(self): return True
    def write(self, b): self.buf += b; return len(b)
p = Pipe(); np.savez(p, **arrays); open(sys.argv[3], "wb").write(bytes(p.buf))
"#,
        &[&plain, &compressed, &streamed],
    );
    let a = rethink_dataset::read_path(&plain).unwrap();
    let b = rethink_dataset::read_path(&compressed).unwrap();
    let c =
        rethink_dataset::read_from(std::fs::File::open(&streamed).unwrap(), "streamed").unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.meta.classes, ["a", "b", "c"]);
    assert_eq!(a.train.as_ref().unwrap().images.shape(), [9, 4, 3, 2]);
    assert_eq!(a.test.as_ref().unwrap().labels, [2, 0]);
    let f = a.test.as_ref().unwrap().images.as_f32().unwrap();
    assert_eq!(f.len(), 48);
    // Our rewrite of a numpy file loads in numpy equal to the original.
    let ours = dir.dataset("rewritten.npz", &a);
    let same = run_python(
        r#"
import sys, numpy as np
x, y = np.load(sys.argv[1]), np.load(sys.argv[2])
print(all(np.array_equal(x[k], y[k]) for k in x.files if k != "meta"))
"#,
        &[&plain, &ours],
    );
    assert_eq!(same.trim(), "True");
}

#[test]
fn a_numpy_file_without_meta_gets_numbered_classes() {
    let dir = testkit::Dir::new();
    let path = dir.path("bare.npz");
    run_python(
        "import sys, numpy as np; np.savez(sys.argv[1], train_images=np.zeros((3,2,2,1), np.uint8), train_labels=np.array([0, 4, 1], np.uint8))",
        &[&path],
    );
    let d = rethink_dataset::read_path(&path).unwrap();
    assert_eq!(d.meta.name, "bare");
    assert_eq!(d.meta.classes, ["0", "1", "2", "3", "4"]);
}

#[test]
fn a_meta_from_another_program_gets_defaults_for_missing_fields_and_keeps_the_rest() {
    let dir = testkit::Dir::new();
    let no_name = dir.path("other.npz");
    let nothing_of_ours = dir.path("bare-meta.npz");
    run_python(
        r#"
import sys, json, numpy as np
def meta(d): return np.frombuffer(json.dumps(d).encode(), dtype=np.uint8)
arrays = dict(train_images=np.zeros((3, 2, 2, 1), np.uint8), train_labels=np.array([0, 2, 1], np.uint8))
np.savez(sys.argv[1], meta=meta({"classes": ["x", "y", "z"], "origin": {"tool": "theirs", "v": [1, 2]}}), **arrays)
np.savez(sys.argv[2], meta=meta({"name": None, "note": "made by hand"}), **arrays)
"#,
        &[&no_name, &nothing_of_ours],
    );
    let d = rethink_dataset::read_path(&no_name).unwrap();
    assert_eq!(d.meta.name, "other");
    assert_eq!(d.meta.classes, ["x", "y", "z"]);
    assert_eq!(d.meta.layout, "NHWC");
    assert!(d.meta.history.is_empty());
    let origin = serde_json::json!({"tool": "theirs", "v": [1, 2]});
    assert_eq!(d.meta.extra["origin"], origin);

    let e = rethink_dataset::read_path(&nothing_of_ours).unwrap();
    assert_eq!(e.meta.name, "bare-meta");
    assert_eq!(e.meta.classes, ["0", "1", "2"]);
    assert_eq!(e.meta.extra["note"], "made by hand");

    // Unknown fields survive our rewrite, for us and for numpy.
    let ours = dir.dataset("rewritten.npz", &d);
    let again = rethink_dataset::read_path(&ours).unwrap();
    assert_eq!(again.meta, d.meta);
    let printed = run_python(
        "import sys, json, numpy as np; m = json.loads(bytes(np.load(sys.argv[1])['meta']).decode()); print(json.dumps([m['name'], m['origin']]))",
        &[&ours],
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&printed).unwrap(),
        serde_json::json!(["other", origin])
    );

    // What cannot be a meta is still refused, in one line.
    let list = dir.path("list-meta.npz");
    run_python(
        "import sys, numpy as np; np.savez(sys.argv[1], meta=np.frombuffer(b'[1, 2]', np.uint8), train_images=np.zeros((1,1,1,1), np.uint8), train_labels=np.zeros(1, np.uint8))",
        &[&list],
    );
    let err = rethink_dataset::read_path(&list).unwrap_err().to_string();
    assert!(
        err.ends_with("list-meta.npz: meta: expected a JSON object, got an array"),
        "{err}"
    );
}

/// numpy's defaults as other code meets them: int64 labels (`np.array([0, 1])`), float64 images
/// (`np.random.rand`), big-endian arrays (`dtype='>u2'`, files from other machines) and bool
/// masks. Each is read with the right values or refused with a one-line error naming the entry;
/// none is misread.
#[test]
fn numpy_defaults_met_in_the_wild_are_read_correctly_or_refused_in_one_line() {
    let dir = testkit::Dir::new();
    let names = [
        "int64-labels",
        "float64-images",
        "big-endian-labels",
        "big-endian-images",
        "int32-labels",
        "bool-labels",
        "bool-mask",
        "float32-images",
        "uint16-labels",
    ];
    let paths: Vec<_> = names
        .iter()
        .map(|n| dir.path(&format!("{n}.npz")))
        .collect();
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    run_python(
        r#"
import sys, numpy as np
img = np.arange(2 * 2 * 2 * 1, dtype=np.uint8).reshape(2, 2, 2, 1)
lab = np.array([1, 0], dtype=np.uint8)
def save(i, **kw):
    arrays = dict(train_images=img, train_labels=lab)
    arrays.update(kw)
    np.savez(sys.argv[1 + i], **arrays)
save(0, train_labels=np.array([1, 0]))                       # numpy's default integer: int64
save(1, train_images=img / 255.0)                            # float64
save(2, train_labels=np.array([300, 2], dtype=">u2"))
save(3, train_images=(img / 255.0).astype(">f4"))
save(4, train_labels=np.array([1, 0], dtype=np.int32))
save(5, train_labels=np.array([True, False]))
save(6, train_clean_labels=lab, train_corrupted=np.array([True, False]))
save(7, train_images=(img / 4).astype(np.float32))
save(8, train_labels=np.array([300, 2], dtype=np.uint16))
"#,
        &refs,
    );
    let read = |i: usize| rethink_dataset::read_path(&paths[i]);
    let refused = |i: usize, needle: &str| {
        let err = read(i).expect_err(names[i]).to_string();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{}: {err}", names[i]);
    };
    refused(
        0,
        "train_labels: expected dtype uint8 or uint16, got '<i8' (use .astype(np.uint8))",
    );
    refused(
        1,
        "train_images: expected dtype uint8 or float32, got '<f8'",
    );
    refused(2, "train_labels: expected dtype uint8 or uint16, got '>u2'");
    refused(
        3,
        "train_images: expected dtype uint8 or float32, got '>f4'",
    );
    refused(4, "train_labels: expected dtype uint8 or uint16, got '<i4'");
    refused(5, "train_labels: expected dtype uint8 or uint16, got '|b1'");

    let mask = read(6).unwrap();
    assert_eq!(mask.train_corrupted, Some(vec![1, 0]));
    assert_eq!(mask.train_clean_labels, Some(vec![1, 0]));
    let floats = read(7).unwrap();
    let px = floats.train.as_ref().unwrap().images.as_f32().unwrap();
    assert_eq!(px, (0..8).map(|v| v as f32 / 4.0).collect::<Vec<_>>());
    let wide = read(8).unwrap();
    assert_eq!(wide.train.as_ref().unwrap().labels, [300, 2]);
    assert_eq!(wide.meta.classes.len(), 301);
}
