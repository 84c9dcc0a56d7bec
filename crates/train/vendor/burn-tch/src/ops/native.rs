//! rethink patch: convolution backward through libtorch's native `convolution_backward` (oneDNN
//! on CPU, cuDNN on CUDA) instead of burn's generic decomposition (a transposed convolution for
//! the input gradient, a batch/channel-swapped convolution for the weight gradient), which
//! measured up to 2x slower per layer and forced layout copies.

use std::ffi::{CStr, c_char, c_int};

use torch_sys::C_tensor;

unsafe extern "C" {
    fn rethink_convolution_backward(
        grad: *const C_tensor,
        x: *const C_tensor,
        w: *const C_tensor,
        stride: *const i64,
        padding: *const i64,
        dilation: *const i64,
        dims: i64,
        groups: i64,
        want_x: c_int,
        want_w: c_int,
        gx: *mut *mut C_tensor,
        gw: *mut *mut C_tensor,
    ) -> *mut c_char;
}

/// Which gradient of a convolution to compute.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ConvGrad {
    Input,
    Weight,
}

/// The gradient of `conv(x, w)` (symmetric `padding`, no transposition) with respect to `which`,
/// given the output gradient `grad`.
pub fn convolution_backward<const N: usize>(
    grad: &tch::Tensor,
    x: &tch::Tensor,
    w: &tch::Tensor,
    stride: [usize; N],
    padding: [usize; N],
    dilation: [usize; N],
    groups: usize,
    which: ConvGrad,
) -> tch::Tensor {
    let as_i64 = |a: [usize; N]| a.map(|v| v as i64);
    let (stride, padding, dilation) = (as_i64(stride), as_i64(padding), as_i64(dilation));
    let mut gx: *mut C_tensor = std::ptr::null_mut();
    let mut gw: *mut C_tensor = std::ptr::null_mut();
    // SAFETY: the handles are live tch tensors; the arrays hold N values each; the C++ side
    // writes a fresh at::Tensor* to the requested output (owned by the tch::Tensor we wrap it in)
    // or returns a malloc'd message.
    unsafe {
        let err = rethink_convolution_backward(
            grad.as_ptr(),
            x.as_ptr(),
            w.as_ptr(),
            stride.as_ptr(),
            padding.as_ptr(),
            dilation.as_ptr(),
            N as i64,
            groups as i64,
            c_int::from(which == ConvGrad::Input),
            c_int::from(which == ConvGrad::Weight),
            &mut gx,
            &mut gw,
        );
        if !err.is_null() {
            let message = CStr::from_ptr(err).to_string_lossy().into_owned();
            libc::free(err.cast());
            panic!("libtorch convolution_backward: {message}");
        }
        tch::Tensor::from_ptr(if which == ConvGrad::Input { gx } else { gw })
    }
}

unsafe extern "C" {
    fn rethink_batch_norm_backward(
        grad: *const C_tensor,
        x: *const C_tensor,
        gamma: *const C_tensor,
        mean: *const C_tensor,
        invstd: *const C_tensor,
        eps: f64,
        gx: *mut *mut C_tensor,
        ggamma: *mut *mut C_tensor,
        gbeta: *mut *mut C_tensor,
    ) -> *mut c_char;
}

/// Gradients (input, gamma, beta) of training-mode batch normalization by libtorch's fused
/// kernel, from the batch `mean` and `invstd` = 1/sqrt(biased variance + eps) of the forward.
pub fn batch_norm_backward(
    grad: &tch::Tensor,
    x: &tch::Tensor,
    gamma: &tch::Tensor,
    mean: &tch::Tensor,
    invstd: &tch::Tensor,
    eps: f64,
) -> (tch::Tensor, tch::Tensor, tch::Tensor) {
    let mut out: [*mut C_tensor; 3] = [std::ptr::null_mut(); 3];
    let [gx, gg, gb] = &mut out;
    // SAFETY: as in `convolution_backward`; all three outputs are written on success.
    unsafe {
        let err = rethink_batch_norm_backward(
            grad.as_ptr(),
            x.as_ptr(),
            gamma.as_ptr(),
            mean.as_ptr(),
            invstd.as_ptr(),
            eps,
            gx,
            gg,
            gb,
        );
        if !err.is_null() {
            let message = CStr::from_ptr(err).to_string_lossy().into_owned();
            libc::free(err.cast());
            panic!("libtorch native_batch_norm_backward: {message}");
        }
        (
            tch::Tensor::from_ptr(out[0]),
            tch::Tensor::from_ptr(out[1]),
            tch::Tensor::from_ptr(out[2]),
        )
    }
}
