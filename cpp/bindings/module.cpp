// xkeras._core: the native engine. One init function per area; see convert.h for the boundary rules.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace xk {
void init_tensor(py::module_& m);
void init_ops(py::module_& m);
void init_optimizers(py::module_& m);
void init_train(py::module_& m);
void init_bench(py::module_& m);
}  // namespace xk

PYBIND11_MODULE(_core, m) {
  m.doc() = "xkeras native engine: tensors, autograd tape, ops, optimizers and the training loop";
  xk::init_tensor(m);
  xk::init_ops(m);
  xk::init_optimizers(m);
  xk::init_train(m);
  xk::init_bench(m);
}
