//! Building blocks the paper's models share and burn does not provide in the form we need:
//! TensorFlow-style local response normalization, batch normalization with a learnable shift and
//! no scale (Inception-small: TensorFlow's `batch_norm` default, center on, scale off), "same" max pooling as TensorFlow pads it, and a conv → BN → ReLU
//! unit whose BN can be switched off (`--no-batchnorm`).

use burn::module::{Module, ModuleVisitor, Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor};

/// Local response normalization with TensorFlow's semantics (`tf.nn.local_response_normalization`):
/// `y = x / (bias + alpha * sum_{|c'-c| <= depth_radius} x_{c'}^2)^beta`, the sum running over
/// neighbouring channels. Unlike PyTorch's `LocalResponseNorm`, alpha is not divided by the window.
#[derive(Module, Debug)]
pub struct LocalResponseNorm {
    /// How many neighbouring channels on each side the sum covers.
    pub depth_radius: usize,
    /// Constant added to the windowed sum.
    pub bias: f64,
    /// Scale of the windowed sum of squares.
    pub alpha: f64,
    /// Exponent of the normalizer.
    pub beta: f64,
}

impl LocalResponseNorm {
    /// The setting of the TensorFlow CIFAR-10 tutorial that the paper's AlexNet-small follows.
    pub fn cifar10_tutorial() -> Self {
        Self {
            depth_radius: 4,
            bias: 1.0,
            alpha: 0.001 / 9.0,
            beta: 0.75,
        }
    }

    /// # Shapes
    /// - input: `[batch, channels, height, width]`
    /// - output: same
    ///
    /// The windowed sum of squares is one matrix product: the squares as a
    /// `[batch·height·width, channels]` matrix (a free view of a channels-last tensor, which is
    /// what our convolutions and pools produce) times a banded `[channels, channels]` matrix
    /// holding `alpha` where `|c' − c| ≤ depth_radius`. That is ~10× faster than an average pool
    /// over the channel axis (PyTorch's own `LocalResponseNorm`), forward and backward, and
    /// needs no transposing copies. The output is `x · (bias + alpha·sum)^−beta`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // Normalization runs in float32 under mixed precision.
        let x = crate::precision::float32(x);
        let [n, c, h, w] = x.dims();
        let band = self.band(c, &x.device()); // [c, c]
        let squares = x.clone().square().permute([0, 2, 3, 1]); // [n, h, w, c]
        let sums = squares
            .reshape([n * h * w, c])
            .matmul(band) // [n*h*w, c]: alpha * windowed sum
            .reshape([n, h, w, c])
            .permute([0, 3, 1, 2]); // [n, c, h, w]
        x * sums.add_scalar(self.bias).powf_scalar(-self.beta)
    }

    /// `[channels, channels]`: `alpha` where the channels are within `depth_radius`, else 0.
    fn band(&self, channels: usize, device: &Device) -> Tensor<2> {
        let r = self.depth_radius;
        let values: Vec<f32> = (0..channels * channels)
            .map(|i| {
                let (a, b) = (i / channels, i % channels);
                if a.abs_diff(b) <= r {
                    self.alpha as f32
                } else {
                    0.0
                }
            })
            .collect();
        Tensor::from_data(
            burn::tensor::TensorData::new(values, [channels, channels]),
            device,
        )
    }
}

/// TensorFlow "SAME" max pooling: output size ceil(n / stride), padding split with the extra pixel
/// at the end. Where that equals PyTorch's ceil mode (always, for the even sizes of the paper's
/// models) no padding op is needed; otherwise burn pads explicitly with -inf.
pub fn max_pool_same(x: Tensor<4>, kernel: usize, stride: usize) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let pad = |n: usize| {
        let out = n.div_ceil(stride);
        let total = ((out - 1) * stride + kernel).saturating_sub(n);
        (total / 2, total - total / 2, out)
    };
    let (top, bottom, out_h) = pad(h);
    let (left, right, out_w) = pad(w);
    let mut options = MaxPoolOptions::new([kernel, kernel]).with_stride([stride, stride]);
    let ceil_out = |n: usize, p: usize| (n + 2 * p - kernel).div_ceil(stride) + 1;
    if top == bottom && left == right {
        options.padding = [(top, top), (left, left)];
    } else if bottom == top + 1
        && right == left + 1
        && ceil_out(h, top) == out_h
        && ceil_out(w, left) == out_w
    {
        // The last window starts inside the input and runs off its end, as in TensorFlow.
        options.padding = [(top, top), (left, left)];
        options.ceil_mode = true;
    } else {
        options.padding = [(top, bottom), (left, right)];
    }
    max_pool2d(x, options)
}

