//! The four parsers and the valid files each starts from. Seeds are tiny (a few KB), so an input
//! takes microseconds to a millisecond and a minute runs tens of thousands of them; caps are set
//! low (1 MiB) so an input that makes something expand is refused at once.

use std::io::{BufReader, Write};
use std::path::Path;

use cifar_fetch::{LabelKind, Which};
use imagenet_pack::resize::Filter;
use mnist_fetch::{Idx, IdxKind};
use rethink_dataset::{Bytes, Dataset, Images, Meta, ReadLimits, Split};

use crate::{Rng, Target};

/// What a fuzzed file may expand to.
const CAP: u64 = 1 << 20;

/// Every target, in the order `scripts/fuzz` runs them.
pub fn all() -> Vec<Box<dyn Target>> {
    vec![
        Box::new(Npz),
        Box::new(IdxFiles),
        Box::new(CifarArchive),
        Box::new(ImageFiles),
    ]
}

/// The target called `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Target>> {
    all().into_iter().find(|t| t.name() == name)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("in memory");
    enc.finish().expect("in memory")
}

/// Gzips half the inputs (the real files come both ways) and, now and then, mutates the
/// compressed bytes too.
fn maybe_gzip(rng: &mut Rng, bytes: Vec<u8>) -> Vec<u8> {
    if rng.one_in(2) {
        return bytes;
    }
    let mut gz = gzip(&bytes);
    if rng.one_in(8) {
        crate::mutate(rng, &mut gz, &[]);
    }
    gz
}

/// The dataset reader (`rethink_dataset`): numpy's files and ours, read from a buffer (the
/// memory-mapped path) and from a stream (the pipe path).
pub struct Npz;

fn tiny_dataset(float: bool) -> Dataset {
    let images = if float {
        Images::from_f32([3, 2, 2, 1], (0..12).map(|v| v as f32 / 7.0).collect())
    } else {
        Images::from_u8(
            [3, 2, 2, 3],
            (0..36).map(|v| (v * 7) as u8).collect::<Vec<u8>>(),
        )
    };
    let mut d = Dataset::new(
        Meta::new("fuzz", vec!["a".into(), "b".into(), "c".into()]),
        Some(Split {
            images: images.clone(),
            labels: vec![0, 2, 1],
        }),
        Some(Split {
            images,
            labels: vec![1, 1, 0],
        }),
    );
    if float {
        d.train_clean_labels = Some(vec![0, 1, 1]);
        d.train_corrupted = Some(vec![0, 1, 0]);
    }
    d
}

impl Target for Npz {
    fn name(&self) -> &'static str {
        "npz"
    }
    fn seeds(&self) -> Vec<Vec<u8>> {
        let mut seeds = vec![
            include_bytes!("../../dataset/tests/data/numpy-compressed.npz").to_vec(),
            include_bytes!("../../dataset/tests/data/numpy-compressed-streamed.npz").to_vec(),
        ];
        for float in [false, true] {
            let mut out = Vec::new();
            rethink_dataset::write_to(&tiny_dataset(float), &mut out, "seed").expect("valid");
            seeds.push(out);
        }
        seeds
    }
    fn run(&self, input: &[u8], _scratch: &Path) -> Result<(), String> {
        let limits = ReadLimits { max_expand: CAP };
        let streamed = rethink_dataset::read_from_limited(input, "fuzz.npz", &limits);
        let mapped =
            rethink_dataset::read_bytes_limited(Bytes::from(input.to_vec()), "fuzz.npz", &limits);
        if let Err(e) = streamed
            && !crate::is_one_printable_line(&e.to_string())
        {
            return Err(e.to_string());
        }
        mapped.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// `mnist-fetch`'s IDX reader, on plain and gzipped files, then the split it builds.
pub struct IdxFiles;

fn idx(magic: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, magic];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

impl Target for IdxFiles {
    fn name(&self) -> &'static str {
        "idx"
    }
    fn seeds(&self) -> Vec<Vec<u8>> {
        let pixels: Vec<u8> = (0..3 * 6 * 5).map(|v| (v * 13) as u8).collect();
        vec![
            idx(3, &[3, 6, 5], &pixels),
            idx(1, &[3], &[1, 9, 0]),
            idx(3, &[0, 28, 28], &[]),
        ]
    }
    fn encode(&self, rng: &mut Rng, bytes: Vec<u8>) -> Vec<u8> {
        maybe_gzip(rng, bytes)
    }
    fn run(&self, input: &[u8], _scratch: &Path) -> Result<(), String> {
        let read = |kind| {
            let reader = rethink_fetch::maybe_gunzip(BufReader::new(input))
                .map_err(|e| format!("fuzz: cannot read: {e}"))?;
            mnist_fetch::read_idx_from(reader, "fuzz", kind, CAP).map_err(|e| format!("{e:#}"))
        };
        let result = match (read(IdxKind::Images), read(IdxKind::Labels)) {
            // Labels to match a file of zero-sized images may not fit in memory: the tool
            // would need a labels file as long, which the cap bounds.
            (Ok(images), _) if images.dims[0] > 1 << 20 => Ok(()),
            (Ok(images), _) => {
                let n = images.dims[0];
                let labels = Idx {
                    dims: vec![n],
                    data: (0..n).map(|i| (i % 11) as u8).collect(),
                };
                mnist_fetch::split(images, "images", labels, "labels").map(|_| ())
            }
            (Err(_), Ok(labels)) => {
                let n = labels.dims[0];
                let images = Idx {
                    dims: vec![n, 1, 1],
                    data: vec![0; n],
                };
                mnist_fetch::split(images, "images", labels, "labels").map(|_| ())
            }
            (Err(e), Err(_)) => return Err(e),
        };
        result.map_err(|e| format!("{e:#}"))
    }
}

