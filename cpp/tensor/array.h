// Storage and shape helpers shared by every part of the engine.
// Every value is a materialised, row-major, contiguous xt::xarray<float>: no lazy xtensor
// expression is ever stored or returned (they capture operands by reference).
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

namespace xk {

using Array = xt::xarray<float>;
using Shape = xt::svector<size_t, 4>;  // small-buffer: no heap allocation up to rank 4

template <class S>
Shape to_shape(const S& s) { return Shape(s.begin(), s.end()); }

size_t numel(const Shape& s);
std::string shape_str(const Shape& s);  // "(32, 784)", Python tuple style

template <class S>
std::string shape_str(const S& s) { return shape_str(to_shape(s)); }

template <class A, class B>
bool shapes_equal(const A& a, const B& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Resize only when the shape differs, so steady-state replays never reallocate.
void ensure_shape(Array& a, const Shape& s);

// NumPy broadcasting of two shapes; throws "[op] ..." naming both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// All engine errors: std::invalid_argument("[op] message"), which pybind11 turns into ValueError.
[[noreturn]] void fail(const std::string& op, const std::string& message);

}  // namespace xk
