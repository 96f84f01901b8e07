"""BatchNormalization (keras-spec §3.6): the fused native op against NumPy (forward, dx/dgamma/dbeta
analytic and finite differences) in both modes, moving statistics updated once per step inside the
native fit loop, `trainable=False` = inference mode, and real Keras 3 given the same weights
(training output, moving statistics after N fit steps, inference output, the lecture model's summary)."""
import io
import os
from contextlib import redirect_stdout

import numpy as np
import pytest

import xkeras
from xkeras import _core
from op_check import check_op, normal, positive

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
EPS = 1e-3


def stats_shape(shape, axis):
    s = [1] * len(shape)
    s[axis] = shape[axis]
    return s


def bn_train_ref(x, gamma, beta, axis):
    """Batch statistics over every axis but `axis`, biased variance."""
    red = tuple(d for d in range(x.ndim) if d != axis % x.ndim)
    mean, var = x.mean(red, keepdims=True), x.var(red, keepdims=True)
    s = stats_shape(x.shape, axis)
    return (x - mean) / np.sqrt(var + EPS) * gamma.reshape(s) + beta.reshape(s)


def bn_train_grads(x, gamma, beta, g, axis):
    red = tuple(d for d in range(x.ndim) if d != axis % x.ndim)
    s = stats_shape(x.shape, axis)
    n = x.size / x.shape[axis]
    mean, var = x.mean(red, keepdims=True), x.var(red, keepdims=True)
    inv = 1 / np.sqrt(var + EPS)
    xhat = (x - mean) * inv
    sg, sgx = g.sum(red, keepdims=True), (g * xhat).sum(red, keepdims=True)
    dx = gamma.reshape(s) * inv / n * (n * g - sg - xhat * sgx)
    return [dx, sgx.reshape(-1), sg.reshape(-1)]


def bn_infer_ref(x, gamma, beta, mm, mv, axis):
    s = stats_shape(x.shape, axis)
    return (x - mm.reshape(s)) / np.sqrt(mv.reshape(s) + EPS) * gamma.reshape(s) + beta.reshape(s)


def moving(c):
    return _core.variable(np.zeros(c, np.float32), False, "moving_mean"), \
        _core.variable(np.ones(c, np.float32), False, "moving_variance")


CASES = [((16, 5), -1), ((6, 4, 3), -1), ((4, 3, 5), 1), ((2, 3, 4, 5), -1), ((3, 4, 2, 2), 1)]


@pytest.mark.parametrize("shape,axis", CASES, ids=str)
def test_training_forward_backward(shape, axis):
    c = shape[axis]
    mm, mv = moving(c)
    op = lambda x, g, b: _core.batch_normalization(x, g, b, mm, mv, axis, 0.99, EPS, True)  # noqa: E731
    check_op(op, lambda x, g, b: bn_train_ref(x, g, b, axis),
             [normal(*shape, scale=2.0), positive(c), normal(c)],
             lambda x, g, b, w: bn_train_grads(x, g, b, w, axis), rtol=2e-5, atol=2e-5, grad_rtol=1e-4, grad_atol=1e-4)


@pytest.mark.parametrize("shape,axis", CASES, ids=str)
def test_inference_forward_backward(shape, axis):
    c = shape[axis]
    s = stats_shape(shape, axis)

    def grads(x, g, b, mmv, mvv, w):
        red = tuple(d for d in range(x.ndim) if d != axis % x.ndim)
        inv = 1 / np.sqrt(mvv.reshape(s) + EPS)
        return [w * g.reshape(s) * inv, (w * (x - mmv.reshape(s)) * inv).sum(red), w.sum(red)]

    op = lambda x, g, b, m, v: _core.batch_normalization(x, g, b, m, v, axis, 0.99, EPS, False)  # noqa: E731
    check_op(op, lambda x, g, b, m, v: bn_infer_ref(x, g, b, m, v, axis),
             [normal(*shape), positive(c), normal(c), normal(c), positive(c)], grads, wrt=[0, 1, 2])


def test_center_scale_false_and_moving_update_once_per_call():
    x = np.random.default_rng(1).standard_normal((32, 4)).astype(np.float32) * 3 + 1
    mm, mv = moving(4)
    y = _core.batch_normalization(x, None, None, mm, mv, -1, 0.9, EPS, True)
    np.testing.assert_allclose(y, bn_train_ref(x.astype(np.float64), np.ones(4), np.zeros(4), -1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mm.numpy(), 0.1 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(mv.numpy(), 0.9 + 0.1 * x.var(0), rtol=1e-5)  # biased variance
    _core.batch_normalization(x, None, None, mm, mv, -1, 0.9, EPS, False)  # inference leaves them alone
    np.testing.assert_allclose(mm.numpy(), 0.1 * x.mean(0), rtol=1e-5)


def test_op_errors():
    mm, mv = moving(3)
    with pytest.raises(ValueError, match=r"\[batch_normalization\].*moving statistics must have 4"):
        _core.batch_normalization(np.zeros((2, 4)), None, None, mm, mv)
    with pytest.raises(ValueError, match=r"\[batch_normalization\] Invalid axis"):
        _core.batch_normalization(np.zeros((2, 3)), None, None, mm, mv, 2)
    with pytest.raises(ValueError, match=r"`gamma` must have 3"):
        _core.batch_normalization(np.zeros((2, 3)), np.ones(2), None, mm, mv)


# ---- the layer ----------------------------------------------------------------------------------
def test_layer_weights_and_modes():
    layer = xkeras.layers.BatchNormalization()
    x = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32) * 2 + 3
    layer(x)  # builds; inference mode: moving stats untouched
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.path for w in layer.weights][0] == "batch_normalization/gamma"
    assert [w.trainable for w in layer.weights] == [True, True, False, False]
    assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 2
    assert layer.count_params() == 24
    np.testing.assert_allclose(layer(x), x / np.sqrt(1 + EPS), rtol=1e-6)
    y = layer(x, training=True)
    np.testing.assert_allclose(y, bn_train_ref(x.astype(np.float64), np.ones(6), np.zeros(6), -1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.01 * x.mean(0), rtol=1e-5)
    layer.trainable = False  # frozen BN runs in inference mode even with training=True (Keras 3)
    before = layer.moving_mean.numpy()
    y = layer(x, training=True)
    np.testing.assert_allclose(y, bn_infer_ref(x, np.ones(6), np.zeros(6), before, layer.moving_variance.numpy(), -1),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), before)
    assert len(layer.trainable_weights) == 0 and len(layer.non_trainable_weights) == 4
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 6"):
        layer(np.zeros((2, 5)))


