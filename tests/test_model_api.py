"""The Keras model API (Sequential, compile/fit/evaluate/predict, History, summary) against real Keras 3.

Parity tests build the same model in both libraries, copy Keras's initial weights into xkeras, run the
same calls with shuffle=False, and compare predictions, losses, metrics and every weight afterwards.
Real Keras (TensorFlow backend) is the reference; tests that need it skip with a reason if it is
missing. Run: python -m pytest tests/test_model_api.py -q -x
"""
import math
import os
import re
import signal
import threading
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # TF's plain CPU kernels: fewer rounding differences

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import xkeras  # noqa: E402
from xkeras import ops as xops  # noqa: E402

N_TRAIN = 2000


# ---- fixtures and builders ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def K():
    keras = pytest.importorskip("keras", reason="real Keras 3 is the reference for the parity tests")
    if keras.backend.backend() != "tensorflow":
        pytest.skip(f"parity expects Keras' TensorFlow backend, found {keras.backend.backend()!r}")
    return keras


@pytest.fixture(scope="module")
def fmnist():
    (x, y), _ = xkeras.datasets.fashion_mnist.load_data()
    return (x[:N_TRAIN] / 255.0).astype(np.float32), y[:N_TRAIN].astype(np.int64)


def mlp(lib, head=10, activation="softmax", dropout=None):
    """The lecture MLP (Flatten(input_shape=[28,28]) -> 300 relu -> 100 relu -> head)."""
    L = lib.layers
    layers = [L.Flatten(input_shape=[28, 28]), L.Dense(300, activation="relu")]
    if dropout:
        layers.append(L.Dropout(dropout))
    layers += [L.Dense(100, activation="relu"), L.Dense(head, activation=activation)]
    return lib.Sequential(layers)


def pair(K, build, seed=0):
    """The same architecture in both libraries, with Keras's initial weights copied into xkeras.

    The initial weights are seeded so each test is deterministic: the two libraries sum in different
    orders (differences ~1e-8), and a ReLU pre-activation that lands within that of zero flips the
    unit for one sample, a discrete jump of ~1e-5 in the weights after it. Seeds are not chosen per
    test; a failure here that moves with the seed is that, not a semantic difference."""
    K.backend.clear_session()
    xkeras.backend.clear_session()
    K.utils.set_random_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras: "Do not pass an `input_shape`..."
        km = build(K)
    xm = build(xkeras)
    xm.set_weights(km.get_weights())
    return km, xm


def compile_both(km, xm, K, loss, metrics=("accuracy",), **sgd):
    km.compile(optimizer=K.optimizers.SGD(learning_rate=0.01, **sgd), loss=loss, metrics=list(metrics))
    xm.compile(optimizer=xkeras.optimizers.SGD(learning_rate=0.01, **sgd), loss=loss, metrics=list(metrics))


def assert_weights_close(km, xm, rtol=1e-4, atol=1e-6):
    kw, xw = km.get_weights(), xm.get_weights()
    assert len(kw) == len(xw)
    for i, (a, b) in enumerate(zip(kw, xw)):
        assert a.shape == b.shape, f"weight {i}: shape {b.shape} != Keras {a.shape}"
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=f"weight {i} ({xm.weights[i].path})")


def assert_history_close(hk, hx, n):
    assert list(hx.history) == list(hk.history)
    for key in hk.history:
        tol = 1.5 / n if "accuracy" in key else 1e-4  # accuracy: at most one sample may flip on a near tie
        np.testing.assert_allclose(hx.history[key], hk.history[key], rtol=0 if "accuracy" in key else tol,
                                   atol=tol if "accuracy" in key else 1e-6, err_msg=key)


def targets(kind, y, lib):
    """Labels for each loss: sparse ints, one-hot, binary (class >= 5) or a regression value."""
    if kind == "sparse_categorical_crossentropy":
        return y
    if kind == "categorical_crossentropy":
        return lib.utils.to_categorical(y, 10)
    if kind == "binary_crossentropy":
        return (y >= 5).astype(np.float32)
    return (y / 9.0).astype(np.float32)  # mse


HEADS = {  # loss -> (units, activation, metrics)
    "sparse_categorical_crossentropy": (10, "softmax", ["accuracy"]),
    "categorical_crossentropy": (10, "softmax", ["accuracy"]),
    "binary_crossentropy": (1, "sigmoid", ["accuracy"]),
    "mse": (1, None, ["mae"]),
}


# ---- 1. parity with real Keras ------------------------------------------------------------------

