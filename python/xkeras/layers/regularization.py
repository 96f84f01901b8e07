"""AlphaDropout, GaussianNoise and GaussianDropout (keras/src/layers/regularization; keras-spec §3.5).

Active only in training. Each is one native op (cpp/ops/random.cpp) that draws fresh noise on every
forward, so every replayed step of `fit` gets a new draw. Dropout itself lives in core.py.
"""
from xkeras import _core
from xkeras.layers.layer import Layer


class SeedStream:
    """Per-layer seeds for the native ops: -1 (the global generator) without a seed; with one, a new
    deterministic seed per call, as Keras' SeedGenerator advances its state on every call."""

    def __init__(self, seed):
        self.seed, self.calls = seed, 0

    def next(self):
        if self.seed is None:
            return -1
        self.calls += 1
        return (int(self.seed) * 1_000_003 + self.calls) % (1 << 62)


def _check_rate(rate):
    if not 0 <= rate <= 1:
        raise ValueError("Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
                         f"Received: rate={rate}")


def _noise_shape(noise_shape):
    return None if noise_shape is None else [-1 if d is None else int(d) for d in noise_shape]


class _NoiseLayer(Layer):
    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._seeds = SeedStream(seed)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class AlphaDropout(_NoiseLayer):
    """Dropout for SELU networks: dropped units take SELU's saturation value, then an affine map keeps
    the mean and variance of the inputs."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        _check_rate(rate)
        self.rate, self.noise_shape = rate, noise_shape

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            return _core.alpha_dropout(inputs, float(self.rate), _noise_shape(self.noise_shape), self._seeds.next())
        return inputs

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}


class GaussianNoise(_NoiseLayer):
    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not 0 <= stddev <= 1:
            raise ValueError("Invalid value received for argument `stddev`. Expected a float value between 0 and 1. "
                             f"Received: stddev={stddev}")
        self.stddev = stddev

    def call(self, inputs, training=False):
        if training and self.stddev > 0:
            return _core.gaussian_noise(inputs, float(self.stddev), self._seeds.next())
        return inputs

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_NoiseLayer):
    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        _check_rate(rate)
        self.rate = rate

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            return _core.gaussian_dropout(inputs, float(self.rate), self._seeds.next())
        return inputs

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
