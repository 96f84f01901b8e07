"""`keras.initializers` with Keras 3's formulas and configs (keras/src/initializers/*.py; keras-spec §1).

A seedless random initializer draws its seed from Python's `random` when it is created, as Keras does,
so `keras.utils.set_random_seed` makes weights reproducible and one instance always gives the same values.
Values are drawn with NumPy in float64 and returned as float32 arrays.
"""
import math
import random

import numpy as np

from xkeras.backend import _snake


class Initializer:
    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())


# ---- constants -----------------------------------------------------------------------------------
class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(_shape(shape), np.float32)


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(_shape(shape), np.float32)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.asarray(self.value, np.float32) * np.ones(_shape(shape), np.float32)

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    """`gain * eye(rows, cols)`; 2-D shapes only. (Keras' get_config is empty: `gain` is not saved.)"""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        return (self.gain * np.eye(*shape)).astype(np.float32)


# ---- random --------------------------------------------------------------------------------------
class RandomInitializer(Initializer):
    def __init__(self, seed=None):
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)):
            raise ValueError("`seed` argument should be an instance of `keras.random.SeedGenerator()` or an "
                             f"integer. Received: seed={seed}")
        self._init_seed = seed
        self.seed = int(seed) if seed is not None else random.randint(1, int(1e9))

    def _rng(self):
        return np.random.default_rng(self.seed)

    def get_config(self):
        return {"seed": self._init_seed}


def _truncated_normal(rng, shape, mean, stddev):
    """Normal samples redrawn until they fall within mean ± 2·stddev (Keras' truncation)."""
    out = rng.normal(mean, stddev, size=shape)
    bad = np.abs(out - mean) > 2 * stddev
    while bad.any():
        out[bad] = rng.normal(mean, stddev, size=int(bad.sum()))
        bad = np.abs(out - mean) > 2 * stddev
    return out


class RandomNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._rng().normal(self.mean, self.stddev, size=_shape(shape)).astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return _truncated_normal(self._rng(), _shape(shape), self.mean, self.stddev).astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, size=_shape(shape)).astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) of a weight shape (keras-spec §1.1)."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return int(math.prod(shape[a] for a in input_axes)), int(math.prod(shape[a] for a in output_axes))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])  # convolution kernels: (..., input_depth, depth)
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(RandomInitializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        modes = {"fan_in", "fan_out", "fan_avg"}
        if mode not in modes:
            raise ValueError(f"Invalid `mode` argument: {mode}. Please use one of {modes}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        distributions = {"uniform", "truncated_normal", "untruncated_normal"}
        if distribution not in distributions:
            raise ValueError(f"Invalid `distribution` argument: {distribution}.Please use one of {distributions}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.input_axes, self.output_axes = input_axes, output_axes
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        s = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            # 0.8796... is the std of a unit normal truncated to [-2, 2]: the result has std sqrt(s).
            out = _truncated_normal(rng, shape, 0.0, math.sqrt(s) / 0.87962566103423978)
        elif self.distribution == "untruncated_normal":
            out = rng.normal(0.0, math.sqrt(s), size=shape)
        else:
            limit = math.sqrt(3.0 * s)
            out = rng.uniform(-limit, limit, size=shape)
        return out.astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "input_axes": self.input_axes, "output_axes": self.output_axes}


def _named(name, scale, mode, distribution, doc):
    class Named(VarianceScaling):
        def __init__(self, seed=None, input_axes=None, output_axes=None):
            super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed, input_axes=input_axes,
                             output_axes=output_axes)

        def get_config(self):
            return {"seed": self._init_seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    Named.__name__ = Named.__qualname__ = name
    Named.__module__ = __name__
    Named.__doc__ = doc
    return Named


GlorotUniform = _named("GlorotUniform", 1.0, "fan_avg", "uniform",
                       "U(-limit, limit), limit = sqrt(6/(fan_in+fan_out)).")
GlorotNormal = _named("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                      "Truncated normal with std sqrt(2/(fan_in+fan_out)).")
HeUniform = _named("HeUniform", 2.0, "fan_in", "uniform", "U(-limit, limit), limit = sqrt(6/fan_in).")
HeNormal = _named("HeNormal", 2.0, "fan_in", "truncated_normal", "Truncated normal with std sqrt(2/fan_in).")
LecunUniform = _named("LecunUniform", 1.0, "fan_in", "uniform", "U(-limit, limit), limit = sqrt(3/fan_in).")
LecunNormal = _named("LecunNormal", 1.0, "fan_in", "truncated_normal", "Truncated normal with std sqrt(1/fan_in).")


class Orthogonal(RandomInitializer):
    """Q of the QR decomposition of a normal matrix, signs fixed by diag(R), times `gain`."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().normal(size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


# ---- lookup --------------------------------------------------------------------------------------
_CLASSES = [Initializer, Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform, TruncatedNormal,
            VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal]
_BY_NAME = {}
for _c in _CLASSES:
    _BY_NAME[_c.__name__] = _c
    _BY_NAME[_snake(_c.__name__)] = _c
_BY_NAME.update({"normal": RandomNormal, "uniform": RandomUniform, "one": Ones, "zero": Zeros,
                 "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal})

# Keras also exports the classes under snake_case names: keras.initializers.he_normal(seed=42)
zeros, ones, constant, identity, orthogonal = Zeros, Ones, Constant, Identity, Orthogonal
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform, glorot_normal, he_uniform, he_normal = GlorotUniform, GlorotNormal, HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal


def serialize(initializer):
    from xkeras.saving import serialize_keras_object
    return serialize_keras_object(initializer)


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return get(config)
    name = config.get("class_name")
    if custom_objects and name in custom_objects:
        return custom_objects[name].from_config(config.get("config", {}))
    if name not in _BY_NAME:
        raise ValueError(f"Could not interpret initializer identifier: {config}")
    return _BY_NAME[name].from_config(config.get("config", {}))


def get(identifier):
    """A name (case-sensitive), config dict, class, instance, callable or array -> an initializer."""
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Could not interpret initializer identifier: {identifier}. "
                             f"Valid names: {sorted(n for n in _BY_NAME if n.islower() and n != 'initializer')}")
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type):
        return identifier()
    if isinstance(identifier, (np.ndarray, np.generic)) or hasattr(identifier, "numpy"):
        value = np.asarray(identifier, np.float32)

        def initialize_fn(shape, dtype=None):
            if _shape(shape) != value.shape:
                raise ValueError(f"Expected `shape` to be {value.shape} for direct tensor as initializer. "
                                 f"Received shape={tuple(shape)}")
            return value.copy()

        return initialize_fn
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier}")
