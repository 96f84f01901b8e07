"""MNIST digits (keras.datasets.mnist)."""

import os

import numpy as np

from xkeras.datasets import _loader

ORIGIN = _loader.KERAS_BASE_URL + "mnist.npz"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
# No Debian package ships MNIST today; a system copy here is used if present.
SYSTEM_DIR = os.path.join(_loader.DEBIAN_ROOT, "mnist")
_IDX = {
    "x_train": ("train-images-idx3-ubyte.gz", "images"),
    "y_train": ("train-labels-idx1-ubyte.gz", "labels"),
    "x_test": ("t10k-images-idx3-ubyte.gz", "images"),
    "y_test": ("t10k-labels-idx1-ubyte.gz", "labels"),
}


def _read(path):
    """An npz file with Keras's keys, or a directory of the 4 IDX files."""
    if os.path.isdir(path):
        a = {
            k: _loader.read_idx_gz(os.path.join(path, f), kind)
            for k, (f, kind) in _IDX.items()
        }
    else:
        with np.load(path, allow_pickle=False) as f:
            a = {k: f[k] for k in _IDX}
    return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])


def load_data(path="mnist.npz"):
    """Returns `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shape
    (60000, 28, 28), (60000,), (10000, 28, 28), (10000,).

    `path` is the file name inside the Keras cache (`~/.keras/datasets`).
    """
    if os.sep in path:
        raise ValueError(
            "Paths are no longer accepted as the `fname` argument. "
            f"Received: fname={path}"
        )
    return _loader.resolve(
        path,
        ORIGIN,
        _read,
        file_hash=FILE_HASH,
        local=[os.path.join(SYSTEM_DIR, "mnist.npz"), SYSTEM_DIR],
        what="MNIST",
        hint=f"Put Keras's mnist.npz (sha256 {FILE_HASH}) in "
        f"{_loader.cache_dir()}. {_loader.NO_DEBIAN_NOTE}",
    )
