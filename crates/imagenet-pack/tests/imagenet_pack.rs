//! imagenet-pack on a tiny ImageNet-style tree: an RGB JPEG, a PNG named `.JPEG`, a grayscale
//! JPEG, a CMYK (Adobe) JPEG and a truncated JPEG. Images whose shorter side already equals
//! --size are only cropped, so output pixels can be checked against the source exactly
//! (lossless sources and JPEGs of uniform blocks at quality 100; YCbCr colors within 1).

use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageEncoder};
use rethink_dataset::Dataset;
use rethink_testkit::Run;

const BIN: &str = env!("CARGO_BIN_EXE_imagenet-pack");

/// The 16×16 blocks of the RGB JPEG (48×16): the crop keeps the middle one.
const RGB_BLOCKS: [[u8; 3]; 3] = [[250, 10, 10], [20, 200, 40], [30, 60, 220]];
/// The CMYK fixture's blocks after conversion (as Pillow gives them), TL, TR, BL, BR.
const CMYK_AS_RGB: [[u8; 3]; 4] = [[255, 255, 255], [53, 216, 245], [191, 95, 0], [51, 46, 42]];

fn jpeg(width: u32, height: u32, pixels: &[u8], color: ExtendedColorType) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 100)
        .write_image(pixels, width, height, color)
        .unwrap();
    out
}

fn rgb_jpeg() -> Vec<u8> {
    let mut px = Vec::new();
    for _y in 0..16 {
        for x in 0..48 {
            px.extend(RGB_BLOCKS[x / 16]);
        }
    }
    jpeg(48, 16, &px, ExtendedColorType::Rgb8)
}

/// 16 wide, 20 high, every pixel different: value (x, y, k) = 10x + 3y + 100k mod 256.
fn png_value(x: usize, y: usize, k: usize) -> u8 {
    ((10 * x + 3 * y + 100 * k) % 256) as u8
}

fn png() -> Vec<u8> {
    let px: Vec<u8> = (0..20)
        .flat_map(|y| (0..16).flat_map(move |x| (0..3).map(move |k| png_value(x, y, k))))
        .collect();
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&px, 16, 20, ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// 16 wide, 24 high, uniform 8×8 blocks of gray 40 + 30·(block row) + 100·(block column).
fn gray_value(x: usize, y: usize) -> u8 {
    (40 + 30 * (y / 8) + 100 * (x / 8)) as u8
}

fn gray_jpeg() -> Vec<u8> {
    let px: Vec<u8> = (0..24)
        .flat_map(|y| (0..16).map(move |x| gray_value(x, y)))
        .collect();
    jpeg(16, 24, &px, ExtendedColorType::L8)
}

fn cmyk_jpeg() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cmyk.jpg")).unwrap()
}

/// ROOT/train/n01/{a,b}.JPEG, ROOT/train/n02/{c,d,e}.JPEG; e is a truncated JPEG.
fn tree(root: &Path) {
    let rgb = rgb_jpeg();
    let files: [(&str, Vec<u8>); 5] = [
        ("train/n01/a.JPEG", rgb.clone()),
        ("train/n01/b.JPEG", png()),
        ("train/n02/c.JPEG", gray_jpeg()),
        ("train/n02/d.JPEG", cmyk_jpeg()),
        ("train/n02/e.JPEG", rgb[..rgb.len() / 2].to_vec()),
    ];
    for (name, bytes) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    std::fs::write(
        root.join("LOC_synset_mapping.txt"),
        "n01 tench, Tinca tinca\nn02 goldfish, Carassius auratus\nn03 unused\n",
    )
    .unwrap();
}

fn read(path: &Path) -> Dataset {
    rethink_dataset::read_path(path).expect("a valid dataset file")
}

fn px(images: &rethink_dataset::Images, n: usize, y: usize, x: usize) -> [u8; 3] {
    let [_, h, w, _] = images.shape();
    let i = ((n * h + y) * w + x) * 3;
    images.as_u8().unwrap()[i..i + 3].try_into().unwrap()
}

