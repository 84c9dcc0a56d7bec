//! The paper's input protocol on the device: the whole split lives as one uint8 (or float32)
//! tensor; each batch is gathered, cropped (center, or random with `--augment crop`, from the
//! image zero-padded by `pad` pixels on each side when the crop could not move otherwise),
//! flipped (`--augment flip`), scaled to [0, 1] (÷255; float Gaussian-noise files live on the same
//! 0–255 scale) and whitened per image, (x − mean) / max(std, 1/√D), without copying images
//! through the host.
//!
//! About half of this file is its tests: each crop, flip and resize is checked against the same
//! window cut and whitened on the host.

use anyhow::{Result, bail};
use burn::tensor::{DType, Device, Distribution, Int, Tensor, TensorData};
use rethink_dataset::{Pixels, Split};

use crate::stream::HostRows;

/// Image pixels on the device, one row per image (channels-last `H·W·C` values).
#[derive(Clone, Debug)]
pub enum DevicePixels {
    /// One byte per value, 0–255.
    U8(Tensor<2, Int>),
    /// Float values on the same 0–255 scale (e.g. Gaussian-noise images).
    F32(Tensor<2>),
    /// Streamed (`train --stream`): the rows stay in memory-mapped files and come to the
    /// device a batch at a time, as [`DevicePixels::U8`] or [`DevicePixels::F32`] rows.
    Host(std::sync::Arc<HostRows>),
}

impl DevicePixels {
    /// Rows `start..end` as float values.
    fn range(&self, start: usize, end: usize, device: &Device) -> Tensor<2> {
        match self {
            DevicePixels::U8(p) => p.clone().slice([start..end]).float(),
            DevicePixels::F32(p) => p.clone().slice([start..end]),
            DevicePixels::Host(h) => {
                h.upload(&(start..end).collect::<Vec<_>>(), device)
                    .range(0, end - start, device)
            }
        }
    }
}

/// One split (train or test) on the device.
#[derive(Clone, Debug)]
pub struct DeviceSplit {
    /// The images, one row per image.
    pub pixels: DevicePixels,
    /// The labels scored against, as i64 on the device.
    pub labels: Tensor<1, Int>,
    /// How many images.
    pub len: usize,
}

impl DeviceSplit {
    /// Copies a split's images and labels to `device`.
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

    /// A streamed split: `rows` stay on the host, the labels go to `device`.
    pub fn stream(rows: HostRows, labels: &[u16], device: &Device) -> DeviceSplit {
        assert_eq!(rows.len(), labels.len(), "a label per row");
        DeviceSplit {
            len: rows.len(),
            pixels: DevicePixels::Host(std::sync::Arc::new(rows)),
            labels: labels_tensor(labels, device),
        }
    }

    /// The examples `indices` (ascending) of this split: a copy on the device for device-held
    /// images, a view of the same mappings for streamed ones (`train --eval-train-subset`).
    pub fn subset(&self, indices: &[usize], device: &Device) -> DeviceSplit {
        let index = || {
            let values: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
            Tensor::<1, Int>::from_data(
                TensorData::new(values, [indices.len()]),
                (device, DType::I64),
            )
        };
        let pixels = match &self.pixels {
            DevicePixels::U8(p) => DevicePixels::U8(p.clone().select(0, index())),
            DevicePixels::F32(p) => DevicePixels::F32(p.clone().select(0, index())),
            DevicePixels::Host(h) => DevicePixels::Host(std::sync::Arc::new(h.subset(indices))),
        };
        DeviceSplit {
            pixels,
            labels: self.labels.clone().select(0, index()),
            len: indices.len(),
        }
    }
}

/// Labels as an i64 tensor on `device`.
pub fn labels_tensor(labels: &[u16], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::from_data(
        TensorData::new(values, [labels.len()]),
        (device, DType::I64),
    )
}

