"""Regularizers: penalties vs NumPy and Keras, in the recorded training loss, its gradients and val_loss."""
import os

import numpy as np
import pytest

import xkeras as keras
from xkeras import _core

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RNG = np.random.default_rng(11)
W = RNG.normal(size=(6, 4)).astype(np.float32)


def np_orthogonal(x, factor, mode):
    x = x.astype(np.float64)
    if mode == "columns":
        x = x.T
    unit = x * np.minimum(1 / np.sqrt((x ** 2).sum(axis=1, keepdims=True)), 1e7)
    p = unit @ unit.T
    n = len(x)
    return factor * 0.5 * np.abs(p - np.diag(np.diag(p))).sum() / (n * (n - 1) / 2)


CASES = [
    ("l1", keras.regularizers.l1(0.03), 0.03 * np.abs(W).sum()),
    ("l2", keras.regularizers.l2(0.02), 0.02 * (W.astype(np.float64) ** 2).sum()),
    ("L1L2", keras.regularizers.L1L2(l1=0.01, l2=0.02), 0.01 * np.abs(W).sum() + 0.02 * (W ** 2).sum()),
    ("l1_l2 positional l1", keras.regularizers.l1_l2(0.01), 0.01 * np.abs(W).sum()),
    ("l1_l2 defaults", keras.regularizers.l1_l2(), 0.0),
    ("orthogonal rows", keras.regularizers.OrthogonalRegularizer(0.1), np_orthogonal(W, 0.1, "rows")),
    ("orthogonal columns", keras.regularizers.orthogonal_regularizer(0.2, mode="columns"),
     np_orthogonal(W, 0.2, "columns")),
]


@pytest.mark.parametrize("name,reg,expected", CASES, ids=[c[0] for c in CASES])
def test_penalty_equals_numpy_and_keras(name, reg, expected):
    ours = float(reg(_core.constant(W)))
    np.testing.assert_allclose(ours, expected, rtol=2e-6, atol=1e-9)
    K = pytest.importorskip("keras", reason="real Keras is the reference")
    cls = getattr(K.regularizers, type(reg).__name__)
    theirs = float(K.ops.convert_to_numpy(cls(**reg.get_config())(K.ops.convert_to_tensor(W))))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
    assert reg.get_config() == cls(**reg.get_config()).get_config()


def test_identifiers_and_validation_as_keras():
    K = pytest.importorskip("keras", reason="real Keras is the reference")
    for ident in ["l1", "L1", "l2", "L2", "l1l2", "L1L2", "orthogonal_regularizer", "OrthogonalRegularizer"]:
        ours, theirs = keras.regularizers.get(ident), K.regularizers.get(ident)
        assert type(ours).__name__ == type(theirs).__name__ and ours.get_config() == theirs.get_config(), ident
    for bad in ["l1_l2", "l3"]:
        with pytest.raises(ValueError, match=f"Could not interpret regularizer identifier: {bad}"):
            keras.regularizers.get(bad)
    assert isinstance(keras.regularizers.get(keras.regularizers.L2), keras.regularizers.L2)  # a class: instance

    def fn(x):
        return 0.5 * _core.sum(x)
    assert keras.regularizers.get(fn) is fn and keras.regularizers.get(None) is None
    reg = keras.regularizers.get(keras.regularizers.serialize(keras.regularizers.L1L2(0.1, 0.2)))
    assert type(reg) is keras.regularizers.L1L2 and reg.get_config() == {"l1": 0.1, "l2": 0.2}
    for args, msg in [({"l2": -1.0}, "Invalid value for argument l2: expected a non-negative float"),
                      ({"l2": float("inf")}, "Received: l2=inf"), ({"l2": "0.1"}, "Received: l2=0.1")]:
        with pytest.raises(ValueError, match=msg):
            keras.regularizers.L2(**args)
    with pytest.raises(ValueError, match="Expected one of"):
        keras.regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="must have rank 2"):
        keras.regularizers.OrthogonalRegularizer()(_core.constant(np.ones(3, np.float32)))
    with pytest.raises(NotImplementedError, match="does not implement get_config"):
        keras.regularizers.Regularizer().get_config()


# ------------------------------------------------------------------ in the training loss

X = RNG.normal(size=(5, 3)).astype(np.float32)
Y = RNG.normal(size=(5, 2)).astype(np.float32)
KERNEL = RNG.normal(size=(3, 2)).astype(np.float32)
BIAS = np.array([0.3, -0.2], np.float32)
L2K, L1B, L2A = 0.05, 0.02, 0.03


def regularized(lib, lr=0.1, activity=True, **kw):
    dense = lib.layers.Dense(2, kernel_regularizer=lib.regularizers.l2(L2K), bias_regularizer=lib.regularizers.l1(L1B),
                             activity_regularizer=lib.regularizers.l2(L2A) if activity else None, **kw)
    m = lib.Sequential([lib.Input((3,)), dense])
    m.set_weights([KERNEL, BIAS])
    m.compile(lib.optimizers.SGD(learning_rate=lr), "mse")
    return m