/// Checks the four good images of the tree, in order a, b, c, d.
fn assert_tree_images(images: &rethink_dataset::Images, first: usize) {
    assert_eq!(images.shape()[1..], [16, 16, 3]);
    // a: the middle 16×16 block of the 48×16 image (away from the chroma-blended edges).
    for (y, x) in [(8, 8), (2, 4), (13, 11)] {
        let got = px(images, first, y, x);
        for k in 0..3 {
            assert!(
                got[k].abs_diff(RGB_BLOCKS[1][k]) <= 1,
                "a ({y},{x}): {got:?}"
            );
        }
    }
    // b: rows 2..18 of the 16×20 PNG, exactly.
    for y in 0..16 {
        for x in 0..16 {
            let want = [0, 1, 2].map(|k| png_value(x, y + 2, k));
            assert_eq!(px(images, first + 1, y, x), want, "b ({y},{x})");
        }
    }
    // c: rows 4..20 of the 16×24 grayscale JPEG, gray copied to R, G and B.
    for y in 0..16 {
        for x in 0..16 {
            let g = gray_value(x, y + 4);
            assert_eq!(px(images, first + 2, y, x), [g, g, g], "c ({y},{x})");
        }
    }
    // d: the CMYK blocks, converted as libjpeg/Pillow do.
    for (i, want) in CMYK_AS_RGB.iter().enumerate() {
        let (by, bx) = (i / 2, i % 2);
        for (y, x) in [
            (by * 8, bx * 8),
            (by * 8 + 7, bx * 8 + 7),
            (by * 8 + 3, bx * 8 + 5),
        ] {
            assert_eq!(&px(images, first + 3, y, x), want, "d ({y},{x})");
        }
    }
}

#[test]
fn a_corrupt_image_stops_the_run_in_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    Run::new(BIN, dir.path(), &[".", "--size", "16", "-o", "out.npz"])
        .fails(1, &["e.JPEG", "truncated JPEG", "--skip-bad"]);
    assert!(!dir.path().join("out.npz").exists());
}

#[test]
fn with_skip_bad_the_good_images_are_packed_in_order_and_the_bad_listed() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    Run::new(
        BIN,
        dir.path(),
        &[
            ".",
            "--size",
            "16",
            "--skip-bad",
            "--synsets",
            "LOC_synset_mapping.txt",
            "-o",
            "out.npz",
        ],
    )
    .success();
    let ds = read(&dir.path().join("out.npz"));
    assert!(ds.test.is_none());
    let train = ds.train.as_ref().unwrap();
    assert_eq!(train.images.shape(), [4, 16, 16, 3]);
    assert_eq!(train.labels, vec![0, 0, 1, 1]);
    assert_tree_images(&train.images, 0);
    assert_eq!(ds.meta.name, "imagenet");
    assert_eq!(
        ds.meta.classes,
        ["tench, Tinca tinca", "goldfish, Carassius auratus"]
    );
    assert_eq!(ds.meta.extra["wnids"], serde_json::json!(["n01", "n02"]));
    assert_eq!(ds.meta.extra["skipped_count"], 1);
    let skipped = &ds.meta.extra["skipped"][0];
    assert!(skipped["file"].as_str().unwrap().ends_with("n02/e.JPEG"));
    assert!(skipped["error"].as_str().unwrap().contains("truncated"));
    assert_eq!(ds.meta.source.as_ref().unwrap()["size"], 16);
}