/// Batch normalization with a learnable shift β and no scale (Inception-small in the paper, built
/// with TensorFlow's `batch_norm` defaults: `center=True, scale=False`): normalizes each channel
/// with batch statistics in training and running averages in evaluation, then adds β. The
/// convolution before it has no bias (β takes its place; a bias would be cancelled by the mean
/// subtraction and receive an exactly zero gradient).
#[derive(Module, Debug)]
pub struct ShiftBatchNorm {
    /// The learnable shift, initialized to zero.
    pub beta: Param<Tensor<1>>,
    /// Running mean of each channel, used in evaluation.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running variance of each channel, used in evaluation.
    pub running_var: RunningState<Tensor<1>>,
    /// Constant 1 tensor (the scale γ that burn's fused batch-norm op takes); not a parameter.
    pub ones: RunningState<Tensor<1>>,
    /// Weight of the new batch statistics in the running averages.
    pub momentum: f64,
    /// Added to the variance before the square root.
    pub epsilon: f64,
}

impl ShiftBatchNorm {
    /// Zero shift, running mean 0 and variance 1, momentum 0.1, epsilon 1e-3.
    pub fn new(channels: usize, device: &Device) -> Self {
        Self {
            beta: Param::from_tensor(Tensor::zeros([channels], device)),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            ones: RunningState::new(Tensor::ones([channels], device)),
            momentum: 0.1,
            epsilon: 1e-3,
        }
    }

    /// # Shapes
    /// - input: `[batch, channels, height, width]`
    /// - output: same
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let device = x.device();
        let (gamma, beta) = (self.ones.value().to_device(&device), self.beta.val());
        if !device.is_autodiff() {
            let mean = self.running_mean.value().to_device(&device);
            let var = self.running_var.value().to_device(&device);
            return burn::tensor::module::batch_norm(x, gamma, beta, mean, var, self.epsilon);
        }
        let out = burn::tensor::module::batch_norm_train(x, gamma, beta, self.epsilon);
        let m = self.momentum;
        let mean = self.running_mean.value_sync().to_device(&device);
        let var = self.running_var.value_sync().to_device(&device);
        self.running_mean.update(
            mean.mul_scalar(1.0 - m)
                .add(out.mean.detach().mul_scalar(m))
                .detach(),
        );
        self.running_var.update(
            var.mul_scalar(1.0 - m)
                .add(out.variance.detach().mul_scalar(m))
                .detach(),
        );
        out.output
    }
}

/// Which normalization a conv unit applies after its convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// None (`--no-batchnorm`).
    Off,
    /// BatchNorm with a learnable shift and no scale, conv without bias (Inception-small).
    Shift,
    /// BatchNorm with learnable scale and shift, conv without bias (Inception V3, WRN).
    Affine,
}

/// conv (same padding) → optional BN → ReLU.
#[derive(Module, Debug)]
pub struct ConvUnit {
    /// The convolution (bias only without BN).
    pub conv: Conv2d,
    /// Shift-only BN, with `Norm::Shift`.
    pub shift_bn: Option<ShiftBatchNorm>,
    /// Affine BN, with `Norm::Affine`.
    pub bn: Option<BatchNorm>,
}

impl ConvUnit {
    /// A `kh`×`kw` convolution, stride `stride`, padding (kh/2, kw/2) (same size at stride 1).
    pub fn new(
        cin: usize,
        cout: usize,
        kernel: [usize; 2],
        stride: usize,
        norm: Norm,
        device: &Device,
    ) -> Self {
        Self::with_padding(
            cin,
            cout,
            kernel,
            stride,
            [kernel[0] / 2, kernel[1] / 2],
            norm,
            device,
        )
    }

