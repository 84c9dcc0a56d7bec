//! The paper's small Inception for CIFAR-10 (Zhang et al. 2017, Appendix A, Figure 3):
//! Conv(96, 3×3) → Inc(32,32) → Inc(32,48) → Down(80) → Inc(112,48) → Inc(96,64) → Inc(80,80) →
//! Inc(48,96) → Down(96) → Inc(176,160) → Inc(176,160) → global mean pool → FC classes.
//! Every conv is conv (no bias) → BatchNorm with a learnable shift and no scale → ReLU
//! (TensorFlow's `batch_norm` defaults), or conv(+bias) → ReLU with `--no-batchnorm`. 1,649,402 parameters on 28×28×3 inputs with 10 classes.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::precision::linear;

use super::layers::{ConvUnit, Norm, max_pool_same};

/// 1×1 conv branch ‖ 3×3 conv branch, concatenated on channels.
#[derive(Module, Debug)]
pub struct InceptionModule {
    /// 1×1 convolution branch, `c1` channels.
    pub branch1: ConvUnit,
    /// 3×3 convolution branch, `c3` channels.
    pub branch3: ConvUnit,
}

impl InceptionModule {
    fn new(cin: usize, c1: usize, c3: usize, norm: Norm, device: &Device) -> Self {
        Self {
            branch1: ConvUnit::new(cin, c1, [1, 1], 1, norm, device),
            branch3: ConvUnit::new(cin, c3, [3, 3], 1, norm, device),
        }
    }

    /// `[batch, cin, h, w]` → `[batch, c1 + c3, h, w]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            vec![self.branch1.forward(x.clone()), self.branch3.forward(x)],
            1,
        )
    }
}

/// 3×3/2 conv branch ‖ 3×3/2 max-pool branch: halves the resolution.
#[derive(Module, Debug)]
pub struct DownsampleModule {
    /// 3×3 convolution, stride 2, `c3` channels.
    pub conv: ConvUnit,
}

impl DownsampleModule {
    fn new(cin: usize, c3: usize, norm: Norm, device: &Device) -> Self {
        // Symmetric padding 1: same output size as TensorFlow's SAME (ceil(n/2)); for even n
        // TensorFlow would pad only the far side, a one-pixel shift of the sampling grid.
        Self {
            conv: ConvUnit::new(cin, c3, [3, 3], 2, norm, device),
        }
    }

    /// `[batch, cin, h, w]` → `[batch, c3 + cin, ceil(h/2), ceil(w/2)]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            vec![self.conv.forward(x.clone()), max_pool_same(x, 3, 2)],
            1,
        )
    }
}

/// The small Inception: a 3×3 stem, three stages of Inception modules separated by two downsample
/// modules, global mean pool and a linear output.
#[derive(Module, Debug)]
pub struct InceptionSmall {
    /// Stem: 3×3 convolution, 96 channels.
    pub stem: ConvUnit,
    /// First stage at full resolution: Inc(32,32) → Inc(32,48).
    pub stage1: Vec<InceptionModule>,
    /// First downsample module, 80 conv channels.
    pub down1: DownsampleModule,
    /// Second stage at half resolution: Inc(112,48) → Inc(96,64) → Inc(80,80) → Inc(48,96).
    pub stage2: Vec<InceptionModule>,
    /// Second downsample module, 96 conv channels.
    pub down2: DownsampleModule,
    /// Third stage at quarter resolution: Inc(176,160) ×2.
    pub stage3: Vec<InceptionModule>,
    /// Dropout before the output layer.
    pub dropout: Dropout,
    /// Output layer: 336 pooled features → classes logits.
    pub output: Linear,
}

impl InceptionSmall {
    /// The network for `[h, w, c]` inputs and `classes` classes; `batchnorm` adds the shift-only BN
    /// after each conv.
    pub fn new(
        [_h, _w, c]: [usize; 3],
        classes: usize,
        batchnorm: bool,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let norm = if batchnorm { Norm::Shift } else { Norm::Off };
        let stage = |cin: &mut usize, specs: &[(usize, usize)]| -> Vec<InceptionModule> {
            specs
                .iter()
                .map(|&(c1, c3)| {
                    let module = InceptionModule::new(*cin, c1, c3, norm, device);
                    *cin = c1 + c3;
                    module
                })
                .collect()
        };
        let mut channels = 96;
        let stem = ConvUnit::new(c, 96, [3, 3], 1, norm, device);
        let stage1 = stage(&mut channels, &[(32, 32), (32, 48)]);
        let down1 = DownsampleModule::new(channels, 80, norm, device);
        channels += 80;
        let stage2 = stage(&mut channels, &[(112, 48), (96, 64), (80, 80), (48, 96)]);
        let down2 = DownsampleModule::new(channels, 96, norm, device);
        channels += 96;
        let stage3 = stage(&mut channels, &[(176, 160), (176, 160)]);
        Self {
            stem,
            stage1,
            down1,
            stage2,
            down2,
            stage3,
            dropout: DropoutConfig::new(dropout).init(),
            output: LinearConfig::new(channels, classes).init(device),
        }
    }

    /// # Shapes
    /// - input: `[batch, height, width, channels]` (whitened, channels last)
    /// - output: `[batch, classes]` logits
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = self.stem.forward(x.permute([0, 3, 1, 2])); // [batch, 96, 28, 28]
        for module in &self.stage1 {
            x = module.forward(x); // [batch, 80, 28, 28] after the last
        }
        x = self.down1.forward(x); // [batch, 160, 14, 14]
        for module in &self.stage2 {
            x = module.forward(x); // [batch, 144, 14, 14] after the last
        }
        x = self.down2.forward(x); // [batch, 240, 7, 7]
        for module in &self.stage3 {
            x = module.forward(x); // [batch, 336, 7, 7]
        }
        let x: Tensor<2> = x.flatten::<3>(2, 3).mean_dim(2).flatten(1, 2); // [batch, 336]
        linear(&self.output, self.dropout.forward(x)) // [batch, classes]
    }
}
