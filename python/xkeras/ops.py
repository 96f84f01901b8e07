"""`xkeras.ops`: every differentiable op of the native engine, with Keras' names and arguments.

Each accepts NumPy arrays, Python scalars/lists, xkeras tensors and Variables, and returns an xkeras
Tensor (NumPy-compatible through `np.asarray(t)` / `t.numpy()`). Inside a `GradientTape`, or inside a
layer's `call` during `fit`, the ops are recorded on the native tape.
"""
from xkeras import _core
from xkeras._tensor import convert_to_tensor

add = _core.add
subtract = _core.subtract
multiply = _core.multiply
divide = _core.divide
true_divide = _core.divide
power = _core.power
maximum = _core.maximum
minimum = _core.minimum
matmul = _core.matmul
where = _core.where
negative = _core.negative
exp = _core.exp
log = _core.log
sqrt = _core.sqrt
square = _core.square
absolute = _core.absolute
abs = _core.absolute
relu = _core.relu
relu6 = _core.relu6
sigmoid = _core.sigmoid
hard_sigmoid = _core.hard_sigmoid
tanh = _core.tanh
softplus = _core.softplus
softsign = _core.softsign
selu = _core.selu
silu = _core.silu
swish = _core.silu
mish = _core.mish
leaky_relu = _core.leaky_relu
elu = _core.elu
gelu = _core.gelu  # approximate=True by default, as keras.ops.gelu
softmax = _core.softmax
log_softmax = _core.log_softmax
sum = _core.sum
mean = _core.mean
reshape = _core.reshape
transpose = _core.transpose
broadcast_to = _core.broadcast_to
dropout = _core.dropout
convert_to_tensor = convert_to_tensor


def clip(x, x_min, x_max):
    return _core.clip(x, float(x_min), float(x_max))


def convert_to_numpy(x):
    import numpy as np
    return np.asarray(x)



def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Per-sample CE of integer labels; from probabilities uses Keras' clipping (TF backend)."""
    _check_last_axis(axis, "sparse_categorical_crossentropy")
    output = convert_to_tensor(output)
    if from_logits:
        return _core.sparse_softmax_cross_entropy(target, output)
    logits = _core.logits_of(output)
    if logits is not None and logits[1] == "softmax":  # as Keras' TF backend: use the cached logits
        return _core.sparse_softmax_cross_entropy(target, logits[0])
    return _core.sparse_categorical_crossentropy(target, output)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    _check_last_axis(axis, "categorical_crossentropy")
    output = convert_to_tensor(output)
    if from_logits:
        return _core.softmax_cross_entropy(target, output)
    logits = _core.logits_of(output)
    if logits is not None and logits[1] == "softmax":
        return _core.softmax_cross_entropy(target, logits[0])
    return _core.categorical_crossentropy(target, output)


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise BCE averaged over the last axis (Keras' loss reduces it the same way)."""
    output = convert_to_tensor(output)
    if from_logits:
        return _core.sigmoid_cross_entropy(target, output)
    logits = _core.logits_of(output)
    if logits is not None and logits[1] == "sigmoid":
        return _core.sigmoid_cross_entropy(target, logits[0])
    return _core.binary_crossentropy(target, output)


mean_squared_error = _core.mean_squared_error
mean_absolute_error = _core.mean_absolute_error
huber = _core.huber


def _check_last_axis(axis, name):
    if axis not in (-1, None):
        raise ValueError(f"{name} supports only axis=-1 in xkeras. Received: axis={axis}")