/// Data augmentation, `--augment crop,flip` (or `rrc,flip`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Augment {
    /// Random crop (`crop`) of the padded image, instead of the center crop.
    pub crop: bool,
    /// Random horizontal flip (`flip`).
    pub flip: bool,
    /// Inception-style random resized crop: a box of 8–100% of the image's area and aspect ratio
    /// 3/4–4/3, resized (bilinear) to the model input.
    pub rrc: bool,
}

impl Augment {
    /// Parses the `--augment` list (`crop`, `flip`, `rrc`, `none`); `crop` and `rrc` exclude each
    /// other.
    pub fn parse(list: &[String]) -> Result<Augment> {
        let mut augment = Augment::default();
        for item in list {
            match item.as_str() {
                "crop" => augment.crop = true,
                "flip" => augment.flip = true,
                "rrc" => augment.rrc = true,
                "none" => {}
                other => {
                    bail!(
                        "--augment: unknown augmentation '{other}' (known: crop, flip, rrc, none)"
                    )
                }
            }
        }
        if augment.crop && augment.rrc {
            bail!("--augment: crop and rrc are two kinds of random crop; choose one");
        }
        Ok(augment)
    }

    /// The names of the augmentations switched on, in the order `crop`, `flip`, `rrc`.
    pub fn names(self) -> Vec<&'static str> {
        [(self.crop, "crop"), (self.flip, "flip"), (self.rrc, "rrc")]
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
    /// Zero padding on each side of a training image before its random crop (0: none).
    pub pad: usize,
    /// Offsets, inside a (padded) row, of the pixels of the top-left crop `[1, crop_h·crop_w·C]`,
    /// and what to add to them to mirror the crop horizontally.
    base_index: Tensor<2, Int>,
    flip_delta: Tensor<2, Int>,
}