#[test]
fn shards_hold_the_same_images_in_the_same_order_for_any_jobs() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let base = [".", "--size", "16", "--skip-bad"];
    Run::new(BIN, dir.path(), &[&base[..], &["-o", "all.npz"]].concat()).success();
    for jobs in ["1", "3"] {
        let out = format!("shards{jobs}");
        Run::new(
            BIN,
            dir.path(),
            &[
                &base[..],
                &["--shard-size", "3", "--jobs", jobs, "-o", &out],
            ]
            .concat(),
        )
        .success();
    }
    let all = read(&dir.path().join("all.npz"));
    let all = all.train.as_ref().unwrap();
    for jobs in ["1", "3"] {
        let shard0 = read(&dir.path().join(format!("shards{jobs}/train-00000.npz")));
        let shard1 = read(&dir.path().join(format!("shards{jobs}/train-00001.npz")));
        assert!(
            !dir.path()
                .join(format!("shards{jobs}/train-00002.npz"))
                .exists()
        );
        let (s0, s1) = (
            shard0.train.as_ref().unwrap(),
            shard1.train.as_ref().unwrap(),
        );
        // Shard 1 held d and e; e was skipped.
        assert_eq!((s0.len(), s1.len()), (3, 1));
        assert_eq!(s0.images, all.images.select(&[0, 1, 2]));
        assert_eq!(s1.images, all.images.select(&[3]));
        assert_eq!([&s0.labels[..], &s1.labels[..]].concat(), all.labels);
        assert_eq!(shard1.meta.source.as_ref().unwrap()["shard"]["index"], 1);
        assert_eq!(shard1.meta.extra["skipped_count"], 1);
        assert_eq!(shard0.meta.extra["skipped_count"], 0);
        // The directory is one dataset: the shards end to end, listed in index.json.
        let set = read(&dir.path().join(format!("shards{jobs}")));
        let whole = set.train.as_ref().unwrap();
        assert_eq!(whole.images, all.images);
        assert_eq!(whole.labels, all.labels);
        assert_eq!(set.meta.extra["skipped_count"], 1);
        assert!(set.meta.source.as_ref().unwrap().get("shard").is_none());
        let index: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(format!("shards{jobs}/index.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(index["train"], 4);
        assert_eq!(index["shards"][1]["file"], "train-00001.npz");
        assert_eq!(index["shards"][1]["train"], 1);
        let bytes =
            std::fs::read(dir.path().join(format!("shards{jobs}/train-00001.npz"))).unwrap();
        assert_eq!(index["shards"][1]["bytes"], bytes.len());
        assert_eq!(
            index["shards"][1]["blake3"],
            format!("blake3:{}", blake3::hash(&bytes).to_hex())
        );
    }
    let one = std::fs::read(dir.path().join("shards1/train-00000.npz")).unwrap();
    let three = std::fs::read(dir.path().join("shards3/train-00000.npz")).unwrap();
    // Only the recorded arguments (--jobs) differ.
    assert_eq!(one.len(), three.len());
}

#[test]
fn flat_validation_files_take_their_labels_from_a_file_and_the_train_classes() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    std::fs::remove_file(dir.path().join("train/n02/e.JPEG")).unwrap();
    let val = dir.path().join("val");
    std::fs::create_dir(&val).unwrap();
    std::fs::write(val.join("ILSVRC2012_val_00000001.JPEG"), cmyk_jpeg()).unwrap();
    std::fs::write(val.join("ILSVRC2012_val_00000002.JPEG"), png()).unwrap();
    std::fs::write(
        dir.path().join("LOC_val_solution.csv"),
        "ImageId,PredictionString\nILSVRC2012_val_00000002,n01 1 2 3 4\nILSVRC2012_val_00000001,n02 0 0 5 5 n02 1 1 4 4\n",
    )
    .unwrap();
    Run::new(
        BIN,
        dir.path(),
        &[
            ".",
            "--split",
            "val",
            "--size",
            "16",
            "--val-labels",
            "LOC_val_solution.csv",
            "-o",
            "val.npz",
        ],
    )
    .success();
    let ds = read(&dir.path().join("val.npz"));
    assert!(ds.train.is_none());
    let test = ds.test.as_ref().unwrap();
    assert_eq!(test.labels, vec![1, 0]);
    assert_eq!(px(&test.images, 0, 15, 15), CMYK_AS_RGB[3]);
    assert_eq!(
        px(&test.images, 1, 0, 0),
        [0, 1, 2].map(|k| png_value(0, 2, k))
    );
    assert_eq!(ds.meta.classes, ["n01", "n02"]);
    let labels = &ds.meta.source.as_ref().unwrap()["val_labels"];
    assert_eq!(labels["file"], "LOC_val_solution.csv");
    assert_eq!(labels["md5"].as_str().unwrap().len(), 32);

    // A validation image without a label is an error naming it.
    std::fs::write(val.join("ILSVRC2012_val_00000003.JPEG"), png()).unwrap();
    Run::new(
        BIN,
        dir.path(),
        &[
            ".",
            "--split",
            "val",
            "--size",
            "16",
            "--val-labels",
            "LOC_val_solution.csv",
            "-o",
            "v.npz",
        ],
    )
    .fails(1, &["no label for ILSVRC2012_val_00000003.JPEG"]);
}

#[test]
fn larger_images_are_resized_so_the_shorter_side_fits_then_cropped() {
    let dir = tempfile::tempdir().unwrap();
    // 64×40: left half red, right half blue. --size 10: resized 16×10, crop columns 3..13,
    // so output columns 0..5 come from red, 5..10 from blue (the seam blurs over ~2 pixels).
    let px_: Vec<u8> = (0..40)
        .flat_map(|_| (0..64).flat_map(|x| if x < 32 { [255, 0, 0] } else { [0, 0, 255] }))
        .collect();
    let class = dir.path().join("train/n01");
    std::fs::create_dir_all(&class).unwrap();
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(&px_, 64, 40, ExtendedColorType::Rgb8)
        .unwrap();
    std::fs::write(class.join("wide.png"), bytes).unwrap();
    Run::new(BIN, dir.path(), &[".", "--size", "10", "-o", "o.npz"]).success();
    let ds = read(&dir.path().join("o.npz"));
    let images = &ds.train.as_ref().unwrap().images;
    assert_eq!(images.shape(), [1, 10, 10, 3]);
    for y in 0..10 {
        assert_eq!(px(images, 0, y, 0), [255, 0, 0]);
        assert_eq!(px(images, 0, y, 3), [255, 0, 0]);
        assert_eq!(px(images, 0, y, 6), [0, 0, 255]);
        assert_eq!(px(images, 0, y, 9), [0, 0, 255]);
    }
}

