"""Reshape (keras/src/layers/reshaping/reshape.py). Flatten lives in core.py."""
import math

from xkeras import _core
from xkeras.layers.layer import Layer


def _resolve(input_tail, target):
    """The target shape with its -1 (at most one) resolved from the input's per-sample size."""
    if None in input_tail:
        return tuple(None if d == -1 else d for d in target)
    size = math.prod(input_tail)
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if known == 0 or size % known:
            raise ValueError(f"The total size of the tensor must be unchanged. Received: input_shape={input_tail}, "
                             f"target_shape={target}")
        return tuple(size // known if d == -1 else d for d in target)
    if known != size:
        raise ValueError(f"The total size of the tensor must be unchanged. Received: input_shape={input_tail}, "
                         f"target_shape={target}")
    return target


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(target_shape)
        if target_shape.count(-1) > 1 or any(not isinstance(d, int) or (d < 0 and d != -1) for d in target_shape):
            raise ValueError("There must be at most one unknown dimension (-1) in target_shape and the other "
                             f"dimensions must be positive integers. Received: target_shape={target_shape}")
        self.target_shape = target_shape
        self.built = True

    def call(self, inputs):
        shape = tuple(inputs.shape)
        return _core.reshape(inputs, [shape[0], *_resolve(shape[1:], self.target_shape)])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *_resolve(tuple(input_shape[1:]), self.target_shape))

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}
