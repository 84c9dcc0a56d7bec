//! Inception V3 (Szegedy et al. 2016) as torchvision builds it, without the auxiliary classifier:
//! the ImageNet model of the paper's Table 2. Every conv is conv (no bias) → BatchNorm (eps 1e-3,
//! learnable affine) → ReLU. 23,834,568 parameters for 1000 classes (torchvision's
//! `inception_v3(aux_logits=False)`); 299×299 inputs, any size ≥ 75 works.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor};

use crate::precision::linear;

use super::layers::{ConvUnit, Norm};

/// torchvision's `BasicConv2d`.
fn basic(
    cin: usize,
    cout: usize,
    kernel: [usize; 2],
    stride: usize,
    padding: [usize; 2],
    norm: Norm,
    device: &Device,
) -> ConvUnit {
    ConvUnit::with_padding(cin, cout, kernel, stride, padding, norm, device)
}

fn max_pool_3x3_s2(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(x, MaxPoolOptions::new([3, 3]).with_stride([2, 2]))
}

fn avg_pool_3x3_s1(x: Tensor<4>) -> Tensor<4> {
    let mut options = AvgPoolOptions::new([3, 3]).with_stride([1, 1]);
    options.padding = [(1, 1), (1, 1)];
    avg_pool2d(x, options)
}

fn chain(units: &[ConvUnit], x: Tensor<4>) -> Tensor<4> {
    units.iter().fold(x, |x, unit| unit.forward(x))
}

/// 35×35 module: 1×1 ‖ 1×1→5×5 ‖ 1×1→3×3→3×3 ‖ avg-pool→1×1.
#[derive(Module, Debug)]
pub struct InceptionA {
    /// 1×1 branch, 64 channels.
    pub b1: ConvUnit,
    /// 5×5 branch: 1×1, 48 → 5×5, 64.
    pub b5: Vec<ConvUnit>,
    /// Double 3×3 branch: 1×1, 64 → 3×3, 96 → 3×3, 96.
    pub b3: Vec<ConvUnit>,
    /// Pool branch: 1×1 after the 3×3 average pool, `pool_features` channels.
    pub pool: ConvUnit,
}

impl InceptionA {
    fn new(cin: usize, pool_features: usize, n: Norm, d: &Device) -> Self {
        Self {
            b1: basic(cin, 64, [1, 1], 1, [0, 0], n, d),
            b5: vec![
                basic(cin, 48, [1, 1], 1, [0, 0], n, d),
                basic(48, 64, [5, 5], 1, [2, 2], n, d),
            ],
            b3: vec![
                basic(cin, 64, [1, 1], 1, [0, 0], n, d),
                basic(64, 96, [3, 3], 1, [1, 1], n, d),
                basic(96, 96, [3, 3], 1, [1, 1], n, d),
            ],
            pool: basic(cin, pool_features, [1, 1], 1, [0, 0], n, d),
        }
    }
    /// `[b, cin, 35, 35]` → `[b, 224 + pool_features, 35, 35]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            vec![
                self.b1.forward(x.clone()),
                chain(&self.b5, x.clone()),
                chain(&self.b3, x.clone()),
                self.pool.forward(avg_pool_3x3_s1(x)),
            ],
            1,
        )
    }
}

/// 35→17 reduction: 3×3/2 ‖ 1×1→3×3→3×3/2 ‖ max-pool.
#[derive(Module, Debug)]
pub struct InceptionB {
    /// 3×3/2 branch, 384 channels.
    pub b3: ConvUnit,
    /// Double 3×3 branch: 1×1, 64 → 3×3, 96 → 3×3/2, 96.
    pub b3dbl: Vec<ConvUnit>,
}

impl InceptionB {
    fn new(cin: usize, n: Norm, d: &Device) -> Self {
        Self {
            b3: basic(cin, 384, [3, 3], 2, [0, 0], n, d),
            b3dbl: vec![
                basic(cin, 64, [1, 1], 1, [0, 0], n, d),
                basic(64, 96, [3, 3], 1, [1, 1], n, d),
                basic(96, 96, [3, 3], 2, [0, 0], n, d),
            ],
        }
    }
    /// `[b, cin, 35, 35]` → `[b, 480 + cin, 17, 17]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            vec![
                self.b3.forward(x.clone()),
                chain(&self.b3dbl, x.clone()),
                max_pool_3x3_s2(x),
            ],
            1,
        )
    }
}