def test_predict_parity_lecture_mlp(K, fmnist):
    x, _ = fmnist
    km, xm = pair(K, mlp)
    assert [w.shape for w in xm.get_weights()] == [(784, 300), (300,), (300, 100), (100,), (100, 10), (10,)]
    pk, px = km.predict(x[:256], verbose=0), xm.predict(x[:256], verbose=0)
    assert px.shape == (256, 10) and px.dtype == np.float32
    np.testing.assert_allclose(px, pk, atol=1e-5)
    np.testing.assert_allclose(px.sum(axis=1), 1.0, atol=1e-5)


def test_dropout_variant_inference_parity(K, fmnist):
    """Dropout is inactive in predict/evaluate: identical to Keras. (Its training masks come from each
    library's own RNG, so weights after fit cannot be compared; the epoch loss is compared loosely.)"""
    x, y = fmnist
    km, xm = pair(K, lambda lib: mlp(lib, dropout=0.2))
    assert [type(l).__name__ for l in xm.layers] == ["Flatten", "Dense", "Dropout", "Dense", "Dense"]
    np.testing.assert_allclose(xm.predict(x[:256], verbose=0), km.predict(x[:256], verbose=0), atol=1e-5)
    compile_both(km, xm, K, "sparse_categorical_crossentropy")
    ek, ex = km.evaluate(x, y, verbose=0), xm.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(ex[0], ek[0], atol=1e-5)
    assert ex[1] == pytest.approx(ek[1], abs=1e-6)
    hk = km.fit(x, y, epochs=1, shuffle=False, verbose=0)
    hx = xm.fit(x, y, epochs=1, shuffle=False, verbose=0)
    assert hx.history["loss"][0] == pytest.approx(hk.history["loss"][0], rel=0.03)


PARITY_CASES = [
    # loss, n, batch_size, SGD kwargs
    ("sparse_categorical_crossentropy", 2000, 32, {}),
    ("sparse_categorical_crossentropy", 1990, 50, {}),  # 39 full batches + one of 40
    ("sparse_categorical_crossentropy", 2000, 32, {"momentum": 0.9, "nesterov": True}),
    ("sparse_categorical_crossentropy", 1990, 50, {"momentum": 0.9}),
    ("categorical_crossentropy", 1990, 50, {}),
    ("categorical_crossentropy", 2000, 32, {"momentum": 0.9, "nesterov": True}),
    ("binary_crossentropy", 2000, 32, {}),
    ("binary_crossentropy", 1990, 50, {"momentum": 0.9, "nesterov": True}),
    ("mse", 1990, 50, {}),
    ("mse", 2000, 32, {"momentum": 0.9, "nesterov": True}),
]


@pytest.mark.parametrize("loss,n,batch_size,sgd", PARITY_CASES,
                         ids=[f"{c[0]}-n{c[1]}-bs{c[2]}-{'_'.join(c[3]) or 'plain'}" for c in PARITY_CASES])
