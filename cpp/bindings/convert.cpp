#include "bindings/convert.h"

namespace xk {

Array to_array(py::handle obj, const char* what) {
  py::array raw = py::array::ensure(obj);
  if (!raw) {
    throw py::type_error(std::string("Expected a numeric array for ") + what + ". Received: " +
                         py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>());
  }
  char kind = raw.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') {
    throw py::type_error(std::string("Expected a numeric array for ") + what + ", but it has dtype " +
                         py::str(raw.dtype()).cast<std::string>() + ". Convert it with np.asarray(x, dtype='float32').");
  }
  auto arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(raw);
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  Array out = Array::from_shape(shape);
  std::copy(arr.data(), arr.data() + arr.size(), out.data());
  return out;
}

Tensor as_tensor(py::handle obj) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>();
  if (py::hasattr(obj, "_handle")) {  // xkeras.Variable and friends
    py::object h = obj.attr("_handle");
    if (py::isinstance<Tensor>(h)) return h.cast<Tensor>();
  }
  return Tensor::constant(to_array(obj));
}

py::array to_numpy(const Tensor& t, bool copy) {
  const Array& a = t.value();
  std::vector<py::ssize_t> shape(a.shape().begin(), a.shape().end());
  if (copy) return array_to_numpy(a);
  py::array view(py::dtype::of<float>(), shape, {}, a.data(), py::cast(t));
  py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return view;
}

py::array array_to_numpy(const Array& a) {
  std::vector<py::ssize_t> shape(a.shape().begin(), a.shape().end());
  py::array_t<float> out(shape);
  std::copy(a.begin(), a.end(), out.mutable_data());
  return std::move(out);
}

}  // namespace xk
