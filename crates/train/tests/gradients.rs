//! Backward passes against central finite differences: the kernels of our burn-tch patch
//! (crates/train/vendor/PATCHES.md: convolution and batch-norm backward through libtorch's native
//! kernels, ReLU's backward as `threshold_backward`) and our LRN's banded-matrix formulation.

#![allow(deprecated)]
// burn-tch, the backend this project chose (see crates/train/src/lib.rs)

// The hand-derived formulas index several arrays with one subscript, as the math writes them.
#![allow(clippy::needless_range_loop)]

use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use train::models::layers::{LocalResponseNorm, ShiftBatchNorm};

/// Deterministic values in about [-2, 2].
fn values(n: usize, phase: f32) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f32 * 0.731 + phase).sin() * 2.0)
        .collect()
}

/// `[n, c, h, w]` built from NHWC data and permuted, strided like the models' inputs
/// (channels last).
fn nchw(data: &[f32], [n, c, h, w]: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::<4>::from_data(TensorData::new(data.to_vec(), [n, h, w, c]), device)
        .permute([0, 3, 1, 2])
}

/// Σ f(x)·r over all outputs, in f64 on the host.
fn weighted_sum(y: Tensor<4>, r: &[f32]) -> f64 {
    let y = y.into_data().to_vec::<f32>().unwrap();
    y.iter().zip(r).map(|(a, b)| *a as f64 * *b as f64).sum()
}

/// The convolution and batch-norm backward passes run libtorch's native kernels (our
/// patched burn-tch): their gradients must equal central differences of the loss.
#[test]
fn native_convolution_gradients_match_finite_differences() {
    let plain = Device::libtorch();
    let device = plain.clone().autodiff();
    let shape = [2usize, 3, 6, 5];
    let xs = values(shape.iter().product(), 0.1);
    let ws = values(4 * 3 * 3 * 3, 0.7);
    let bs = values(4, 1.3);
    let cases = [
        ConvOptions::new_with_padding([1, 1], [(1, 1), (1, 1)], [1, 1], 1),
        // Asymmetric padding and stride 2: the input is padded explicitly, its gradient cropped.
        ConvOptions::new_with_padding([2, 2], [(0, 1), (1, 0)], [1, 1], 1),
    ];
    for options in cases {
        let conv = |x: &[f32], w: &[f32], b: &[f32], d: &Device| {
            burn::tensor::module::conv2d(
                nchw(x, shape, d),
                Tensor::<4>::from_data(TensorData::new(w.to_vec(), [4, 3, 3, 3]), d),
                Some(Tensor::<1>::from_data(TensorData::new(b.to_vec(), [4]), d)),
                options.clone(),
            )
        };
        let out = conv(&xs, &ws, &bs, &plain);
        let r = values(out.dims().iter().product(), 2.9);
        let x = nchw(&xs, shape, &device).require_grad();
        let w = Tensor::<4>::from_data(TensorData::new(ws.clone(), [4, 3, 3, 3]), &device)
            .require_grad();
        let b = Tensor::<1>::from_data(TensorData::new(bs.clone(), [4]), &device).require_grad();
        let y =
            burn::tensor::module::conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone());
        let rt = Tensor::<4>::from_data(TensorData::new(r.clone(), y.dims()), &device);
        let grads = (y * rt).sum().backward();
        // Gradients in NCHW order; x's data is NHWC, so map indices.
        let gx = x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
        let gw = w.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
        let gb = b.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
        let [_, c, h, wd] = shape;
        // The loss is linear in each argument: a central difference is exact up to rounding.
        let h_step = 0.5f32;
        let diff = |which: usize, i: usize| {
            let mut args = [xs.clone(), ws.clone(), bs.clone()];
            args[which][i] += h_step;
            let up = weighted_sum(conv(&args[0], &args[1], &args[2], &plain), &r);
            args[which][i] -= 2.0 * h_step;
            let down = weighted_sum(conv(&args[0], &args[1], &args[2], &plain), &r);
            (up - down) / (2.0 * h_step as f64)
        };
        for nhwc in [0, 7, 31, 64, 89, xs.len() - 1] {
            let (n, rest) = (nhwc / (h * wd * c), nhwc % (h * wd * c));
            let (yy, xx, ch) = (rest / (wd * c), rest / c % wd, rest % c);
            let nchw_index = ((n * c + ch) * h + yy) * wd + xx;
            let (got, want) = (gx[nchw_index] as f64, diff(0, nhwc));
            assert!(
                (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                "dx[{nhwc}] {got} vs {want}, {options:?}"
            );
        }
        for i in [0, 13, 50, ws.len() - 1] {
            let (got, want) = (gw[i] as f64, diff(1, i));
            assert!(
                (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                "dw[{i}] {got} vs {want}, {options:?}"
            );
        }
        for i in 0..4 {
            let (got, want) = (gb[i] as f64, diff(2, i));
            assert!(
                (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                "db[{i}] {got} vs {want}"
            );
        }
    }
}

/// LRN's gradient (through the banded matrix product, on a channels-last input) equals
/// central differences of the TensorFlow formula evaluated in f64 on the host.
#[test]
fn lrn_gradient_matches_finite_differences_of_the_formula() {
    let device = Device::libtorch().autodiff();
    let shape @ [n, c, h, w] = [2usize, 12, 3, 2];
    let lrn = LocalResponseNorm {
        depth_radius: 2,
        bias: 1.0,
        alpha: 0.3,
        beta: 0.75,
    };
    let xs = values(n * c * h * w, 0.4); // NHWC
    let r = values(xs.len(), 1.9); // NCHW, weights of the outputs
    // Σ r · y over every output, y from the formula, x in NHWC order.
    let loss = |x: &[f64]| -> f64 {
        let mut total = 0.0;
        for (i, &xi) in x.iter().enumerate() {
            let (pixel, ch) = (i / c, i % c);
            let lo = ch.saturating_sub(2);
            let hi = (ch + 2).min(c - 1);
            let sum: f64 = (lo..=hi).map(|k| x[pixel * c + k].powi(2)).sum();
            let (b, rest) = (pixel / (h * w), pixel % (h * w));
            let nchw_index = (b * c + ch) * h * w + rest;
            total += r[nchw_index] as f64 * xi / (1.0 + 0.3 * sum).powf(0.75);
        }
        total
    };
    let x = nchw(&xs, shape, &device).require_grad();
    let rt = Tensor::<4>::from_data(TensorData::new(r.clone(), shape), &device);
    let y = lrn.forward(x.clone());
    assert!(
        (weighted_sum(y.clone().inner(), &r)
            - loss(&xs.iter().map(|&v| v as f64).collect::<Vec<_>>()))
        .abs()
            < 1e-4
    );
    let grads = (y * rt).sum().backward();
    // The gradient in NCHW order; permuted back to NHWC to index like xs.
    let gx = x
        .grad(&grads)
        .unwrap()
        .permute([0, 2, 3, 1])
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    let x64: Vec<f64> = xs.iter().map(|&v| v as f64).collect();
    for i in 0..xs.len() {
        let step = 1e-5;
        let (mut up, mut down) = (x64.clone(), x64.clone());
        up[i] += step;
        down[i] -= step;
        let want = (loss(&up) - loss(&down)) / (2.0 * step);
        let got = gx[i] as f64;
        assert!(
            (got - want).abs() < 1e-4 * (1.0 + want.abs()),
            "dx[{i}] {got} vs {want}"
        );
    }
}

/// ReLU's gradient passes where the output is positive and is zero elsewhere (at 0 too).
#[test]
fn relu_gradient_is_the_positive_mask() {
    let device = Device::libtorch().autodiff();
    let x = Tensor::<1>::from_data(TensorData::new(vec![-1.0f32, 0.0, 2.0, 0.5], [4]), &device)
        .require_grad();
    let r = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [4]), &device);
    let grads = (burn::tensor::activation::relu(x.clone()) * r)
        .sum()
        .backward();
    let g = x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
    assert_eq!(g, vec![0.0, 0.0, 3.0, 4.0]);
}

