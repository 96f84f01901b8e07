"""xkeras: the Keras API on a native C++ engine."""
from xkeras import _core  # noqa: F401
from xkeras import ops  # noqa: F401
from xkeras._tensor import GradientTape, Tensor, Variable, convert_to_tensor  # noqa: F401

__version__ = "0.1.0"
