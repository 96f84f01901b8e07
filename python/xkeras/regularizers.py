"""`keras.regularizers` (keras/src/regularizers/regularizers.py; keras-spec §13.1, §4.4).

A penalty is built from native ops, so when `Layer.losses` is read inside fit's recorded step it becomes
part of the replayed loss graph (gradients included) and is computed natively in every batch.
"""
import math

import numpy as np

from xkeras import _core

_EPSILON = 1e-7  # backend.epsilon(), the floor of a norm in OrthogonalRegularizer


class Regularizer:
    def __call__(self, x):
        return 0.0

    def get_config(self):
        raise NotImplementedError(f"{self} does not implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x²)`; a factor of 0 adds no term. `l1_l2` is this class (defaults 0, 0)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, name="l1")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, name="l2")

    def __call__(self, x):
        out = _core.constant(0.0)
        if self.l1 != 0.0:
            out = _core.add(out, _core.multiply(np.float32(self.l1), _core.sum(_core.absolute(x))))
        if self.l2 != 0.0:
            out = _core.add(out, _core.multiply(np.float32(self.l2), _core.sum(_core.square(x))))
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    def __init__(self, l1=0.01):
        # Keras keeps the factor as a float32 tensor, so get_config shows it rounded to float32.
        self.l1 = float(np.float32(validate_float_arg(0.01 if l1 is None else l1, name="l1")))

    def __call__(self, x):
        return _core.multiply(np.float32(self.l1), _core.sum(_core.absolute(x)))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, name="l2")

    def __call__(self, x):
        return _core.multiply(np.float32(self.l2), _core.sum(_core.square(x)))

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """`factor * 0.5 * mean |cos|` over the pairs of distinct rows (or columns) of a 2-D input."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = float(np.float32(validate_float_arg(factor, name="factor")))
        if mode not in {"rows", "columns"}:
            raise ValueError('Invalid value for argument `mode`. Expected one of {"rows", "columns"}. '
                             f"Received: mode={mode}")
        self.mode = mode

    def __call__(self, inputs):
        shape = tuple(inputs.shape)
        if len(shape) != 2:
            raise ValueError(f"Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape={shape}")
        axis = 1 if self.mode == "rows" else 0
        # ops.nn.normalize: x * min(1/sqrt(sum(x², axis)), 1/epsilon)
        inv_norm = _core.divide(1.0, _core.sqrt(_core.sum(_core.square(inputs), axis, True)))
        unit = _core.multiply(inputs, _core.minimum(inv_norm, np.float32(1.0 / _EPSILON)))
        if self.mode == "rows":
            product, size = _core.matmul(unit, _core.transpose(unit)), shape[0]
        else:
            product, size = _core.matmul(_core.transpose(unit), unit), shape[1]
        off_diagonal = _core.multiply(product, 1.0 - np.eye(size, dtype=np.float32))
        pairs = size * (size - 1.0) / 2.0
        total = _core.sum(_core.absolute(off_diagonal))
        return _core.divide(_core.multiply(np.float32(self.factor * 0.5), total), np.float32(pairs))

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


def validate_float_arg(value, name):
    if (not isinstance(value, (float, int)) or isinstance(value, bool) or math.isinf(value)
            or math.isnan(value) or value < 0):
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float."
                         f"Received: {name}={value}")
    return float(value)


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer
# As Keras: the class names and their snake_case ("l1l2", not "l1_l2", which Keras rejects).
_BY_NAME = {"Regularizer": Regularizer, "regularizer": Regularizer, "L1": L1, "l1": L1, "L2": L2, "l2": L2,
            "L1L2": L1L2, "l1l2": L1L2, "OrthogonalRegularizer": OrthogonalRegularizer,
            "orthogonal_regularizer": OrthogonalRegularizer}


def serialize(regularizer):
    if regularizer is None:
        return None
    from xkeras.saving import serialize_keras_object
    return serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    from xkeras.saving import deserialize_keras_object
    return deserialize_keras_object(config, custom_objects, module_objects=_BY_NAME)


def get(identifier):
    from xkeras.saving.serialization import get_from_identifier
    return get_from_identifier(identifier, _BY_NAME, deserialize, "regularizer")
