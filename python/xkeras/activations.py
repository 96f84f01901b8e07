"""`keras.activations`: Keras 3's activation functions by name, on native ops."""
from xkeras import _core


def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _core.relu(x)
    if threshold == 0.0 and max_value is None:
        return _core.leaky_relu(x, float(negative_slope))
    if negative_slope == 0.0 and threshold == 0.0 and max_value == 6:
        return _core.relu6(x)
    if threshold != 0.0:
        raise NotImplementedError("relu with threshold != 0 is not supported by xkeras yet. "
                                  f"Received: threshold={threshold}")
    y = _core.clip(_core.relu(x), 0.0, float(max_value))
    if negative_slope:
        y = _core.subtract(y, _core.multiply(float(negative_slope), _core.relu(_core.negative(x))))
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
    return _core.softmax(x, axis)


def log_softmax(x, axis=-1):
    return _core.log_softmax(x, axis)


_ALL = {f.__name__: f for f in (linear, relu, relu6, leaky_relu, elu, selu, gelu, silu, mish, sigmoid,
                                hard_sigmoid, hard_silu, tanh, softplus, softsign, exponential, softmax,
                                log_softmax)}
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
