// Optimizers, learning-rate schedules and constraints (the Python façades are in xkeras/optimizers).
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings/convert.h"
#include "optimizers/rules.h"

namespace xk {

namespace {

Constraint make_constraint(const std::string& kind, double min_value, double max_value, double rate,
                           std::optional<std::vector<int>> axes) {
  Constraint c;
  if (kind == "max_norm") c.kind = Constraint::Kind::max_norm;
  else if (kind == "non_neg") c.kind = Constraint::Kind::non_neg;
  else if (kind == "unit_norm") c.kind = Constraint::Kind::unit_norm;
  else if (kind == "min_max_norm") c.kind = Constraint::Kind::min_max_norm;
  else if (kind != "none") fail("constraint", "unknown constraint kind. Received: kind=" + kind);
  c.min_value = min_value;
  c.max_value = max_value;
  c.rate = rate;
  c.all_axes = !axes;
  if (axes) c.axes = *axes;
  return c;
}

// A Python callable as a schedule: called with the GIL (the loop runs without it), destroyed with it.
Schedule function_schedule(py::function fn) {
  auto holder = std::shared_ptr<py::function>(new py::function(std::move(fn)), [](py::function* f) {
    py::gil_scoped_acquire gil;
    delete f;
  });
  Schedule s;
  s.kind = Schedule::Kind::function;
  s.function = [holder](long long step) {
    py::gil_scoped_acquire gil;
    return (*holder)(step).cast<double>();
  };
  return s;
}

// Keras' `optimizer.variables` after iteration and learning_rate (§6.4): EMA averages, then the slot
// groups (interleaved per variable within a group), then extra scalars. (name, variable index, array).
std::vector<std::tuple<std::string, long, Array*>> state_of(Optimizer& opt) {
  std::vector<std::tuple<std::string, long, Array*>> out;
  if (opt.variables.empty()) return out;
  if (opt.use_ema)
    for (size_t i = 0; i < opt.variables.size(); ++i) {
      Array& a = opt.variables[i].average;
      if (a.size() != opt.variables[i].node->value.size()) a = xt::zeros<float>(opt.variables[i].node->value.shape());
      out.emplace_back("average", static_cast<long>(i), &a);
    }
  size_t first = 0;
  for (auto& group : opt.slot_layout()) {
    for (size_t i = 0; i < opt.variables.size(); ++i)
      for (size_t j = 0; j < group.size(); ++j)
        out.emplace_back(group[j], static_cast<long>(i), &opt.variables[i].slots[first + j]);
    first += group.size();
  }
  for (auto& [name, array] : opt.extra_state()) out.emplace_back(name, -1L, array);
  return out;
}

}  // namespace

void init_optimizers(py::module_& m) {
  py::class_<Constraint>(m, "Constraint")
      .def(py::init(&make_constraint), py::arg("kind"), py::arg("min_value") = 0.0, py::arg("max_value") = 0.0,
           py::arg("rate") = 1.0, py::arg("axes") = py::none())
      .def("apply", [](const Constraint& c, py::handle w) {
            Array a = to_array(w, "w");
            std::vector<double> norms;
            c.apply(a, norms);
            return array_to_numpy(a);
          }, py::arg("w"), "The constrained copy of w (the formula the optimizer applies after each step).");

  py::class_<Schedule>(m, "Schedule")
      .def(py::init([](const std::string& kind) {
             Schedule s;
             s.kind = Schedule::kind_from_name(kind);
             return s;
           }), py::arg("kind"))
      .def_static("from_function", &function_schedule, py::arg("fn"),
                  "A schedule computed by a Python callable fn(step) -> float, called once per step.")
      .def_readwrite("initial_learning_rate", &Schedule::initial_learning_rate)
      .def_readwrite("decay_steps", &Schedule::decay_steps)
      .def_readwrite("decay_rate", &Schedule::decay_rate)
      .def_readwrite("staircase", &Schedule::staircase)
      .def_readwrite("end_learning_rate", &Schedule::end_learning_rate)
      .def_readwrite("power", &Schedule::power)
      .def_readwrite("cycle", &Schedule::cycle)
      .def_readwrite("alpha", &Schedule::alpha)
      .def_readwrite("warmup_target", &Schedule::warmup_target)
      .def_readwrite("warmup_steps", &Schedule::warmup_steps)
      .def_readwrite("t_mul", &Schedule::t_mul)
      .def_readwrite("m_mul", &Schedule::m_mul)
      .def_readwrite("boundaries", &Schedule::boundaries)
      .def_readwrite("values", &Schedule::values)
      .def_readwrite("max_learning_rate", &Schedule::max_learning_rate)
      .def_readwrite("total_steps", &Schedule::total_steps)
      .def_readwrite("final_steps", &Schedule::final_steps)
      .def_readwrite("max_momentum", &Schedule::max_momentum)
      .def_readwrite("min_momentum", &Schedule::min_momentum)
      .def_readwrite("cycle_momentum", &Schedule::cycle_momentum)
      .def("value", &Schedule::value, py::arg("step"))
      .def("momentum", &Schedule::momentum, py::arg("step"));

  py::class_<Optimizer>(m, "Optimizer")
      .def_readwrite("learning_rate", &Optimizer::learning_rate)
      .def_readwrite("iterations", &Optimizer::iterations)
      .def_readwrite("decay", &Optimizer::decay)
      .def_readwrite("clipnorm", &Optimizer::clipnorm)
      .def_readwrite("clipvalue", &Optimizer::clipvalue)
      .def_readwrite("global_clipnorm", &Optimizer::global_clipnorm)
      .def_readwrite("use_weight_decay", &Optimizer::use_weight_decay)
      .def_readwrite("weight_decay", &Optimizer::weight_decay)
      .def_readwrite("use_ema", &Optimizer::use_ema)
      .def_readwrite("ema_momentum", &Optimizer::ema_momentum)
      .def_readwrite("ema_overwrite_frequency", &Optimizer::ema_overwrite_frequency)
      .def_property("schedule",
                    [](const Optimizer& o) -> std::optional<Schedule> {
                      if (o.schedule.kind == Schedule::Kind::none) return std::nullopt;
                      return o.schedule;
                    },
                    [](Optimizer& o, std::optional<Schedule> s) { o.schedule = s.value_or(Schedule()); })
      .def("current_learning_rate", &Optimizer::current_learning_rate)
      .def("build", [](Optimizer& opt, const std::vector<Tensor>& variables) {
            std::vector<NodePtr> nodes;
            for (auto& v : variables) nodes.push_back(v.node());
            opt.build(nodes);
          }, py::arg("variables"))
      .def("configure_variable", [](Optimizer& opt, const Tensor& variable, std::optional<Constraint> constraint,
                                    bool weight_decay) {
            OptimizerVariable& v = opt.variable(variable.node());
            v.constraint = constraint.value_or(Constraint());
            v.weight_decay = weight_decay;
          }, py::arg("variable"), py::arg("constraint"), py::arg("weight_decay"))
      .def("apply", [](Optimizer& opt, std::vector<Tensor> variables, std::vector<py::object> grads) {
            // Custom training loops: optimizer.apply_gradients(zip(grads, vars)). None: no gradient.
            std::vector<NodePtr> nodes;
            for (size_t i = 0; i < variables.size(); ++i) {
              NodePtr n = variables[i].node();
              n->grad_fresh = true;
              if (!grads[i].is_none()) {
                Array g = as_tensor(grads[i]).value();
                if (!shapes_equal(g.shape(), n->value.shape()))
                  throw py::value_error("Gradient of shape " + shape_str(g.shape()) + " does not match variable '" +
                                        n->name + "' of shape " + shape_str(n->value.shape()));
                n->grad = std::move(g);
                n->grad_fresh = false;
              }
              nodes.push_back(n);
            }
            py::gil_scoped_release r;
            opt.apply(nodes);
          }, py::arg("variables"), py::arg("gradients"))
      .def("finalize_variable_values", &Optimizer::finalize_variable_values)
      .def("state_layout", [](Optimizer& opt) {
            std::vector<std::tuple<std::string, long, std::vector<size_t>>> out;
            for (auto& [name, index, a] : state_of(opt)) out.emplace_back(name, index, std::vector<size_t>(a->shape().begin(), a->shape().end()));
            return out;
          }, "[(slot name, variable index or -1, shape)] of the state in Keras' order")
      .def("state", [](Optimizer& opt) {
            std::vector<py::array> out;
            for (auto& entry : state_of(opt)) out.push_back(array_to_numpy(*std::get<2>(entry)));
            return out;
          }, "Copies of the state arrays in Keras' order (see state_layout)")
      .def("set_state", [](Optimizer& opt, const std::vector<py::object>& values) {
            auto state = state_of(opt);
            if (values.size() != state.size())
              throw py::value_error("Expected " + std::to_string(state.size()) + " optimizer state arrays. Received: " +
                                    std::to_string(values.size()));
            for (size_t i = 0; i < values.size(); ++i) {
              Array v = to_array(values[i], "optimizer state");
              Array& dst = *std::get<2>(state[i]);
              if (v.size() != dst.size())
                throw py::value_error("Optimizer state '" + std::get<0>(state[i]) + "' has shape " +
                                      shape_str(dst.shape()) + ". Received shape " + shape_str(v.shape()));
              std::copy(v.begin(), v.end(), dst.begin());
            }
          }, py::arg("values"))
      .def("slots", [](Optimizer& opt) {  // flat copies, for the saving code
            std::vector<py::array> out;
            for (auto& entry : state_of(opt)) {
              Array a = *std::get<2>(entry);
              a.reshape({a.size()});
              out.push_back(array_to_numpy(a));
            }
            return out;
          })
      .def("set_slots", [](py::object self, py::object values) { self.attr("set_state")(values); },
           py::arg("values"));

  py::class_<SGD, Optimizer>(m, "SGD")
      .def(py::init<>())
      .def_readwrite("momentum", &SGD::momentum)
      .def_readwrite("nesterov", &SGD::nesterov);
  py::class_<RMSprop, Optimizer>(m, "RMSprop")
      .def(py::init<>())
      .def_readwrite("rho", &RMSprop::rho)
      .def_readwrite("momentum", &RMSprop::momentum)
      .def_readwrite("epsilon", &RMSprop::epsilon)
      .def_readwrite("centered", &RMSprop::centered);
  py::class_<Lion, Optimizer>(m, "Lion")
      .def(py::init<>())
      .def_readwrite("beta_1", &Lion::beta_1)
      .def_readwrite("beta_2", &Lion::beta_2);
  py::class_<Adam, Optimizer>(m, "Adam")
      .def(py::init<>())
      .def_readwrite("beta_1", &Adam::beta_1)
      .def_readwrite("beta_2", &Adam::beta_2)
      .def_readwrite("epsilon", &Adam::epsilon)
      .def_readwrite("amsgrad", &Adam::amsgrad);
  py::class_<Adamax, Optimizer>(m, "Adamax")
      .def(py::init<>())
      .def_readwrite("beta_1", &Adamax::beta_1)
      .def_readwrite("beta_2", &Adamax::beta_2)
      .def_readwrite("epsilon", &Adamax::epsilon);
  py::class_<Nadam, Optimizer>(m, "Nadam")
      .def(py::init<>())
      .def_readwrite("beta_1", &Nadam::beta_1)
      .def_readwrite("beta_2", &Nadam::beta_2)
      .def_readwrite("epsilon", &Nadam::epsilon);
  py::class_<Adagrad, Optimizer>(m, "Adagrad")
      .def(py::init<>())
      .def_readwrite("initial_accumulator_value", &Adagrad::initial_accumulator_value)
      .def_readwrite("epsilon", &Adagrad::epsilon);
  py::class_<Adadelta, Optimizer>(m, "Adadelta")
      .def(py::init<>())
      .def_readwrite("rho", &Adadelta::rho)
      .def_readwrite("epsilon", &Adadelta::epsilon);
}

}  // namespace xk