impl Pipeline {
    /// `crop` larger than the image means no crop; `pad` pixels of zeros surround a training
    /// image before its random crop (evaluation never pads).
    pub fn new(image: [usize; 3], crop: usize, pad: usize, device: &Device) -> Pipeline {
        let [h, w, c] = image;
        let (ch, cw) = (crop.min(h), crop.min(w));
        let padded_w = w + 2 * pad;
        let mut base = Vec::with_capacity(ch * cw * c);
        for y in 0..ch {
            for x in 0..cw {
                for k in 0..c {
                    base.push(((y * padded_w + x) * c + k) as i64);
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
            pad,
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
        let x = split.pixels.range(start, end, &self.base_index.device());
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
        if let DevicePixels::Host(rows) = &split.pixels {
            // Streamed rows: bring the batch's rows to the device, then as in memory.
            let wanted: Vec<usize> = indices
                .into_data()
                .convert::<i64>()
                .to_vec::<i64>()
                .expect("int indices")
                .into_iter()
                .map(|i| i as usize)
                .collect();
            let batch = DeviceSplit {
                pixels: rows.upload(&wanted, &device),
                labels: split.labels.clone(),
                len: b,
            };
            return self.train_batch(&batch, crate::stream::own_rows(b, &device), augment);
        }
        if augment.rrc {
            return self.resized_crop_batch(split, indices, augment.flip);
        }
        if !augment.crop && !augment.flip {
            let x = match &split.pixels {
                DevicePixels::U8(p) => p.clone().select(0, indices).float(),
                DevicePixels::F32(p) => p.clone().select(0, indices),
                DevicePixels::Host(_) => unreachable!("streamed rows are gathered first"),
            };
            let mut x: Tensor<4> = x.reshape([b, h, w, c]);
            if (ch, cw) != (h, w) {
                let (oy, ox) = ((h - ch) / 2, (w - cw) / 2);
                x = x.slice([0..b, oy..oy + ch, ox..ox + cw]);
            }
            return whiten(x);
        }
        // The padded image the crop is taken from: the stored one when `pad` is 0.
        let pad = self.pad;
        let (ph, pw) = (h + 2 * pad, w + 2 * pad);
        // Start of each image's crop inside its row, [b, 1].
        let offset = if augment.crop {
            let ys = Tensor::<2, Int>::random(
                [b, 1],
                Distribution::Uniform(0.0, (ph - ch + 1) as f64),
                &device,
            );
            let xs = Tensor::<2, Int>::random(
                [b, 1],
                Distribution::Uniform(0.0, (pw - cw + 1) as f64),
                &device,
            );
            ys.mul_scalar((pw * c) as i64) + xs.mul_scalar(c as i64)
        } else {
            Tensor::<2, Int>::zeros([b, 1], &device)
                .add_scalar((((ph - ch) / 2 * pw + (pw - cw) / 2) * c) as i64)
        };
        let mut index = self.base_index.clone().expand([b, ch * cw * c]) + offset; // [b, ch*cw*c]
        if augment.flip {
            let flips = Tensor::<2, Int>::random([b, 1], Distribution::Uniform(0.0, 2.0), &device);
            index = index + self.flip_delta.clone().expand([b, ch * cw * c]) * flips;
        }
        let x = if pad == 0 {
            match &split.pixels {
                DevicePixels::U8(p) => p.clone().select(0, indices).gather(1, index).float(),
                DevicePixels::F32(p) => p.clone().select(0, indices).gather(1, index),
                DevicePixels::Host(_) => unreachable!("streamed rows are gathered first"),
            }
        } else {
            let rows: Tensor<4> = match &split.pixels {
                DevicePixels::U8(p) => p.clone().select(0, indices).float(),
                DevicePixels::F32(p) => p.clone().select(0, indices),
                DevicePixels::Host(_) => unreachable!("streamed rows are gathered first"),
            }
            .reshape([b, h, w, c]);
            let padded = Tensor::<4>::zeros([b, ph, pw, c], &device)
                .slice_assign([0..b, pad..pad + h, pad..pad + w, 0..c], rows); // [b, ph, pw, c]
            padded.reshape([b, ph * pw * c]).gather(1, index)
        };
        whiten(x.reshape([b, ch, cw, c]))
    }
}

impl Pipeline {
    /// Inception-style random resized crops (torchvision's `RandomResizedCrop` parameters: scale
    /// 0.08–1, log-uniform aspect ratio 3/4–4/3, ten tries, then the central box of the allowed
    /// ratio), resized to the model input by bilinear interpolation (pixel centers aligned, no
    /// antialiasing), optionally mirrored. The random numbers come from the device generator, so
    /// a run's crops follow its seed and step like the other augmentations.
    fn resized_crop_batch(
        &self,
        split: &DeviceSplit,
        indices: Tensor<1, Int>,
        flip: bool,
    ) -> Tensor<4> {
        const TRIES: usize = 10;
        let [h, w, c] = self.image;
        let [ch, cw, _] = self.input;
        let b = indices.dims()[0];
        let device = indices.device();
        let per_image = 2 * TRIES + 3;
        let draws = Tensor::<2>::random([b, per_image], Distribution::Uniform(0.0, 1.0), &device)
            .into_data()
            .convert::<f64>()
            .to_vec::<f64>()
            .expect("f64 draws");
        let mut boxes = [
            Vec::with_capacity(b),
            Vec::with_capacity(b),
            Vec::with_capacity(b),
            Vec::with_capacity(b),
        ];
        let mut flips = Vec::with_capacity(b);
        for u in draws.chunks(per_image) {
            let [y0, x0, bh, bw] =
                random_box([h, w], &u[..2 * TRIES], u[2 * TRIES], u[2 * TRIES + 1]);
            for (list, v) in boxes.iter_mut().zip([y0, x0, bh, bw]) {
                list.push(v as f32);
            }
            flips.push(if flip && u[2 * TRIES + 2] >= 0.5 {
                1.0f32
            } else {
                0.0
            });
        }
        let column = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [b, 1]), &device);
        let [y0, x0, bh, bw] = boxes.map(column); // [b, 1] each
        let flips = column(flips);
        // Source coordinates of the output pixel centers, [b, ch] and [b, cw], kept in the box.
        let grid = |n: usize| {
            Tensor::<1, Int>::arange(0..n as i64, &device)
                .float()
                .reshape([1, n])
        };
        let ys = (grid(ch).add_scalar(0.5) * (bh.clone() / ch as f64)).sub_scalar(0.5) + y0.clone();
        let ys = ys
            .max_pair(y0.clone().expand([b, ch]))
            .min_pair((y0 + bh).sub_scalar(1.0).expand([b, ch]));
        // Mirroring reads output column x from column cw − 1 − x.
        let ox = grid(cw);
        let ox = ox.clone() + flips * ox.mul_scalar(-2.0).add_scalar((cw - 1) as f64); // [b, cw]
        let xs = (ox.add_scalar(0.5) * (bw.clone() / cw as f64)).sub_scalar(0.5) + x0.clone();
        let xs = xs
            .max_pair(x0.clone().expand([b, cw]))
            .min_pair((x0 + bw).sub_scalar(1.0).expand([b, cw]));
        let (y_lo, x_lo) = (ys.clone().floor(), xs.clone().floor());
        let (fy, fx) = (ys - y_lo.clone(), xs - x_lo.clone());
        let y_hi = y_lo.clone().add_scalar(1.0).clamp_max((h - 1) as f64);
        let x_hi = x_lo.clone().add_scalar(1.0).clamp_max((w - 1) as f64);
        let channels = Tensor::<1, Int>::arange(0..c as i64, &device).reshape([1, 1, 1, c]);
        let index = |y: Tensor<2>, x: Tensor<2>| -> Tensor<2, Int> {
            let y: Tensor<4, Int> = y.int().mul_scalar((w * c) as i64).reshape([b, ch, 1, 1]);
            let x: Tensor<4, Int> = x.int().mul_scalar(c as i64).reshape([b, 1, cw, 1]);
            (y + x + channels.clone()).reshape([b, ch * cw * c])
        };
        let weight = |wy: Tensor<2>, wx: Tensor<2>| -> Tensor<2> {
            let wy: Tensor<4> = wy.reshape([b, ch, 1, 1]);
            let wx: Tensor<4> = wx.reshape([b, 1, cw, 1]);
            (wy * wx).expand([b, ch, cw, c]).reshape([b, ch * cw * c])
        };
        let rows = match &split.pixels {
            DevicePixels::U8(p) => p.clone().select(0, indices).float(),
            DevicePixels::F32(p) => p.clone().select(0, indices),
            DevicePixels::Host(_) => unreachable!("streamed rows are gathered first"),
        }; // [b, h*w*c]
        let (gy, gx) = (
            fy.clone().neg().add_scalar(1.0),
            fx.clone().neg().add_scalar(1.0),
        );
        let x = rows.clone().gather(1, index(y_lo.clone(), x_lo.clone()))
            * weight(gy.clone(), gx.clone())
            + rows.clone().gather(1, index(y_lo, x_hi.clone())) * weight(gy, fx.clone())
            + rows.clone().gather(1, index(y_hi.clone(), x_lo)) * weight(fy.clone(), gx)
            + rows.gather(1, index(y_hi, x_hi)) * weight(fy, fx);
        whiten(x.reshape([b, ch, cw, c]))
    }
}

/// One random resized crop box `[y0, x0, height, width]` in an `h`×`w` image from uniform draws:
/// `tries` holds (scale, ratio) pairs, `uy`/`ux` place the box.
pub fn random_box([h, w]: [usize; 2], tries: &[f64], uy: f64, ux: f64) -> [usize; 4] {
    let area = (h * w) as f64;
    let (lo, hi) = ((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln());
    for pair in tries.chunks(2) {
        let scale = 0.08 + 0.92 * pair[0];
        let ratio = (lo + (hi - lo) * pair[1]).exp();
        let bw = (area * scale * ratio).sqrt().round() as usize;
        let bh = (area * scale / ratio).sqrt().round() as usize;
        if (1..=w).contains(&bw) && (1..=h).contains(&bh) {
            let y0 = ((uy * (h - bh + 1) as f64) as usize).min(h - bh);
            let x0 = ((ux * (w - bw + 1) as f64) as usize).min(w - bw);
            return [y0, x0, bh, bw];
        }
    }
    // torchvision's fallback: the largest central box whose aspect ratio is in range.
    let ratio = w as f64 / h as f64;
    let (bh, bw) = if ratio < 3.0 / 4.0 {
        (((w as f64) * 4.0 / 3.0).round() as usize, w)
    } else if ratio > 4.0 / 3.0 {
        (h, ((h as f64) * 4.0 / 3.0).round() as usize)
    } else {
        (h, w)
    };
    let (bh, bw) = (bh.min(h), bw.min(w));
    [(h - bh) / 2, (w - bw) / 2, bh, bw]
}

/// Pixels scaled to [0, 1] (÷255), then per-image standardization as in TensorFlow's
/// `per_image_standardization`: (x − mean) / max(std, 1/√D) over all D = H·W·C values of each
/// image. The scaling matters only through the floor 1/√D, which is meant for [0, 1] pixels: on
/// the 0–255 scale it would be 255× too weak for near-constant images.
pub fn whiten(x: Tensor<4>) -> Tensor<4> {
    let x = x.div_scalar(255.0);
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
    use std::collections::BTreeSet;

    fn device() -> Device {
        Device::libtorch()
    }

    /// Whitened images have mean 0 and std 1, except constant images whose std is floored at
    /// 1/√D (they stay 0 instead of dividing by zero).
    #[test]
    fn whitening_is_per_image() {
        let d = device();
        // Spread over 0..=240 on the 0–255 scale: std well above the floor.
        let mut values: Vec<f32> = (0..2 * 12).map(|i| (i * i % 17 * 15) as f32).collect();
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

    /// The floor 1/√D applies on the [0, 1] scale (the paper's): an image alternating between
    /// pixel values 100 and 101 has std 0.5/255, far below 1/√12, so it is divided by the floor
    /// and stays near zero (±(0.5/255)·√12), not stretched to ±1 as on the 0–255 scale.
    #[test]
    fn whitening_floor_is_on_the_unit_scale() {
        let d = device();
        let values: Vec<f32> = (0..12).map(|i| 100.0 + (i % 2) as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, 2, 2, 3]), &d);
        let y = whiten(x).into_data().to_vec::<f32>().unwrap();
        let want = 0.5 / 255.0 * 12f32.sqrt();
        for (i, v) in y.iter().enumerate() {
            let sign = if i % 2 == 1 { 1.0 } else { -1.0 };
            assert!(
                (v - sign * want).abs() < 1e-5,
                "pixel {i}: {v} vs {}",
                sign * want
            );
        }
    }

    fn split_of(pixels: Vec<u8>, shape: [usize; 4]) -> Split {
        Split {
            images: Images::from_u8(shape, pixels),
            labels: vec![0; shape[0]],
        }
    }

    /// What the pipeline must output for one window: the host-side protocol (÷255, per-image
    /// standardization with the 1/√D floor), in f64.
    fn whiten_host(window: &[f32]) -> Vec<f64> {
        let n = window.len() as f64;
        let x: Vec<f64> = window.iter().map(|&v| v as f64 / 255.0).collect();
        let mean = x.iter().sum::<f64>() / n;
        let std = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(1.0 / n.sqrt());
        x.iter().map(|v| (v - mean) / std).collect()
    }

    /// Every `ch`×`cw` window of an `h`×`w` one-channel image (zero-padded by `pad`), unflipped
    /// and flipped, whitened on the host: (y offset, x offset, flipped) → values.
    fn windows(
        image: &[u8],
        [h, w]: [usize; 2],
        [ch, cw]: [usize; 2],
        pad: usize,
    ) -> Vec<((usize, usize, bool), Vec<f64>)> {
        let (ph, pw) = (h + 2 * pad, w + 2 * pad);
        let at = |y: usize, x: usize| -> f32 {
            if y < pad || x < pad || y >= pad + h || x >= pad + w {
                0.0
            } else {
                image[(y - pad) * w + (x - pad)] as f32
            }
        };
        let mut out = Vec::new();
        for oy in 0..=ph - ch {
            for ox in 0..=pw - cw {
                for flip in [false, true] {
                    let window: Vec<f32> = (0..ch)
                        .flat_map(|y| {
                            (0..cw).map(move |x| {
                                let x = if flip { cw - 1 - x } else { x };
                                (oy + y, ox + x)
                            })
                        })
                        .map(|(y, x)| at(y, x))
                        .collect();
                    out.push(((oy, ox, flip), whiten_host(&window)));
                }
            }
        }
        out
    }

    fn close(a: &[f32], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (*x as f64 - y).abs() < 1e-4)
    }

