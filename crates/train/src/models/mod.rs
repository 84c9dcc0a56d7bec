//! The paper's models, one file each, behind one [`Network`] that the training loop drives.
//! Every model takes whitened images channels-last, `[batch, height, width, channels]`, adapts to
//! the input size and class count, and returns logits `[batch, classes]`.

pub mod alexnet_small;
pub mod inception_small;
pub mod inception_v3;
pub mod layers;
pub mod mlp;
pub mod wide_resnet;

use std::fmt;
use std::str::FromStr;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

pub use layers::count_parameters;

/// A model name as given to `--model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelName {
    /// A multilayer perceptron (`mlp-DxW`).
    Mlp {
        /// Hidden layers.
        depth: usize,
        /// Units per hidden layer.
        width: usize,
    },
    /// The small AlexNet.
    AlexNetSmall,
    /// The small Inception.
    InceptionSmall,
    /// A Wide ResNet WRN-D-K (`wrn-D-K`).
    WideResNet {
        /// Depth D (6n + 4).
        depth: usize,
        /// Widening factor K.
        width: usize,
    },
    /// Inception V3.
    InceptionV3,
}

impl ModelName {
    /// The models `--list-models` shows (WRN in the variant the seed team used).
    pub const LISTED: [ModelName; 6] = [
        ModelName::Mlp {
            depth: 1,
            width: 512,
        },
        ModelName::Mlp {
            depth: 3,
            width: 512,
        },
        ModelName::AlexNetSmall,
        ModelName::InceptionSmall,
        ModelName::WideResNet {
            depth: 28,
            width: 10,
        },
        ModelName::InceptionV3,
    ];

    /// The paper's learning rate: 0.1 for Inception, 0.01 for AlexNet and the MLPs.
    pub fn default_lr(self) -> f64 {
        match self {
            ModelName::InceptionSmall | ModelName::InceptionV3 | ModelName::WideResNet { .. } => {
                0.1
            }
            ModelName::Mlp { .. } | ModelName::AlexNetSmall => 0.01,
        }
    }

    /// One line for `--list-models`.
    pub fn description(self) -> &'static str {
        match self {
            ModelName::Mlp { .. } => "multilayer perceptron, ReLU (paper Table 1)",
            ModelName::AlexNetSmall => {
                "small AlexNet with local response normalization (paper Table 1)"
            }
            ModelName::InceptionSmall => {
                "small Inception, BatchNorm with learnable shift (paper Table 1)"
            }
            ModelName::WideResNet { .. } => "Wide ResNet WRN-D-K, any D = 6n+4 and K",
            ModelName::InceptionV3 => {
                "Inception V3 without auxiliary head (paper Table 2, ImageNet)"
            }
        }
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelName::Mlp { depth, width } => write!(f, "mlp-{depth}x{width}"),
            ModelName::AlexNetSmall => f.write_str("alexnet-small"),
            ModelName::InceptionSmall => f.write_str("inception-small"),
            ModelName::WideResNet { depth, width } => write!(f, "wrn-{depth}-{width}"),
            ModelName::InceptionV3 => f.write_str("inception-v3"),
        }
    }
}

impl FromStr for ModelName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let unknown = || {
            format!(
                "unknown model '{s}' (known: mlp-1x512, mlp-3x512, mlp-DxW, alexnet-small, inception-small, wrn-D-K, inception-v3)"
            )
        };
        match s {
            "alexnet-small" => return Ok(ModelName::AlexNetSmall),
            "inception-small" => return Ok(ModelName::InceptionSmall),
            "inception-v3" => return Ok(ModelName::InceptionV3),
            _ => {}
        }
        if let Some(rest) = s.strip_prefix("mlp-") {
            let (d, w) = rest.split_once('x').ok_or_else(unknown)?;
            let (depth, width) = (
                d.parse().map_err(|_| unknown())?,
                w.parse().map_err(|_| unknown())?,
            );
            if width == 0 {
                return Err(format!("model '{s}': the hidden width must be at least 1"));
            }
            return Ok(ModelName::Mlp { depth, width });
        }
        if let Some(rest) = s.strip_prefix("wrn-") {
            let (d, k) = rest.split_once('-').ok_or_else(unknown)?;
            let (depth, width): (usize, usize) = (
                d.parse().map_err(|_| unknown())?,
                k.parse().map_err(|_| unknown())?,
            );
            if depth < 10 || (depth - 4) % 6 != 0 || width == 0 {
                return Err(format!(
                    "model '{s}': WRN depth must be 6n+4 with n ≥ 1 (10, 16, 22, 28, ...) and width ≥ 1"
                ));
            }
            return Ok(ModelName::WideResNet { depth, width });
        }
        Err(unknown())
    }
}

/// Architecture options that change the network (not the optimizer).
#[derive(Clone, Copy, Debug)]
pub struct Architecture {
    /// The model.
    pub name: ModelName,
    /// Input height, width, channels (after cropping).
    pub input: [usize; 3],
    /// Number of classes (output logits).
    pub classes: usize,
    /// BatchNorm after the convolutions (off with `--no-batchnorm`).
    pub batchnorm: bool,
    /// Dropout probability.
    pub dropout: f64,
}