/// `cifar-fetch`'s archive reader (gzip, tar, the record files), CIFAR-10 and CIFAR-100 layouts.
pub struct CifarArchive;

fn record(i: usize, labels: &[u8]) -> Vec<u8> {
    let mut rec = labels.to_vec();
    rec.extend((0..3072).map(|p| ((i * 31 + p * 7) % 256) as u8));
    rec
}

fn tar(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, body) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, &body[..])
            .expect("in memory");
    }
    builder.into_inner().expect("in memory")
}

impl Target for CifarArchive {
    fn name(&self) -> &'static str {
        "cifar"
    }
    fn seeds(&self) -> Vec<Vec<u8>> {
        let dir = "cifar-10-batches-bin";
        let mut ten: Vec<(String, Vec<u8>)> = (1..=5)
            .map(|k| (format!("{dir}/data_batch_{k}.bin"), record(k, &[k as u8])))
            .collect();
        ten.push((format!("{dir}/test_batch.bin"), record(9, &[3])));
        let names: String = (0..10).map(|c| format!("class{c}\n")).collect();
        ten.push((format!("{dir}/batches.meta.txt"), names.into_bytes()));
        let dir = "cifar-100-binary";
        let fine: String = (0..100).map(|c| format!("f{c}\n")).collect();
        let coarse: String = (0..20).map(|c| format!("c{c}\n")).collect();
        let hundred = vec![
            (format!("{dir}/coarse_label_names.txt"), coarse.into_bytes()),
            (format!("{dir}/fine_label_names.txt"), fine.into_bytes()),
            (format!("{dir}/test.bin"), record(1, &[4, 44])),
            (format!("{dir}/train.bin"), record(2, &[19, 99])),
        ];
        vec![tar(&ten), tar(&hundred)]
    }
    fn encode(&self, rng: &mut Rng, bytes: Vec<u8>) -> Vec<u8> {
        maybe_gzip(rng, bytes)
    }
    fn run(&self, input: &[u8], scratch: &Path) -> Result<(), String> {
        let path = scratch.join("archive.tar.gz");
        std::fs::write(&path, input).map_err(|e| format!("scratch: {e}"))?;
        let limits = ReadLimits { max_expand: CAP };
        let ten = cifar_fetch::read_archive_path(&path, Which::Cifar10, None, limits);
        let hundred =
            cifar_fetch::read_archive_path(&path, Which::Cifar100, Some(LabelKind::Fine), limits);
        if let Err(e) = hundred {
            let message = format!("{e:#}");
            if !crate::is_one_printable_line(&message) {
                return Err(message);
            }
        }
        ten.map(|_| ()).map_err(|e| format!("{e:#}"))
    }
}

/// `imagenet-pack`'s image decoding (JPEG by its magic bytes, PNG and the rest through `image`),
/// then the resize and crop the decoded size drives.
pub struct ImageFiles;

impl Target for ImageFiles {
    fn name(&self) -> &'static str {
        "image"
    }
    fn seeds(&self) -> Vec<Vec<u8>> {
        use image::codecs::jpeg::JpegEncoder;
        use image::codecs::png::PngEncoder;
        use image::{ExtendedColorType, ImageEncoder};
        let rgb: Vec<u8> = (0..24 * 16 * 3).map(|v| (v * 5) as u8).collect();
        let gray: Vec<u8> = (0..16 * 12).map(|v| (v * 3) as u8).collect();
        let mut seeds = Vec::new();
        for (pixels, w, h, color) in [
            (&rgb, 24, 16, ExtendedColorType::Rgb8),
            (&gray, 16, 12, ExtendedColorType::L8),
        ] {
            let mut jpeg = Vec::new();
            JpegEncoder::new_with_quality(&mut jpeg, 90)
                .write_image(pixels, w, h, color)
                .expect("in memory");
            seeds.push(jpeg);
            let mut png = Vec::new();
            PngEncoder::new(&mut png)
                .write_image(pixels, w, h, color)
                .expect("in memory");
            seeds.push(png);
        }
        let rgba: Vec<u8> = (0..8 * 8 * 4).map(|v| (v * 9) as u8).collect();
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(&rgba, 8, 8, ExtendedColorType::Rgba8)
            .expect("in memory");
        seeds.push(png);
        seeds.push(include_bytes!("../../imagenet-pack/tests/data/cmyk.jpg").to_vec());
        seeds
    }
    fn run(&self, input: &[u8], _scratch: &Path) -> Result<(), String> {
        let rgb = imagenet_pack::decode::decode(input, 4 * CAP)?;
        imagenet_pack::resize::resize_crop(&rgb, 8, Filter::Bilinear)?;
        Ok(())
    }
}
