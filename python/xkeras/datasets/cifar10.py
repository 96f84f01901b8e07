"""CIFAR-10 (keras.datasets.cifar10), from the python-version tarball."""

import os
import pickle
import shutil
import tarfile
import tempfile

import numpy as np

from xkeras.datasets import _loader

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
# Keras >= 3.6 layout: <cache>/cifar-10-batches-py-target_archive extracted
# to <cache>/cifar-10-batches-py-target/cifar-10-batches-py/.
ARCHIVE = "cifar-10-batches-py-target_archive"
TARGET = "cifar-10-batches-py-target"
INNER = "cifar-10-batches-py"
BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]

# The only globals a numpy array pickle needs; anything else is refused.
_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"Refusing to load `{module}.{name}` from a CIFAR batch file."
        )


def load_batch(fpath, label_key="labels"):
    """One pickled batch -> (data (N, 3, 32, 32) uint8, labels list)."""
    with open(fpath, "rb") as f:
        d = _RestrictedUnpickler(f, encoding="bytes").load()
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v
         for k, v in d.items()}
    data = np.asarray(d["data"], dtype=np.uint8)
    return data.reshape(data.shape[0], 3, 32, 32), d[label_key]


def _read_dir(folder):
    parts = [load_batch(os.path.join(folder, name)) for name in BATCHES]
    x_train = np.concatenate([data for data, _ in parts[:5]])
    y_train = np.concatenate([np.asarray(lab) for _, lab in parts[:5]])
    x_test, y_test = parts[5]
    y_train = y_train.astype(np.uint8).reshape(-1, 1)
    y_test = np.asarray(y_test, dtype=np.uint8).reshape(-1, 1)
    # channels_last (Keras's default image_data_format).
    return (x_train.transpose(0, 2, 3, 1), y_train), (
        x_test.transpose(0, 2, 3, 1),
        y_test,
    )


def _extract(archive, dest):
    """Extract into a temporary folder first so `dest` is never partial."""
    parent = os.path.dirname(dest)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".extract-")
    try:
        with tarfile.open(archive) as tar:
            root = os.path.realpath(tmp) + os.sep
            for m in tar.getmembers():  # no links, nothing outside `tmp`
                where = os.path.realpath(os.path.join(tmp, m.name))
                if m.issym() or m.islnk() or not where.startswith(root):
                    raise tarfile.TarError(f"unsafe archive member {m.name}")
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(tmp, **safe)
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)


def _read_archive(path):
    dest = os.path.join(os.path.dirname(path), TARGET)
    _extract(path, dest)
    return _read_dir(os.path.join(dest, INNER))


def load_data():
    """Returns `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shape
    (50000, 32, 32, 3), (50000, 1), (10000, 32, 32, 3), (10000, 1)."""
    cache = _loader.cache_dir()
    # Already-extracted batches (Keras >= 3.6 layout, then <= 3.5 layout).
    for folder in (os.path.join(cache, TARGET, INNER),
                   os.path.join(cache, INNER)):
        if all(os.path.isfile(os.path.join(folder, b)) for b in BATCHES):
            try:
                return _read_dir(folder)
            except _loader.PARSE_ERRORS as e:
                _loader._say(f"Ignoring unreadable folder {folder}: {e}")
    return _loader.resolve(
        ARCHIVE,
        ORIGIN,
        _read_archive,
        file_hash=FILE_HASH,
        what="CIFAR-10",
        hint=f"Put cifar-10-python.tar.gz (sha256 {FILE_HASH}) at "
        f"{os.path.join(cache, ARCHIVE)}. {_loader.NO_DEBIAN_NOTE}",
    )
