"""`keras.utils`."""
import random as _random

import numpy as np

from xkeras import _core
from xkeras.utils.fold import fold_batch_normalization  # noqa: F401
from xkeras.utils.gradient_flow import plot_gradient_flow  # noqa: F401
from xkeras.utils.lr_finder import find_learning_rate  # noqa: F401
from xkeras.utils.model_visualization import model_to_dot, plot_model  # noqa: F401
from xkeras.utils.progbar import Progbar  # noqa: F401


def set_random_seed(seed):
    """Seeds Python's `random` (initializers), NumPy (shuffling) and the native generator (dropout)."""
    if not isinstance(seed, (int, np.integer)):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed} (of type {type(seed)})")
    _random.seed(seed)
    np.random.seed(seed)
    _core.set_seed(int(seed))


def to_categorical(x, num_classes=None):
    x = np.asarray(x, dtype="int64")
    shape = x.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    x = x.reshape(-1)
    if num_classes is None:
        num_classes = int(np.max(x)) + 1
    out = np.zeros((len(x), num_classes), np.float32)
    out[np.arange(len(x)), x] = 1
    return out.reshape(shape + (num_classes,))


def clear_session(free_memory=True):
    from xkeras.backend import clear_session as cs
    cs()
