"""`keras.backend`: session state, naming and value helpers."""
import collections
import re

import numpy as np

_name_counts = collections.defaultdict(int)


def _snake(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(class_name):
    """Keras' auto names: `dense`, `dense_1`, ... (counters reset by clear_session)."""
    base = _snake(class_name)
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def clear_session(free_memory=True):
    _name_counts.clear()


def backend():
    return "xkeras"


def floatx():
    return "float32"


def epsilon():
    return 1e-7


def image_data_format():
    return "channels_last"


def get_value(x):
    if hasattr(x, "numpy"):
        return x.numpy()
    return np.asarray(x)


def set_value(x, value):
    x.assign(value)
