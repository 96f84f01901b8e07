// The update rules of Keras 3's optimizers (keras-spec.md §6.3), one small class each. Hyperparameters
// are doubles set from Python; each step's scalar factors are computed once in begin_step (in double)
// and the per-element loops run in float32 in the order Keras' ops do.
#pragma once
#include "optimizers/optimizer.h"

namespace xk {

// SGD(learning_rate=0.01, momentum=0.0, nesterov=False): m = momentum*m - lr*g; w += m
// (nesterov: w += momentum*m - lr*g). A momentum slot exists only if momentum != 0 at build.
// With a OneCycle schedule the momentum follows the schedule's cycle.
class SGD : public Optimizer {
 public:
  double momentum = 0;
  bool nesterov = false;
  std::vector<std::vector<std::string>> slot_groups() const override;

 protected:
  void begin_step(double lr, long long t) override;
  void update(float* w, const float* g, float* const* s, size_t n) override;
  bool is_plain_sgd() const override { return !has_slot("momentum"); }

 private:
  float lr_ = 0, momentum_ = 0;
  bool has_momentum_ = false;
};

// RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False)
class RMSprop : public Optimizer {
 public:
  double rho = 0.9, momentum = 0, epsilon = 1e-7;
  bool centered = false;
  std::vector<std::vector<std::string>> slot_groups() const override;

 protected:
  void begin_step(double lr, long long t) override;
  void update(float* w, const float* g, float* const* s, size_t n) override;

 private:
  float lr_ = 0;
  bool has_momentum_ = false, has_average_ = false;
};

// Lion(learning_rate=0.001, beta_1=0.9, beta_2=0.99): w -= lr*sign(b1*m + (1-b1)*g); m = b2*m + (1-b2)*g
class Lion : public Optimizer {
 public:
  double beta_1 = 0.9, beta_2 = 0.99;
  std::vector<std::vector<std::string>> slot_groups() const override { return {{"momentum"}}; }

 protected:
  void begin_step(double lr, long long t) override { lr_ = static_cast<float>(lr); }
  void update(float* w, const float* g, float* const* s, size_t n) override;

 private:
  float lr_ = 0;
};

// Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False); AdamW is Adam
// with weight_decay set (the base class applies it).
class Adam : public Optimizer {
 public:
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  bool amsgrad = false;
  std::vector<std::vector<std::string>> slot_groups() const override;

 protected:
  void begin_step(double lr, long long t) override;
  void update(float* w, const float* g, float* const* s, size_t n) override;

 private:
  float alpha_ = 0;
  bool has_v_hat_ = false;
};

// Adamax(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
class Adamax : public Optimizer {
 public:
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  std::vector<std::vector<std::string>> slot_groups() const override { return {{"momentum", "norm"}}; }

 protected:
  void begin_step(double lr, long long t) override;
  void update(float* w, const float* g, float* const* s, size_t n) override;

 private:
  float lr_ = 0, bias_ = 0;
};

// Nadam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7), with Keras 3's momentum schedule
// u_t = b1*(1 - 0.5*0.96^t) and the running product u_product (a float32 Variable in Keras).
class Nadam : public Optimizer {
 public:
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  Array u_product = Array(1.0f);
  std::vector<std::vector<std::string>> slot_groups() const override { return {{"momentum", "velocity"}}; }
  std::vector<std::pair<std::string, Array*>> extra_state() override { return {{"u_product", &u_product}}; }

 protected:
  void begin_step(double lr, long long t) override;
  void update(float* w, const float* g, float* const* s, size_t n) override;

 private:
  float lr_ = 0, m_coef_ = 0, g_coef_ = 0, v_coef_ = 0;
};

// Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)
class Adagrad : public Optimizer {
 public:
  double initial_accumulator_value = 0.1, epsilon = 1e-7;
  std::vector<std::vector<std::string>> slot_groups() const override { return {{"accumulator"}}; }

 protected:
  float slot_initial_value() const override { return static_cast<float>(initial_accumulator_value); }
  void begin_step(double lr, long long t) override { lr_ = static_cast<float>(lr); }
  void update(float* w, const float* g, float* const* s, size_t n) override;

 private:
  float lr_ = 0;
};

// Adadelta(learning_rate=0.001, rho=0.95, epsilon=1e-7)
class Adadelta : public Optimizer {
 public:
  double rho = 0.95, epsilon = 1e-7;
  std::vector<std::vector<std::string>> slot_groups() const override {
    return {{"accumulated_grad", "accumulated_delta_var"}};
  }

 protected:
  void begin_step(double lr, long long t) override { lr_ = static_cast<float>(lr); }
  void update(float* w, const float* g, float* const* s, size_t n) override;

 private:
  float lr_ = 0;
};

}  // namespace xk
