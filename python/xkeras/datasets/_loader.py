"""Finding dataset files: Keras cache, then system copies, then download.

The cache is Keras's own (`$KERAS_HOME` or `~/.keras`, `datasets/` below
it), so files fetched by real Keras are reused and vice versa.
"""

import gzip
import hashlib
import os
import pickle
import sys
import tarfile
import tempfile
import zipfile
from urllib.request import urlopen

import numpy as np

NO_DEBIAN_NOTE = (
    "No Debian package ships this dataset; Fashion-MNIST does ship as "
    "`dataset-fashion-mnist` (apt-get install dataset-fashion-mnist)."
)
KERAS_BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DEBIAN_ROOT = "/usr/share/datasets"
_CHUNK = 1 << 16
# What a damaged or foreign file can raise while being parsed.
PARSE_ERRORS = (
    OSError, ValueError, EOFError, KeyError,
    zipfile.BadZipFile, tarfile.TarError, pickle.UnpicklingError,
)


class DatasetUnavailableError(OSError):
    """No usable local copy was found and the download failed."""


def keras_home():
    if "KERAS_HOME" in os.environ:
        return os.path.expanduser(os.environ["KERAS_HOME"])
    return os.path.join(os.path.expanduser("~"), ".keras")


def _writable(path):
    # A directory that does not exist yet is fine if its parent is writable.
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return os.access(path, os.W_OK)


def cache_dir(subdir="datasets"):
    """Keras's cache directory for datasets (not created here)."""
    base = keras_home()
    if not _writable(base):
        base = os.path.join(tempfile.gettempdir(), ".keras")
    return os.path.join(base, subdir)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _say(message):
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def download(origin, target, file_hash=None):
    """Download `origin` to `target` atomically, checking its sha256.

    Raises the urllib error on network failure, ValueError on a bad hash;
    `target` is only ever replaced by a complete, verified file.
    """
    from xkeras.utils.progbar import Progbar

    _say(f"Downloading data from {origin}")
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".partial-")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urlopen(origin, timeout=30) as resp:
            size = resp.headers.get("Content-Length")
            bar = Progbar(int(size) if size else None)
            done = 0
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                bar.update(done)
            if bar.target is None:
                bar.update(done, finalize=True)
        if file_hash is not None and digest.hexdigest() != file_hash:
            raise ValueError(
                "Incomplete or corrupted file detected. The sha256 file hash "
                f"of {origin} does not match the expected value {file_hash}."
            )
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return target


def _unavailable(what, tried, error, hint):
    lines = [f"Could not load the {what} dataset."]
    lines += [f"  tried {t}" for t in tried]
    lines.append(f"  download failed: {error}")
    if hint:
        lines.append(hint)
    return DatasetUnavailableError("\n".join(lines))


def resolve(fname, origin, parse, file_hash=None, subdir="datasets",
            local=(), what="", hint=""):
    """Return `parse(path)` for the first usable copy of a file.

    Order: the Keras cache (sha256-checked when `file_hash` is given), the
    `local` paths (files or directories, e.g. Debian's), then a download
    into the cache. A copy that fails its hash or does not parse is
    reported and skipped.
    """
    cached = os.path.join(cache_dir(subdir), fname)
    tried = []
    for path, expected in [(cached, file_hash)] + [(p, None) for p in local]:
        if not os.path.exists(path):
            tried.append(f"{path}: not found")
            continue
        if expected is not None and sha256(path) != expected:
            _say(
                f"A local file was found at {path}, but its sha256 hash does "
                f"not match {expected}; it is ignored."
            )
            tried.append(f"{path}: sha256 mismatch")
            continue
        try:
            return parse(path)
        except PARSE_ERRORS as e:
            _say(f"Ignoring unreadable dataset file {path}: {e}")
            tried.append(f"{path}: unreadable ({e})")
    try:
        download(origin, cached, file_hash)
    except (OSError, ValueError) as e:
        raise _unavailable(what or fname, tried, e, hint) from e
    return parse(cached)


def read_idx_gz(path, kind):
    """Read a gzipped IDX file: kind 'labels' -> (N,), 'images' -> (N,28,28).

    Checks the header so a truncated or foreign file is rejected.
    """
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count = (int.from_bytes(raw[i:i + 4], "big") for i in (0, 4))
    if kind == "labels":
        if magic != 2049 or len(raw) != 8 + count:
            raise ValueError(f"{path} is not an IDX label file")
        return np.frombuffer(raw, np.uint8, offset=8)
    rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (8, 12))
    if magic != 2051 or len(raw) != 16 + count * rows * cols:
        raise ValueError(f"{path} is not an IDX image file")
    return np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols)