def test_fit_updates_moving_statistics_once_per_step():
    """Every batch has the same per-feature mean and variance, so after N steps the moving mean is
    mean * (1 - 0.99**N) exactly when the op updates once per replayed step (and the recording pass's
    update is undone)."""
    rows = np.array([[1.0, -2.0, 0.5], [3.0, 2.0, 1.5]], np.float32)  # mean (2, 0, 1), variance (1, 4, 0.25)
    x = np.tile(rows, (40, 1))  # batches of 8 rows hold 4 copies of each row
    y = np.zeros((80, 1), np.float32)
    model = xkeras.Sequential([xkeras.Input((3,)), xkeras.layers.BatchNormalization(), xkeras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)  # 30 steps
    bn = model.layers[0]
    k = 1 - 0.99**30
    np.testing.assert_allclose(bn.moving_mean.numpy(), np.array([2.0, 0.0, 1.0]) * k, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.99**30 + np.array([1.0, 4.0, 0.25]) * k, rtol=1e-5)
    before = bn.moving_mean.numpy()
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)  # inference never moves them
    bn.trainable = False
    model.compile(optimizer="sgd", loss="mse")  # as Keras, the change takes effect on recompiling
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)


# ---- against real Keras --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="real Keras 3 is the reference for these comparisons")


def twin_models(keras, momentum=0.99):
    def build(lib):
        return lib.Sequential([lib.Input((6,)), lib.layers.Dense(8, activation="relu"),
                               lib.layers.BatchNormalization(momentum=momentum),
                               lib.layers.Dense(3, activation="softmax")])
    theirs, ours = build(keras), build(xkeras)
    rng = np.random.default_rng(5)
    weights = [w.astype(np.float32) for w in theirs.get_weights()]
    weights[2] = rng.uniform(0.5, 1.5, 8).astype(np.float32)  # gamma
    weights[3] = rng.normal(0, 0.3, 8).astype(np.float32)  # beta
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours


def test_matches_keras_in_training_and_inference(keras):
    theirs, ours = twin_models(keras)
    x = np.random.default_rng(0).standard_normal((20, 6)).astype(np.float32)
    np.testing.assert_allclose(ours(x, training=True), theirs(x, training=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.layers[1].moving_mean.numpy(), theirs.layers[1].moving_mean.numpy(), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(ours.layers[1].moving_variance.numpy(), theirs.layers[1].moving_variance.numpy(),
                               rtol=1e-5)
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-6)


def test_fit_matches_keras(keras):
    """N SGD steps from the same weights: same moving statistics, weights and inference outputs."""
    theirs, ours = twin_models(keras, momentum=0.9)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((96, 6)).astype(np.float32) * 2 + 1
    y = rng.integers(0, 3, 96).astype(np.float32)
    for m, lib in ((theirs, keras), (ours, xkeras)):
        m.compile(optimizer=lib.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    h1 = theirs.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)  # 18 steps
    h2 = ours.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h2.history["loss"], h1.history["loss"], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    assert not np.allclose(ours.layers[1].moving_mean.numpy(), 0.0)  # the statistics did move
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-4)


def lecture_bn_model(lib):
    """ch11 cell #26 (the notebook passes input_shape to Flatten; Keras 3 warns and accepts it)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lib.Sequential([
            lib.layers.Flatten(input_shape=[28, 28]),
            lib.layers.BatchNormalization(),
            lib.layers.Dense(300, activation="relu", kernel_initializer="he_normal"),
            lib.layers.BatchNormalization(),
            lib.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
            lib.layers.BatchNormalization(),
            lib.layers.Dense(10, activation="softmax")])


def count(ws):
    return int(sum(np.prod(w.shape) for w in ws))


def test_lecture_model_summary_counts(keras):
    theirs, ours = lecture_bn_model(keras), lecture_bn_model(xkeras)
    want = (theirs.count_params(), count(theirs.trainable_weights), count(theirs.non_trainable_weights))
    assert want == (271_346, 268_978, 2_368)
    assert (ours.count_params(), count(ours.trainable_weights), count(ours.non_trainable_weights)) == want
    assert [l.count_params() for l in ours.layers] == [l.count_params() for l in theirs.layers]
    out = io.StringIO()
    with redirect_stdout(out):
        ours.summary()
    text = out.getvalue()
    for line in ("Total params: 271,346", "Trainable params: 268,978", "Non-trainable params: 2,368"):
        assert line in text
    assert [(v.name, v.trainable) for v in ours.layers[1].variables] == \
        [(v.name, v.trainable) for v in theirs.layers[1].variables]  # ch11 #28
    assert ours.layers[1].get_config() | {"name": "bn"} == theirs.layers[1].get_config() | {"name": "bn"}
