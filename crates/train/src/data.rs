//! The paper's input protocol on the device: the whole split lives as one uint8 (or float32)
//! tensor; each batch is gathered, cropped (center, or random with `--augment crop`), flipped
//! (`--augment flip`) and whitened per image, (x − mean) / max(std, 1/√D), without copying images
//! through the host.

use anyhow::{Result, bail};
use burn::tensor::{DType, Device, Distribution, Int, Tensor, TensorData};
use rethink_dataset::{Pixels, Split};

/// Image pixels on the device, one row per image (channels-last `H·W·C` values).
#[derive(Clone, Debug)]
pub enum DevicePixels {
    U8(Tensor<2, Int>),
    F32(Tensor<2>),
}

/// One split (train or test) on the device.
#[derive(Clone, Debug)]
pub struct DeviceSplit {
    pub pixels: DevicePixels,
    /// The labels scored against, as i64 on the device.
    pub labels: Tensor<1, Int>,
    pub len: usize,
}

impl DeviceSplit {
    pub fn upload(split: &Split, device: &Device) -> DeviceSplit {
        let [n, h, w, c] = split.images.shape();
        let row = h * w * c;
        let pixels = match split.images.pixels() {
            Pixels::U8(bytes) => {
                let data = TensorData::new(bytes.to_vec(), [n, row]);
                DevicePixels::U8(Tensor::from_data(data, (device, DType::U8)))
            }
            Pixels::F32(values) => DevicePixels::F32(Tensor::from_data(
                TensorData::new(values.clone(), [n, row]),
                device,
            )),
        };
        DeviceSplit {
            pixels,
            labels: labels_tensor(&split.labels, device),
            len: n,
        }
    }
}

pub fn labels_tensor(labels: &[u16], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::from_data(
        TensorData::new(values, [labels.len()]),
        (device, DType::I64),
    )
}

/// Data augmentation, `--augment crop,flip`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Augment {
    pub crop: bool,
    pub flip: bool,
}

impl Augment {
    pub fn parse(list: &[String]) -> Result<Augment> {
        let mut augment = Augment::default();
        for item in list {
            match item.as_str() {
                "crop" => augment.crop = true,
                "flip" => augment.flip = true,
                "none" => {}
                other => {
                    bail!("--augment: unknown augmentation '{other}' (known: crop, flip, none)")
                }
            }
        }
        Ok(augment)
    }

    pub fn names(self) -> Vec<&'static str> {
        [(self.crop, "crop"), (self.flip, "flip")]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| n)
            .collect()
    }
}

/// Turns rows of a [`DeviceSplit`] into whitened model inputs `[batch, crop_h, crop_w, channels]`.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// Stored image shape.
    pub image: [usize; 3],
    /// Model input shape after cropping.
    pub input: [usize; 3],
    /// Offsets, inside a stored row, of the pixels of the top-left crop `[1, crop_h·crop_w·C]`,
    /// and what to add to them to mirror the crop horizontally.
    base_index: Tensor<2, Int>,
    flip_delta: Tensor<2, Int>,
}

impl Pipeline {
    pub fn new(image: [usize; 3], crop: usize, device: &Device) -> Pipeline {
        let [h, w, c] = image;
        let (ch, cw) = (crop.min(h), crop.min(w));
        let mut base = Vec::with_capacity(ch * cw * c);
        for y in 0..ch {
            for x in 0..cw {
                for k in 0..c {
                    base.push(((y * w + x) * c + k) as i64);
                }
            }
        }
        // Mirroring moves column x to cw − 1 − x: add ((cw − 1 − x) − x)·c.
        let delta: Vec<i64> = (0..ch)
            .flat_map(|_| {
                (0..cw).flat_map(move |x| {
                    (0..c).map(move |_| ((cw as i64 - 1 - x as i64) - x as i64) * c as i64)
                })
            })
            .collect();
        let n = base.len();
        Pipeline {
            image,
            input: [ch, cw, c],
            base_index: Tensor::from_data(TensorData::new(base, [1, n]), (device, DType::I64)),
            flip_delta: Tensor::from_data(TensorData::new(delta, [1, n]), (device, DType::I64)),
        }
    }

    /// Evaluation batch: rows `start..end`, center crop, whitened.
    pub fn eval_batch(&self, split: &DeviceSplit, start: usize, end: usize) -> Tensor<4> {
        let [h, w, c] = self.image;
        let [ch, cw, _] = self.input;
        let (oy, ox) = ((h - ch) / 2, (w - cw) / 2);
        let b = end - start;
        let x = match &split.pixels {
            DevicePixels::U8(p) => p.clone().slice([start..end]).float(),
            DevicePixels::F32(p) => p.clone().slice([start..end]),
        };
        let mut x: Tensor<4> = x.reshape([b, h, w, c]);
        if (ch, cw) != (h, w) {
            x = x.slice([0..b, oy..oy + ch, ox..ox + cw]);
        }
        whiten(x)
    }

