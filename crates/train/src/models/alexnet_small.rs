//! The paper's small AlexNet (after the TensorFlow CIFAR-10 tutorial):
//! [conv 5×5, 64 → ReLU → max-pool 3×3/2 → LRN] ×2 → FC 384 → FC 192 → FC classes.
//! 1,387,786 parameters on 28×28×3 inputs with 10 classes.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::precision::linear;

use super::layers::{ConvUnit, LocalResponseNorm, Norm, max_pool_same};

/// The small AlexNet: two conv–pool–LRN stages, then three fully connected layers.
#[derive(Module, Debug)]
pub struct AlexNetSmall {
    /// First 5×5 convolution, 64 channels.
    pub conv1: ConvUnit,
    /// Second 5×5 convolution, 64 channels.
    pub conv2: ConvUnit,
    /// Local response normalization after each max-pool (TensorFlow tutorial setting).
    pub lrn: LocalResponseNorm,
    /// First fully connected layer, 384 units.
    pub fc1: Linear,
    /// Second fully connected layer, 192 units.
    pub fc2: Linear,
    /// Output layer: 192 → classes logits.
    pub output: Linear,
    /// Dropout after each hidden fully connected layer.
    pub dropout: Dropout,
}

impl AlexNetSmall {
    /// The network for `[h, w, c]` inputs and `classes` classes; `batchnorm` adds affine BN after
    /// each conv.
    pub fn new(
        [h, w, c]: [usize; 3],
        classes: usize,
        batchnorm: bool,
        dropout: f64,
        device: &Device,
    ) -> Self {
        // The paper's model has no BN; `batchnorm` adds affine BN after each conv when asked.
        let norm = if batchnorm { Norm::Affine } else { Norm::Off };
        let pooled = |n: usize| n.div_ceil(2).div_ceil(2);
        Self {
            conv1: ConvUnit::new(c, 64, [5, 5], 1, norm, device),
            conv2: ConvUnit::new(64, 64, [5, 5], 1, norm, device),
            lrn: LocalResponseNorm::cifar10_tutorial(),
            fc1: LinearConfig::new(64 * pooled(h) * pooled(w), 384).init(device),
            fc2: LinearConfig::new(384, 192).init(device),
            output: LinearConfig::new(192, classes).init(device),
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    /// # Shapes
    /// - input: `[batch, height, width, channels]` (whitened, channels last)
    /// - output: `[batch, classes]` logits
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = x.permute([0, 3, 1, 2]); // [batch, c, 28, 28]
        let x = self.lrn.forward(max_pool_same(self.conv1.forward(x), 3, 2)); // [batch, 64, 14, 14]
        let x = self.lrn.forward(max_pool_same(self.conv2.forward(x), 3, 2)); // [batch, 64, 7, 7]
        let x: Tensor<2> = x.flatten(1, 3); // [batch, 3136]
        let x = self.dropout.forward(relu(linear(&self.fc1, x))); // [batch, 384]
        let x = self.dropout.forward(relu(linear(&self.fc2, x))); // [batch, 192]
        linear(&self.output, x) // [batch, classes]
    }
}
