"""Saving and loading (.keras, legacy .h5, .weights.h5), configs, and interop with real Keras 3.

Round trips must give identical predictions and identical continued training; files written by xkeras must
load in Keras (and the reverse) with the same predictions and optimizer state; corrupt or hostile files must
raise a clear exception. Run: python -m pytest tests/test_saving.py -q
"""
import inspect
import json
import os
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import xkeras  # noqa: E402
from xkeras.saving import keras_format, legacy_h5  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 6)).astype(np.float32)
Y = RNG.integers(0, 3, size=64)


@pytest.fixture(scope="module")
def K():
    keras = pytest.importorskip("keras", reason="real Keras 3 is the interop reference")
    return keras


def small_model(lib, optimizer=None, bn=True, dropout=0.25):
    L = lib.layers
    layers = [lib.Input((6,)), L.Dense(8, activation="relu"), L.Dropout(dropout)]
    if bn and hasattr(L, "BatchNormalization"):
        layers.append(L.BatchNormalization())
    layers += [L.Flatten(), L.Activation("tanh"), L.Dense(3, activation="softmax")]
    model = lib.Sequential(layers)
    model.compile(optimizer=optimizer or lib.optimizers.SGD(0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def trained(lib=xkeras, **kw):
    model = small_model(lib, **kw)
    model.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    return model


def fit_seeded(model, epochs=1, seed=7):
    # Same seed, but recording a model's training step draws one set of dropout masks, so the models
    # compared after a reload have no active dropout (Dropout(0.0)).
    xkeras.utils.set_random_seed(seed)
    return model.fit(X, Y, epochs=epochs, batch_size=16, shuffle=False, verbose=0)


def same_weights(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


# ---- round trips ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_round_trip_predictions_and_continued_training(tmp_path, ext):
    model = trained(dropout=0.0)
    path = str(tmp_path / f"m{ext}")
    model.save(path)
    loaded = xkeras.models.load_model(path)
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 8
    for a, b in zip(loaded.optimizer._native.state(), model.optimizer._native.state()):
        np.testing.assert_array_equal(a, b)
    h1, h2 = fit_seeded(model, 2), fit_seeded(loaded, 2)
    assert h1.history == h2.history
    assert same_weights(model, loaded)


def test_optimizer_state_is_what_makes_resuming_exact(tmp_path):
    """Control for the test above: the same weights with a fresh optimizer train differently."""
    model = trained(dropout=0.0)
    model.save(tmp_path / "m.keras")
    fresh = xkeras.models.load_model(tmp_path / "m.keras", compile=False)
    assert not fresh.compiled
    fresh.compile(optimizer=xkeras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
    fit_seeded(model)
    fit_seeded(fresh)
    assert not same_weights(model, fresh)


@pytest.mark.parametrize("name", ["Adam", "RMSprop", "Nadam", "Adagrad"])
def test_resume_with_other_optimizers(tmp_path, name):
    cls = getattr(xkeras.optimizers, name, None)
    if cls is None:
        pytest.skip(f"xkeras.optimizers.{name} does not exist yet")
    model = trained(optimizer=cls(learning_rate=0.01), dropout=0.0)
    model.save(tmp_path / "m.keras")
    loaded = xkeras.models.load_model(tmp_path / "m.keras")
    fit_seeded(model)
    fit_seeded(loaded)
    assert same_weights(model, loaded)


def test_save_weights_and_load_weights(tmp_path):
    model = trained()
    model.save_weights(tmp_path / "w.weights.h5")
    other = small_model(xkeras)
    other.fit(X[:16], Y[:16], epochs=1, verbose=0)  # builds its optimizer, whose state is then replaced
    other.load_weights(tmp_path / "w.weights.h5")
    assert same_weights(model, other)
    assert int(other.optimizer.iterations) == int(model.optimizer.iterations)
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")
    for f in ("m.keras", "m.h5"):
        third = small_model(xkeras)
        third.load_weights(tmp_path / f)
        assert same_weights(model, third)


def test_weights_file_layout_matches_keras(tmp_path):
    model = trained()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5") as f:
        names = []
        f.visititems(lambda n, o: names.append(n))
        assert f["vars"].attrs["name"] == model.name
        assert f["layers/dense/vars"].attrs["name"] == model.layers[0].name
        assert f["optimizer/vars/0"].dtype == np.int64 and f["optimizer/vars/0"][()] == 8
        assert f["optimizer/vars/1"].dtype == np.float32
        assert "layers/dropout/vars" in f and len(f["layers/dropout/vars"]) == 0
        np.testing.assert_array_equal(f["layers/dense_1/vars/0"][()], model.layers[-1].kernel.numpy())


def test_path_rules(tmp_path):
    model = small_model(xkeras)
    with pytest.raises(ValueError, match="Invalid filepath extension"):
        model.save(tmp_path / "my_model")
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        model.save_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match="File format not supported"):
        xkeras.models.load_model(tmp_path / "my_model")
    with pytest.raises(ValueError, match="File not found"):
        xkeras.models.load_model(tmp_path / "missing.keras")


# ---- configs ------------------------------------------------------------------------------------------

def test_model_config_json_and_clone():
    model = trained()
    cfg = model.get_config()
    again = xkeras.Sequential.from_config(cfg)
    assert again.get_config() == cfg
    from_json = xkeras.models.model_from_json(model.to_json())
    assert from_json.get_config() == cfg and from_json.compiled
    clone = xkeras.models.clone_model(model)
    assert clone.get_config()["layers"] == cfg["layers"]
    assert not any(np.array_equal(a, b) for a, b in zip(clone.get_weights(), model.get_weights()) if a.ndim == 2)
    assert not {id(w) for w in clone.weights} & {id(w) for w in model.weights}
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict(X, verbose=0), model.predict(X, verbose=0))


_LAYER_ARGS = {"Dense": (4,), "Dropout": (0.3,), "Activation": ("relu",), "AlphaDropout": (0.1,),
               "GaussianDropout": (0.1,), "GaussianNoise": (0.1,), "Rescaling": (0.5,), "Reshape": ((2, 3),),
               "InputLayer": (), "Embedding": (10, 3), "Lambda": None, "Layer": None}


def _public_classes(module, base):
    seen = {}
    for name in dir(module):
        obj = getattr(module, name)
        if inspect.isclass(obj) and issubclass(obj, base) and obj is not base and not name.startswith("_"):
            seen.setdefault(obj, name)
    return sorted(seen, key=lambda c: c.__name__)


def _instances():
    from xkeras.layers.layer import Layer
    from xkeras.optimizers import Optimizer
    out, skipped = [], []
    for cls in _public_classes(xkeras.layers, Layer):
        args = _LAYER_ARGS.get(cls.__name__, ())
        kwargs = {"shape": (6,)} if cls.__name__ == "InputLayer" else {}
        try:
            out.append(cls(*args, **kwargs) if args is not None else None)
        except TypeError:
            skipped.append(cls.__name__)
    for module, base_name in ((xkeras.initializers, "Initializer"), (xkeras.regularizers, "Regularizer"),
                              (xkeras.constraints, "Constraint")):
        base = getattr(module, base_name)
        for cls in _public_classes(module, base):
            try:
                out.append(cls())
            except TypeError:
                skipped.append(cls.__name__)
    for cls in _public_classes(xkeras.optimizers, Optimizer):
        try:
            out.append(cls())
        except (TypeError, ValueError):
            skipped.append(cls.__name__)
    if skipped:
        print("config round trip: not constructible without arguments, not covered:", skipped)
    return [o for o in out if o is not None]


def test_every_object_round_trips_and_loads_in_keras(K):
    from xkeras.saving import deserialize_keras_object, serialize_keras_object
    objects = _instances()
    assert len(objects) > 20
    not_in_keras = []
    for obj in objects:
        env = serialize_keras_object(obj)
        assert env["module"] and env["module"].startswith("keras"), env
        json.dumps(env)
        back = deserialize_keras_object(env)
        assert type(back) is type(obj)
        assert serialize_keras_object(back)["config"] == env["config"], type(obj).__name__
        try:
            keras_obj = K.saving.deserialize_keras_object(env)
        except (TypeError, ValueError) as e:
            if "Could not locate" in str(e) or "not a KerasSaveable" in str(e):
                not_in_keras.append(env["class_name"])
                continue
            raise
        assert type(keras_obj).__name__ == env["class_name"]
    print("classes Keras does not export under the same name:", not_in_keras)
    assert len(not_in_keras) < len(objects) // 4, not_in_keras


def test_custom_objects_and_registration(tmp_path):
    class Twice(xkeras.layers.Layer):
        def call(self, x):
            return xkeras.ops.multiply(x, 2.0)

    model = xkeras.Sequential([xkeras.Input((6,)), Twice(), xkeras.layers.Dense(2)])
    model.save(tmp_path / "c.keras")
    with pytest.raises(TypeError, match="Could not locate class 'Twice'"):
        xkeras.models.load_model(tmp_path / "c.keras")
    loaded = xkeras.models.load_model(tmp_path / "c.keras", custom_objects={"Twice": Twice})
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))

    @xkeras.saving.register_keras_serializable(package="tests")
    class Thrice(Twice):
        def call(self, x):
            return xkeras.ops.multiply(x, 3.0)

    model = xkeras.Sequential([xkeras.Input((6,)), Thrice(), xkeras.layers.Dense(2)])
    assert xkeras.saving.serialize_keras_object(model.layers[0])["registered_name"] == "tests>Thrice"
    model.save(tmp_path / "r.keras")
    loaded = xkeras.models.load_model(tmp_path / "r.keras")
    assert type(loaded.layers[0]) is Thrice


