"""Fashion-MNIST (keras.datasets.fashion_mnist)."""

import os

from xkeras.datasets import _loader

BASE_URL = _loader.KERAS_BASE_URL
CACHE_SUBDIR = os.path.join("datasets", "fashion-mnist")
# Debian/Ubuntu package `dataset-fashion-mnist` ships the same four files.
DEBIAN_DIR = os.path.join(_loader.DEBIAN_ROOT, "fashion-mnist")
FILES = {
    "y_train": ("train-labels-idx1-ubyte.gz", "labels"),
    "x_train": ("train-images-idx3-ubyte.gz", "images"),
    "y_test": ("t10k-labels-idx1-ubyte.gz", "labels"),
    "x_test": ("t10k-images-idx3-ubyte.gz", "images"),
}


def load_data():
    """Returns `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shape
    (60000, 28, 28), (60000,), (10000, 28, 28), (10000,)."""
    arrays = {}
    for key, (fname, kind) in FILES.items():
        # Keras publishes no checksum for these; the IDX header and gzip CRC
        # are what reject a damaged copy.
        arrays[key] = _loader.resolve(
            fname,
            BASE_URL + fname,
            lambda path, kind=kind: _loader.read_idx_gz(path, kind),
            subdir=CACHE_SUBDIR,
            local=[os.path.join(DEBIAN_DIR, fname)],
            what="Fashion-MNIST",
            hint="On Debian/Ubuntu, `apt-get install dataset-fashion-mnist` "
            f"provides the files in {DEBIAN_DIR}.",
        )
    if len(arrays["x_train"]) != len(arrays["y_train"]) or len(
        arrays["x_test"]
    ) != len(arrays["y_test"]):
        raise ValueError("Fashion-MNIST images and labels differ in count")
    return (arrays["x_train"], arrays["y_train"]), (
        arrays["x_test"],
        arrays["y_test"],
    )
