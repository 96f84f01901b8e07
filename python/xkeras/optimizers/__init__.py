"""`keras.optimizers`: Keras 3's optimizers, each step run natively (keras-spec §6), and `schedules` (§7)."""
import types as _types

from xkeras.optimizers import schedules  # noqa: F401
from xkeras.optimizers.base import Optimizer
from xkeras.optimizers.builtin import (SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, Nadam,  # noqa: F401
                                       RMSprop)

ALL_OBJECTS = (Optimizer, SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam, Lion)
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}


def serialize(optimizer):
    from xkeras.saving import serialize_keras_object
    return serialize_keras_object(optimizer)


def deserialize(config, custom_objects=None):
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or ALL_OBJECTS_DICT.get(name.lower())
    if cls is None or cls is Optimizer:
        raise ValueError(f"Could not interpret optimizer identifier: {config}")
    return cls.from_config(dict(config.get("config", {})), custom_objects)


def get(identifier):
    """An optimizer from a string (case-insensitive: "adam", "RMSprop", ...), a config dict or an instance."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        if identifier.lower() not in ALL_OBJECTS_DICT or identifier.lower() == "optimizer":
            raise ValueError(f"Could not interpret optimizer identifier: {identifier}. "
                             f"Valid names: {sorted(n for n in ALL_OBJECTS_DICT if n != 'optimizer')}")
        obj = deserialize({"class_name": identifier, "config": {}})
    else:
        obj = identifier
    if isinstance(obj, Optimizer):
        return obj
    raise ValueError(f"Could not interpret optimizer identifier: {identifier}")


class _LegacyOptimizer:
    def __init__(self, *args, **kwargs):
        raise ImportError("`keras.optimizers.legacy` is not supported in Keras 3. When using `tf.keras`, to continue "
                          "using a `tf.keras.optimizers.legacy` optimizer, you can install the `tf_keras` package "
                          "(Keras 2) and set the environment variable `TF_USE_LEGACY_KERAS=True` to configure "
                          "TensorFlow to use `tf_keras` when accessing `tf.keras`.")


legacy = _types.SimpleNamespace(**{n: _LegacyOptimizer for n in ("Adagrad", "Adam", "Ftrl", "RMSprop", "SGD",
                                                                  "Optimizer")})