#[test]
fn an_empty_class_directory_and_bad_flags_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    std::fs::create_dir(dir.path().join("train/n03")).unwrap();
    Run::new(BIN, dir.path(), &[".", "--skip-bad", "-o", "o.npz"])
        .fails(1, &["train/n03: empty class directory"]);
    Run::new(BIN, dir.path(), &[".", "--shard-size", "2"]).fails(2, &["--shard-size needs -o DIR"]);
    Run::new(BIN, dir.path(), &["nowhere", "-o", "o.npz"])
        .fails(1, &["nowhere/train: no such directory"]);
    assert!(!dir.path().join("o.npz").exists());
}

/// `jpeg` with the frame header (SOF0) claiming `width`×`height`: the scan data stays small.
fn with_declared_size(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = out
        .windows(2)
        .position(|w| w == [0xff, 0xc0])
        .expect("a baseline JPEG");
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}

/// Runs imagenet-pack in a shell that limits the address space to 2 GiB (a decoder that
/// allocates what a header declares dies there), with `env` set. Two decoding threads and two
/// malloc arenas, so that address space reserved per thread on a many-core machine stays small.
fn run_bounded(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let args: Vec<&str> = args.iter().copied().chain(["--jobs", "2"]).collect();
    Run::with_memory_limit(BIN, dir, &args, env, 2 << 20)
}

#[test]
fn decompression_bombs_are_refused_from_their_headers_and_skipped_with_skip_bad() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A JPEG of 48x16 pixels whose header claims 60000x60000 (10.8 GB of RGB), and a real PNG
    // of 1000x1000 (3 MB decoded, a few KB on disk) against a cap lowered to 1 MiB.
    let big_png = {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(
                &vec![0; 1000 * 1000 * 3],
                1000,
                1000,
                ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    };
    let files: [(&str, Vec<u8>); 4] = [
        ("train/n01/a.JPEG", rgb_jpeg()),
        (
            "train/n01/bomb.JPEG",
            with_declared_size(&rgb_jpeg(), 60000, 60000),
        ),
        ("train/n02/big.JPEG", big_png),
        ("train/n02/c.JPEG", gray_jpeg()),
    ];
    for (name, bytes) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let env = [("RETHINK_MAX_EXPAND", "1M")];
    run_bounded(root, &[".", "--size", "16", "-o", "out.npz"], &env).fails(
        1,
        &[
            "bomb.JPEG",
            "decompression bomb: declares 60000x60000 pixels (10800000000 bytes decoded), more than the 1048576 bytes",
            "--skip-bad",
        ],
    );
    assert!(!root.join("out.npz").exists());

    run_bounded(
        root,
        &[".", "--size", "16", "--skip-bad", "-o", "out.npz"],
        &env,
    )
    .success();
    let ds = read(&root.join("out.npz"));
    let train = ds.train.as_ref().unwrap();
    assert_eq!(train.labels, vec![0, 1]);
    assert_eq!(ds.meta.extra["skipped_count"], 2);
    let skipped = ds.meta.extra["skipped"].as_array().unwrap();
    assert!(skipped[0]["file"].as_str().unwrap().ends_with("bomb.JPEG"));
    assert!(skipped[1]["file"].as_str().unwrap().ends_with("big.JPEG"));
    for s in skipped {
        assert!(
            s["error"].as_str().unwrap().contains("decompression bomb"),
            "{s}"
        );
    }
    // Without the lowered cap the PNG (3 MB) is an ordinary image; the JPEG is still refused.
    run_bounded(
        root,
        &[".", "--size", "16", "--skip-bad", "-o", "out.npz"],
        &[],
    )
    .success();
    let ds = read(&root.join("out.npz"));
    assert_eq!(ds.train.as_ref().unwrap().labels, vec![0, 1, 1]);
    assert_eq!(ds.meta.extra["skipped_count"], 1);
}

/// Every name under `dir`, hidden ones included, as paths relative to it, sorted.
fn all_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_killed_shard_run_leaves_no_directory_and_a_finished_one_every_shard() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let before = all_files(dir.path());
    let args = [
        ".",
        "--size",
        "16",
        "--skip-bad",
        "--shard-size",
        "3",
        "-o",
        "out/shards",
    ];
    // Two shards (a b c | d e, e skipped): killed after the first is written, in the middle of
    // writing the second's images, and with both written but not yet named.
    for point in ["shard:0", "entry:train_images.npy#2", "shard:1"] {
        let out = std::process::Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .env("RETHINK_TEST_ABORT_AT", point)
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(9), "{point}: {}", out.status);
        assert_eq!(all_files(dir.path()), before, "{point}: something was left");
    }
    Run::new(BIN, dir.path(), &args).success();
    let shards: Vec<String> = all_files(&dir.path().join("out/shards"));
    assert_eq!(shards, ["index.json", "train-00000.npz", "train-00001.npz"]);
    let lens: Vec<usize> = shards[1..]
        .iter()
        .map(|s| {
            read(&dir.path().join("out/shards").join(s))
                .train
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(lens, [3, 1]);
}
