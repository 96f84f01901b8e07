// xkeras._core op functions: each converts its arguments, releases the GIL and calls the C++ op.
#include <pybind11/stl.h>

#include "bindings/convert.h"
#include "ops/ops.h"
#include "tensor/blas.h"

namespace xk {

namespace {
template <Tensor (*Op)(const Tensor&)>
void def_unary(py::module_& m, const char* name, const char* doc) {
  m.def(name, [](py::handle x) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return Op(t);
  }, py::arg("x"), doc);
}

template <Tensor (*Op)(const Tensor&, const Tensor&)>
void def_binary(py::module_& m, const char* name, const char* a, const char* b, const char* doc) {
  m.def(name, [](py::handle x, py::handle y) {
    Tensor tx = as_tensor(x), ty = as_tensor(y);
    py::gil_scoped_release r;
    return Op(tx, ty);
  }, py::arg(a), py::arg(b), doc);
}

std::optional<std::vector<int>> axes_arg(py::handle axis) {
  if (axis.is_none()) return std::nullopt;
  if (py::isinstance<py::int_>(axis)) return std::vector<int>{axis.cast<int>()};
  return axis.cast<std::vector<int>>();
}
}  // namespace

void init_ops(py::module_& m) {
  def_binary<add>(m, "add", "x1", "x2", "x1 + x2 with broadcasting");
  def_binary<subtract>(m, "subtract", "x1", "x2", "x1 - x2 with broadcasting");
  def_binary<multiply>(m, "multiply", "x1", "x2", "x1 * x2 with broadcasting");
  def_binary<divide>(m, "divide", "x1", "x2", "x1 / x2 with broadcasting");
  def_binary<power>(m, "power", "x1", "x2", "x1 ** x2 with broadcasting");
  def_binary<maximum>(m, "maximum", "x1", "x2", "elementwise maximum");
  def_binary<minimum>(m, "minimum", "x1", "x2", "elementwise minimum");
  def_binary<matmul>(m, "matmul", "x1", "x2", "matrix product (BLAS)");
  m.def("where", [](py::handle c, py::handle a, py::handle b) {
    Tensor tc = as_tensor(c), ta = as_tensor(a), tb = as_tensor(b);
    py::gil_scoped_release r;
    return where(tc, ta, tb);
  }, py::arg("condition"), py::arg("x1"), py::arg("x2"));

  def_unary<negative>(m, "negative", "-x");
  def_unary<exp>(m, "exp", "e ** x");
  def_unary<log>(m, "log", "natural logarithm");
  def_unary<sqrt>(m, "sqrt", "square root");
  def_unary<square>(m, "square", "x * x");
  def_unary<abs>(m, "absolute", "|x|");
  m.def("clip", [](py::handle x, float lo, float hi) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return clip(t, lo, hi);
  }, py::arg("x"), py::arg("x_min"), py::arg("x_max"));

  def_unary<relu>(m, "relu", "max(x, 0)");
  def_unary<relu6>(m, "relu6", "min(max(x, 0), 6)");
  def_unary<sigmoid>(m, "sigmoid", "1 / (1 + exp(-x))");
  def_unary<hard_sigmoid>(m, "hard_sigmoid", "relu6(x + 3) / 6");
  def_unary<tanh>(m, "tanh", "hyperbolic tangent");
  def_unary<softplus>(m, "softplus", "log(1 + exp(x))");
  def_unary<softsign>(m, "softsign", "x / (1 + |x|)");
  def_unary<selu>(m, "selu", "scaled ELU with Keras' constants");
  def_unary<silu>(m, "silu", "x * sigmoid(x)");
  def_unary<mish>(m, "mish", "x * tanh(softplus(x))");
  m.def("leaky_relu", [](py::handle x, float slope) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return leaky_relu(t, slope);
  }, py::arg("x"), py::arg("negative_slope") = 0.2f);
  m.def("elu", [](py::handle x, float alpha) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return elu(t, alpha);
  }, py::arg("x"), py::arg("alpha") = 1.0f);
  m.def("gelu", [](py::handle x, bool approximate) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return gelu(t, approximate);
  }, py::arg("x"), py::arg("approximate") = true);
  m.def("softmax", [](py::handle x, int axis) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return softmax(t, axis);
  }, py::arg("x"), py::arg("axis") = -1);
  m.def("log_softmax", [](py::handle x, int axis) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return log_softmax(t, axis);
  }, py::arg("x"), py::arg("axis") = -1);

  m.def("sum", [](py::handle x, py::handle axis, bool keepdims) {
    Tensor t = as_tensor(x);
    auto axes = axes_arg(axis);
    py::gil_scoped_release r;
    return sum(t, axes, keepdims);
  }, py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdims") = false);
  m.def("mean", [](py::handle x, py::handle axis, bool keepdims) {
    Tensor t = as_tensor(x);
    auto axes = axes_arg(axis);
    py::gil_scoped_release r;
    return mean(t, axes, keepdims);
  }, py::arg("x"), py::arg("axis") = py::none(), py::arg("keepdims") = false);

  m.def("reshape", [](py::handle x, std::vector<long> shape) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return reshape(t, shape);
  }, py::arg("x"), py::arg("newshape"));
  m.def("transpose", [](py::handle x, std::optional<std::vector<int>> axes) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return transpose(t, axes.value_or(std::vector<int>{}));
  }, py::arg("x"), py::arg("axes") = py::none());
  m.def("broadcast_to", [](py::handle x, std::vector<size_t> shape) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return broadcast_to(t, Shape(shape.begin(), shape.end()));
  }, py::arg("x"), py::arg("shape"));
  m.def("dense", [](py::handle x, py::handle w, py::handle b) {
    Tensor tx = as_tensor(x), tw = as_tensor(w), tb = b.is_none() ? Tensor() : as_tensor(b);
    py::gil_scoped_release r;
    return dense(tx, tw, tb);
  }, py::arg("x"), py::arg("kernel"), py::arg("bias") = py::none(), "x @ kernel + bias, fused");
  m.def("dropout", [](py::handle x, float rate, std::optional<std::vector<long>> noise_shape, int64_t seed) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return dropout(t, rate, noise_shape.value_or(std::vector<long>{}), seed);
  }, py::arg("x"), py::arg("rate"), py::arg("noise_shape") = py::none(), py::arg("seed") = -1);
  m.def("set_seed", &set_seed, py::arg("seed"));

  def_binary<sparse_softmax_cross_entropy>(m, "sparse_softmax_cross_entropy", "labels", "logits",
                                           "per-sample CE of integer labels against logits");
  def_binary<softmax_cross_entropy>(m, "softmax_cross_entropy", "labels", "logits", "per-sample CE against logits");
  def_binary<sparse_categorical_crossentropy>(m, "sparse_categorical_crossentropy", "labels", "probs",
                                              "per-sample CE of integer labels against probabilities");
  def_binary<categorical_crossentropy>(m, "categorical_crossentropy", "labels", "probs",
                                       "per-sample CE against probabilities");
  def_binary<binary_crossentropy>(m, "binary_crossentropy", "labels", "probs", "per-sample BCE of probabilities");
  def_binary<sigmoid_cross_entropy>(m, "sigmoid_cross_entropy", "labels", "logits", "per-sample BCE of logits");
  def_binary<mean_squared_error>(m, "mean_squared_error", "labels", "pred", "per-sample MSE");
  def_binary<mean_absolute_error>(m, "mean_absolute_error", "labels", "pred", "per-sample MAE");
  m.def("huber", [](py::handle y, py::handle p, float delta) {
    Tensor ty = as_tensor(y), tp = as_tensor(p);
    py::gil_scoped_release r;
    return huber(ty, tp, delta);
  }, py::arg("labels"), py::arg("pred"), py::arg("delta") = 1.0f);

  m.def("set_blas_threads", &set_blas_threads);
  m.def("blas_threads", &blas_threads);
  m.def("blas_corename", &blas_corename);
  m.def("set_gemm_engine", &set_gemm_engine, py::arg("name"));
  m.def("gemm_engine", &gemm_engine);
  m.def("gemm_engines", &gemm_engines);
  // ---- normalization and noise layers' ops ----
  auto opt_tensor = [](py::handle h) { return h.is_none() ? Tensor() : as_tensor(h); };
  m.def("batch_normalization", [opt_tensor](py::handle x, py::handle gamma, py::handle beta, py::handle moving_mean,
                                            py::handle moving_variance, int axis, float momentum, float epsilon,
                                            bool training) {
    Tensor tx = as_tensor(x), tg = opt_tensor(gamma), tb = opt_tensor(beta);
    Tensor tm = as_tensor(moving_mean), tv = as_tensor(moving_variance);
    py::gil_scoped_release r;
    return batch_norm(tx, tg, tb, tm, tv, axis, momentum, epsilon, training);
  }, py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("moving_mean"), py::arg("moving_variance"),
     py::arg("axis") = -1, py::arg("momentum") = 0.99f, py::arg("epsilon") = 1e-3f, py::arg("training") = false,
     "Fused BatchNormalization; in training it also updates the moving statistics (Variables) in place.");
  m.def("layer_normalization", [opt_tensor](py::handle x, py::handle gamma, py::handle beta, int norm_ndim,
                                            float epsilon) {
    Tensor tx = as_tensor(x), tg = opt_tensor(gamma), tb = opt_tensor(beta);
    py::gil_scoped_release r;
    return layer_norm(tx, tg, tb, norm_ndim, epsilon);
  }, py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("norm_ndim") = 1, py::arg("epsilon") = 1e-3f,
     "Fused layer normalization over the last `norm_ndim` axes.");
  m.def("alpha_dropout", [](py::handle x, float rate, std::optional<std::vector<long>> noise_shape, int64_t seed) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return alpha_dropout(t, rate, noise_shape.value_or(std::vector<long>{}), seed);
  }, py::arg("x"), py::arg("rate"), py::arg("noise_shape") = py::none(), py::arg("seed") = -1);
  m.def("gaussian_noise", [](py::handle x, float stddev, int64_t seed) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return gaussian_noise(t, stddev, seed);
  }, py::arg("x"), py::arg("stddev"), py::arg("seed") = -1);
  m.def("gaussian_dropout", [](py::handle x, float rate, int64_t seed) {
    Tensor t = as_tensor(x);
    py::gil_scoped_release r;
    return gaussian_dropout(t, rate, seed);
  }, py::arg("x"), py::arg("rate"), py::arg("seed") = -1);
}

}  // namespace xk