#[test]
fn native_batch_norm_matches_its_definition_and_finite_differences() {
    let plain = Device::libtorch();
    let device = plain.clone().autodiff();
    let shape = [4usize, 3, 3, 2];
    let xs: Vec<f32> = values(shape.iter().product(), 0.4)
        .iter()
        .enumerate()
        .map(|(i, v)| v + (i % 3) as f32) // channel means 0, 1, 2
        .collect();
    let r = values(xs.len(), 1.9);
    let bn = ShiftBatchNorm::new(3, &device);
    let x = nchw(&xs, shape, &device).require_grad();
    let y = bn.forward(x.clone());
    // Forward: each channel standardized by its biased batch variance.
    let out = y.clone().into_data().to_vec::<f32>().unwrap(); // NCHW
    let per_channel = shape[0] * shape[2] * shape[3];
    let mut running_var = vec![];
    for ch in 0..3 {
        let vals: Vec<f64> = xs.iter().skip(ch).step_by(3).map(|&v| v as f64).collect();
        let mean = vals.iter().sum::<f64>() / per_channel as f64;
        let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / per_channel as f64;
        running_var.push(0.9 + 0.1 * var);
        let first = xs[ch] as f64; // image 0, pixel (0, 0), channel ch
        let want = (first - mean) / (var + 1e-3).sqrt();
        let got = out[ch * shape[2] * shape[3]] as f64;
        assert!((got - want).abs() < 1e-4, "channel {ch}: {got} vs {want}");
    }
    let rv = bn
        .running_var
        .value_sync()
        .into_data()
        .to_vec::<f32>()
        .unwrap();
    for (got, want) in rv.iter().zip(&running_var) {
        assert!(
            (*got as f64 - want).abs() < 1e-5,
            "running var {got} vs {want}"
        );
    }
    // Backward against central differences of Σ bn(x)·r (training mode, batch statistics).
    let rt = Tensor::<4>::from_data(TensorData::new(r.clone(), y.dims()), &device);
    let grads = (y * rt).sum().backward();
    let gx = x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
    let loss = |v: &[f32]| {
        let fresh = ShiftBatchNorm::new(3, &device);
        weighted_sum(fresh.forward(nchw(v, shape, &device)), &r)
    };
    let [_, c, h, wd] = shape;
    for nhwc in [0, 5, 17, 40, xs.len() - 1] {
        let step = 1e-2f32;
        let mut v = xs.clone();
        v[nhwc] += step;
        let up = loss(&v);
        v[nhwc] -= 2.0 * step;
        let want = (up - loss(&v)) / (2.0 * step as f64);
        let (n, rest) = (nhwc / (h * wd * c), nhwc % (h * wd * c));
        let (yy, xx, ch) = (rest / (wd * c), rest / c % wd, rest % c);
        let got = gx[((n * c + ch) * h + yy) * wd + xx] as f64;
        assert!(
            (got - want).abs() < 2e-2 * (1.0 + want.abs()),
            "dx[{nhwc}] {got} vs {want}"
        );
    }
}