/// 17×17 module with factorized 7×7 convolutions.
#[derive(Module, Debug)]
pub struct InceptionC {
    /// 1×1 branch, 192 channels.
    pub b1: ConvUnit,
    /// 7×7 branch: 1×1, c7 → 1×7, c7 → 7×1, 192.
    pub b7: Vec<ConvUnit>,
    /// Double 7×7 branch: 1×1, c7 → 7×1 → 1×7 → 7×1 → 1×7, 192.
    pub b7dbl: Vec<ConvUnit>,
    /// Pool branch: 1×1, 192 channels after the 3×3 average pool.
    pub pool: ConvUnit,
}

impl InceptionC {
    fn new(cin: usize, c7: usize, n: Norm, d: &Device) -> Self {
        let row = |a, b| basic(a, b, [1, 7], 1, [0, 3], n, d);
        let col = |a, b| basic(a, b, [7, 1], 1, [3, 0], n, d);
        Self {
            b1: basic(cin, 192, [1, 1], 1, [0, 0], n, d),
            b7: vec![
                basic(cin, c7, [1, 1], 1, [0, 0], n, d),
                row(c7, c7),
                col(c7, 192),
            ],
            b7dbl: vec![
                basic(cin, c7, [1, 1], 1, [0, 0], n, d),
                col(c7, c7),
                row(c7, c7),
                col(c7, c7),
                row(c7, 192),
            ],
            pool: basic(cin, 192, [1, 1], 1, [0, 0], n, d),
        }
    }
    /// `[b, 768, 17, 17]` → `[b, 768, 17, 17]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            vec![
                self.b1.forward(x.clone()),
                chain(&self.b7, x.clone()),
                chain(&self.b7dbl, x.clone()),
                self.pool.forward(avg_pool_3x3_s1(x)),
            ],
            1,
        )
    }
}

/// 17→8 reduction.
#[derive(Module, Debug)]
pub struct InceptionD {
    /// 3×3 branch: 1×1, 192 → 3×3/2, 320.
    pub b3: Vec<ConvUnit>,
    /// 7×7×3 branch: 1×1, 192 → 1×7 → 7×1 → 3×3/2, 192.
    pub b7x3: Vec<ConvUnit>,
}

impl InceptionD {
    fn new(cin: usize, n: Norm, d: &Device) -> Self {
        Self {
            b3: vec![
                basic(cin, 192, [1, 1], 1, [0, 0], n, d),
                basic(192, 320, [3, 3], 2, [0, 0], n, d),
            ],
            b7x3: vec![
                basic(cin, 192, [1, 1], 1, [0, 0], n, d),
                basic(192, 192, [1, 7], 1, [0, 3], n, d),
                basic(192, 192, [7, 1], 1, [3, 0], n, d),
                basic(192, 192, [3, 3], 2, [0, 0], n, d),
            ],
        }
    }
    /// `[b, 768, 17, 17]` → `[b, 1280, 8, 8]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        Tensor::cat(
            vec![
                chain(&self.b3, x.clone()),
                chain(&self.b7x3, x.clone()),
                max_pool_3x3_s2(x),
            ],
            1,
        )
    }
}

/// 8×8 module with expanded filter banks.
#[derive(Module, Debug)]
pub struct InceptionE {
    /// 1×1 branch, 320 channels.
    pub b1: ConvUnit,
    /// 3×3 branch stem: 1×1, 384 channels.
    pub b3_1: ConvUnit,
    /// 3×3 branch, 1×3 split, 384 channels.
    pub b3_2a: ConvUnit,
    /// 3×3 branch, 3×1 split, 384 channels.
    pub b3_2b: ConvUnit,
    /// Double 3×3 branch: 1×1, 448 channels.
    pub dbl_1: ConvUnit,
    /// Double 3×3 branch: 3×3, 384 channels.
    pub dbl_2: ConvUnit,
    /// Double 3×3 branch, 1×3 split, 384 channels.
    pub dbl_3a: ConvUnit,
    /// Double 3×3 branch, 3×1 split, 384 channels.
    pub dbl_3b: ConvUnit,
    /// Pool branch: 1×1, 192 channels after the 3×3 average pool.
    pub pool: ConvUnit,
}

impl InceptionE {
    fn new(cin: usize, n: Norm, d: &Device) -> Self {
        Self {
            b1: basic(cin, 320, [1, 1], 1, [0, 0], n, d),
            b3_1: basic(cin, 384, [1, 1], 1, [0, 0], n, d),
            b3_2a: basic(384, 384, [1, 3], 1, [0, 1], n, d),
            b3_2b: basic(384, 384, [3, 1], 1, [1, 0], n, d),
            dbl_1: basic(cin, 448, [1, 1], 1, [0, 0], n, d),
            dbl_2: basic(448, 384, [3, 3], 1, [1, 1], n, d),
            dbl_3a: basic(384, 384, [1, 3], 1, [0, 1], n, d),
            dbl_3b: basic(384, 384, [3, 1], 1, [1, 0], n, d),
            pool: basic(cin, 192, [1, 1], 1, [0, 0], n, d),
        }
    }
    /// `[b, cin, 8, 8]` → `[b, 2048, 8, 8]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self.b3_1.forward(x.clone());
        let dbl = self.dbl_2.forward(self.dbl_1.forward(x.clone()));
        Tensor::cat(
            vec![
                self.b1.forward(x.clone()),
                self.b3_2a.forward(b3.clone()),
                self.b3_2b.forward(b3),
                self.dbl_3a.forward(dbl.clone()),
                self.dbl_3b.forward(dbl),
                self.pool.forward(avg_pool_3x3_s1(x)),
            ],
            1,
        )
    }
}