# ---- interop with real Keras ------------------------------------------------------------------------

def _keras_copy_weights(keras_model, x_model):
    keras_model.set_weights(x_model.get_weights())


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_xkeras_file_loads_in_keras(K, tmp_path, ext):
    model = trained()
    model.save(tmp_path / f"m{ext}")
    km = K.models.load_model(tmp_path / f"m{ext}")
    np.testing.assert_allclose(km.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-5)
    assert [type(l).__name__ for l in km.layers] == [type(l).__name__ for l in model.layers]
    assert type(km.optimizer).__name__ == "SGD" and abs(float(km.optimizer.momentum) - 0.9) < 1e-7
    if ext == ".keras":  # Keras restores the optimizer state from .keras files (not from legacy .h5)
        assert int(km.optimizer.iterations) == 8
        for kv, xv in zip(km.optimizer.variables[2:], model.optimizer._native.state()):
            np.testing.assert_array_equal(np.asarray(kv), xv)
    kw = small_model(K)
    kw.load_weights(_saved_weights(model, tmp_path))
    np.testing.assert_allclose(kw.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-5)


def _saved_weights(model, tmp_path):
    path = str(tmp_path / "x.weights.h5")
    model.save_weights(path)
    return path


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_keras_file_loads_in_xkeras(K, tmp_path, ext):
    km = small_model(K, dropout=0.0)  # continued training is compared below: no random masks
    km.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    km.save(tmp_path / f"k{ext}")
    xm = xkeras.models.load_model(tmp_path / f"k{ext}")
    np.testing.assert_allclose(xm.predict(X, verbose=0), km.predict(X, verbose=0), atol=1e-5)
    assert int(xm.optimizer.iterations) == 8
    for kv, xv in zip(km.optimizer.variables[2:], xm.optimizer._native.state()):
        np.testing.assert_array_equal(np.asarray(kv), xv)
    # continued training from the loaded state matches Keras continuing its own
    km.fit(X, Y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    xm.fit(X, Y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(km.get_weights(), xm.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    km.save_weights(tmp_path / "k.weights.h5")
    xm.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(xm.predict(X, verbose=0), km.predict(X, verbose=0), atol=1e-5)


def test_written_config_uses_the_oldest_key_set():
    cfg = json.loads(trained().to_json())
    dense = cfg["config"]["layers"][1]["config"]
    assert dense["dtype"] == "float32"
    assert "quantization_config" not in dense
    assert dense["kernel_initializer"]["config"] == {"seed": None}
    opt = cfg["compile_config"]["optimizer"]["config"]
    assert "gradient_accumulation_steps" not in opt and "loss_scale_factor" not in opt


# ---- corrupt and hostile files ----------------------------------------------------------------------

def _rewrite_zip(src, dst, replace=None, drop=()):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in drop:
                continue
            zout.writestr(name, (replace or {}).get(name, zin.read(name)))


def test_corrupt_keras_files_raise(tmp_path):
    model = trained()
    good = str(tmp_path / "good.keras")
    model.save(good)
    data = open(good, "rb").read()
    cases = {}
    for cut in (0, 10, len(data) // 3, len(data) // 2, len(data) - 30):
        cases[f"truncated_{cut}.keras"] = data[:cut]
    mid = data.index(b"HDF") + 200 if b"HDF" in data else len(data) // 2
    cases["flipped.keras"] = data[:mid] + bytes(b ^ 0xFF for b in data[mid:mid + 64]) + data[mid + 64:]
    cases["random.keras"] = RNG.integers(0, 256, 5000).astype(np.uint8).tobytes()
    directory = data.index(b"PK\x01\x02")  # the central directory's "version needed": 25.5 (zipfile: NotImplemented)
    cases["zip_version.keras"] = data[:directory + 6] + b"\xff" + data[directory + 7:]
    for name, blob in cases.items():
        open(tmp_path / name, "wb").write(blob)
    with zipfile.ZipFile(good) as z:
        config = json.loads(z.read("config.json"))
    bad_class = json.loads(json.dumps(config))
    bad_class["config"]["layers"][1]["class_name"] = "NoSuchLayer"
    bad_shape = json.loads(json.dumps(config))
    bad_shape["config"]["layers"][-1]["config"]["units"] = 5
    variants = {"no_config.keras": dict(drop=("config.json",)), "no_weights.keras": dict(drop=("model.weights.h5",)),
                "bad_json.keras": dict(replace={"config.json": b"{not json"}),
                "list_json.keras": dict(replace={"config.json": b"[1, 2]"}),
                "bad_class.keras": dict(replace={"config.json": json.dumps(bad_class)}),
                "bad_shape.keras": dict(replace={"config.json": json.dumps(bad_shape)}),
                "bad_h5.keras": dict(replace={"model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 100}),
                "no_layers.keras": dict(replace={"config.json": json.dumps({"class_name": "Sequential",
                                                                            "module": "keras", "config": {}})})}
    for name, kw in variants.items():
        _rewrite_zip(good, tmp_path / name, **kw)
    messages = {}
    for name in list(cases) + list(variants):
        with pytest.raises((ValueError, TypeError)) as info:
            xkeras.models.load_model(tmp_path / name)
        messages[name] = str(info.value)
    print("\n".join(f"{k}: {v[:150]}" for k, v in messages.items()))
    assert "NoSuchLayer" in messages["bad_class.keras"]
    assert "expected" in messages["bad_shape.keras"] and "(8, 5)" in messages["bad_shape.keras"]
    assert "not valid JSON" in messages["bad_json.keras"]
    assert "config.json" in messages["no_config.keras"]
    assert "zip_version.keras" in messages["zip_version.keras"]


def test_corrupt_h5_files_raise_or_load(tmp_path):
    model = trained()
    good = str(tmp_path / "good.h5")
    model.save(good)
    data = open(good, "rb").read()
    for cut in (0, 100, len(data) // 2, len(data) - 10):
        open(tmp_path / f"t{cut}.h5", "wb").write(data[:cut])
        with pytest.raises(ValueError):
            xkeras.models.load_model(tmp_path / f"t{cut}.h5")
    with h5py.File(good, "a") as f:
        f.attrs["model_config"] = b"{broken"
    with pytest.raises(ValueError, match="not valid JSON"):
        xkeras.models.load_model(good)
    for start in range(512, len(data) - 64, max(1, len(data) // 12)):  # byte damage anywhere: error or load
        blob = data[:start] + bytes(b ^ 0x5A for b in data[start:start + 64]) + data[start + 64:]
        open(tmp_path / "f.h5", "wb").write(blob)
        try:
            xkeras.models.load_model(tmp_path / "f.h5")
        except (ValueError, TypeError):
            pass


def test_wrong_shapes_in_weights_file_leave_model_unchanged(tmp_path):
    other = xkeras.Sequential([xkeras.Input((6,)), xkeras.layers.Dense(5), xkeras.layers.Dense(3)])
    other.save_weights(tmp_path / "o.weights.h5")
    model = small_model(xkeras, bn=False)
    before = model.get_weights()
    with pytest.raises(ValueError, match="could not be loaded"):
        model.load_weights(tmp_path / "o.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_h5_checks_pass_valid_files_and_find_what_hdf5_loops_or_stalls_on(K, tmp_path):
    """saving/h5_check.py walks every global heap collection (where variable-length strings live) as HDF5
    1.14.6 does, and decodes the string attributes the loaders read: the files xkeras and Keras write pass;
    an object that would not advance the walk, or a string longer than the file, is found."""
    from xkeras.saving.h5_check import heap_problem, string_attribute_problem, string_attributes
    km = small_model(K)
    km.fit(X, Y, epochs=1, verbose=0)
    for lib, model in (("x", trained()), ("k", km)):
        for ext in (".keras", ".h5", ".weights.h5"):
            path = str(tmp_path / f"{lib}{ext}")
            model.save_weights(path) if ext == ".weights.h5" else model.save(path)
            data = zipfile.ZipFile(path).read("model.weights.h5") if ext == ".keras" else open(path, "rb").read()
            assert b"GCOL\x01" in data, path  # each holds variable-length strings, so the walk is exercised
            assert heap_problem(data) is None and string_attribute_problem(data) is None, path
        names = [name for name, _, _ in string_attributes(open(tmp_path / f"{lib}.h5", "rb").read())]
        assert names[:3] == ["model_config", "training_config", "layer_names"], names
        assert names.count("weight_names") >= 4, names  # (dropout and flatten have no weights: float lists)
    data = open(tmp_path / "x.h5", "rb").read()
    first = data.index(b"GCOL\x01") + 16  # first object: index (2 bytes), refs (2), reserved (4), size (8)

    def damaged(at, patch):
        return data[:at] + patch + data[at + len(patch):]
    assert "object 0 at offset 16 has size 0" in heap_problem(damaged(first, bytes(16)))
    assert "has size 18446744073709551600" in heap_problem(damaged(first + 8, (2 ** 64 - 16).to_bytes(8, "little")))
    assert "has size 100000" in heap_problem(damaged(first + 8, (100000).to_bytes(8, "little")))
    assert "runs past the end" in heap_problem(damaged(first - 8, (len(data)).to_bytes(8, "little")))
    assert heap_problem(data[:first - 8]) is None  # a signature cut off before its size is no collection
    for lib in ("x", "k"):
        data = open(tmp_path / f"{lib}.h5", "rb").read()
        name, values, count = string_attributes(data)[2]
        long = damaged(values + 16 * (count - 1), (2 ** 32 - 1).to_bytes(4, "little"))
        assert f"string {count - 1} has length 4294967295" in string_attribute_problem(long)
        many = damaged(values - 16, (10 ** 6).to_bytes(8, "little") * 2)  # the dataspace's dimension and maximum
        assert "1000000 values run past the end" in string_attribute_problem(many), lib


def test_malformed_configs_raise_value_errors_naming_the_file(tmp_path):
    """A config that cannot be rebuilt raises a ValueError naming the file; as in Keras it is also a TypeError."""
    model = trained()
    good = str(tmp_path / "good.keras")
    model.save(good)
    with zipfile.ZipFile(good) as z:
        config = json.loads(z.read("config.json"))
    dense = ("layers", 1, "config")
    edits = {"units_text": (*dense, "units", "many"), "units_huge": (*dense, "units", 2 ** 62),
             "class_number": ("layers", 1, "class_name", 5), "activation_dict": (*dense, "activation", {}),
             "initializer_list": (*dense, "kernel_initializer", [1, 2])}
    for name, (*keys, last, value) in edits.items():
        bad = json.loads(json.dumps(config))
        node = bad["config"]
        for k in keys:
            node = node[k]
        node[last] = value
        path = str(tmp_path / f"{name}.keras")
        _rewrite_zip(good, path, replace={"config.json": json.dumps(bad)})
        with pytest.raises(ValueError) as info:
            xkeras.models.load_model(path)
        assert path in str(info.value) and isinstance(info.value, TypeError), (name, info.value)
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"layers": 3}}).encode()
    with pytest.raises(ValueError, match="m.h5"):
        xkeras.models.load_model(tmp_path / "m.h5")


def test_weight_shapes_are_checked_before_any_data_is_read(tmp_path):
    """A damaged dataset announcing 4 TiB is refused by its shape (Keras' messages), never read; the optimizer
    state of the wrong shape is skipped with Keras' warning."""
    import time
    model = trained(bn=False)
    before = model.get_weights()
    model.save_weights(tmp_path / "w.weights.h5")
    model.save(tmp_path / "m.h5")
    huge = dict(shape=(1 << 20, 1 << 20), dtype="f4", chunks=(256, 256))  # nothing stored: the fill value
    with h5py.File(tmp_path / "w.weights.h5", "a") as f:
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", **huge)
    with h5py.File(tmp_path / "m.h5", "a") as f:
        group = f["model_weights"][model.layers[0].name]
        name = group.attrs["weight_names"][0]
        del group[name]
        group.create_dataset(name, **huge)
        opt_name = f["optimizer_weights"].attrs["weight_names"][-1]
        del f["optimizer_weights"][opt_name]
        f["optimizer_weights"].create_dataset(opt_name, **huge)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="shape mismatch"):
        model.load_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match="Shape mismatch"):
        model.load_weights(tmp_path / "m.h5")
    assert time.perf_counter() - start < 2
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with h5py.File(tmp_path / "m.h5", "a") as f:  # weights intact again, the optimizer state still damaged
        del f["model_weights"][model.layers[0].name][name]
        f["model_weights"][model.layers[0].name].create_dataset(name, data=before[0])
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        loaded = xkeras.models.load_model(tmp_path / "m.h5")
    assert all(np.array_equal(a, b) for a, b in zip(before, loaded.get_weights()))


def test_lambda_is_refused_in_safe_mode(K, tmp_path):
    km = K.Sequential([K.Input((3,)), K.layers.Lambda(lambda t: t * 2.0)])
    km.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match="lambda"):
        xkeras.models.load_model(tmp_path / "lam.keras")


# ---- atomic writes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["m.keras", "m.h5", "w.weights.h5"])
def test_crash_during_save_leaves_previous_file(tmp_path, monkeypatch, name):
    model = trained()
    path = tmp_path / name
    save = model.save_weights if name.endswith(".weights.h5") else model.save
    save(path)
    before = path.read_bytes()
    model.fit(X, Y, epochs=1, verbose=0)

    def crash(*args, **kwargs):
        next(a for a in args if hasattr(a, "write")).write(b"half a file")
        raise RuntimeError("simulated crash while writing")

    monkeypatch.setattr(keras_format, "write_weights_h5", crash)
    monkeypatch.setattr(legacy_h5, "save_legacy_h5", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [name]


def test_compile_config_objects_cross_load(K, tmp_path):
    """Loss/metric objects, a loss function and non-SGD optimizers survive the trip both ways."""
    xm = xkeras.Sequential([xkeras.Input((6,)), xkeras.layers.Dense(3, activation="softmax")])
    xm.compile(optimizer="adam", loss=xkeras.losses.SparseCategoricalCrossentropy(),
               metrics=[xkeras.metrics.SparseCategoricalAccuracy(), "accuracy"])
    xm.fit(X, Y, epochs=1, verbose=0)
    xm.save(tmp_path / "x.keras")
    km = K.models.load_model(tmp_path / "x.keras")
    assert type(km.loss).__name__ == "SparseCategoricalCrossentropy" and type(km.optimizer).__name__ == "Adam"
    np.testing.assert_allclose(km.evaluate(X, Y, verbose=0), xm.evaluate(X, Y, verbose=0), atol=1e-5)

    km = K.Sequential([K.Input((6,)), K.layers.Dense(3, activation="softmax")])
    km.compile(optimizer="rmsprop", loss=K.losses.sparse_categorical_crossentropy,
               metrics=[K.metrics.SparseCategoricalAccuracy()])
    km.fit(X, Y, epochs=1, verbose=0)
    km.save(tmp_path / "k.keras")
    back = xkeras.models.load_model(tmp_path / "k.keras")
    assert type(back.optimizer).__name__ == "RMSprop" and callable(back.loss)
    np.testing.assert_allclose(back.evaluate(X, Y, verbose=0), km.evaluate(X, Y, verbose=0), atol=1e-5)
