"""`keras.losses`: Keras 3 losses and reductions (keras/src/losses/losses.py, loss.py)."""
from xkeras import _core, ops
from xkeras._tensor import convert_to_tensor

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _same_rank(y_true, y_pred):
    """Keras' squeeze_or_expand_to_same_rank for dense (non-sparse) targets."""
    t, p = len(y_true.shape), len(y_pred.shape)
    if t == p - 1:
        return _core.reshape(y_true, list(y_true.shape) + [1]), y_pred
    if t == p + 1 and y_true.shape[-1] == 1:
        return _core.reshape(y_true, list(y_true.shape[:-1])), y_pred
    if p == t - 1:
        return y_true, _core.reshape(y_pred, list(y_pred.shape) + [1])
    return y_true, y_pred


def _smooth(y_true, label_smoothing, num_classes=None):
    if not label_smoothing:
        return y_true
    ls = float(label_smoothing)
    if num_classes is None:  # binary
        return _core.add(_core.multiply(y_true, 1.0 - ls), 0.5 * ls)
    return _core.add(_core.multiply(y_true, 1.0 - ls), ls / num_classes)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    return ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_pred = convert_to_tensor(y_pred)
    y_true = _smooth(convert_to_tensor(y_true), label_smoothing, y_pred.shape[-1])
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = _same_rank(convert_to_tensor(y_true), convert_to_tensor(y_pred))
    return ops.binary_crossentropy(_smooth(y_true, label_smoothing), y_pred, from_logits=from_logits)


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _same_rank(convert_to_tensor(y_true), convert_to_tensor(y_pred))
    return _core.mean_squared_error(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _same_rank(convert_to_tensor(y_true), convert_to_tensor(y_pred))
    return _core.mean_absolute_error(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = _same_rank(convert_to_tensor(y_true), convert_to_tensor(y_pred))
    return _core.huber(y_true, y_pred, float(delta))


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


class Loss:
    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of {_REDUCTIONS}. "
                             f"Received: reduction={reduction}")
        self.name = name or type(self).__name__
        self.reduction = reduction

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = self.call(convert_to_tensor(y_true), convert_to_tensor(y_pred))
        return reduce_values(values, sample_weight, self.reduction)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    if sample_weight is not None:
        sw = convert_to_tensor(sample_weight)
        if len(sw.shape) < len(values.shape):
            sw = _core.reshape(sw, list(sw.shape) + [1] * (len(values.shape) - len(sw.shape)))
        values = _core.multiply(values, sw)
    if reduction in ("none", None):
        return values
    total = _core.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return _core.divide(total, _core.sum(convert_to_tensor(sample_weight)))
    return _core.divide(total, float(max(values.size, 1)))  # divides by the element count, as Keras


class LossFunctionWrapper(Loss):
    def __init__(self, fn, name=None, reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}


def _wrapper(cls_name, fn, default_name, **defaults):
    def __init__(self, *args, reduction="sum_over_batch_size", name=default_name, dtype=None, **kwargs):
        params = dict(defaults)
        params.update(zip(defaults, args))
        params.update(kwargs)
        unknown = set(params) - set(defaults)
        if unknown:
            raise TypeError(f"{cls_name}() got unexpected arguments {sorted(unknown)}")
        LossFunctionWrapper.__init__(self, fn, name=name, reduction=reduction, **params)

    cls = type(cls_name, (LossFunctionWrapper,), {"__init__": __init__})
    cls.__module__ = __name__
    return cls


SparseCategoricalCrossentropy = _wrapper("SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
                                         "sparse_categorical_crossentropy", from_logits=False, ignore_class=None)
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy", categorical_crossentropy,
                                   "categorical_crossentropy", from_logits=False, label_smoothing=0.0, axis=-1)
BinaryCrossentropy = _wrapper("BinaryCrossentropy", binary_crossentropy, "binary_crossentropy",
                              from_logits=False, label_smoothing=0.0, axis=-1)
MeanSquaredError = _wrapper("MeanSquaredError", mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error")
Huber = _wrapper("Huber", huber, "huber_loss", delta=1.0)

_FUNCTIONS = {
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error, "MSE": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "huber": huber, "bce": binary_crossentropy, "BCE": binary_crossentropy,
}
_CLASSES = {c.__name__: c for c in (SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy,
                                    MeanSquaredError, MeanAbsoluteError, Huber)}


def get(identifier):
    """A Loss object: strings are wrapped under their own name, as compile does in Keras."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        if identifier not in _FUNCTIONS:
            raise ValueError(f"Could not interpret loss identifier: {identifier}. Valid: "
                             f"{sorted(set(_FUNCTIONS) | set(_CLASSES))}")
        return LossFunctionWrapper(_FUNCTIONS[identifier], name=identifier)
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", "loss"))
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
