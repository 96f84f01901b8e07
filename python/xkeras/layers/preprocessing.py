"""Normalization (with `adapt`) and Rescaling (keras/src/layers/preprocessing; keras-spec §3.8-3.9)."""
import math

import numpy as np

from xkeras import _core
from xkeras.layers.layer import Layer

_EPSILON = 1e-7  # keras.config.epsilon(): the smallest standard deviation Normalization divides by


class Normalization(Layer):
    """(x - mean) / max(sqrt(variance), 1e-7) per index of the kept `axis` (or the inverse)."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int):
            axis = (axis,)
        else:
            axis = tuple(axis)
        self.axis = axis
        self.input_mean, self.input_variance = mean, variance
        self.invert = invert
        self.mean = self.variance = None
        if (mean is not None) != (variance is not None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be set. "
                             f"Received: mean={mean} and variance={variance}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError("When setting values directly, `mean` and `variance` must have the same shape. "
                                 f"Received: mean shape {np.shape(mean)} and variance shape {np.shape(variance)}")
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError("The rank of `mean` must be less than or equal to the number of axes "
                                 f"({len(self.axis)}). Received: mean shape {np.shape(mean)} for axis {self.axis}")

    def build(self, input_shape):
        ndim = len(input_shape)
        self._build_input_shape = tuple(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError("All `axis` values must be in the range [-ndim, ndim). "
                             f"Received inputs with ndim={ndim}, while axis={self.axis}")
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(f"All `axis` values to be kept must have a known shape. Received axis={self.axis}, "
                                 f"inputs.shape={tuple(input_shape)}, with unknown axis at index {d}")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = [input_shape[d] if d in self._keep_axis else 1 for d in range(ndim)]
        self._mean_and_var_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=self._mean_and_var_shape, initializer="zeros",
                                              trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=self._mean_and_var_shape,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), initializer="zeros", trainable=False)
            self.mean, self.variance = self.adapt_mean, self.adapt_variance
        else:  # given statistics are constants, broadcast against the kept axes
            mean = np.asarray(self.input_mean, np.float32)
            variance = np.asarray(self.input_variance, np.float32)
            if mean.ndim:
                expanded = [1] * ndim
                for i in range(1, mean.ndim + 1):
                    expanded[self._keep_axis[-i]] = mean.shape[-i]
                mean, variance = mean.reshape(expanded), variance.reshape(expanded)
            self.mean = np.broadcast_to(mean, self._broadcast_shape).copy()
            self.variance = np.broadcast_to(variance, self._broadcast_shape).copy()
        self.built = True  # also when build() is called directly, as in Keras

    def adapt(self, data):
        """Sets mean and variance (biased) from a NumPy array, a tensor or an iterable of batches."""
        if hasattr(data, "numpy") and not isinstance(data, np.ndarray):
            data = data.numpy()
        batches = None
        if not isinstance(data, np.ndarray):
            if not hasattr(data, "__iter__"):
                raise TypeError(f"Unsupported data type: {type(data)}. `adapt` supports `np.ndarray`, tensors and "
                                "iterables of batches (e.g. list, generator).")
            batches = [np.asarray(b[0] if isinstance(b, tuple) else b, np.float64) for b in data]
            if not batches:
                raise ValueError("adapt() received an empty iterable (no batches). Expected at least one batch.")
            shape = batches[0].shape
        else:
            shape = data.shape
        if not self.built:
            self._maybe_build(tuple(shape))
        elif any(shape[d] != self._build_input_shape[d] for d in self._keep_axis):
            raise ValueError(f"The layer was built with input_shape={self._build_input_shape}, but adapt() is being "
                             f"called with data with an incompatible shape, data.shape={tuple(shape)}")
        if batches is None:
            data = np.asarray(data, np.float64)
            mean, var = np.mean(data, axis=self._reduce_axis), np.var(data, axis=self._reduce_axis)
        else:  # weighted merge of the batches' moments, as Keras
            mean = var = np.zeros(self._mean_and_var_shape)
            total = 0
            for b in batches:
                n = math.prod(b.shape[d] for d in self._reduce_axis) if self._reduce_axis else 1
                bm, bv = np.mean(b, axis=self._reduce_axis), np.var(b, axis=self._reduce_axis)
                total += n
                w = n / total
                new_mean = mean * (1 - w) + bm * w
                var = (var + (mean - new_mean) ** 2) * (1 - w) + (bv + (bm - new_mean) ** 2) * w
                mean = new_mean
        self.adapt_mean.assign(np.reshape(mean, self._mean_and_var_shape))
        self.adapt_variance.assign(np.reshape(var, self._mean_and_var_shape))

    def call(self, inputs):
        if self.mean is None:
            raise ValueError("You must call `.build(input_shape)` on the layer before using it.")
        # Reading the Variables inside the op graph keeps a recorded fit step in sync with later adapt() calls.
        mean, variance = self.mean, self.variance
        if not isinstance(mean, np.ndarray):
            mean = _core.reshape(mean, self._broadcast_shape)
            variance = _core.reshape(variance, self._broadcast_shape)
        std = _core.maximum(_core.sqrt(variance), _EPSILON)
        if self.invert:
            return _core.add(mean, _core.multiply(inputs, std))
        return _core.divide(_core.subtract(inputs, mean), std)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": np.array(self.input_mean).tolist(), "variance": np.array(self.input_variance).tolist()}

    def get_build_config(self):
        if getattr(self, "_build_input_shape", None):
            return {"input_shape": list(self._build_input_shape)}
        return None


class Rescaling(Layer):
    """x * scale + offset."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset
        self.built = True

    def call(self, inputs):
        out = _core.multiply(inputs, np.asarray(self.scale, np.float32))
        return _core.add(out, np.asarray(self.offset, np.float32))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