def np_loss_and_grads(x, y, k, b, activity=True):
    """MSE + l2(kernel) + l1(bias) + l2(output)/batch, and its gradients (float64)."""
    x, y, k, b = (a.astype(np.float64) for a in (x, y, k, b))
    out = x @ k + b
    n = len(x)
    a = L2A if activity else 0.0
    loss = ((out - y) ** 2).mean() + L2K * (k ** 2).sum() + L1B * np.abs(b).sum() + a * (out ** 2).sum() / n
    d_out = 2 * (out - y) / out.size + 2 * a * out / n
    return loss, x.T @ d_out + 2 * L2K * k, d_out.sum(axis=0) + L1B * np.sign(b)


def test_model_losses_hold_the_penalties():
    m = regularized(keras, activity=False)
    values = sorted(float(v) for v in m.losses)
    assert values == pytest.approx(sorted([L2K * (KERNEL.astype(np.float64) ** 2).sum(), L1B * np.abs(BIAS).sum()]),
                                   rel=1e-6)
    m.layers[0].trainable = False  # frozen weights are not penalised (Keras sums over trainable_weights)
    assert m.losses == []


@pytest.mark.parametrize("activity", [False, True])
def test_one_sgd_step_includes_penalty_gradients(activity):
    m = regularized(keras, lr=0.1, activity=activity)
    loss = m.train_on_batch(X, Y)
    expected_loss, gk, gb = np_loss_and_grads(X, Y, KERNEL, BIAS, activity)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    k, b = m.get_weights()
    np.testing.assert_allclose(k, KERNEL - 0.1 * gk, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, BIAS - 0.1 * gb, rtol=1e-5, atol=1e-6)


def test_fit_loss_and_val_loss_match_keras():
    """Logged loss and val_loss include every penalty (activity divided by the batch size, Keras ≥ 3.14)."""
    K = pytest.importorskip("keras", reason="real Keras is the reference")
    xv, yv = X[:3] * 2, Y[:3]
    runs = []
    for lib in (keras, K):
        m = regularized(lib, lr=0.05)
        h = m.fit(X, Y, batch_size=2, epochs=2, shuffle=False, validation_data=(xv, yv), verbose=0)
        runs.append((h.history, m.get_weights(), m.evaluate(xv, yv, verbose=0)))
    (ours, w_ours, ev_ours), (theirs, w_theirs, ev_theirs) = runs
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5)
    for a, b in zip(w_ours, w_theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ev_ours, ev_theirs, rtol=1e-5)
    k, b = w_ours
    np.testing.assert_allclose(ours["val_loss"][-1], np_loss_and_grads(xv, yv, k, b)[0], rtol=1e-5)
    np.testing.assert_allclose(ev_ours, ours["val_loss"][-1], rtol=1e-6)


def test_penalty_is_part_of_the_recorded_step_not_a_constant():
    """The penalty reads the variables inside the replayed program: new weights, new penalty, no re-record."""
    m = regularized(keras, activity=False)
    first = m.evaluate(X, Y, verbose=0)
    programs = dict(m._programs)
    m.set_weights([KERNEL * 3, BIAS * -2])
    second = m.evaluate(X, Y, verbose=0)
    assert m._programs == programs  # the same recorded programs were replayed
    np.testing.assert_allclose(first, np_loss_and_grads(X, Y, KERNEL, BIAS, False)[0], rtol=1e-5)
    np.testing.assert_allclose(second, np_loss_and_grads(X, Y, KERNEL * 3, BIAS * -2, False)[0], rtol=1e-5)


def test_course_l2_regularized_dense_shows_the_penalty_in_the_loss():
    """ch11 #96-#99: Dense(..., kernel_regularizer=l2(0.01)); the first evaluate's loss adds 0.01·Σw²."""
    keras.utils.set_random_seed(1)
    reg = keras.regularizers.l2(0.01)
    m = keras.Sequential([keras.Input((20,)),
                          keras.layers.Dense(30, activation="elu", kernel_initializer="he_normal",
                                             kernel_regularizer=reg),
                          keras.layers.Dense(3, activation="softmax", kernel_regularizer=reg)])
    m.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x = RNG.normal(size=(40, 20)).astype(np.float32)
    y = RNG.integers(0, 3, size=40)
    plain = keras.Sequential([keras.Input((20,)), keras.layers.Dense(30, activation="elu"),
                              keras.layers.Dense(3, activation="softmax")])
    plain.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    plain.set_weights(m.get_weights())
    penalty = sum(0.01 * (w.astype(np.float64) ** 2).sum() for w in m.get_weights()[0::2])
    np.testing.assert_allclose(m.evaluate(x, y, verbose=0), plain.evaluate(x, y, verbose=0) + penalty, rtol=1e-5)
