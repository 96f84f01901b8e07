"""Constraints (keras-spec §13.2): formulas against NumPy and real Keras, lookup by string/object/config,
and their native application by the optimizer after every update step."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import xkeras  # noqa: E402

C = xkeras.constraints
EPS = 1e-7


@pytest.fixture(scope="module")
def K():
    return pytest.importorskip("keras", reason="real Keras 3 is the reference for the constraint formulas")


def norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


def reference(name, kw, w):
    """keras/src/constraints/constraints.py, in float64."""
    w = w.astype(np.float64)
    if name == "NonNeg":
        return np.maximum(w, 0)
    axis = kw.get("axis", 0)
    axis = tuple(axis) if isinstance(axis, list) else axis
    n = norms(w, axis)
    if name == "MaxNorm":
        return w * np.clip(n, 0, kw.get("max_value", 2)) / (EPS + n)
    if name == "UnitNorm":
        return w / (EPS + n)
    rate = kw.get("rate", 1.0)
    desired = rate * np.clip(n, kw.get("min_value", 0.0), kw.get("max_value", 1.0)) + (1 - rate) * n
    return w * desired / (EPS + n)


CASES = [
    ("MaxNorm", {}, (6, 5)),
    ("MaxNorm", {"max_value": 1.0}, (6, 5)),
    ("MaxNorm", {"max_value": 0.5, "axis": 1}, (6, 5)),
    ("MaxNorm", {"max_value": 1.5, "axis": [0, 1, 2]}, (3, 3, 2, 4)),
    ("MaxNorm", {"max_value": 1.0, "axis": None}, (4, 3)),
    ("MaxNorm", {"max_value": 0.7, "axis": -1}, (2, 3, 4)),
    ("NonNeg", {}, (6, 5)),
    ("UnitNorm", {}, (6, 5)),
    ("UnitNorm", {"axis": [0, 2]}, (3, 4, 5)),
    ("MinMaxNorm", {}, (6, 5)),
    ("MinMaxNorm", {"min_value": 0.8, "max_value": 1.2, "rate": 0.5, "axis": 1}, (6, 5)),
    ("MinMaxNorm", {"min_value": 1.0, "max_value": 2.0, "rate": 1.0}, (7,)),
]


def case_id(c):
    return c[0] + "-" + "-".join(f"{k}={v}" for k, v in c[1].items()) + f"-{len(c[2])}d"


@pytest.mark.parametrize("name,kw,shape", CASES, ids=[case_id(c) for c in CASES])
def test_formula_matches_numpy_and_keras(K, name, kw, shape):
    rng = np.random.default_rng(len(shape) + len(kw))
    w = rng.normal(0, 0.8, shape).astype(np.float32)
    ours = getattr(C, name)(**kw)
    got = np.asarray(ours(w))
    assert got.shape == w.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, reference(name, kw, w), rtol=1e-6, atol=1e-7)
    theirs = getattr(K.constraints, name)(**kw)
    np.testing.assert_allclose(got, np.asarray(theirs(K.ops.convert_to_tensor(w))), rtol=1e-6, atol=1e-7)
    assert ours.get_config() == theirs.get_config()
    assert type(C.get(C.serialize(ours))) is type(ours)


def test_lookup_by_string_class_object_and_config():
    for spelling, cls in [("max_norm", C.MaxNorm), ("MaxNorm", C.MaxNorm), ("non_neg", C.NonNeg),
                          ("NonNeg", C.NonNeg), ("unit_norm", C.UnitNorm), ("UnitNorm", C.UnitNorm),
                          ("min_max_norm", C.MinMaxNorm), ("MinMaxNorm", C.MinMaxNorm)]:
        assert type(C.get(spelling)) is cls
    assert type(C.get(C.MaxNorm)) is C.MaxNorm
    c = C.max_norm(1.0)  # the course's spelling (ch11 #115): the class itself
    assert C.get(c) is c and c.max_value == 1.0 and c.axis == 0
    assert C.get({"class_name": "MinMaxNorm", "config": {"min_value": 0.5}}).min_value == 0.5
    assert C.get(None) is None
    with pytest.raises(ValueError, match="Could not interpret constraint identifier"):
        C.get("maxnorm")  # Keras' lookup is by exact class or snake_case name


def fashion(n=1024):
    (x, y), _ = xkeras.datasets.fashion_mnist.load_data()
    return (x[:n] / 255.0).astype(np.float32), y[:n].astype(np.int64)


def test_max_norm_holds_after_every_step_of_fit_and_matches_keras(K):
    x, y = fashion()

    def build(lib):
        return lib.Sequential([
            lib.Input((28, 28)), lib.layers.Flatten(),
            lib.layers.Dense(64, activation="relu", kernel_initializer="he_normal",
                             kernel_constraint=lib.constraints.max_norm(1.0)),
            lib.layers.Dense(10, activation="softmax", bias_constraint="non_neg")])

    class Check(xkeras.callbacks.Callback):
        def __init__(self):
            self.max_norms = []

        def on_train_batch_end(self, batch, logs=None):
            kernel = self.model.layers[1].get_weights()[0]
            self.max_norms.append(float(norms(kernel, 0).max()))
            assert self.model.layers[2].get_weights()[1].min() >= 0

    K.utils.set_random_seed(0)
    km, xm = build(K), build(xkeras)
    # initial weights: he_normal columns have norms ~1.4, above the bound (constraints never run at init)
    xm.set_weights(km.get_weights())
    assert norms(xm.layers[1].get_weights()[0], 0).max() > 1.2
    km.compile(optimizer=K.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    xm.compile(optimizer=xkeras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    check = Check()
    km.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    xm.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0, callbacks=[check])
    assert len(check.max_norms) == 32 and max(check.max_norms) <= 1.0 + 1e-6
    for a, b in zip(xm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_constraint_runs_after_the_update_in_a_custom_loop():
    v = xkeras.Variable(np.array([[3.0, 0.0], [4.0, 0.5]], np.float32))
    v.constraint = C.MaxNorm(2.0)
    xkeras.optimizers.SGD(0.1).apply_gradients([(np.array([[10.0, 0.0], [0.0, 0.0]], np.float32), v)])
    w = np.array([[2.0, 0.0], [4.0, 0.5]])  # the update first, then w * 2 / (eps + ||column||)
    np.testing.assert_allclose(v.numpy(), w * np.minimum(norms(w, 0), 2) / (EPS + norms(w, 0)), rtol=1e-6)


def test_custom_python_constraint_is_refused_clearly():
    class Clip(C.Constraint):
        def __call__(self, w):
            return xkeras.ops.clip(w, -1, 1)

    m = xkeras.Sequential([xkeras.Input((3,)), xkeras.layers.Dense(2, kernel_constraint=Clip())])
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(NotImplementedError, match="built-in constraints"):
        m.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0)