    /// Training batch: rows `indices`, random crop / flip per image when `augment` says so
    /// (drawn from the device generator), center crop otherwise, whitened.
    pub fn train_batch(
        &self,
        split: &DeviceSplit,
        indices: Tensor<1, Int>,
        augment: Augment,
    ) -> Tensor<4> {
        let [h, w, c] = self.image;
        let [ch, cw, _] = self.input;
        let b = indices.dims()[0];
        let device = indices.device();
        if !augment.crop && !augment.flip {
            let x = match &split.pixels {
                DevicePixels::U8(p) => p.clone().select(0, indices).float(),
                DevicePixels::F32(p) => p.clone().select(0, indices),
            };
            let mut x: Tensor<4> = x.reshape([b, h, w, c]);
            if (ch, cw) != (h, w) {
                let (oy, ox) = ((h - ch) / 2, (w - cw) / 2);
                x = x.slice([0..b, oy..oy + ch, ox..ox + cw]);
            }
            return whiten(x);
        }
        // Start of each image's crop inside its row, [b, 1].
        let offset = if augment.crop {
            let ys = Tensor::<2, Int>::random(
                [b, 1],
                Distribution::Uniform(0.0, (h - ch + 1) as f64),
                &device,
            );
            let xs = Tensor::<2, Int>::random(
                [b, 1],
                Distribution::Uniform(0.0, (w - cw + 1) as f64),
                &device,
            );
            ys.mul_scalar((w * c) as i64) + xs.mul_scalar(c as i64)
        } else {
            Tensor::<2, Int>::zeros([b, 1], &device)
                .add_scalar((((h - ch) / 2 * w + (w - cw) / 2) * c) as i64)
        };
        let mut index = self.base_index.clone().expand([b, ch * cw * c]) + offset; // [b, ch*cw*c]
        if augment.flip {
            let flips = Tensor::<2, Int>::random([b, 1], Distribution::Uniform(0.0, 2.0), &device);
            index = index + self.flip_delta.clone().expand([b, ch * cw * c]) * flips;
        }
        let x = match &split.pixels {
            DevicePixels::U8(p) => p.clone().select(0, indices).gather(1, index).float(),
            DevicePixels::F32(p) => p.clone().select(0, indices).gather(1, index),
        };
        whiten(x.reshape([b, ch, cw, c]))
    }
}

/// Per-image standardization as in TensorFlow's `per_image_standardization`:
/// (x − mean) / max(std, 1/√D) over all D = H·W·C values of each image.
pub fn whiten(x: Tensor<4>) -> Tensor<4> {
    let dims = x.dims();
    let d = dims[1] * dims[2] * dims[3];
    let flat: Tensor<2> = x.reshape([dims[0], d]);
    let centered = flat.clone() - flat.mean_dim(1); // [b, d]
    let std = centered
        .clone()
        .square()
        .mean_dim(1)
        .sqrt()
        .clamp_min(1.0 / (d as f64).sqrt()); // [b, 1]
    (centered / std).reshape(dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rethink_dataset::Images;

    fn device() -> Device {
        Device::libtorch()
    }

    /// Whitened images have mean 0 and std 1, except constant images whose std is floored at
    /// 1/√D (they stay 0 instead of dividing by zero).
    #[test]
    fn whitening_is_per_image() {
        let d = device();
        let mut values: Vec<f32> = (0..2 * 12).map(|i| (i * i % 17) as f32).collect();
        values[12..].iter_mut().for_each(|v| *v = 5.0);
        let x = Tensor::<4>::from_data(TensorData::new(values, [2, 2, 2, 3]), &d);
        let y = whiten(x).into_data().to_vec::<f32>().unwrap();
        let first = &y[..12];
        let mean: f32 = first.iter().sum::<f32>() / 12.0;
        let var: f32 = first.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 12.0;
        assert!(
            mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
            "mean {mean} var {var}"
        );
        assert!(y[12..].iter().all(|v| *v == 0.0));
    }

    fn split_of(pixels: Vec<u8>, shape: [usize; 4]) -> Split {
        Split {
            images: Images::from_u8(shape, pixels),
            labels: vec![0; shape[0]],
        }
    }

    /// Center crop of 4×4 → 2×2 picks the middle; unwhitened values are recovered by checking the
    /// order, since whitening is monotonic within an image.
    #[test]
    fn crops_and_flips_select_the_right_pixels() {
        let d = device();
        let pixels: Vec<u8> = (0..16).collect(); // one 4×4×1 image, value = y*4 + x
        let split = DeviceSplit::upload(&split_of(pixels, [1, 4, 4, 1]), &d);
        let pipeline = Pipeline::new([4, 4, 1], 2, &d);
        let center = pipeline
            .eval_batch(&split, 0, 1)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        // Pixels 5, 6, 9, 10 whitened: equal steps 1, 3, 1 between them.
        assert!(center[0] < center[1] && center[1] < center[2] && center[2] < center[3]);
        let indices =
            Tensor::<1, Int>::from_data(TensorData::new(vec![0i64; 64], [64]), (&d, DType::I64));
        d.seed(3);
        let batch = pipeline.train_batch(
            &split,
            indices,
            Augment {
                crop: true,
                flip: true,
            },
        );
        let rows = batch.into_data().to_vec::<f32>().unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for crop in rows.chunks(4) {
            // Each crop is a 2×2 window of a ramp: rows differ by 4 steps, columns by 1, so the
            // top-left to bottom-left difference is 4× the top-left to top-right one (sign tells
            // the flip).
            let (dx, dy) = (crop[1] - crop[0], crop[2] - crop[0]);
            assert!((dy - 4.0 * dx.abs()).abs() < 1e-4, "{crop:?}");
            seen.insert(dx > 0.0);
        }
        assert_eq!(seen.len(), 2, "64 random flips were all the same");
    }

    #[test]
    fn float_images_are_supported() {
        let d = device();
        let split = Split {
            images: Images::from_f32([2, 2, 2, 1], (0..8).map(|v| v as f32 * 0.5).collect()),
            labels: vec![0, 1],
        };
        let split = DeviceSplit::upload(&split, &d);
        let pipeline = Pipeline::new([2, 2, 1], usize::MAX, &d);
        assert_eq!(pipeline.eval_batch(&split, 0, 2).dims(), [2, 2, 2, 1]);
    }
}
