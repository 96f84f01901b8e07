"""Dataset loaders: cache / system copy / download order, hashes, parsing."""

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import urllib.error

import numpy as np
import pytest

from xkeras.datasets import _loader, cifar10, fashion_mnist, mnist

DEBIAN_FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty Keras home, and no network: any download attempt fails."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))

    def offline(url, timeout=None):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(_loader, "urlopen", offline)
    return tmp_path / "kh"


def idx_gz(array, labels=False):
    head = (2049 if labels else 2051).to_bytes(4, "big")
    head += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(head + array.astype(np.uint8).tobytes())


def fake_fashion(folder, n_train=6, n_test=4, seed=0):
    rng = np.random.default_rng(seed)
    data = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28)),
        "y_train": rng.integers(0, 10, n_train),
        "x_test": rng.integers(0, 256, (n_test, 28, 28)),
        "y_test": rng.integers(0, 10, n_test),
    }
    os.makedirs(folder, exist_ok=True)
    for key, (fname, kind) in fashion_mnist.FILES.items():
        with open(os.path.join(folder, fname), "wb") as f:
            f.write(idx_gz(data[key], labels=kind == "labels"))
    return data


def check_same(result, data):
    (xtr, ytr), (xte, yte) = result
    for got, key in ((xtr, "x_train"), (ytr, "y_train"), (xte, "x_test"), (yte, "y_test")):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, data[key])


class FakeResponse(io.BytesIO):
    def __init__(self, payload):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


# ------------------------------------------------------------ fashion


def test_fashion_from_debian(home, capsys):
    if not os.path.isdir(DEBIAN_FASHION):
        pytest.skip(f"{DEBIAN_FASHION} missing (apt-get install dataset-fashion-mnist)")
    (xtr, ytr), (xte, yte) = fashion_mnist.load_data()
    assert (xtr.shape, ytr.shape, xte.shape, yte.shape) == (
        (60000, 28, 28), (60000,), (10000, 28, 28), (10000,))
    assert {a.dtype for a in (xtr, ytr, xte, yte)} == {np.dtype(np.uint8)}
    assert np.bincount(ytr).tolist() == [6000] * 10
    assert np.bincount(yte).tolist() == [1000] * 10
    # Independent parse of the Debian files, as keras' loader does it.
    with gzip.open(f"{DEBIAN_FASHION}/train-images-idx3-ubyte.gz") as f:
        ref = np.frombuffer(f.read(), np.uint8, offset=16).reshape(60000, 28, 28)
    with gzip.open(f"{DEBIAN_FASHION}/t10k-labels-idx1-ubyte.gz") as f:
        ref_y = np.frombuffer(f.read(), np.uint8, offset=8)
    np.testing.assert_array_equal(xtr, ref)
    np.testing.assert_array_equal(yte, ref_y)
    assert ytr[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert int(xtr.sum(dtype=np.int64)) == 3431114169
    assert "Downloading" not in capsys.readouterr().out


def test_fashion_matches_keras_on_the_same_cache(home, monkeypatch):
    """Keras cannot download here, so both read a Keras-layout cache seeded
    with Debian's files."""
    if not os.path.isdir(DEBIAN_FASHION):
        pytest.skip(f"{DEBIAN_FASHION} missing (apt-get install dataset-fashion-mnist)")
    keras = pytest.importorskip("keras", reason="reference loader")
    import shutil

    from keras.src.backend import config as kconfig

    cache = home / "datasets" / "fashion-mnist"
    os.makedirs(cache)
    for fname, _ in fashion_mnist.FILES.values():
        shutil.copy(os.path.join(DEBIAN_FASHION, fname), cache / fname)
    monkeypatch.setattr(kconfig, "_KERAS_DIR", str(home))
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", "/nonexistent")
    ours = fashion_mnist.load_data()
    theirs = keras.datasets.fashion_mnist.load_data()
    for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_fashion_cache_wins_over_debian(home, monkeypatch):
    data = fake_fashion(home / "datasets" / "fashion-mnist")
    check_same(fashion_mnist.load_data(), data)


def test_fashion_corrupt_cache_falls_back_then_fails(home, monkeypatch, tmp_path, capsys):
    data = fake_fashion(tmp_path / "debian")
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "debian"))
    cache = home / "datasets" / "fashion-mnist"
    cached = fake_fashion(cache, seed=1)
    target = cache / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-20])  # truncated download
    # Each file is looked up on its own: only that one comes from "Debian".
    check_same(fashion_mnist.load_data(), dict(cached, x_train=data["x_train"]))
    assert "Ignoring unreadable dataset file" in capsys.readouterr().out

    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(_loader.DatasetUnavailableError) as err:
        fashion_mnist.load_data()
    msg = str(err.value)
    assert "dataset-fashion-mnist" in msg and "network disabled" in msg
    assert "train-images-idx3-ubyte.gz: unreadable" in msg