    /// Which window (offset, flip) each training crop of 256 draws of image 0 is, checked
    /// against every candidate window whitened on the host.
    fn crops_seen(
        pipeline: &Pipeline,
        split: &DeviceSplit,
        image: &[u8],
    ) -> BTreeSet<(usize, usize, bool)> {
        let d = device();
        let [h, w, _] = pipeline.image;
        let [ch, cw, _] = pipeline.input;
        let candidates = windows(image, [h, w], [ch, cw], pipeline.pad);
        for (i, (a, va)) in candidates.iter().enumerate() {
            for (b, vb) in &candidates[i + 1..] {
                let same = va.iter().zip(vb).all(|(x, y)| (x - y).abs() < 1e-3);
                assert!(
                    !same,
                    "windows {a:?} and {b:?} whiten alike: the test image cannot tell them apart"
                );
            }
        }
        let indices =
            Tensor::<1, Int>::from_data(TensorData::new(vec![0i64; 256], [256]), (&d, DType::I64));
        d.seed(3);
        let augment = Augment {
            crop: true,
            flip: true,
            rrc: false,
        };
        let rows = pipeline
            .train_batch(split, indices, augment)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let mut seen = BTreeSet::new();
        for crop in rows.chunks(ch * cw) {
            let matches: Vec<_> = candidates.iter().filter(|(_, v)| close(crop, v)).collect();
            assert!(
                !matches.is_empty(),
                "a training crop matches no window: {crop:?}"
            );
            seen.insert(matches[0].0);
        }
        seen
    }

