//! Interop with real numpy: our files open in `numpy.load` with the same values, and files numpy
//! writes (`savez`, `savez_compressed`, and `savez` to a pipe, which uses data descriptors) read back
//! equal. Needs the project venv (`make setup`).

#[path = "../../../tests/util.rs"]
mod util;

use std::process::Command;

fn python(script: &str, args: &[&std::path::Path]) -> String {
    let out = Command::new(util::python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn numpy_loads_our_files_with_the_same_values() {
    let dir = util::Dir::new();
    let mut d = util::tiny_dataset(7, 4, [5, 6, 3], 10, 3);
    d.train_clean_labels = Some(vec![1, 2, 3, 4, 5, 6, 7]);
    d.train_corrupted = Some(vec![1, 0, 1, 0, 1, 0, 1]);
    let path = dir.dataset("ours.npz", &d);
    let printed = python(
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
    let dir = util::Dir::new();
    let plain = dir.path("plain.npz");
    let compressed = dir.path("compressed.npz");
    let streamed = dir.path("streamed.npz");
    python(
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
    let same = python(
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
    let dir = util::Dir::new();
    let path = dir.path("bare.npz");
    python(
        "import sys, numpy as np; np.savez(sys.argv[1], train_images=np.zeros((3,2,2,1), np.uint8), train_labels=np.array([0, 4, 1], np.uint8))",
        &[&path],
    );
    let d = rethink_dataset::read_path(&path).unwrap();
    assert_eq!(d.meta.name, "bare");
    assert_eq!(d.meta.classes, ["0", "1", "2", "3", "4"]);
}