def test_fashion_download(home, monkeypatch, tmp_path):
    src = tmp_path / "server"
    data = fake_fashion(src, n_train=3, n_test=2, seed=5)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(fashion_mnist, "BASE_URL", "https://example.invalid/d/")
    asked = []

    def serve(url, timeout=None):
        asked.append(url)
        return FakeResponse((src / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(_loader, "urlopen", serve)
    check_same(fashion_mnist.load_data(), data)
    assert asked == ["https://example.invalid/d/" + f for f, _ in fashion_mnist.FILES.values()]
    cache = home / "datasets" / "fashion-mnist"
    assert sorted(os.listdir(cache)) == sorted(f for f, _ in fashion_mnist.FILES.values())
    check_same(fashion_mnist.load_data(), data)
    assert len(asked) == 4  # second load comes from the cache


# ------------------------------------------------------------ mnist


def fake_npz(path, seed=0):
    rng = np.random.default_rng(seed)
    data = {
        "x_train": rng.integers(0, 256, (5, 28, 28)).astype(np.uint8),
        "y_train": rng.integers(0, 10, 5).astype(np.uint8),
        "x_test": rng.integers(0, 256, (3, 28, 28)).astype(np.uint8),
        "y_test": rng.integers(0, 10, 3).astype(np.uint8),
    }
    np.savez(path, **data)
    return data, hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_mnist_download_via_file_url_and_hash(home, monkeypatch, tmp_path):
    from urllib.request import urlopen

    data, digest = fake_npz(tmp_path / "mnist.npz")
    monkeypatch.setattr(_loader, "urlopen", urlopen)  # real urllib, file://
    monkeypatch.setattr(mnist, "ORIGIN", (tmp_path / "mnist.npz").as_uri())
    monkeypatch.setattr(mnist, "FILE_HASH", digest)
    monkeypatch.setattr(mnist, "SYSTEM_DIR", str(tmp_path / "nowhere"))
    check_same(mnist.load_data(), data)
    cache = home / "datasets"
    assert os.listdir(cache) == ["mnist.npz"]  # no partial files left
    assert _loader.sha256(cache / "mnist.npz") == digest

    # A wrong expected hash: the download is rejected and nothing is kept.
    (cache / "mnist.npz").unlink()
    monkeypatch.setattr(mnist, "FILE_HASH", "0" * 64)
    with pytest.raises(_loader.DatasetUnavailableError, match="sha256"):
        mnist.load_data()
    assert os.listdir(cache) == []


def test_mnist_rejects_corrupted_cache(home, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(mnist, "SYSTEM_DIR", str(tmp_path / "nowhere"))
    os.makedirs(home / "datasets")
    data, digest = fake_npz(home / "datasets" / "mnist.npz")
    monkeypatch.setattr(mnist, "FILE_HASH", digest)
    check_same(mnist.load_data(), data)
    # Flip one byte: the cached copy no longer matches and is refused.
    raw = bytearray((home / "datasets" / "mnist.npz").read_bytes())
    raw[100] ^= 0xFF
    (home / "datasets" / "mnist.npz").write_bytes(bytes(raw))
    with pytest.raises(_loader.DatasetUnavailableError) as err:
        mnist.load_data()
    assert "mnist.npz: sha256 mismatch" in str(err.value)
    assert "does not match" in capsys.readouterr().out
    with pytest.raises(ValueError, match="Paths are no longer accepted"):
        mnist.load_data(path="a/b.npz")


def test_mnist_real_hash_and_system_idx(home, monkeypatch, tmp_path):
    assert mnist.FILE_HASH == (
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
    folder = tmp_path / "sys_mnist"
    os.makedirs(folder)
    rng = np.random.default_rng(3)
    data = {"x_train": rng.integers(0, 256, (4, 28, 28)), "y_train": np.arange(4),
            "x_test": rng.integers(0, 256, (2, 28, 28)), "y_test": np.arange(2)}
    for key, (fname, kind) in mnist._IDX.items():
        (folder / fname).write_bytes(idx_gz(data[key], labels=kind == "labels"))
    monkeypatch.setattr(mnist, "SYSTEM_DIR", str(folder))
    check_same(mnist.load_data(), data)


def test_idx_header_is_checked(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(idx_gz(np.zeros((2, 28, 28)), labels=False))
    assert _loader.read_idx_gz(p, "images").shape == (2, 28, 28)
    with pytest.raises(ValueError):
        _loader.read_idx_gz(p, "labels")
    p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-1]))
    with pytest.raises(ValueError):
        _loader.read_idx_gz(p, "images")


# ------------------------------------------------------------ cifar10


def fake_cifar_tar(path, per_batch=2):
    """A cifar-10-python.tar.gz look-alike; pixel = batch*100 + image*10 + c."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for b, name in enumerate(cifar10.BATCHES):
            data = np.zeros((per_batch, 3072), np.uint8)
            for i in range(per_batch):
                for c in range(3):
                    data[i, c * 1024:(c + 1) * 1024] = b * 40 + i * 10 + c
            d = {b"batch_label": b"x", b"labels": [(b + i) % 10 for i in range(per_batch)],
                 b"data": data, b"filenames": [b"f"] * per_batch}
            payload = pickle.dumps(d, protocol=4)  # bytes without _codecs
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def test_cifar10_download_extract_and_reuse(home, monkeypatch, tmp_path):
    digest = fake_cifar_tar(tmp_path / "c.tar.gz")
    served = []

    def serve(url, timeout=None):
        served.append(url)
        return FakeResponse((tmp_path / "c.tar.gz").read_bytes())

    monkeypatch.setattr(_loader, "urlopen", serve)
    monkeypatch.setattr(cifar10, "FILE_HASH", digest)
    (xtr, ytr), (xte, yte) = cifar10.load_data()
    assert served == [cifar10.ORIGIN]
    assert (xtr.shape, ytr.shape, xte.shape, yte.shape) == (
        (10, 32, 32, 3), (10, 1), (2, 32, 32, 3), (2, 1))
    assert {a.dtype for a in (xtr, ytr, xte, yte)} == {np.dtype(np.uint8)}
    # channels_last: the R, G, B planes become the last axis.
    assert xtr[3, 5, 7].tolist() == [50, 51, 52]  # batch 1, image 1
    assert xte[1, 0, 0].tolist() == [210, 211, 212]
    assert ytr[:, 0].tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    cache = home / "datasets"
    assert sorted(os.listdir(cache)) == sorted([cifar10.ARCHIVE, cifar10.TARGET])
    # Second call: from the extracted folder, no download.
    (cache / cifar10.ARCHIVE).unlink()
    assert cifar10.load_data()[0][0].tolist() == xtr.tolist()
    assert served == [cifar10.ORIGIN]


def test_cifar10_real_hash_and_bad_archive(home, monkeypatch, tmp_path):
    assert cifar10.FILE_HASH == (
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")
    os.makedirs(home / "datasets")
    fake_cifar_tar(home / "datasets" / cifar10.ARCHIVE)  # hash != FILE_HASH
    with pytest.raises(_loader.DatasetUnavailableError, match="sha256 mismatch"):
        cifar10.load_data()


def test_cifar_pickle_is_restricted(tmp_path):
    evil = tmp_path / "data_batch_1"

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil.write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="Refusing"):
        cifar10.load_batch(str(evil))