def test_fit_parity(K, fmnist, loss, n, batch_size, sgd):
    x, y = fmnist
    x = x[:n]
    units, activation, metrics = HEADS[loss]
    km, xm = pair(K, lambda lib: mlp(lib, units, activation))
    yk, yx = targets(loss, y[:n], K), targets(loss, y[:n], xkeras)
    compile_both(km, xm, K, loss, metrics, **sgd)

    hk = km.fit(x, yk, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    hx = xm.fit(x, yx, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    assert hx.params == hk.params == {"verbose": 0, "epochs": 1, "steps": math.ceil(n / batch_size)}
    assert_history_close(hk, hx, n)
    assert_weights_close(km, xm)
    assert xm.optimizer.iterations.numpy() == km.optimizer.iterations.numpy() == math.ceil(n / batch_size)

    # evaluate: list, dict, and a partial last batch
    ek, ex = km.evaluate(x, yk, batch_size=64, verbose=0), xm.evaluate(x, yx, batch_size=64, verbose=0)
    assert isinstance(ex, list) and len(ex) == 2 and all(isinstance(v, float) for v in ex)
    np.testing.assert_allclose(ex[0], ek[0], atol=1e-5)
    np.testing.assert_allclose(ex[1], ek[1], atol=1e-5 if loss == "mse" else 1.5 / n)
    dk = km.evaluate(x, yk, verbose=0, return_dict=True)
    dx = xm.evaluate(x, yx, verbose=0, return_dict=True)
    assert list(dx) == list(dk) == sorted([metrics[0], "loss"])
    np.testing.assert_allclose(dx["loss"], dk["loss"], atol=1e-5)

    # single batches: each resets the metrics and returns that batch's [loss, metric]
    tk = km.train_on_batch(x[:40], yk[:40])
    tx = xm.train_on_batch(x[:40], yx[:40])
    np.testing.assert_allclose(tx, tk, rtol=1e-5, atol=1e-6)
    assert_weights_close(km, xm)
    sk, sx = km.test_on_batch(x[40:90], yk[40:90]), xm.test_on_batch(x[40:90], yx[40:90])
    np.testing.assert_allclose(sx, sk, rtol=1e-5, atol=1e-6)
    dk = km.test_on_batch(x[40:90], yk[40:90], return_dict=True)
    dx = xm.test_on_batch(x[40:90], yx[40:90], return_dict=True)
    assert dx.keys() == dk.keys()
    np.testing.assert_allclose(xm.predict_on_batch(x[:7]), km.predict_on_batch(x[:7]), atol=1e-5)


def test_two_epochs_with_validation_match_keras(K, fmnist):
    x, y = fmnist
    km, xm = pair(K, mlp)
    compile_both(km, xm, K, "sparse_categorical_crossentropy", momentum=0.9)
    kw = dict(batch_size=40, epochs=2, shuffle=False, verbose=0, validation_data=(x[1500:], y[1500:]))
    hk, hx = km.fit(x[:1500], y[:1500], **kw), xm.fit(x[:1500], y[:1500], **kw)
    assert list(hx.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert_history_close(hk, hx, 500)
    assert_weights_close(km, xm)


def test_steps_arguments_match_keras(K, fmnist):
    """steps_per_epoch continues the pass across epochs (and an epoch stops, with a warning, at the end
    of the data); validation_steps / evaluate(steps) / predict(steps) use only the first batches."""
    x, y = fmnist
    x, y = x[:600], y[:600]  # 19 batches of 32 (the last one 24)
    km, xm = pair(K, mlp)
    compile_both(km, xm, K, "sparse_categorical_crossentropy")
    kw = dict(batch_size=32, epochs=4, steps_per_epoch=7, shuffle=False, verbose=0,
              validation_data=(x[:100], y[:100]), validation_steps=2)
    hist = {}
    for name, m in (("keras", km), ("xkeras", xm)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hist[name] = m.fit(x, y, **kw)
        ran_out = [w for w in caught if "ran out of data" in str(w.message)]
        assert len(ran_out) == 1, name  # epoch 3 gets only batches 14..18
    hk, hx = hist["keras"], hist["xkeras"]
    assert hx.params == hk.params == {"verbose": 0, "epochs": 4, "steps": 7}
    assert int(xm.optimizer.iterations.numpy()) == int(km.optimizer.iterations.numpy()) == 7 + 7 + 5 + 7
    assert_history_close(hk, hx, 64)
    assert_weights_close(km, xm)
    assert hx.history["val_loss"][-1] == pytest.approx(xm.evaluate(x[:64], y[:64], verbose=0)[0], abs=1e-6)
    for kw in (dict(batch_size=32, steps=2), dict(steps=2)):  # without batch_size: ceil(600 / 2) per batch
        np.testing.assert_allclose(xm.evaluate(x, y, verbose=0, **kw), km.evaluate(x, y, verbose=0, **kw),
                                   atol=1e-5, err_msg=str(kw))
    assert xm.evaluate(x, y, steps=2, verbose=0)[0] == pytest.approx(xm.evaluate(x, y, verbose=0)[0], abs=1e-6)
    pk, px = km.predict(x, batch_size=5, steps=3, verbose=0), xm.predict(x, batch_size=5, steps=3, verbose=0)
    assert px.shape == pk.shape == (15, 10)
    np.testing.assert_allclose(px, pk, atol=1e-5)
    assert xm.metrics_names == km.metrics_names == ["loss", "compile_metrics"]
    xm.compile(optimizer="sgd", loss="mse")
    assert xm.metrics_names == ["loss"]
    assert xkeras.Sequential([xkeras.layers.Dense(2)]).metrics_names == []


def test_shuffle_batch_keeps_batches_and_true_reshuffles(fmnist):
    """shuffle="batch" permutes rows within each batch only: the same SGD steps as shuffle=False up to
    rounding; shuffle=True draws a new permutation each epoch."""
    x, y = fmnist
    x, y = x[:400], y[:400]
    results = {}
    for shuffle in (False, "batch", True):
        xkeras.utils.set_random_seed(4)
        m = mlp(xkeras)
        m.compile(optimizer=xkeras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
        h = m.fit(x, y, batch_size=50, epochs=2, shuffle=shuffle, verbose=0)
        results[shuffle] = (m.get_weights(), h.history["loss"])
    for a, b in zip(results[False][0], results["batch"][0]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(results["batch"][1], results[False][1], rtol=1e-5)
    assert not np.allclose(results[True][0][0], results[False][0][0], atol=1e-4)


# ---- 2. summary ---------------------------------------------------------------------------------

def _summary_text(model):
    out = []
    model.summary(print_fn=lambda s, *a, **k: out.append(s))
    return "".join(out)


def test_summary_matches_keras_text(K, fmnist):
    x, y = fmnist
    km, xm = pair(K, mlp)
    text = _summary_text(xm)
    assert text == _summary_text(km)
    assert 'Model: "sequential"' in text and "dense_2 (Dense)" in text
    assert " Total params: 266,610 (1.02 MB)" in text
    assert " Trainable params: 266,610 (1.02 MB)" in text
    assert xm.count_params() == 266_610

    # after training, Keras 3 counts the optimizer's variables (iteration, learning_rate, momenta)
    compile_both(km, xm, K, "sparse_categorical_crossentropy")
    assert _summary_text(xm) == _summary_text(km)  # compiled but optimizer not built yet
    km.fit(x[:64], y[:64], verbose=0)
    xm.fit(x[:64], y[:64], verbose=0)
    assert _summary_text(xm) == _summary_text(km)
    assert " Optimizer params: 2 (12.00 B)" in _summary_text(xm)

    km2, xm2 = pair(K, lambda lib: mlp(lib, dropout=0.5))
    compile_both(km2, xm2, K, "sparse_categorical_crossentropy", momentum=0.9)
    km2.train_on_batch(x[:8], y[:8])
    xm2.train_on_batch(x[:8], y[:8])
    assert _summary_text(xm2) == _summary_text(km2)
    assert " Optimizer params: 266,612 (1.02 MB)" in _summary_text(xm2)


def test_summary_of_unbuilt_model_matches_keras(K):
    def build(lib):
        return lib.Sequential([lib.layers.Dense(3), lib.layers.Dense(2)])
    K.backend.clear_session()
    xkeras.backend.clear_session()
    km, xm = build(K), build(xkeras)
    assert _summary_text(xm) == _summary_text(km)
    assert "0 (unbuilt)" in _summary_text(xm)


# ---- 3. History ---------------------------------------------------------------------------------

def test_history_keys_params_epoch(K, fmnist, capsys):
    x, y = fmnist
    x, y = x[:300], y[:300]
    km, xm = pair(K, mlp)
    compile_both(km, xm, K, "sparse_categorical_crossentropy")
    hk = km.fit(x, y, epochs=3, validation_data=(x[:50], y[:50]))
    hx = xm.fit(x, y, epochs=3, validation_data=(x[:50], y[:50]))
    capsys.readouterr()  # progress bars (verbose="auto")
    assert hx is xm.history
    assert list(hx.history) == list(hk.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert hx.params == hk.params == {"verbose": "auto", "epochs": 3, "steps": math.ceil(300 / 32)}
    assert hx.epoch == hk.epoch == [0, 1, 2]
    assert all(len(v) == 3 and all(isinstance(f, float) for f in v) for v in hx.history.values())
    assert hx.history["loss"][2] < hx.history["loss"][0]

    h = xm.fit(x, y, epochs=3, initial_epoch=1, verbose=0)
    assert h.epoch == [1, 2] and len(h.history["loss"]) == 2 and list(h.history) == ["accuracy", "loss"]
    assert h.params == {"verbose": 0, "epochs": 3, "steps": 10}
    assert h is not hx and len(hx.history["loss"]) == 3  # each fit has its own History
    h = xm.fit(x, y, epochs=3, validation_data=(x[:50], y[:50]), validation_freq=2, verbose=0)
    assert [len(h.history[k]) for k in h.history] == [3, 3, 1, 1]  # validated after epoch 2 only
    assert xm.fit(x, y, epochs=0, verbose=0).history == {}


# ---- 4. evaluate / predict shapes and return types ----------------------------------------------

def test_evaluate_and_predict_return_types(fmnist):
    x, y = fmnist
    xkeras.utils.set_random_seed(1)
    m = mlp(xkeras)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    loss = m.evaluate(x[:70], y[:70], verbose=0)
    assert isinstance(loss, float)  # scalar without metrics
    assert m.evaluate(x[:70], y[:70], verbose=0, return_dict=True) == {"loss": loss}
    # batch losses are weighted by batch size: 32 + 32 + 6 equals one batch of 70
    assert m.evaluate(x[:70], y[:70], batch_size=70, verbose=0) == pytest.approx(loss, abs=1e-6)
    full = np.asarray(m(x[:70]))
    p = m.predict(x[:70], verbose=0)  # 32 + 32 + a partial batch of 6
    assert isinstance(p, np.ndarray) and p.shape == (70, 10) and p.dtype == np.float32
    np.testing.assert_allclose(p, full, atol=1e-6)
    np.testing.assert_allclose(m.predict(x[:70], batch_size=7, verbose=0), full, atol=1e-6)
    pb = m.predict_on_batch(x[:5])
    assert isinstance(pb, np.ndarray) and pb.shape == (5, 10)
    np.testing.assert_allclose(pb, full[:5], atol=1e-6)
    p[:] = 0  # the caller owns the returned array
    np.testing.assert_allclose(m.predict(x[:70], verbose=0), full, atol=1e-6)

    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    out = m.evaluate(x[:70], y[:70], verbose=0)
    assert isinstance(out, list) and len(out) == 2 and all(isinstance(v, float) for v in out)
    acc = float(np.mean(np.argmax(full, axis=1) == y[:70]))
    assert out[1] == pytest.approx(acc, abs=1e-7)
    # loss by hand: mean of -log p[label]
    assert out[0] == pytest.approx(float(np.mean(-np.log(full[np.arange(70), y[:70]]))), rel=1e-5)
    assert isinstance(m.train_on_batch(x[:10], y[:10]), list)
    d = m.train_on_batch(x[:10], y[:10], return_dict=True)
    assert list(d) == ["accuracy", "loss"]


# ---- 5. validation_split ------------------------------------------------------------------------

def test_validation_split_takes_last_samples_before_shuffling(fmnist):
    x, y = fmnist
    x, y = x[:500], y[:500]
    split = int(math.floor(500 * (1 - 0.2)))  # 400

    def run(**kw):
        xkeras.backend.clear_session()
        xkeras.utils.set_random_seed(7)
        m = mlp(xkeras)
        m.compile(optimizer=xkeras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
        return m, m.fit(verbose=0, epochs=2, shuffle=True, **kw)

    ma, ha = run(x=x, y=y, validation_split=0.2)
    mb, hb = run(x=x[:split], y=y[:split], validation_data=(x[split:], y[split:]))
    assert ha.params["steps"] == math.ceil(400 / 32)
    assert ha.history == hb.history
    for a, b in zip(ma.get_weights(), mb.get_weights()):
        np.testing.assert_array_equal(a, b)
    # and val_* are the final model's metrics on exactly those last samples
    loss, acc = ma.evaluate(x[split:], y[split:], verbose=0)
    assert ha.history["val_loss"][-1] == pytest.approx(loss, abs=1e-6)
    assert ha.history["val_accuracy"][-1] == pytest.approx(acc, abs=1e-7)
    loss_first, _ = ma.evaluate(x[:100], y[:100], verbose=0)
    assert ha.history["val_loss"][-1] != pytest.approx(loss_first, abs=1e-4)


def test_validation_split_float_rounding(K, fmnist):
    """N=100, split 0.9: floor(100 * 0.09999999999999998...) -> 9 training samples, 91 validation."""
    x, y = fmnist
    assert int(math.floor(100 * (1.0 - 0.9))) == 9
    km, xm = pair(K, mlp)
    compile_both(km, xm, K, "sparse_categorical_crossentropy")
    hk = km.fit(x[:100], y[:100], batch_size=1, validation_split=0.9, shuffle=False, verbose=0)
    hx = xm.fit(x[:100], y[:100], batch_size=1, validation_split=0.9, shuffle=False, verbose=0)
    assert hx.params["steps"] == hk.params["steps"] == 9
    assert_history_close(hk, hx, 91)
    assert_weights_close(km, xm)


# ---- 6. class_weight / sample_weight ------------------------------------------------------------

def _tiny_data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 2, 1])
    W = rng.normal(scale=0.5, size=(4, 3)).astype(np.float32)
    b = rng.normal(scale=0.1, size=(3,)).astype(np.float32)
    return x, y, W, b


def _numpy_sgd_step(x, y, W, b, w, lr):
    """One SGD step on mean-over-batch(w_i * CE_i) for softmax(xW + b): Keras' sum(loss*w)/N."""
    x, W, b = x.astype(np.float64), W.astype(np.float64), b.astype(np.float64)
    z = x @ W + b
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    n = len(x)
    loss = float(np.sum(-np.log(p[np.arange(n), y]) * w) / n)
    dz = p.copy()
    dz[np.arange(n), y] -= 1
    dz *= (w / n)[:, None]
    return W - lr * (x.T @ dz), b - lr * dz.sum(axis=0), loss


def _tiny(lib, W, b, lr=0.5):
    m = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, activation="softmax")])
    m.set_weights([W, b])
    m.compile(optimizer=lib.optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


@pytest.mark.parametrize("how", ["train_on_batch", "fit"])
def test_class_weight_one_step_matches_numpy_and_keras(K, how):
    x, y, W, b = _tiny_data()
    cw = {0: 1.0, 1: 3.0, 2: 0.25}
    w = np.array([cw[c] for c in y])
    W1, b1, loss = _numpy_sgd_step(x, y, W, b, w, 0.5)
    acc = float(np.mean(np.argmax(x @ W + b, axis=1) == y))  # metrics ignore class weights
    results = {}
    for lib in (xkeras, K):
        m = _tiny(lib, W, b)
        if how == "fit":
            h = m.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, class_weight=cw, verbose=0)
            out = [h.history["loss"][0], h.history["accuracy"][0]]
        else:
            out = m.train_on_batch(x, y, class_weight=cw)
        results[lib.__name__] = (out, m.get_weights())
        np.testing.assert_allclose(m.get_weights()[0], W1, rtol=1e-5, atol=1e-6, err_msg=lib.__name__)
        np.testing.assert_allclose(m.get_weights()[1], b1, rtol=1e-5, atol=1e-6, err_msg=lib.__name__)
        assert out[0] == pytest.approx(loss, rel=1e-5), lib.__name__
        assert out[1] == pytest.approx(acc, abs=1e-6), lib.__name__
    # the unweighted step is different: the weights did matter
    W_plain, _, _ = _numpy_sgd_step(x, y, W, b, np.ones(8), 0.5)
    assert not np.allclose(W_plain, W1, atol=1e-3)


def test_sample_weight_one_step_matches_numpy_and_keras(K):
    x, y, W, b = _tiny_data()
    sw = np.array([0.0, 1.0, 2.0, 0.5, 1.5, 0.0, 3.0, 1.0], np.float32)
    W1, b1, loss = _numpy_sgd_step(x, y, W, b, sw, 0.5)
    for lib in (xkeras, K):
        m = _tiny(lib, W, b)
        out = m.train_on_batch(x, y, sample_weight=sw)
        np.testing.assert_allclose(m.get_weights()[0], W1, rtol=1e-5, atol=1e-6, err_msg=lib.__name__)
        np.testing.assert_allclose(m.get_weights()[1], b1, rtol=1e-5, atol=1e-6, err_msg=lib.__name__)
        assert out[0] == pytest.approx(loss, rel=1e-5), lib.__name__
        m = _tiny(lib, W, b)
        m.fit(x, y, batch_size=8, shuffle=False, sample_weight=sw, verbose=0)
        np.testing.assert_allclose(m.get_weights()[0], W1, rtol=1e-5, atol=1e-6, err_msg=lib.__name__)
        ev = m.evaluate(x, y, sample_weight=sw, verbose=0)
        m2 = _tiny(lib, *m.get_weights())
        assert ev[0] == pytest.approx(m2.test_on_batch(x, y, sample_weight=sw)[0], rel=1e-6)


def test_class_weight_with_one_hot_labels_and_minibatches(K, fmnist):
    x, y = fmnist
    x, y = x[:640], y[:640]
    cw = {c: 0.5 + 0.25 * c for c in range(10)}
    km, xm = pair(K, mlp)
    compile_both(km, xm, K, "categorical_crossentropy")
    yk, yx = K.utils.to_categorical(y, 10), xkeras.utils.to_categorical(y, 10)
    hk = km.fit(x, yk, batch_size=64, shuffle=False, class_weight=cw, verbose=0)
    hx = xm.fit(x, yx, batch_size=64, shuffle=False, class_weight=cw, verbose=0)
    assert_history_close(hk, hx, 640)
    assert_weights_close(km, xm)
    with pytest.raises(ValueError):
        xm.fit(x, yx, class_weight=cw, sample_weight=np.ones(640), verbose=0)


# ---- 7. subclassing -----------------------------------------------------------------------------

class MCDropout(xkeras.layers.Dropout):
    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def test_mc_dropout_subclass_is_stochastic_and_trains(fmnist):
    x, y = fmnist
    xkeras.utils.set_random_seed(5)
    L = xkeras.layers
    m = xkeras.Sequential([L.Flatten(input_shape=[28, 28]), L.Dense(100, activation="relu"), MCDropout(0.3),
                           L.Dense(10, activation="softmax")])
    a, b = m.predict(x[:64], verbose=0), m.predict(x[:64], verbose=0)
    assert not np.allclose(a, b, atol=1e-4)  # a fresh mask per predict call
    assert not np.allclose(np.asarray(m(x[:64])), np.asarray(m(x[:64])), atol=1e-4)
    np.testing.assert_allclose(a.sum(axis=1), 1, atol=1e-5)
    # the forced mask zeroes ~30% of the hidden units and scales the rest by 1/0.7
    h = np.asarray(m.layers[2](np.ones((200, 100), np.float32)))
    assert np.all(np.isclose(h, 0) | np.isclose(h, 1 / 0.7, rtol=1e-6))
    assert 0.2 < np.mean(h == 0) < 0.4
    # a plain Dropout stays inactive at inference
    plain = L.Dropout(0.3)
    np.testing.assert_array_equal(np.asarray(plain(np.ones((4, 5), np.float32))), np.ones((4, 5)))
    m.compile(optimizer=xkeras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = m.fit(x[:1000], y[:1000], epochs=3, verbose=0).history
    assert hist["loss"][2] < hist["loss"][0] - 0.2
    mc = np.mean([m.predict(x[1000:1200], verbose=0) for _ in range(5)], axis=0)
    assert np.mean(np.argmax(mc, axis=1) == y[1000:1200]) > 0.5


class ScaledDense(xkeras.layers.Layer):
    """softmax(scale * (x @ w + b)) with a learned scalar scale, written with keras.ops."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, inputs):
        return xops.softmax(xops.multiply(self.scale, xops.add(xops.matmul(inputs, self.w), self.b)))


def test_custom_layer_trains_and_matches_hand_math():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    m = xkeras.Sequential([xkeras.Input((5,)), ScaledDense(3)])
    assert [tuple(w.shape) for w in m.weights] == [(5, 3), (3,), ()]
    assert [w.path for w in m.weights][-1].endswith("scale") and m.count_params() == 19
    W = rng.normal(scale=0.5, size=(5, 3)).astype(np.float32)
    b = np.array([0.1, -0.2, 0.05], np.float32)
    s = np.float32(1.3)
    m.set_weights([W, b, s])
    lr = 0.2
    m.compile(optimizer=xkeras.optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy")
    loss = m.fit(x, y, batch_size=16, shuffle=False, verbose=0).history["loss"][0]

    xd, Wd, bd, sd = x.astype(np.float64), W.astype(np.float64), b.astype(np.float64), float(s)
    u = xd @ Wd + bd
    z = sd * u
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dz = p.copy()
    dz[np.arange(16), y] -= 1
    dz /= 16
    W1, b1, s1 = Wd - lr * xd.T @ (sd * dz), bd - lr * (sd * dz).sum(0), sd - lr * np.sum(dz * u)
    assert loss == pytest.approx(float(np.mean(-np.log(p[np.arange(16), y]))), rel=1e-5)
    got = m.get_weights()
    np.testing.assert_allclose(got[0], W1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], b1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], s1, rtol=1e-5, atol=1e-6)
    assert got[2] != pytest.approx(1.3, abs=1e-4)  # the scale is trained too
    losses = m.fit(x, y, batch_size=4, epochs=20, verbose=0).history["loss"]
    assert losses[-1] < 0.8 * losses[0]


# ---- 8. namespaces and seeds --------------------------------------------------------------------

def test_namespaces(K):
    import xkeras as tf
    from xkeras.layers import Dense

    assert tf.keras.layers.Dense is Dense is xkeras.layers.Dense
    assert tf.keras.Sequential is xkeras.Sequential is xkeras.models.Sequential
    assert tf.keras.optimizers.SGD is xkeras.optimizers.SGD
    assert callable(tf.random.set_seed) and callable(xkeras.utils.set_random_seed)
    m = tf.keras.Sequential([tf.keras.Input((3,)), Dense(2)])
    assert isinstance(m, xkeras.Model) and isinstance(m.layers[0], xkeras.layers.Layer)
    y = np.array([0, 2, 1, 2])
    np.testing.assert_array_equal(xkeras.utils.to_categorical(y), K.utils.to_categorical(y))
    np.testing.assert_array_equal(tf.keras.utils.to_categorical(y, 4), K.utils.to_categorical(y, 4))


def _seeded_run(x, y, seed_fn):
    seed_fn(42)
    m = mlp(xkeras, dropout=0.2)
    w0 = m.get_weights()
    m.compile(optimizer=xkeras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    h = m.fit(x, y, epochs=1, shuffle=True, verbose=0)
    return w0, m.get_weights(), h.history["loss"]


def test_set_random_seed_reproduces_init_and_training(fmnist):
    x, y = fmnist
    x, y = x[:500], y[:500]
    w0a, w1a, la = _seeded_run(x, y, xkeras.utils.set_random_seed)
    w0b, w1b, lb = _seeded_run(x, y, xkeras.utils.set_random_seed)
    w0c, w1c, lc = _seeded_run(x, y, xkeras.random.set_seed)  # tf.random.set_seed
    for a, b, c in zip(w0a, w0b, w0c):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    for a, b, c in zip(w1a, w1b, w1c):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert la == lb == lc
    w0d, w1d, _ = _seeded_run(x, y, lambda s: xkeras.utils.set_random_seed(s + 1))
    assert not np.array_equal(w0a[0], w0d[0])


# ---- 9. errors ----------------------------------------------------------------------------------

def _small(compiled=True):
    m = xkeras.Sequential([xkeras.Input((4,)), xkeras.layers.Dense(3, activation="softmax", name="probs")])
    if compiled:
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_errors():
    x = np.random.default_rng(0).random((10, 4)).astype(np.float32)
    y = np.arange(10) % 3
    for call in (lambda m: m.fit(x, y, verbose=0), lambda m: m.evaluate(x, y, verbose=0),
                 lambda m: m.train_on_batch(x, y), lambda m: m.test_on_batch(x, y)):
        with pytest.raises(ValueError, match=re.escape("You must call `compile()` before using the model.")):
            call(_small(compiled=False))
    assert _small(compiled=False).predict(x, verbose=0).shape == (10, 3)  # predict needs no compile

    m = _small()
    with pytest.raises(ValueError) as err:
        m.fit(x, y[:9], verbose=0)
    assert str(err.value) == ("Data cardinality is ambiguous. Make sure all arrays contain the same number of "
                              "samples.'x' sizes: 10\n'y' sizes: 9\n")  # Keras' message, verbatim
    with pytest.raises(ValueError, match=r"Data cardinality is ambiguous"):
        m.evaluate(x[:8], y, verbose=0)
    for call in (lambda: m.fit(np.ones((10, 5)), y, verbose=0), lambda: m.predict(np.ones((10, 5)), verbose=0),
                 lambda: m.evaluate(np.ones((10, 5)), y, verbose=0)):
        with pytest.raises(ValueError, match=r"layer 'probs' is incompatible with the layer: expected axis -1 "
                                             r"of input shape to have value 4"):
            call()
    w_before = m.get_weights()
    bad = y.copy()
    bad[5] = 7
    with pytest.raises(ValueError, match=r"label value of 7 which is outside the valid range of \[0, 3\)"):
        m.fit(x, bad, shuffle=False, verbose=0)
    bad[5] = -1
    with pytest.raises(ValueError, match=r"label value of -1 which is outside the valid range of \[0, 3\)"):
        m.evaluate(x, bad, verbose=0)
    for a, b in zip(w_before, m.get_weights()):  # the bad batch was the first: nothing was applied
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"batch_size"):
        m.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match=r"batch_size"):
        m.predict(x, batch_size=-3, verbose=0)
    with pytest.raises(ValueError, match=r"validation_split"):
        m.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match=r"Training data contains 3 samples, which is not sufficient to split"):
        m.fit(x[:3], y[:3], validation_split=0.7, verbose=0)  # floor(3 * 0.3) = 0 training samples
    with pytest.raises((TypeError, ValueError), match=r"(?i)dtype|numeric"):
        m.fit(np.array([["a"] * 4] * 10), y, verbose=0)
    with pytest.raises((TypeError, ValueError), match=r"(?i)dtype|numeric"):
        m.predict(np.array([["a"] * 4] * 10), verbose=0)
    with pytest.raises(ValueError, match=r"metrics"):
        m.compile(optimizer="sgd", loss="mse", metrics="accuracy")
    with pytest.raises(ValueError, match=r"Arguments not recognized"):
        m.evaluate(x, y, verbose=0, workers=2)
    # the model is still usable after all of these
    assert np.isfinite(m.fit(x, y, verbose=0).history["loss"][0])


# ---- 10. Ctrl-C ---------------------------------------------------------------------------------

def _interrupt_after(seconds):
    fired = {}

    def fire():
        fired["t"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(seconds, fire)
    return timer, fired


class _BatchCounter(xkeras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


@pytest.mark.parametrize("mode", ["silent", "batch_callback", "progress_bar"])
def test_ctrl_c_stops_fit_quickly_and_model_stays_usable(fmnist, mode, capsys):
    """SIGINT while the native loop runs (GIL released): KeyboardInterrupt within 0.5 s, whether Python
    is called per batch (a callback), at the progress bar's interval, or not at all."""
    x, y = fmnist
    xkeras.utils.set_random_seed(3)
    m = mlp(xkeras)
    m.compile(optimizer=xkeras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(x[:64], y[:64], verbose=0)  # record the step before timing
    counter = _BatchCounter()
    callbacks = [counter] if mode == "batch_callback" else None
    verbose = 1 if mode == "progress_bar" else 0
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer, fired = _interrupt_after(0.5)
    start = time.perf_counter()
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            m.fit(x, y, epochs=300, batch_size=32, verbose=verbose, callbacks=callbacks)  # many seconds
        raised = time.perf_counter()
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)
    assert "t" in fired, "fit ended before the signal was sent"
    assert raised - fired["t"] < 0.5, f"KeyboardInterrupt came {raised - fired['t']:.3f}s after SIGINT"
    assert raised - start < 1.5
    if mode == "batch_callback":
        assert counter.batches > 0
    if mode == "progress_bar":
        assert "Epoch 1/300" in capsys.readouterr().out
    p = m.predict(x[:100], verbose=0)
    assert p.shape == (100, 10) and np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)
    h = m.fit(x[:500], y[:500], epochs=2, verbose=0)
    assert h.epoch == [0, 1] and all(np.isfinite(h.history["loss"]))
    assert m.evaluate(x[:500], y[:500], verbose=0)[1] > 0.5
