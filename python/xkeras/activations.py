"""`keras.activations`: Keras 3's activation functions by name, on native ops."""
from xkeras import _core
from xkeras._tensor import convert_to_tensor


def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3's relu (ReLU.static_call): x above `threshold` (else 0), clipped to max_value, minus
    negative_slope * relu(threshold - x). Plain relu, leaky relu and relu6 are single native ops."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _core.relu(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return _core.leaky_relu(x, float(negative_slope))
    x = convert_to_tensor(x)
    negative_part = None
    if negative_slope != 0.0:
        negative_part = _core.relu(_core.add(_core.negative(x), float(threshold)) if threshold else _core.negative(x))
    clip_max = max_value is not None
    if threshold != 0.0:
        # x where x > threshold else 0; relu(x - threshold) is nonzero exactly where x > threshold
        y = _core.where(_core.relu(_core.subtract(x, float(threshold))), x, 0.0)
    elif max_value == 6:
        y, clip_max = _core.relu6(x), False
    else:
        y = _core.relu(x)
    if clip_max:
        y = _core.clip(y, 0.0, float(max_value))
    if negative_part is not None:
        y = _core.subtract(y, _core.multiply(float(negative_slope), negative_part))
    return y


def relu6(x):
    return _core.relu6(x)


def leaky_relu(x, negative_slope=0.2):
    return _core.leaky_relu(x, float(negative_slope))


def elu(x, alpha=1.0):
    return _core.elu(x, float(alpha))


def selu(x):
    return _core.selu(x)


def gelu(x, approximate=False):
    return _core.gelu(x, approximate)


def silu(x):
    return _core.silu(x)


swish = silu


def mish(x):
    return _core.mish(x)


def sigmoid(x):
    return _core.sigmoid(x)


def hard_sigmoid(x):
    return _core.hard_sigmoid(x)


def hard_silu(x):
    return _core.multiply(x, _core.hard_sigmoid(x))


hard_swish = hard_silu


def tanh(x):
    return _core.tanh(x)


def softplus(x):
    return _core.softplus(x)


def softsign(x):
    return _core.softsign(x)


def exponential(x):
    return _core.exp(x)


def softmax(x, axis=-1):
    return _core.softmax(x, _one_axis(axis, "softmax"))


def log_softmax(x, axis=-1):
    return _core.log_softmax(x, _one_axis(axis, "log_softmax"))


def _one_axis(axis, name):
    if isinstance(axis, (tuple, list)):
        if len(axis) != 1:
            raise NotImplementedError(f"xkeras' {name} takes a single axis. Received: axis={axis}")
        axis = axis[0]
    return int(axis)


def log_sigmoid(x):
    return _core.negative(_core.softplus(_core.negative(x)))


def celu(x, alpha=1.0):
    """x if x > 0 else alpha * (exp(x / alpha) - 1), i.e. alpha * elu(x / alpha)."""
    return _core.multiply(float(alpha), _core.elu(_core.divide(x, float(alpha)), 1.0))


def hard_tanh(x):
    return _core.clip(x, -1.0, 1.0)


def tanh_shrink(x):
    return _core.subtract(x, _core.tanh(x))


def squareplus(x, b=4):
    return _core.multiply(0.5, _core.add(x, _core.sqrt(_core.add(_core.square(x), float(b)))))


_ALL = {f.__name__: f for f in (linear, relu, relu6, leaky_relu, elu, selu, gelu, silu, mish, sigmoid,
                                hard_sigmoid, hard_silu, tanh, softplus, softsign, exponential, softmax,
                                log_softmax, log_sigmoid, celu, hard_tanh, tanh_shrink, squareplus)}
_ALL["swish"] = silu
_ALL["hard_swish"] = hard_silu


def serialize(activation):
    name = getattr(activation, "__name__", None)
    if name in _ALL and _ALL[name] is activation:
        return "silu" if name == "swish" else name
    if hasattr(activation, "get_config"):
        from xkeras.saving import serialize_keras_object
        return serialize_keras_object(activation)
    return name


def deserialize(config, custom_objects=None):
    return get(config)


def get(identifier):
    """Name, callable (including a layer instance) or None -> a callable on tensors."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in _ALL:
            raise ValueError(f"Could not interpret activation function identifier: {identifier}. "
                             f"Valid names: {sorted(_ALL)}")
        return _ALL[identifier]
    if isinstance(identifier, dict):
        from xkeras.saving import deserialize_keras_object
        return deserialize_keras_object(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")
