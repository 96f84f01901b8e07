#include "tensor/array.h"

#include <sstream>

namespace xk {

size_t numel(const Shape& s) {
  size_t n = 1;
  for (size_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << (s.size() == 1 ? ",)" : ")");
  return os.str();
}

void ensure_shape(Array& a, const Shape& s) {
  if (!shapes_equal(a.shape(), s)) a.resize(s);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    size_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    size_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      fail(op, "Cannot broadcast shapes " + shape_str(a) + " and " + shape_str(b) + ".");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

void fail(const std::string& op, const std::string& message) {
  throw std::invalid_argument("[" + op + "] " + message);
}

}  // namespace xk
