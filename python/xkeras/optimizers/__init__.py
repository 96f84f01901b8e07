"""`keras.optimizers`: Python façades over the native optimizers."""
import warnings

import numpy as np

from xkeras import _core


class _LearningRate:
    """`optimizer.learning_rate`: readable with float()/.numpy(), settable with .assign()."""

    def __init__(self, opt):
        self._opt = opt

    def numpy(self):
        return np.float32(self._opt._native.learning_rate)

    def assign(self, value):
        self._opt._native.learning_rate = float(value)

    def __float__(self):
        return float(self.numpy())

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.numpy(), dtype=dtype)

    def __repr__(self):
        return f"<Variable path=learning_rate, shape=(), dtype=float32, value={self.numpy()}>"


class Optimizer:
    def __init__(self, learning_rate, name=None, **kwargs):
        if "lr" in kwargs:  # tf.keras 2 spelling, kept with its meaning
            warnings.warn("The `lr` argument is deprecated, use `learning_rate` instead.", stacklevel=3)
            learning_rate = kwargs.pop("lr")
        for k in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema", "decay"):
            if kwargs.get(k) not in (None, False, 0, 0.0):
                raise NotImplementedError(f"`{k}` lands with the optimizers issue; not supported yet.")
            kwargs.pop(k, None)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        self.name = name or type(self).__name__.lower()
        self._initial_lr = float(learning_rate)

    @property
    def learning_rate(self):
        return _LearningRate(self)

    @learning_rate.setter
    def learning_rate(self, value):
        self._native.learning_rate = float(value)

    @property
    def iterations(self):
        return _Iterations(self._native)

    def apply_gradients(self, grads_and_vars):
        pairs = list(grads_and_vars)
        self._native.apply([v._handle if hasattr(v, "_handle") else v for _, v in pairs], [g for g, _ in pairs])

    def apply(self, grads, trainable_variables):
        self.apply_gradients(zip(grads, trainable_variables))

    def get_config(self):
        return {"name": self.name, "learning_rate": float(np.float32(self._native.learning_rate)),
                "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                "loss_scale_factor": None, "gradient_accumulation_steps": None}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _Iterations:
    def __init__(self, native):
        self._native = native

    def numpy(self):
        return np.int64(self._native.iterations)

    def __int__(self):
        return int(self._native.iterations)

    def __index__(self):
        return int(self._native.iterations)

    def assign(self, value):
        self._native.iterations = int(value)


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        if not isinstance(momentum, float) and momentum != 0:
            momentum = float(momentum)
        if not 0 <= momentum <= 1:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self._native = _core.SGD(self._initial_lr, self.momentum, self.nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


_BY_NAME = {"sgd": SGD}


def get(identifier):
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Could not interpret optimizer identifier: {identifier}. Valid: {sorted(_BY_NAME)}"
                             " (more land with the optimizers issue)")
        return cls()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