    /// Pixel values that are no affine function of the position (on a ramp every window whitens
    /// to the same values), so that every window whitens to different values.
    fn distinct_image(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| ((i * i * 37 + i * 11 + 5) % 256) as u8)
            .collect()
    }

    /// Evaluation takes exactly the center window; training crops reach every offset, flipped
    /// and not.
    #[test]
    fn crops_take_the_center_window_and_reach_every_offset() {
        let d = device();
        let image = distinct_image(25); // one 5×5×1 image
        let split = DeviceSplit::upload(&split_of(image.clone(), [1, 5, 5, 1]), &d);
        let pipeline = Pipeline::new([5, 5, 1], 3, 0, &d);
        let center = pipeline
            .eval_batch(&split, 0, 1)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let window: Vec<f32> = [6, 7, 8, 11, 12, 13, 16, 17, 18]
            .iter()
            .map(|&i| image[i] as f32)
            .collect();
        assert!(close(&center, &whiten_host(&window)), "{center:?}");
        let seen = crops_seen(&pipeline, &split, &image);
        assert_eq!(seen.len(), 3 * 3 * 2, "offsets and flips seen: {seen:?}");
    }

    /// With the crop as large as the image, training crops come from the image zero-padded by
    /// `pad` on each side (all (2·pad + 1)² offsets), and evaluation sees the unpadded image.
    #[test]
    fn padded_crops_move_and_evaluation_does_not_pad() {
        let d = device();
        let image = distinct_image(16); // one 4×4×1 image
        let split = DeviceSplit::upload(&split_of(image.clone(), [1, 4, 4, 1]), &d);
        let pipeline = Pipeline::new([4, 4, 1], 4, 1, &d);
        let eval = pipeline
            .eval_batch(&split, 0, 1)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let whole: Vec<f32> = image.iter().map(|&v| v as f32).collect();
        assert!(close(&eval, &whiten_host(&whole)), "{eval:?}");
        let seen = crops_seen(&pipeline, &split, &image);
        assert_eq!(seen.len(), 3 * 3 * 2, "offsets and flips seen: {seen:?}");
    }

    /// Random resized crops of an affine image (pixel = 10·y + x) are affine too (bilinear
    /// interpolation reproduces an affine function exactly, so any indexing error shows), their
    /// scale varies from crop to crop, and half of them are mirrored.
    #[test]
    fn random_resized_crops_resample_random_boxes() {
        let d = device();
        let (h, w) = (20usize, 20usize);
        let image: Vec<u8> = (0..h * w).map(|i| (10 * (i / w) + i % w) as u8).collect();
        let split = DeviceSplit::upload(&split_of(image, [1, h, w, 1]), &d);
        // Output 4×4: every box (side ≥ 5) is at least as large, so no sample is clamped at the
        // box edge (clamping, correct for upsampling, would bend the affine ramp).
        let pipeline = Pipeline::new([h, w, 1], 4, 0, &d);
        let indices =
            Tensor::<1, Int>::from_data(TensorData::new(vec![0i64; 64], [64]), (&d, DType::I64));
        d.seed(5);
        let augment = Augment {
            crop: false,
            flip: true,
            rrc: true,
        };
        let rows = pipeline
            .train_batch(&split, indices, augment)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let (mut ratios, mut mirrored) = (BTreeSet::new(), 0);
        for crop in rows.chunks(16) {
            let at = |y: usize, x: usize| crop[y * 4 + x] as f64;
            let (dx, dy) = (at(0, 1) - at(0, 0), at(1, 0) - at(0, 0));
            for y in 0..4 {
                for x in 0..4 {
                    let want = at(0, 0) + dy * y as f64 + dx * x as f64;
                    assert!(
                        (at(y, x) - want).abs() < 1e-3,
                        "not affine at ({y}, {x}): {crop:?}"
                    );
                }
            }
            // Rows step 10× as much as columns in the source: dy/|dx| is 10 × box height / box
            // width, within the allowed aspect ratios 3/4..4/3 (wider for rounded small boxes).
            let ratio = dy / dx.abs() / 10.0;
            assert!((0.6..1.5).contains(&ratio), "aspect {ratio}");
            ratios.insert((ratio * 100.0).round() as i64);
            mirrored += (dx < 0.0) as usize;
        }
        assert!(ratios.len() > 10, "boxes hardly vary: {ratios:?}");
        assert!((16..=48).contains(&mirrored), "{mirrored} of 64 mirrored");
    }

    #[test]
    fn random_box_stays_inside_the_image() {
        for i in 0..200 {
            let u = |k: usize| ((i * 7 + k * 13) % 101) as f64 / 101.0;
            let tries: Vec<f64> = (0..20).map(u).collect();
            let [y0, x0, bh, bw] = random_box([30, 17], &tries, u(21), u(22));
            assert!(bh >= 1 && bw >= 1 && y0 + bh <= 30 && x0 + bw <= 17);
        }
        // No try fits (all scales too large for a thin image): the central box of ratio 3/4.
        assert_eq!(random_box([40, 10], &[1.0, 1.0], 0.5, 0.5), [13, 0, 13, 10]);
    }

    #[test]
    fn float_images_are_supported() {
        let d = device();
        let split = Split {
            images: Images::from_f32([2, 2, 2, 1], (0..8).map(|v| v as f32 * 0.5).collect()),
            labels: vec![0, 1],
        };
        let split = DeviceSplit::upload(&split, &d);
        let pipeline = Pipeline::new([2, 2, 1], usize::MAX, 0, &d);
        assert_eq!(pipeline.eval_batch(&split, 0, 2).dims(), [2, 2, 2, 1]);
    }
}
