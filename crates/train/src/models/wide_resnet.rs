//! Wide ResNet WRN-D-K (Zagoruyko & Komodakis 2016) for small images: conv 3×3, 16 → three groups
//! of (D−4)/6 pre-activation basic blocks of widths 16K, 32K, 64K (strides 1, 2, 2) → BN → ReLU →
//! global mean pool → FC. Convolutions have no bias when followed by BatchNorm.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::precision::{conv2d, linear};

fn conv(
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    bias: bool,
    device: &Device,
) -> Conv2d {
    let pad = kernel / 2;
    Conv2dConfig::new([cin, cout], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(bias)
        .init(device)
}

/// BN (when enabled) → ReLU.
#[derive(Module, Debug)]
pub struct BnRelu {
    /// BatchNorm, absent with `--no-batchnorm`.
    pub bn: Option<BatchNorm>,
}

impl BnRelu {
    fn new(channels: usize, batchnorm: bool, device: &Device) -> Self {
        Self {
            bn: batchnorm.then(|| BatchNormConfig::new(channels).init(device)),
        }
    }
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(match &self.bn {
            Some(bn) => bn.forward(x),
            None => x,
        })
    }
}

/// Pre-activation basic block: BN-ReLU-conv3×3(stride)-BN-ReLU-dropout-conv3×3, plus a 1×1
/// projection shortcut when the shape changes.
#[derive(Module, Debug)]
pub struct Block {
    /// BN-ReLU before the first convolution.
    pub pre1: BnRelu,
    /// First 3×3 convolution (carries the block's stride), cout channels.
    pub conv1: Conv2d,
    /// BN-ReLU before the second convolution.
    pub pre2: BnRelu,
    /// Second 3×3 convolution, cout channels.
    pub conv2: Conv2d,
    /// 1×1 projection shortcut, when the channels or the stride change.
    pub shortcut: Option<Conv2d>,
    /// Dropout between the two convolutions.
    pub dropout: Dropout,
}

impl Block {
    fn new(
        cin: usize,
        cout: usize,
        stride: usize,
        batchnorm: bool,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let bias = !batchnorm;
        Self {
            pre1: BnRelu::new(cin, batchnorm, device),
            conv1: conv(cin, cout, 3, stride, bias, device),
            pre2: BnRelu::new(cout, batchnorm, device),
            conv2: conv(cout, cout, 3, 1, bias, device),
            shortcut: (cin != cout || stride != 1)
                .then(|| conv(cin, cout, 1, stride, bias, device)),
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    /// `[batch, cin, h, w]` → `[batch, cout, h / stride, w / stride]`
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let activated = self.pre1.forward(x.clone());
        let residual = match &self.shortcut {
            Some(projection) => conv2d(projection, activated.clone()),
            None => x,
        };
        let y = conv2d(&self.conv1, activated);
        let y = conv2d(&self.conv2, self.dropout.forward(self.pre2.forward(y)));
        y + residual
    }
}

/// Wide ResNet WRN-D-K: a 3×3 stem, three groups of pre-activation blocks, BN-ReLU, global mean
/// pool, linear output.
#[derive(Module, Debug)]
pub struct WideResNet {
    /// Stem: 3×3 convolution, 16 channels.
    pub stem: Conv2d,
    /// The residual blocks of the three groups, in order (widths 16K, 32K, 64K).
    pub blocks: Vec<Block>,
    /// Final BN-ReLU before the pool.
    pub head: BnRelu,
    /// Output layer: 64K pooled features → classes logits.
    pub output: Linear,
}

impl WideResNet {
    /// `depth` must be 6n + 4.
    pub fn new(
        depth: usize,
        width: usize,
        [_h, _w, c]: [usize; 3],
        classes: usize,
        batchnorm: bool,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let per_group = (depth - 4) / 6;
        let mut blocks = Vec::new();
        let mut cin = 16;
        for (group, stride) in [(0usize, 1usize), (1, 2), (2, 2)] {
            let cout = (16 << group) * width;
            for i in 0..per_group {
                blocks.push(Block::new(
                    cin,
                    cout,
                    if i == 0 { stride } else { 1 },
                    batchnorm,
                    dropout,
                    device,
                ));
                cin = cout;
            }
        }
        Self {
            stem: conv(c, 16, 3, 1, !batchnorm, device),
            blocks,
            head: BnRelu::new(cin, batchnorm, device),
            output: LinearConfig::new(cin, classes).init(device),
        }
    }

    /// # Shapes
    /// - input: `[batch, height, width, channels]` (whitened, channels last)
    /// - output: `[batch, classes]` logits
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = conv2d(&self.stem, x.permute([0, 3, 1, 2])); // [batch, 16, h, w]
        for block in &self.blocks {
            x = block.forward(x); // [batch, 64K, h/4, w/4] after the last
        }
        let x = self.head.forward(x);
        let x: Tensor<2> = x.flatten::<3>(2, 3).mean_dim(2).flatten(1, 2); // [batch, 64K]
        linear(&self.output, x) // [batch, classes]
    }
}