/// Inception V3: stem, Mixed_5 (A ×3), Mixed_6 (B, C ×4), Mixed_7 (D, E ×2), global mean pool,
/// linear output.
#[derive(Module, Debug)]
pub struct InceptionV3 {
    /// Stem before the first max-pool: 3×3/2, 32 → 3×3, 32 → 3×3, 64.
    pub stem_a: Vec<ConvUnit>,
    /// Stem before the second max-pool: 1×1, 80 → 3×3, 192.
    pub stem_b: Vec<ConvUnit>,
    /// Mixed_5b–d: three 35×35 modules (pool features 32, 64, 64).
    pub mixed_5: Vec<InceptionA>,
    /// Mixed_6a: 35→17 reduction.
    pub mixed_6a: InceptionB,
    /// Mixed_6b–e: four 17×17 modules (c7 128, 160, 160, 192).
    pub mixed_6: Vec<InceptionC>,
    /// Mixed_7a: 17→8 reduction.
    pub mixed_7a: InceptionD,
    /// Mixed_7b–c: two 8×8 modules.
    pub mixed_7: Vec<InceptionE>,
    /// Dropout before the output layer.
    pub dropout: Dropout,
    /// Output layer: 2048 pooled features → classes logits.
    pub output: Linear,
}

impl InceptionV3 {
    /// The network for `[h, w, c]` inputs and `classes` classes; `batchnorm` adds affine BN after
    /// each conv.
    pub fn new(
        [_h, _w, c]: [usize; 3],
        classes: usize,
        batchnorm: bool,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let n = if batchnorm { Norm::Affine } else { Norm::Off };
        let d = device;
        Self {
            stem_a: vec![
                basic(c, 32, [3, 3], 2, [0, 0], n, d),
                basic(32, 32, [3, 3], 1, [0, 0], n, d),
                basic(32, 64, [3, 3], 1, [1, 1], n, d),
            ],
            stem_b: vec![
                basic(64, 80, [1, 1], 1, [0, 0], n, d),
                basic(80, 192, [3, 3], 1, [0, 0], n, d),
            ],
            mixed_5: vec![
                InceptionA::new(192, 32, n, d),
                InceptionA::new(256, 64, n, d),
                InceptionA::new(288, 64, n, d),
            ],
            mixed_6a: InceptionB::new(288, n, d),
            mixed_6: vec![
                InceptionC::new(768, 128, n, d),
                InceptionC::new(768, 160, n, d),
                InceptionC::new(768, 160, n, d),
                InceptionC::new(768, 192, n, d),
            ],
            mixed_7a: InceptionD::new(768, n, d),
            mixed_7: vec![InceptionE::new(1280, n, d), InceptionE::new(2048, n, d)],
            dropout: DropoutConfig::new(dropout).init(),
            output: LinearConfig::new(2048, classes).init(d),
        }
    }

    /// # Shapes
    /// - input: `[batch, 299, 299, channels]` (whitened, channels last)
    /// - output: `[batch, classes]` logits
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = max_pool_3x3_s2(chain(&self.stem_a, x.permute([0, 3, 1, 2]))); // [b, 64, 73, 73]
        let mut x = max_pool_3x3_s2(chain(&self.stem_b, x)); // [b, 192, 35, 35]
        for m in &self.mixed_5 {
            x = m.forward(x); // [b, 288, 35, 35]
        }
        x = self.mixed_6a.forward(x); // [b, 768, 17, 17]
        for m in &self.mixed_6 {
            x = m.forward(x); // [b, 768, 17, 17]
        }
        x = self.mixed_7a.forward(x); // [b, 1280, 8, 8]
        for m in &self.mixed_7 {
            x = m.forward(x); // [b, 2048, 8, 8]
        }
        let x: Tensor<2> = x.flatten::<3>(2, 3).mean_dim(2).flatten(1, 2); // [b, 2048]
        linear(&self.output, self.dropout.forward(x)) // [b, classes]
    }
}
