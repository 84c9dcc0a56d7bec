// Native libtorch kernels that tch's generated API does not expose, for the backward passes burn
// would otherwise decompose into generic ops (rethink patch, see crates/train/vendor/PATCHES.md).
#include <ATen/ATen.h>
#include <cstring>
#include <vector>

extern "C" {

// Gradients of a convolution with respect to its input and/or weight, by libtorch's own
// convolution_backward (oneDNN on CPU, cuDNN on CUDA). `grad`, `x`, `w` are tch tensor handles
// (at::Tensor*); results are new handles written to `*gx` / `*gw` when wanted. Returns NULL, or a
// malloc'd error message.
char *rethink_convolution_backward(const at::Tensor *grad, const at::Tensor *x, const at::Tensor *w,
                                   const int64_t *stride, const int64_t *padding,
                                   const int64_t *dilation, int64_t dims, int64_t groups,
                                   int want_x, int want_w, at::Tensor **gx, at::Tensor **gw) {
  try {
    std::vector<int64_t> output_padding(dims, 0);
    auto r = at::convolution_backward(
        *grad, *x, *w, c10::nullopt, at::IntArrayRef(stride, dims),
        at::IntArrayRef(padding, dims), at::IntArrayRef(dilation, dims), false,
        output_padding, groups, {want_x != 0, want_w != 0, false});
    if (want_x) *gx = new at::Tensor(std::get<0>(r));
    if (want_w) *gw = new at::Tensor(std::get<1>(r));
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}
}

extern "C" {

// Gradients of training-mode batch normalization over every dimension but 1, from the batch
// statistics the forward used (`invstd` = 1/sqrt(var + eps)), by libtorch's fused kernel.
char *rethink_batch_norm_backward(const at::Tensor *grad, const at::Tensor *x,
                                  const at::Tensor *gamma, const at::Tensor *mean,
                                  const at::Tensor *invstd, double eps, at::Tensor **gx,
                                  at::Tensor **ggamma, at::Tensor **gbeta) {
  try {
    // The vectorized kernels need the gradient in the input's memory format (a channels-last
    // input with a differently strided gradient takes a serial, scalar path).
    auto format = x->suggest_memory_format();
    auto input = x->contiguous(format);
    auto r = at::native_batch_norm_backward(grad->contiguous(format), input, *gamma, c10::nullopt,
                                            c10::nullopt, *mean, *invstd, true, eps,
                                            {true, true, true});
    *gx = new at::Tensor(std::get<0>(r));
    *ggamma = new at::Tensor(std::get<1>(r));
    *gbeta = new at::Tensor(std::get<2>(r));
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}
}
