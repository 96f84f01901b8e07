// Programs and the native epoch loop (optimizers are bound in optimizers.cpp).
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings/convert.h"
#include "train/loop.h"
#include "train/monitor.h"

namespace xk {

namespace {

LoopHooks make_hooks(py::object batch_hook, bool every_batch, double throttle) {
  LoopHooks hooks;
  hooks.every_batch = every_batch;
  hooks.throttle_seconds = throttle;
  if (!batch_hook.is_none()) {
    // Copy the Python callable into a holder that re-acquires the GIL to call and to destroy it.
    auto fn = std::shared_ptr<py::object>(new py::object(batch_hook), [](py::object* o) {
      py::gil_scoped_acquire gil;
      delete o;
    });
    hooks.batch = [fn](int phase, long long batch, const std::map<std::string, double>& logs) {
      py::gil_scoped_acquire gil;
      return (*fn)(phase, batch, logs).cast<bool>();
    };
  }
  hooks.check_interrupt = [] {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  };
  return hooks;
}

std::vector<long long> order_from(py::handle order, size_t n) {
  std::vector<long long> out;
  if (order.is_none()) {
    out.resize(n);
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<long long>(i);
    return out;
  }
  auto a = py::array_t<long long, py::array::c_style | py::array::forcecast>::ensure(order);
  out.assign(a.data(), a.data() + a.size());
  for (long long i : out)
    if (i < 0 || static_cast<size_t>(i) >= n) throw py::value_error("row order index out of range");
  return out;
}

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// Borrows a float32 C-contiguous array (converted once if it is not); the caller keeps it alive.
Rows rows_of(const FloatArray& a, size_t n, const char* what) {
  if (a.ndim() == 0 || static_cast<size_t>(a.shape(0)) != n)
    throw py::value_error(std::string("Data cardinality is ambiguous: ") + what + " has " +
                          (a.ndim() ? std::to_string(a.shape(0)) : std::string("no")) + " samples, expected " +
                          std::to_string(n) + ".");
  return Rows{a.data(), n, n ? static_cast<size_t>(a.size()) / n : 0};
}

}  // namespace

void init_train(py::module_& m) {
  py::class_<Program>(m, "Program", py::dynamic_attr())  // the trainer keeps the output layers on it
      .def(py::init([](std::shared_ptr<Trace> trace, Tensor x, std::optional<Tensor> y,
                       std::optional<Tensor> sw, Tensor y_pred, std::optional<Tensor> loss,
                       std::vector<Tensor> variables, std::vector<Tensor> outputs) {
             Program p;
             p.trace = std::move(trace);
             p.x = x;
             p.y = y.value_or(Tensor());
             p.sample_weight = sw.value_or(Tensor());
             p.y_pred = y_pred;
             p.loss = loss.value_or(Tensor());
             for (auto& v : variables) p.variables.push_back(v.node());
             for (auto& o : outputs) p.outputs.push_back(o.node());
             return p;
           }),
           py::arg("trace"), py::arg("x"), py::arg("y"), py::arg("sample_weight"), py::arg("y_pred"),
           py::arg("loss"), py::arg("variables"), py::arg("outputs") = std::vector<Tensor>());

  py::class_<StepMonitor>(m, "StepMonitor")
      .def(py::init<long long, size_t, size_t>(), py::arg("every_n"), py::arg("num_variables"),
           py::arg("num_outputs"))
      .def_property_readonly("columns", &StepMonitor::columns)
      .def("take", [](StepMonitor& s) {
            size_t rows = 0;
            std::vector<double> v = s.take(rows);
            py::array_t<double> out({rows, s.columns()});
            std::copy(v.begin(), v.end(), out.mutable_data());
            return out;
          }, "The rows recorded since the last call, as a (rows, columns) float64 array.");
  m.def("last_gradient", [](const Tensor& variable) -> py::object {
          const Node& n = *variable.node();
          if (n.grad_fresh || n.grad.size() != n.value.size()) return py::none();
          return array_to_numpy(n.grad);
        }, py::arg("variable"), "A copy of the variable's gradient from the last backward pass, or None.");

  py::enum_<MetricKind>(m, "MetricKind")
      .value("sparse_categorical_accuracy", MetricKind::sparse_categorical_accuracy)
      .value("categorical_accuracy", MetricKind::categorical_accuracy)
      .value("binary_accuracy", MetricKind::binary_accuracy)
      .value("mean_squared_error", MetricKind::mean_squared_error)
      .value("mean_absolute_error", MetricKind::mean_absolute_error);
  py::class_<MetricSpec>(m, "MetricSpec")
      .def(py::init([](std::string name, MetricKind kind, float threshold) {
             return MetricSpec{std::move(name), kind, threshold};
           }),
           py::arg("name"), py::arg("kind"), py::arg("threshold") = 0.5f);

  m.def("run_epoch",
        [](const std::map<size_t, Program>& programs, Optimizer* optimizer, const FloatArray& x,
           const FloatArray& y, std::optional<FloatArray> sample_weight, py::object order, size_t batch_size,
           const std::vector<MetricSpec>& metrics, py::object batch_hook, bool every_batch, double throttle,
           StepMonitor* monitor, bool keep_gradients) {
          size_t n = x.ndim() ? static_cast<size_t>(x.shape(0)) : 0;
          EpochData data{rows_of(x, n, "x"), rows_of(y, n, "y"),
                         sample_weight ? rows_of(*sample_weight, n, "sample_weight") : Rows{},
                         order_from(order, n)};
          LoopHooks hooks = make_hooks(batch_hook, every_batch, throttle);
          hooks.keep_gradients = keep_gradients;
          if (monitor && optimizer && batch_size) {
            monitor->begin_epoch((data.order.size() + batch_size - 1) / batch_size, programs);
            hooks.monitor = monitor;
          }
          py::gil_scoped_release release;
          return run_epoch(programs, optimizer, data, batch_size, metrics, hooks);
        },
        py::arg("programs"), py::arg("optimizer"), py::arg("x"), py::arg("y"), py::arg("sample_weight"),
        py::arg("order"), py::arg("batch_size"), py::arg("metrics"), py::arg("batch_hook"),
        py::arg("every_batch"), py::arg("throttle"), py::arg("monitor") = nullptr, py::arg("keep_gradients") = false);

  m.def("run_predict",
        [](const std::map<size_t, Program>& programs, const FloatArray& x, size_t batch_size, py::object batch_hook,
           bool every_batch, double throttle) {
          LoopHooks hooks = make_hooks(batch_hook, every_batch, throttle);
          Rows rows = rows_of(x, x.ndim() ? static_cast<size_t>(x.shape(0)) : 0, "x");
          Array out;
          {
            py::gil_scoped_release release;
            out = run_predict(programs, rows, batch_size, hooks);
          }
          return Tensor::constant(std::move(out));
        },
        py::arg("programs"), py::arg("x"), py::arg("batch_size"), py::arg("batch_hook"), py::arg("every_batch"),
        py::arg("throttle"));
}

}  // namespace xk
