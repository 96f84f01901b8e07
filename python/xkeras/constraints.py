"""`keras.constraints` (keras/src/constraints/constraints.py; keras-spec §13.2).

A layer's `kernel_constraint=` / `bias_constraint=` is applied by the optimizer natively, after every
update step (not at initialisation, not by `set_weights`). Calling a constraint, `MaxNorm(2)(w)`, runs
the same native formula. Only these built-in constraints run natively: a custom Python constraint raises
NotImplementedError when training starts.
"""

from xkeras import _core
from xkeras.backend import _snake


def _axes(axis):
    if axis is None:
        return None
    return [int(a) for a in axis] if isinstance(axis, (list, tuple)) else [int(axis)]


class Constraint:
    """Base class for weight constraints."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _native_constraint(self):
        """The native description the optimizer applies, or None for the identity constraint."""
        return None

    def _apply_native(self, w):
        w = w.numpy() if hasattr(w, "numpy") else w
        return _core.constant(self._native_constraint().apply(w))


class MaxNorm(Constraint):
    """MaxNorm weight constraint.

    Rescales the weights incident to each hidden unit so their L2 norm (over `axis`) is at most
    `max_value`: `w * clip(n, 0, max_value) / (epsilon + n)`.
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        return self._apply_native(w)

    def _native_constraint(self):
        return _core.Constraint("max_norm", max_value=float(self.max_value), axes=_axes(self.axis))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Constrains the weights to be non-negative."""

    def __call__(self, w):
        return self._apply_native(w)

    def _native_constraint(self):
        return _core.Constraint("non_neg")


class UnitNorm(Constraint):
    """Constrains the weights incident to each hidden unit to have unit norm: `w / (epsilon + n)`."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return self._apply_native(w)

    def _native_constraint(self):
        return _core.Constraint("unit_norm", axes=_axes(self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """MinMaxNorm weight constraint.

    `w * (rate * clip(n, min_value, max_value) + (1 - rate) * n) / (epsilon + n)`, n the L2 norm over `axis`.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        return self._apply_native(w)

    def _native_constraint(self):
        return _core.Constraint("min_max_norm", min_value=float(self.min_value), max_value=float(self.max_value),
                                rate=float(self.rate), axes=_axes(self.axis))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


# Keras 2/3 lower-case aliases (the classes themselves).
max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm

_BY_NAME = {}
for _cls in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm):
    _BY_NAME[_cls.__name__] = _BY_NAME[_snake(_cls.__name__)] = _cls


def native(constraint):
    """The native description of a Variable's constraint (None for none); raises for custom Python ones."""
    if constraint is None:
        return None
    if isinstance(constraint, Constraint):
        overridden = type(constraint).__call__ is not _builtin_call(type(constraint))
        if not overridden:
            return constraint._native_constraint()
    raise NotImplementedError(
        f"Only the built-in constraints (MaxNorm, NonNeg, UnitNorm, MinMaxNorm) are applied by xkeras' native "
        f"optimizers for now. Received: constraint={constraint!r}")


def _builtin_call(cls):
    for base in cls.__mro__:
        if base in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm):
            return base.__call__
    return None


def serialize(constraint):
    if constraint is None:
        return None
    from xkeras.saving import serialize_keras_object
    return serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None:
        raise ValueError(f"Could not interpret constraint identifier: {config}")
    return cls.from_config(config.get("config", {}))


def get(identifier):
    from xkeras.saving.serialization import get_from_identifier
    return get_from_identifier(identifier, _BY_NAME, deserialize, "constraint")
