"""`keras.metrics`: stateful metrics for Python use, and their native counterparts for fit/evaluate."""
import numpy as np

from xkeras import _core

_K = _core.MetricKind


class Metric:
    _native = None  # the MetricKind the native loop computes, if any
    _direction = "up"

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reset_state()

    def reset_state(self):
        self.total, self.count = 0.0, 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._values(np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64))
        w = np.ones_like(values) if sample_weight is None else np.broadcast_to(
            np.asarray(sample_weight, np.float64).reshape(-1), values.shape)
        self.total += float(np.sum(values * w))
        self.count += float(np.sum(w))

    def result(self):
        return _core.constant(np.float32(self.total / self.count if self.count else 0.0))

    def native_spec(self):
        return _core.MetricSpec(self.name, self._native, getattr(self, "threshold", 0.5))

    def get_config(self):
        return {"name": self.name, "dtype": "float32"}


def _snake(name):
    from xkeras.backend import _snake as s
    return s(name)


class SparseCategoricalAccuracy(Metric):
    _native = _K.sparse_categorical_accuracy

    def _values(self, y, p):
        return (np.argmax(p, -1) == y.reshape(p.shape[:-1])).astype(np.float64).reshape(-1)


class CategoricalAccuracy(Metric):
    _native = _K.categorical_accuracy

    def _values(self, y, p):
        return (np.argmax(p, -1) == np.argmax(y, -1)).astype(np.float64).reshape(-1)


class BinaryAccuracy(Metric):
    _native = _K.binary_accuracy

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def _values(self, y, p):
        y = y.reshape(p.shape)
        return ((p > self.threshold) == y).mean(-1).reshape(-1)


class MeanSquaredError(Metric):
    _native = _K.mean_squared_error
    _direction = "down"

    def _values(self, y, p):
        return ((p - y.reshape(p.shape)) ** 2).mean(-1).reshape(-1)


class MeanAbsoluteError(Metric):
    _native = _K.mean_absolute_error
    _direction = "down"

    def _values(self, y, p):
        return np.abs(p - y.reshape(p.shape)).mean(-1).reshape(-1)


_BY_NAME = {"sparse_categorical_accuracy": SparseCategoricalAccuracy, "categorical_accuracy": CategoricalAccuracy,
            "binary_accuracy": BinaryAccuracy, "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
            "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError}


def resolve(identifier, y_shape, pred_shape):
    """compile's metric lookup: 'accuracy' chosen by shapes only (keras/src/trainers/compile_utils.py)."""
    if isinstance(identifier, Metric):
        return identifier
    if not isinstance(identifier, str):
        raise ValueError(f"Unsupported metric: {identifier!r}")
    if identifier in ("accuracy", "acc"):
        if pred_shape[-1] == 1:
            return BinaryAccuracy(name=identifier)
        if len(y_shape) < len(pred_shape) or (y_shape[-1] == 1 and pred_shape[-1] > 1):
            return SparseCategoricalAccuracy(name=identifier)
        return CategoricalAccuracy(name=identifier)
    cls = _BY_NAME.get(identifier) or next((c for c in _BY_NAME.values() if c.__name__ == identifier), None)
    if cls is None:
        raise ValueError(f"Could not interpret metric identifier: {identifier}. Valid: "
                         f"{sorted(['accuracy', 'acc'] + list(_BY_NAME))}")
    m = cls()
    m.name = identifier
    return m


def get(identifier):
    return resolve(identifier, (None, 2), (None, 2)) if isinstance(identifier, str) else identifier
