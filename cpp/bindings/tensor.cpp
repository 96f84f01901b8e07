// Tensor, GradientTape, no-grad and trace recording.
#include <pybind11/stl.h>

#include "bindings/convert.h"
#include "ops/ops.h"

namespace xk {

namespace {

// `with xkeras.GradientTape() as tape:` records; tape.gradient(target, sources) runs the reverse pass.
class PyGradientTape {
 public:
  explicit PyGradientTape(bool persistent) { tape_.persistent = persistent; }
  ~PyGradientTape() { set_watched(false); }
  void enter() { scope_ = std::make_unique<TapeScope>(&tape_); }
  void exit() {
    scope_.reset();
    set_watched(false);  // watching belongs to this tape only, as in tf.GradientTape
  }
  void watch(const Tensor& t) {
    if (t.node()->requires_grad) return;  // a trainable Variable, or watched already
    t.node()->requires_grad = true;
    watched_.push_back(t.node());
  }

  std::vector<std::optional<Tensor>> gradient(const Tensor& target, const std::vector<Tensor>& sources) {
    if (tape_.used && !tape_.persistent)
      throw std::runtime_error("A non-persistent GradientTape can only be used to compute one set of gradients "
                               "(or jacobians). Use GradientTape(persistent=True) to call gradient() again.");
    tape_.used = true;
    std::vector<std::optional<Tensor>> out;
    set_watched(true);  // backward reads the flags the recorded ops saw
    if (!target.node()->requires_grad) {  // target does not depend on anything watched
      if (!scope_) set_watched(false);
      for (size_t i = 0; i < sources.size(); ++i) out.emplace_back(std::nullopt);
      return out;
    }
    std::vector<NodePtr> leaves = collect_leaves(tape_.nodes);
    for (auto& s : sources) leaves.push_back(s.node());
    {
      py::gil_scoped_release release;
      backward(tape_.nodes, leaves, *target.node());
    }
    if (!scope_) set_watched(false);
    for (auto& s : sources) {
      if (s.node()->grad_fresh) out.emplace_back(std::nullopt);  // not connected to the target
      else out.emplace_back(Tensor::constant(s.node()->grad));
    }
    if (!tape_.persistent) tape_.nodes.clear();
    return out;
  }

 private:
  void set_watched(bool on) {
    for (auto& n : watched_) n->requires_grad = on;
  }
  Tape tape_;
  std::unique_ptr<TapeScope> scope_;
  std::vector<NodePtr> watched_;
};

// Records every op run inside it so the computation can be replayed natively (see Trace).
class PyTraceRecorder {
 public:
  PyTraceRecorder() { tape_.record_all = true; }
  void enter() { scope_ = std::make_unique<TapeScope>(&tape_); }
  void exit() { scope_.reset(); }
  std::shared_ptr<Trace> finish() {
    auto t = std::make_shared<Trace>();
    t->nodes = tape_.nodes;
    t->leaves = collect_leaves(tape_.nodes);
    tape_.nodes.clear();
    return t;
  }

 private:
  Tape tape_;
  std::unique_ptr<TapeScope> scope_;
};

}  // namespace

void init_tensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor", "An immutable float32 value, possibly part of a recorded computation.")
      .def_property_readonly("shape", [](const Tensor& t) {
            const auto& s = t.value().shape();
            return py::tuple(py::cast(std::vector<size_t>(s.begin(), s.end())));
          })
      .def_property_readonly("ndim", &Tensor::ndim)
      .def_property_readonly("size", &Tensor::size)
      .def_property_readonly("dtype", [](const Tensor&) { return std::string("float32"); })
      .def_property_readonly("op", [](const Tensor& t) { return std::string(t.node()->op); })
      .def_property_readonly("requires_grad", &Tensor::requires_grad)
      .def_property_readonly("trainable", [](const Tensor& t) { return t.node()->trainable; })
      .def("numpy", [](const Tensor& t) { return to_numpy(t, t.node()->op == std::string("variable")); })
      .def("__array__", [](const Tensor& t, py::object dtype, py::object copy) {
            py::array a = to_numpy(t, true);
            return dtype.is_none() ? a : py::array(a.attr("astype")(dtype));
          }, py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def("__len__", [](const Tensor& t) {
            if (t.ndim() == 0) throw py::type_error("len() of a 0-d tensor");
            return t.shape()[0];
          })
      .def("__float__", [](const Tensor& t) {
            if (t.size() != 1) throw py::type_error("only single-element tensors can be converted to float; "
                                                    "received shape " + shape_str(t.shape()));
            return static_cast<double>(*t.value().data());
          })
      .def("same_node", [](const Tensor& a, const Tensor& b) { return a.node() == b.node(); });

  m.def("constant", [](py::handle x) { return Tensor::constant(to_array(x)); }, py::arg("value"));
  m.def("variable", [](py::handle x, bool trainable, std::string name) {
          return Tensor::variable(to_array(x, "a Variable"), trainable, std::move(name));
        }, py::arg("value"), py::arg("trainable") = true, py::arg("name") = "");
  m.def("assign", [](Tensor& var, py::handle x) {
          Array a = to_array(x, "assign");
          if (!shapes_equal(a.shape(), var.value().shape()))
            throw py::value_error("Cannot assign a value of shape " + shape_str(a.shape()) + " to variable '" +
                                  var.node()->name + "' of shape " + shape_str(var.value().shape()));
          std::copy(a.begin(), a.end(), var.mutable_value().begin());
        }, py::arg("variable"), py::arg("value"), "Overwrite a Variable's value in place (same shape).");
  m.def("set_trainable", [](Tensor& var, bool trainable) {
          var.node()->trainable = trainable;
          var.node()->requires_grad = trainable;
        });
  m.def("logits_of", [](const Tensor& t) -> py::object {
          if (!t.node()->logits) return py::none();
          return py::make_tuple(Tensor(t.node()->logits), t.node()->logits_softmax ? "softmax" : "sigmoid");
        }, "The pre-activation of a softmax/sigmoid output, as Keras keeps it (_keras_logits).");

  py::class_<PyGradientTape>(m, "GradientTape")
      .def(py::init<bool>(), py::arg("persistent") = false)
      .def("__enter__", [](PyGradientTape& t) { t.enter(); return &t; }, py::return_value_policy::reference)
      .def("__exit__", [](PyGradientTape& t, py::args) { t.exit(); })
      .def("watch", [](PyGradientTape& t, py::handle x) { t.watch(as_tensor(x)); })
      .def("_gradient", &PyGradientTape::gradient);

  py::class_<NoGradGuard>(m, "_NoGrad");
  py::class_<Trace, std::shared_ptr<Trace>>(m, "Trace")
      .def("forward", [](const Trace& t) { py::gil_scoped_release r; t.forward(); })
      .def_property_readonly("num_ops", [](const Trace& t) { return t.nodes.size(); })
      .def_property_readonly("ops", [](const Trace& t) {
            std::vector<std::string> ops;
            for (auto& n : t.nodes) ops.emplace_back(n->op);
            return ops;
          });
  py::class_<PyTraceRecorder>(m, "TraceRecorder")
      .def(py::init<>())
      .def("__enter__", [](PyTraceRecorder& r) { r.enter(); return &r; }, py::return_value_policy::reference)
      .def("__exit__", [](PyTraceRecorder& r, py::args) { r.exit(); })
      .def("finish", &PyTraceRecorder::finish);
}

}  // namespace xk
