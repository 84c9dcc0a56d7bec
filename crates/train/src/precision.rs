//! Mixed precision (`--precision bf16`) with the semantics of PyTorch's
//! `torch.autocast(dtype=torch.bfloat16)`: parameters, optimizer state, BatchNorm statistics, the
//! loss and the softmax stay float32; convolutions and matrix products (the layers that hold
//! nearly all of a step's arithmetic) take bfloat16 inputs, weights and biases, accumulate in
//! float32 inside libtorch's kernels (oneDNN on CPU, cuBLAS/cuDNN on CUDA), and their outputs are
//! cast back to float32 for the next op. Gradients flow back through the casts, so each weight's
//! gradient reaches its float32 master copy as float32.
//!
//! The setting is a scope, as autocast is in PyTorch: [`autocast`] runs a closure with a precision,
//! and the layer helpers [`conv2d`] and [`linear`] read it when they build the forward graph. The
//! backward pass needs no flag: the casts are part of the recorded graph. Local response
//! normalization, pooling, BatchNorm, activations and the loss always run in float32.

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

use burn::nn::Linear;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{FloatDType, Tensor};

/// The arithmetic of a training run's convolutions and matrix products.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// Float32 throughout: the paper's arithmetic.
    #[default]
    F32,
    /// Autocast to bfloat16 for convolutions and matrix products, float32 master weights.
    Bf16,
}

impl Precision {
    /// The name `--precision` takes and `config.json` records.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(format!("unknown precision '{s}' (known: f32, bf16)")),
        }
    }
}

thread_local! {
    static CURRENT: Cell<Precision> = const { Cell::new(Precision::F32) };
}

/// The precision of the enclosing [`autocast`] scope on this thread (float32 outside any).
pub fn current() -> Precision {
    CURRENT.with(Cell::get)
}

/// Runs `f` with `precision` for the layers it calls on this thread, then restores the previous
/// setting (also when `f` panics).
pub fn autocast<R>(precision: Precision, f: impl FnOnce() -> R) -> R {
    struct Restore(Precision);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(precision)));
    f()
}

fn lower<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.cast(FloatDType::BF16)
}

fn raise<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.cast(FloatDType::F32)
}

/// `conv.forward(x)` in the current precision.
///
/// # Shapes
/// - input: `[batch, cin, h, w]`
/// - output: `[batch, cout, h', w']`, float32
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    float32(conv2d_keep(conv, x))
}

/// [`conv2d`] without the cast back: under bf16 the output stays bfloat16, for layers that take
/// bfloat16 activations as PyTorch's autocast hands them on (ReLU, pooling, concatenation, and
/// BatchNorm, which computes its statistics in float32 and keeps float32 parameters). Half the
/// memory traffic between convolutions, and no cast pair per layer.
///
/// # Shapes
/// - input: `[batch, cin, h, w]`
/// - output: `[batch, cout, h', w']`, bfloat16 under bf16, float32 otherwise
pub fn conv2d_keep(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    if current() == Precision::F32 {
        return conv.forward(x);
    }
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        // The models build every convolution with explicit padding (ConvUnit, WRN's conv).
        PaddingConfig2d::Same => unreachable!("the models pad their convolutions explicitly"),
    };
    let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
    burn::tensor::module::conv2d(
        lower(x),
        lower(conv.weight.val()),
        conv.bias.as_ref().map(|b| lower(b.val())),
        options,
    )
}

/// `x` as float32 (itself when it already is): for layers that compute in float32 whatever
/// precision their input arrives in.
pub fn float32<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if x.dtype() == burn::tensor::DType::F32 {
        x
    } else {
        raise(x)
    }
}

/// `linear.forward(x)` in the current precision.
///
/// # Shapes
/// - input: `[..., d_input]`
/// - output: `[..., d_output]`, float32
pub fn linear<const D: usize>(linear: &Linear, x: Tensor<D>) -> Tensor<D> {
    if current() == Precision::F32 {
        return linear.forward(x);
    }
    raise(burn::tensor::module::linear(
        lower(x),
        lower(linear.weight.val()),
        linear.bias.as_ref().map(|b| lower(b.val())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_scopes_restore() {
        for p in [Precision::F32, Precision::Bf16] {
            assert_eq!(p.name().parse::<Precision>(), Ok(p));
        }
        assert!("fp16".parse::<Precision>().is_err());
        assert_eq!(current(), Precision::F32);
        let inner = autocast(Precision::Bf16, || {
            let nested = autocast(Precision::F32, current);
            (current(), nested)
        });
        assert_eq!(inner, (Precision::Bf16, Precision::F32));
        assert_eq!(current(), Precision::F32);
        let panicked = std::panic::catch_unwind(|| autocast(Precision::Bf16, || panic!("inside")));
        assert!(panicked.is_err());
        assert_eq!(
            current(),
            Precision::F32,
            "a panic inside the scope restores it"
        );
    }
}