/// One of the paper's models, built for an [`Architecture`].
// One network lives per run, moved through the training loop by value: boxing the larger variants
// would save nothing measurable and add an indirection to every access.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Network {
    /// A multilayer perceptron.
    Mlp(mlp::Mlp),
    /// The small AlexNet.
    AlexNetSmall(alexnet_small::AlexNetSmall),
    /// The small Inception.
    InceptionSmall(inception_small::InceptionSmall),
    /// A Wide ResNet.
    WideResNet(wide_resnet::WideResNet),
    /// Inception V3.
    InceptionV3(inception_v3::InceptionV3),
}

impl Network {
    /// Builds the model with fresh weights drawn from the device's generator.
    pub fn new(arch: &Architecture, device: &Device) -> Network {
        let Architecture {
            name,
            input,
            classes,
            batchnorm,
            dropout,
        } = *arch;
        match name {
            ModelName::Mlp { depth, width } => Network::Mlp(mlp::Mlp::new(
                input.iter().product(),
                depth,
                width,
                classes,
                dropout,
                device,
            )),
            ModelName::AlexNetSmall => {
                // The paper's AlexNet-small has no BatchNorm: BN there is opt-in (`--batchnorm`).
                Network::AlexNetSmall(alexnet_small::AlexNetSmall::new(
                    input, classes, false, dropout, device,
                ))
            }
            ModelName::InceptionSmall => Network::InceptionSmall(
                inception_small::InceptionSmall::new(input, classes, batchnorm, dropout, device),
            ),
            ModelName::WideResNet { depth, width } => {
                Network::WideResNet(wide_resnet::WideResNet::new(
                    depth, width, input, classes, batchnorm, dropout, device,
                ))
            }
            ModelName::InceptionV3 => Network::InceptionV3(inception_v3::InceptionV3::new(
                input, classes, batchnorm, dropout, device,
            )),
        }
    }

    /// # Shapes
    /// - input: `[batch, height, width, channels]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Network::Mlp(m) => m.forward(x),
            Network::AlexNetSmall(m) => m.forward(x),
            Network::InceptionSmall(m) => m.forward(x),
            Network::WideResNet(m) => m.forward(x),
            Network::InceptionV3(m) => m.forward(x),
        }
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> usize {
        count_parameters(self)
    }
}

/// The smallest input side a model accepts.
pub fn min_side(name: ModelName) -> usize {
    match name {
        ModelName::InceptionV3 => 75,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(name: &str, input: [usize; 3], classes: usize) -> usize {
        let arch = Architecture {
            name: name.parse().unwrap(),
            input,
            classes,
            batchnorm: true,
            dropout: 0.0,
        };
        Network::new(&arch, &Device::libtorch()).parameters()
    }

    /// Paper, Table 1: the parameter counts on CIFAR-10 (28×28×3 after cropping, 10 classes).
    #[test]
    fn parameter_counts_match_the_paper() {
        assert_eq!(count("mlp-1x512", [28, 28, 3], 10), 1_209_866);
        assert_eq!(count("mlp-3x512", [28, 28, 3], 10), 1_735_178);
        assert_eq!(count("alexnet-small", [28, 28, 3], 10), 1_387_786);
        assert_eq!(count("inception-small", [28, 28, 3], 10), 1_649_402);
    }

    /// torchvision's `inception_v3(aux_logits=False, init_weights=False)`: 23,834,568 parameters.
    #[test]
    fn inception_v3_matches_torchvision() {
        assert_eq!(count("inception-v3", [299, 299, 3], 1000), 23_834_568);
    }

    /// WRN-28-10 on CIFAR-10: 36.5M parameters as in Zagoruyko & Komodakis (36,479,194 in the
    /// reference PyTorch implementation, BN affine included).
    #[test]
    fn wide_resnet_28_10_size() {
        assert_eq!(count("wrn-28-10", [32, 32, 3], 10), 36_479_194);
    }

    #[test]
    fn batchnorm_off_removes_no_inception_small_parameters() {
        // With BN each conv's bias is replaced by BN's shift; without BN the conv keeps its bias:
        // the same count either way.
        let arch = Architecture {
            name: ModelName::InceptionSmall,
            input: [28, 28, 3],
            classes: 10,
            batchnorm: false,
            dropout: 0.0,
        };
        assert_eq!(
            Network::new(&arch, &Device::libtorch()).parameters(),
            1_649_402
        );
    }

    #[test]
    fn forward_shapes() {
        let device = Device::libtorch();
        for (name, input) in [
            ("mlp-3x512", [28, 28, 3]),
            ("alexnet-small", [28, 28, 3]),
            ("inception-small", [28, 28, 3]),
            ("wrn-10-1", [32, 32, 3]),
            ("alexnet-small", [28, 28, 1]),
        ] {
            let arch = Architecture {
                name: name.parse().unwrap(),
                input,
                classes: 7,
                batchnorm: true,
                dropout: 0.0,
            };
            let net = Network::new(&arch, &device);
            let x = Tensor::<4>::zeros([2, input[0], input[1], input[2]], &device);
            assert_eq!(net.forward(x).dims(), [2, 7], "{name}");
        }
    }

    #[test]
    fn model_names_round_trip() {
        for name in ModelName::LISTED {
            assert_eq!(name.to_string().parse::<ModelName>().unwrap(), name);
        }
        assert!("wrn-27-2".parse::<ModelName>().is_err());
        assert!("mlp-2x0".parse::<ModelName>().is_err());
    }
}
