"""xkeras: the Keras API on a native C++ engine.

`import xkeras as keras` gives the Keras 3 namespaces; `import xkeras as tf` also works for notebooks
written against tf.keras (`tf.keras.layers.Dense`, `tf.random.set_seed`).
"""
import os as _os
import sys as _sys
import types as _types

from xkeras import _core  # noqa: F401
from xkeras import (activations, backend, callbacks, constraints, datasets, initializers, layers, losses,  # noqa: F401
                    metrics, models, ops, optimizers, regularizers, utils, wrappers)
from xkeras._tensor import GradientTape, Tensor, Variable, convert_to_tensor  # noqa: F401
from xkeras.layers import Input  # noqa: F401
from xkeras.models import Model, Sequential  # noqa: F401

__version__ = "0.1.0"

# Measured here: one OpenBLAS thread beats two for these layer sizes at batch 32 and 128 (the
# weight-gradient GEMMs have a tiny inner dimension). Respect a count the user chose.
if not any(_os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")):
    _core.set_blas_threads(1)

keras = _sys.modules[__name__]  # tf.keras.X -> xkeras.X

random = _types.ModuleType("xkeras.random", "tf.random-style seeding.")
random.set_seed = utils.set_random_seed


def constant(value, dtype=None):
    return convert_to_tensor(value)