    /// As [`ConvUnit::new`] with an explicit `padding` (height, width).
    pub fn with_padding(
        cin: usize,
        cout: usize,
        kernel: [usize; 2],
        stride: usize,
        padding: [usize; 2],
        norm: Norm,
        device: &Device,
    ) -> Self {
        let conv = Conv2dConfig::new([cin, cout], kernel)
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(
                padding[0], padding[1], padding[0], padding[1],
            ))
            .with_bias(norm == Norm::Off)
            .init(device);
        Self {
            conv,
            shift_bn: (norm == Norm::Shift).then(|| ShiftBatchNorm::new(cout, device)),
            bn: (norm == Norm::Affine)
                .then(|| BatchNormConfig::new(cout).with_epsilon(1e-3).init(device)),
        }
    }

    /// # Shapes
    /// - input: `[batch, cin, h, w]`
    /// - output: `[batch, cout, h / stride, w / stride]`; bfloat16 under `--precision bf16` unless the
    ///   unit has affine BatchNorm
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // Shift-only BatchNorm (libtorch's kernel: float32 statistics and parameters) and ReLU
        // take bfloat16 activations as they are, as under PyTorch's autocast; burn's affine
        // BatchNorm computes in float32.
        let mut x = if self.bn.is_none() {
            crate::precision::conv2d_keep(&self.conv, x)
        } else {
            crate::precision::conv2d(&self.conv, x)
        };
        if let Some(bn) = &self.shift_bn {
            x = bn.forward(x);
        }
        if let Some(bn) = &self.bn {
            x = bn.forward(x);
        }
        burn::tensor::activation::relu(x)
    }
}

/// Trainable parameters: every float parameter except batch-norm running statistics and the
/// constant tensor of [`ShiftBatchNorm`] (buffers, in PyTorch's words). Lazy parameters are
/// counted from their shapes, so counting Inception V3 allocates nothing.
pub fn count_parameters<M: Module>(model: &M) -> usize {
    #[derive(Default)]
    struct Counter {
        path: Vec<String>,
        total: usize,
    }
    impl ModuleVisitor for Counter {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let buffer = self.path.last().is_some_and(|name| {
                matches!(name.as_str(), "running_mean" | "running_var" | "ones")
            });
            if !buffer {
                self.total += param.lazy_shape().num_elements();
            }
        }
    }
    let mut counter = Counter::default();
    model.visit(&mut counter);
    counter.total
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// LRN against the formula evaluated directly, on channels 0..9 where the window hits both
    /// edges.
    #[test]
    fn lrn_follows_tensorflow() {
        let device = Device::libtorch();
        let (c, hw) = (9usize, 2usize);
        let values: Vec<f32> = (0..c * hw).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values.clone(), [1, c, 1, hw]), &device);
        let lrn = LocalResponseNorm {
            depth_radius: 2,
            bias: 1.0,
            alpha: 0.5,
            beta: 0.75,
        };
        let y = lrn.forward(x).into_data().to_vec::<f32>().unwrap();
        for ch in 0..c {
            for p in 0..hw {
                let lo = ch.saturating_sub(2);
                let hi = (ch + 2).min(c - 1);
                let sum: f64 = (lo..=hi).map(|k| (values[k * hw + p] as f64).powi(2)).sum();
                let expected = values[ch * hw + p] as f64 / (1.0 + 0.5 * sum).powf(0.75);
                assert!(
                    (y[ch * hw + p] as f64 - expected).abs() < 1e-5,
                    "channel {ch}: {} vs {expected}",
                    y[ch * hw + p]
                );
            }
        }
    }

    /// SAME pooling keeps ceil(n/2) and takes the maximum of windows starting at 0, 2, 4, ...
    #[test]
    fn max_pool_same_matches_tensorflow_windows() {
        let device = Device::libtorch();
        let values: Vec<f32> = (0..6).map(|v| v as f32).collect(); // one row 0..5
        let x = Tensor::<4>::from_data(TensorData::new(values, [1, 1, 1, 6]), &device);
        // 1×6 row with a 3×3 kernel: TensorFlow pads rows (1, 1) and columns (0, 1).
        let y = max_pool_same(x, 3, 2).into_data().to_vec::<f32>().unwrap();
        assert_eq!(y, vec![2.0, 4.0, 5.0]);
        let x = Tensor::<4>::ones([1, 1, 7, 7], &device);
        assert_eq!(max_pool_same(x, 3, 2).dims(), [1, 1, 4, 4]);
    }
}
