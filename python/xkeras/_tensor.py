"""Variables, GradientTape and Python operators on native tensors."""
import numpy as np

from xkeras import _core

Tensor = _core.Tensor


def convert_to_tensor(x, dtype=None):
    """A native float32 tensor from a tensor, Variable, array, list or scalar."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Variable):
        return x._handle
    return _core.constant(x)


class Variable:
    """A mutable float32 weight (Keras' `keras.Variable`): updated in place by optimizers."""

    def __init__(self, initializer=None, shape=None, dtype=None, trainable=True, name=None,
                 initial_value=None):
        value = initial_value if initial_value is not None else initializer
        if callable(value):
            value = value(shape, dtype="float32")
        value = np.asarray(value, dtype=np.float32)
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ValueError(f"Initial value has shape {value.shape}, expected {tuple(shape)}.")
        self.name = name or "variable"
        self.path = self.name
        self._handle = _core.variable(value, bool(trainable), self.name)
        self._trainable = bool(trainable)
        self.regularizer = None
        self.constraint = None

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        _core.set_trainable(self._handle, self._trainable)

    @property
    def shape(self):
        return self._handle.shape

    @property
    def ndim(self):
        return self._handle.ndim

    @property
    def dtype(self):
        return "float32"

    @property
    def value(self):
        return self._handle

    def numpy(self):
        return self._handle.numpy()

    def assign(self, value):
        _core.assign(self._handle, np.asarray(value, dtype=np.float32))
        return self

    def assign_add(self, value):
        return self.assign(self.numpy() + np.asarray(value, dtype=np.float32))

    def assign_sub(self, value):
        return self.assign(self.numpy() - np.asarray(value, dtype=np.float32))

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __float__(self):
        return float(self._handle)

    def __len__(self):
        return len(self._handle)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype=float32, value={self.numpy()}>"


class GradientTape:
    """Records ops on trainable Variables (and watched tensors) for `gradient`, as tf.GradientTape."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._tape = _core.GradientTape(persistent)

    def __enter__(self):
        self._tape.__enter__()
        return self

    def __exit__(self, *exc):
        self._tape.__exit__(*exc)
        return False

    def watch(self, tensor):
        for t in tensor if isinstance(tensor, (list, tuple)) else [tensor]:
            self._tape.watch(t)

    def gradient(self, target, sources):
        flat, structure = _flatten(sources)
        grads = self._tape._gradient(convert_to_tensor(target), [convert_to_tensor(s) for s in flat])
        return _unflatten(grads, structure)


def _flatten(x):
    if isinstance(x, (list, tuple)):
        flat, parts = [], []
        for item in x:
            f, s = _flatten(item)
            flat.extend(f)
            parts.append(s)
        return flat, (type(x), parts)
    if isinstance(x, dict):
        flat, parts = [], {}
        for k in x:
            f, s = _flatten(x[k])
            flat.extend(f)
            parts[k] = s
        return flat, (dict, parts)
    return [x], None


def _unflatten(flat, structure):
    it = iter(flat)

    def build(s):
        if s is None:
            return next(it)
        kind, parts = s
        if kind is dict:
            return {k: build(v) for k, v in parts.items()}
        return kind(build(p) for p in parts)

    return build(structure)


def _install_operators():
    """Python arithmetic on tensors and Variables goes through the same native ops."""
    c = _core
    ops = {
        "__add__": lambda a, b: c.add(a, b), "__radd__": lambda a, b: c.add(b, a),
        "__sub__": lambda a, b: c.subtract(a, b), "__rsub__": lambda a, b: c.subtract(b, a),
        "__mul__": lambda a, b: c.multiply(a, b), "__rmul__": lambda a, b: c.multiply(b, a),
        "__truediv__": lambda a, b: c.divide(a, b), "__rtruediv__": lambda a, b: c.divide(b, a),
        "__pow__": lambda a, b: c.power(a, b), "__rpow__": lambda a, b: c.power(b, a),
        "__matmul__": lambda a, b: c.matmul(a, b), "__rmatmul__": lambda a, b: c.matmul(b, a),
        "__neg__": lambda a: c.negative(a), "__abs__": lambda a: c.absolute(a),
    }
    for cls in (Tensor, Variable):
        for name, fn in ops.items():
            setattr(cls, name, fn)
    Tensor.__repr__ = lambda t: f"<xkeras.Tensor shape={t.shape}, dtype=float32, numpy=\n{t.numpy()}>"
    Tensor.__array_priority__ = 100
    Variable.__array_priority__ = 100


_install_operators()
