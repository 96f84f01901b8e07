// Every differentiable op of xkeras. Each is one forward plus one backward, defined side by side in
// the file of its family (named below). Errors: std::invalid_argument("[op] ... Received: ...").
#pragma once
#include <optional>

#include "autograd/tensor.h"

namespace xk {

// ---- elementwise.cpp: binary ops with NumPy broadcasting --------------------------------------
Tensor add(const Tensor& a, const Tensor& b);       // da = g, db = g
Tensor subtract(const Tensor& a, const Tensor& b);  // da = g, db = -g
Tensor multiply(const Tensor& a, const Tensor& b);  // da = g*b, db = g*a
Tensor divide(const Tensor& a, const Tensor& b);    // da = g/b, db = -g*a/b^2
Tensor power(const Tensor& a, const Tensor& b);     // da = g*b*a^(b-1), db = g*a^b*log(a)
Tensor maximum(const Tensor& a, const Tensor& b);   // g flows to a where a >= b, else to b
Tensor minimum(const Tensor& a, const Tensor& b);   // g flows to a where a <= b, else to b
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // g to a where cond != 0

// ---- elementwise.cpp: unary math ----------------------------------------------------------------
Tensor negative(const Tensor& x);  // dx = -g
Tensor exp(const Tensor& x);       // dx = g*y
Tensor log(const Tensor& x);       // dx = g/x
Tensor sqrt(const Tensor& x);      // dx = g/(2y)
Tensor square(const Tensor& x);    // dx = 2gx
Tensor abs(const Tensor& x);       // dx = g*sign(x)
Tensor clip(const Tensor& x, float lo, float hi);  // dx = g where lo <= x <= hi

// ---- activations.cpp ----------------------------------------------------------------------------
Tensor relu(const Tensor& x);                       // dx = g*(x > 0)
Tensor relu6(const Tensor& x);                      // dx = g*(0 < x < 6)
Tensor leaky_relu(const Tensor& x, float negative_slope);  // dx = g*(x > 0 ? 1 : slope)
Tensor sigmoid(const Tensor& x);                    // dx = g*y*(1-y)
Tensor hard_sigmoid(const Tensor& x);               // relu6(x+3)/6; dx = g/6 inside (-3, 3)
Tensor tanh(const Tensor& x);                       // dx = g*(1-y^2)
Tensor softplus(const Tensor& x);                   // dx = g*sigmoid(x)
Tensor softsign(const Tensor& x);                   // dx = g/(1+|x|)^2
Tensor elu(const Tensor& x, float alpha);           // dx = g*(x > 0 ? 1 : y + alpha)
Tensor selu(const Tensor& x);                       // scale*elu(x, alpha) with Keras' constants
Tensor gelu(const Tensor& x, bool approximate);     // exact erf form, or the tanh approximation
Tensor silu(const Tensor& x);                       // x*sigmoid(x) (swish)
Tensor mish(const Tensor& x);                       // x*tanh(softplus(x))
Tensor softmax(const Tensor& x, int axis);          // dx = y*(g - sum(g*y, axis))
Tensor log_softmax(const Tensor& x, int axis);      // dx = g - softmax(x)*sum(g, axis)

// ---- reduce.cpp ---------------------------------------------------------------------------------
// axes: empty optional = all axes; negative axes count from the end.
Tensor sum(const Tensor& x, std::optional<std::vector<int>> axes, bool keepdims);   // dx = broadcast(g)
Tensor mean(const Tensor& x, std::optional<std::vector<int>> axes, bool keepdims);  // dx = broadcast(g)/n

// ---- shape.cpp ----------------------------------------------------------------------------------
Tensor reshape(const Tensor& x, std::vector<long> shape);   // one -1 allowed; dx = reshape(g)
Tensor transpose(const Tensor& x, std::vector<int> axes);   // empty = reverse; dx = transpose(g, inverse)
Tensor broadcast_to(const Tensor& x, const Shape& shape);   // dx = sum of g over broadcast axes

// ---- linalg.cpp ---------------------------------------------------------------------------------
Tensor matmul(const Tensor& a, const Tensor& b);  // da = g b^T, db = a^T g (GEMMs through BLAS)
// Fused x @ W + b for Dense (x of any rank >= 2, contracting the last axis); b may be empty.
Tensor dense(const Tensor& x, const Tensor& kernel, const Tensor& bias);

// ---- losses.cpp: per-sample losses (reduced over the last axis); the caller averages -----------
// Labels as integers (stored as float) against logits: stable log-softmax + NLL in one op.
Tensor sparse_softmax_cross_entropy(const Tensor& labels, const Tensor& logits);
// One-hot (or soft) labels against logits.
Tensor softmax_cross_entropy(const Tensor& labels, const Tensor& logits);
// Keras' probability path: p clipped to [eps, 1-eps] after renormalising.
Tensor sparse_categorical_crossentropy(const Tensor& labels, const Tensor& probs);
Tensor categorical_crossentropy(const Tensor& labels, const Tensor& probs);
Tensor binary_crossentropy(const Tensor& labels, const Tensor& probs);        // clipped probabilities
Tensor sigmoid_cross_entropy(const Tensor& labels, const Tensor& logits);     // from logits, stable
Tensor mean_squared_error(const Tensor& labels, const Tensor& pred);
Tensor mean_absolute_error(const Tensor& labels, const Tensor& pred);
Tensor huber(const Tensor& labels, const Tensor& pred, float delta);

// ---- random.cpp: stochastic layers' ops; a new mask every forward (and every replay) ------------
// seed >= 0: the op's own generator (a layer built with `seed=`); -1: drawn from the global generator.
Tensor dropout(const Tensor& x, float rate, std::vector<long> noise_shape, int64_t seed = -1);  // dx = g*mask/(1-rate)
void set_seed(uint64_t seed);

// ---- random.cpp: AlphaDropout, GaussianNoise, GaussianDropout (Keras' formulas, training only) ---
// kept = U >= rate; y = kept ? a*x + b : a*alpha_p + b (a, b restore SELU's mean 0 / variance 1); dx = g*a*kept
Tensor alpha_dropout(const Tensor& x, float rate, std::vector<long> noise_shape, int64_t seed = -1);
Tensor gaussian_noise(const Tensor& x, float stddev, int64_t seed = -1);  // y = x + N(0, stddev); dx = g
Tensor gaussian_dropout(const Tensor& x, float rate, int64_t seed = -1);  // y = x*N(1, sqrt(rate/(1-rate)))

// ---- normalization.cpp: fused batch and layer normalization ------------------------------------
// Statistics over every axis but `axis`. training: normalise with the batch's biased moments and
// update moving_mean/moving_variance in place (x*momentum + stat*(1-momentum)) inside the forward,
// so each replayed step updates them once; otherwise normalise with the moving statistics.
// gamma/beta may be empty (scale/center False). Backward: dx (through the batch moments), dgamma, dbeta.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& moving_mean,
                  const Tensor& moving_variance, int axis, float momentum, float epsilon, bool training);
// Normalises over the last `norm_ndim` axes; gamma/beta (may be empty) have their shape.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, int norm_ndim, float epsilon);

}  // namespace xk
