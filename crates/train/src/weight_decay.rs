//! Weight decay as TensorFlow's models apply it: an L2 penalty on the weights of convolutions
//! and linear layers only (not on biases, not on BatchNorm's shift or scale), added to their
//! gradients before the optimizer step. burn's SGD would decay every parameter, so `train`
//! configures it without decay and calls [`apply_weight_decay`] on the gradients instead.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::models::Network;

/// The names of the parameters weight decay applies to: the weights of convolutions and linear
/// layers (not their biases, not BatchNorm's shift or scale), TensorFlow's convention.
pub fn decayed_parameters(model: &Network) -> Vec<String> {
    visit_decayed(model, None, 0.0).names
}

/// Adds `weight_decay`·w to the gradient of every decayed parameter w (the L2 penalty
/// ½·wd·‖w‖² of TensorFlow's models), before momentum, as PyTorch's SGD does.
pub fn apply_weight_decay(
    model: &Network,
    grads: GradientsParams,
    weight_decay: f64,
) -> GradientsParams {
    if weight_decay == 0.0 {
        return grads;
    }
    visit_decayed(model, Some(grads), weight_decay)
        .grads
        .expect("the gradients passed in")
}

/// Walks the decayed parameters of `model`, naming each and, given gradients, adding
/// `weight_decay`·w to its gradient.
fn visit_decayed(model: &Network, grads: Option<GradientsParams>, weight_decay: f64) -> Decayed {
    let mut visitor = Decayed {
        path: Vec::new(),
        names: Vec::new(),
        grads,
        weight_decay,
    };
    model.visit(&mut visitor);
    visitor
}

struct Decayed {
    /// (field name, type holding the field) from the model down to the current parameter.
    path: Vec<(String, String)>,
    names: Vec<String>,
    grads: Option<GradientsParams>,
    weight_decay: f64,
}

impl ModuleVisitor for Decayed {
    fn enter_module(&mut self, name: &str, container: &str) {
        self.path.push((name.to_string(), container.to_string()));
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // A `weight` field of a `Conv2d` or `Linear` (the visitor names each field with the type
        // that holds it).
        let decayed = self.path.last().is_some_and(|(name, parent)| {
            name == "weight" && matches!(parent.as_str(), "Struct:Conv2d" | "Struct:Linear")
        });
        if !decayed {
            return;
        }
        let names: Vec<&str> = self.path.iter().map(|(n, _)| n.as_str()).collect();
        self.names.push(names.join("."));
        if let Some(grads) = &mut self.grads
            && let Some(grad) = grads.remove::<D>(param.id)
        {
            let weight = param.val().inner();
            grads.register(param.id, grad + weight.mul_scalar(self.weight_decay));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Architecture, ModelName};
    use burn::tensor::Device;

    /// The decayed gradient is the plain gradient plus wd·w on weights, unchanged on biases.
    #[test]
    fn weight_decay_adds_wd_times_weight_to_weights_only() {
        let device = Device::libtorch().autodiff();
        device.seed(1);
        let arch = Architecture {
            name: ModelName::Mlp { depth: 1, width: 4 },
            input: [2, 2, 1],
            classes: 3,
            batchnorm: true,
            dropout: 0.0,
        };
        let model = Network::new(&arch, &device);
        let loss = || {
            model
                .forward(Tensor::<4>::ones([2, 2, 2, 1], &device))
                .sum()
        };
        let plain = GradientsParams::from_grads(loss().backward(), &model);
        let decayed = apply_weight_decay(
            &model,
            GradientsParams::from_grads(loss().backward(), &model),
            0.5,
        );
        let Network::Mlp(mlp) = &model else {
            unreachable!()
        };
        let vec = |t: Tensor<2>| t.into_data().to_vec::<f32>().unwrap();
        for layer in mlp.hidden.iter().chain([&mlp.output]) {
            let w = vec(layer.weight.val().inner());
            let g = vec(plain.get::<2>(layer.weight.id).unwrap());
            let gd = vec(decayed.get::<2>(layer.weight.id).unwrap());
            for ((w, g), gd) in w.iter().zip(&g).zip(&gd) {
                assert!((gd - (g + 0.5 * w)).abs() < 1e-6, "{gd} vs {g} + 0.5·{w}");
            }
            let bias = layer.bias.as_ref().unwrap();
            let b = |g: &GradientsParams| {
                g.get::<1>(bias.id)
                    .unwrap()
                    .into_data()
                    .to_vec::<f32>()
                    .unwrap()
            };
            assert_eq!(b(&plain), b(&decayed));
        }
    }
}
