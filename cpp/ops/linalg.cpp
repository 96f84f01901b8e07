// Matrix products, all through tensor/blas.h (xtensor-blas -> OpenBLAS), written into reused buffers.
#include "ops/ops.h"
#include "tensor/blas.h"

namespace xk {

namespace {

// matmul operands seen as a batch of row-major matrices: `batch` products of (m, k) @ (k, n).
struct MatmulDims {
  size_t batch = 1, m = 1, k = 1, n = 1;
  bool b_shared = true;  // b is one matrix used by every batch entry
  Shape out;
};

// The product of s[0, end): the row count of a (..., k) array, also when k is 0 (no size / k).
size_t leading(const Shape& s, size_t end) {
  size_t p = 1;
  for (size_t i = 0; i < end; ++i) p *= s[i];
  return p;
}

MatmulDims matmul_dims(const Shape& a, const Shape& b) {
  auto bad = [&](const std::string& why) {
    fail("matmul", why + " Received: a.shape=" + shape_str(a) + ", b.shape=" + shape_str(b));
  };
  if (a.empty() || b.empty()) bad("Inputs must have rank >= 1.");
  MatmulDims d;
  size_t ka = a.back(), kb = b.size() == 1 ? b[0] : b[b.size() - 2];
  if (ka != kb) bad("Incompatible shapes: the last axis of `a` (" + std::to_string(ka) +
                    ") must equal the second-to-last axis of `b` (" + std::to_string(kb) + ").");
  d.k = ka;
  d.n = b.size() == 1 ? 1 : b.back();
  if (b.size() <= 2) {  // (..., m, k) @ (k, n): one GEMM over all leading rows
    d.m = leading(a, a.size() - 1);
    d.out.assign(a.begin(), a.end() - 1);
  } else {
    if (a.size() != b.size() || !std::equal(a.begin(), a.end() - 2, b.begin()))
      bad("Batched matmul needs equal leading (batch) axes.");
    d.b_shared = false;
    d.m = a.size() == 1 ? 1 : a[a.size() - 2];
    d.batch = leading(a, a.size() - 2);
    d.out.assign(a.begin(), a.end() - 1);
  }
  if (b.size() > 1) d.out.push_back(d.n);
  return d;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  matmul_dims(a.shape(), b.shape());
  return make_op(
      "matmul", {a, b},
      [](Node& self) {
        MatmulDims d = matmul_dims(to_shape(self.in(0).shape()), to_shape(self.in(1).shape()));
        ensure_shape(self.value, d.out);
        const float *pa = self.in(0).data(), *pb = self.in(1).data();
        float* po = self.value.data();
        for (size_t i = 0; i < d.batch; ++i)
          gemm(false, false, d.m, d.n, d.k, 1.f, pa + i * d.m * d.k, d.k, pb + (d.b_shared ? 0 : i * d.k * d.n),
               d.n, 0.f, po + i * d.m * d.n, d.n);
      },
      [](Node& self) {
        MatmulDims d = matmul_dims(to_shape(self.in(0).shape()), to_shape(self.in(1).shape()));
        const float *pa = self.in(0).data(), *pb = self.in(1).data(), *g = self.grad.data();
        if (self.needs(0)) {  // da = g @ b^T
          float beta = grad_beta(*self.inputs[0]);
          float* da = self.inputs[0]->grad.data();
          for (size_t i = 0; i < d.batch; ++i)
            gemm(false, true, d.m, d.k, d.n, 1.f, g + i * d.m * d.n, d.n, pb + (d.b_shared ? 0 : i * d.k * d.n),
                 d.n, beta, da + i * d.m * d.k, d.k);
        }
        if (self.needs(1)) {  // db = a^T @ g
          float beta = grad_beta(*self.inputs[1]);
          float* db = self.inputs[1]->grad.data();
          for (size_t i = 0; i < d.batch; ++i)
            gemm(true, false, d.k, d.n, d.m, 1.f, pa + i * d.m * d.k, d.k, g + i * d.m * d.n, d.n,
                 d.b_shared && i > 0 ? 1.f : beta, db + (d.b_shared ? 0 : i * d.k * d.n), d.n);
        }
      });
}

Tensor dense(const Tensor& x, const Tensor& kernel, const Tensor& bias) {
  Shape xs = x.shape(), ks = kernel.shape();
  if (ks.size() != 2 || xs.size() < 2 || xs.back() != ks[0])
    fail("dense", "Input's last axis must match the kernel's first axis. Received: inputs.shape=" + shape_str(xs) +
                      ", kernel.shape=" + shape_str(ks));
  bool has_bias = static_cast<bool>(bias);
  if (has_bias && (bias.ndim() != 1 || bias.shape()[0] != ks[1]))
    fail("dense", "Bias must have shape (" + std::to_string(ks[1]) + ",). Received: bias.shape=" +
                      shape_str(bias.shape()));
  std::vector<Tensor> inputs = {x, kernel};
  if (has_bias) inputs.push_back(bias);
  return make_op(
      "dense", inputs,
      [](Node& self) {
        const Array &in = self.in(0), &w = self.in(1);
        size_t k = w.shape()[0], n = w.shape()[1], m = leading(to_shape(in.shape()), in.dimension() - 1);
        Shape out = to_shape(in.shape());
        out.back() = n;
        ensure_shape(self.value, out);
        float* y = self.value.data();
        gemm(false, false, m, n, k, 1.f, in.data(), k, w.data(), n, 0.f, y, n);
        if (self.inputs.size() > 2) {
          const float* b = self.in(2).data();
          for (size_t i = 0; i < m; ++i)
            for (size_t j = 0; j < n; ++j) y[i * n + j] += b[j];
        }
      },
      [](Node& self) {
        const Array &in = self.in(0), &w = self.in(1);
        size_t k = w.shape()[0], n = w.shape()[1], m = leading(to_shape(in.shape()), in.dimension() - 1);
        const float* g = self.grad.data();
        if (self.needs(0)) {  // dx = g W^T (first: a fused update below changes W)
          float beta = grad_beta(*self.inputs[0]);
          gemm(false, true, m, k, n, 1.f, g, n, w.data(), n, beta, self.inputs[0]->grad.data(), k);
        }
        if (self.inputs.size() > 2 && self.needs(2)) {  // db = column sums of g
          float beta = grad_beta(*self.inputs[2]);
          float* db = self.inputs[2]->grad.data();
          if (beta == 0.f) std::fill(db, db + n, 0.f);
          for (size_t i = 0; i < m; ++i)
            for (size_t j = 0; j < n; ++j) db[j] += g[i * n + j];
        }
        Node& kernel = *self.inputs[1];
        if (kernel.fused_sgd_step != 0.f) {  // plain SGD: W += step * x^T g, no gradient buffer
          gemm(true, false, k, n, m, kernel.fused_sgd_step, in.data(), k, g, n, 1.f, kernel.value.data(), n);
          kernel.fused_sgd_done = true;
        } else if (self.needs(1)) {  // dW = x^T g
          float beta = grad_beta(kernel);
          gemm(true, false, k, n, m, 1.f, in.data(), k, g, n, beta, kernel.grad.data(), n);
        }
      });
}

}  // namespace xk
