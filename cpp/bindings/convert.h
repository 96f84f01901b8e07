// Conversions at the Python boundary.
//   In:  numpy arrays, lists, scalars and xkeras Variables become Tensors; anything numeric is cast
//        to float32 once (one copy, owned by C++); strings and objects are refused with a TypeError.
//   Out: Tensor.numpy() is a read-only zero-copy view of an op result (the array keeps the node
//        alive) and a copy for Variables, whose values change in place.
//   GIL: it is released around engine work; no numpy buffer is used after it is released.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "autograd/tensor.h"

namespace py = pybind11;

namespace xk {

Array to_array(py::handle obj, const char* what = "input");
Tensor as_tensor(py::handle obj);
py::array to_numpy(const Tensor& t, bool copy);
py::array array_to_numpy(const Array& a);  // always a copy

}  // namespace xk
