//! Multilayer perceptrons of the paper: 1 or 3 hidden layers of 512 ReLU units, with biases.
//! On 28×28×3 inputs and 10 classes: 1,209,866 (1×512) and 1,735,178 (3×512) parameters.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::precision::linear;

/// A multilayer perceptron: `depth` hidden ReLU layers of `width` units, then a linear output.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Hidden fully connected layers, `width` units each.
    pub hidden: Vec<Linear>,
    /// Output layer: last hidden layer (or the flattened input) → classes logits.
    pub output: Linear,
    /// Dropout after each hidden layer.
    pub dropout: Dropout,
}

impl Mlp {
    /// The network for `input_len` input values and `classes` classes.
    pub fn new(
        input_len: usize,
        depth: usize,
        width: usize,
        classes: usize,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let hidden = (0..depth)
            .map(|i| LinearConfig::new(if i == 0 { input_len } else { width }, width).init(device))
            .collect();
        Self {
            hidden,
            output: LinearConfig::new(if depth == 0 { input_len } else { width }, classes)
                .init(device),
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    /// # Shapes
    /// - input: `[batch, height, width, channels]` (whitened pixels, channels last)
    /// - output: `[batch, classes]` logits
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x: Tensor<2> = x.flatten(1, 3); // [batch, h*w*c]
        for layer in &self.hidden {
            x = self
                .dropout
                .forward(burn::tensor::activation::relu(linear(layer, x))); // [batch, width]
        }
        linear(&self.output, x) // [batch, classes]
    }
}
