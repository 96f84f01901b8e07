"""The course's other layers: activation layers (incl. LeakyReLU(alpha=...) as a layer and as Dense
`activation=`), PReLU, AlphaDropout / GaussianNoise / GaussianDropout, LayerNormalization,
Normalization, Rescaling and Reshape. Forward against NumPy, gradients against analytic NumPy and
finite differences (op_check.py), configs and outputs against real Keras 3, and training in `fit`."""
import os
import warnings

import numpy as np
import pytest

import xkeras
from xkeras import _core, layers
from op_check import away, check_op, normal, numeric_grad, softmax

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="real Keras 3 is the reference for these comparisons")


def call(layer, training=False):
    return lambda x: layer(x, training=training)


# ---- activation layers ---------------------------------------------------------------------------
ACT_LAYERS = [  # (id, layer factory, NumPy forward, NumPy derivative, keras factory)
    ("relu", lambda L: L.ReLU(), lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    ("relu_max6", lambda L: L.ReLU(max_value=6.0), lambda x: np.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)) * 1.0),
    ("relu_all", lambda L: L.ReLU(max_value=4.0, negative_slope=0.1, threshold=1.0),
     lambda x: np.minimum(np.where(x > 1, x, 0), 4) - 0.1 * np.maximum(1 - x, 0),
     lambda x: ((x > 1) & (x < 4)) * 1.0 + (x < 1) * 0.1),
    ("leaky_default", lambda L: L.LeakyReLU(), lambda x: np.where(x > 0, x, 0.3 * x),
     lambda x: np.where(x > 0, 1, 0.3)),
    ("leaky_0.2", lambda L: L.LeakyReLU(negative_slope=0.2), lambda x: np.where(x > 0, x, 0.2 * x),
     lambda x: np.where(x > 0, 1, 0.2)),
    ("elu", lambda L: L.ELU(alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)),
     lambda x: np.where(x > 0, 1, 0.5 * np.exp(x))),
    ("activation_selu", lambda L: L.Activation("selu"), lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x)),
     lambda x: SELU_S * np.where(x > 0, 1, SELU_A * np.exp(x))),
]


@pytest.mark.parametrize("name,make,ref,deriv", ACT_LAYERS, ids=[c[0] for c in ACT_LAYERS])
def test_activation_layer(name, make, ref, deriv):
    layer = make(layers)
    check_op(call(layer), ref, [away(3, 7, lo=-5, hi=8, kinks=(0, 1, 4, 6))], lambda x, g: [g * deriv(x)])
    assert layer.weights == [] and layer.built and layer.compute_output_shape((None, 7)) == (None, 7)


@pytest.mark.parametrize("name,make,ref,deriv", ACT_LAYERS, ids=[c[0] for c in ACT_LAYERS])
def test_activation_layer_matches_keras(keras, name, make, ref, deriv):
    ours, theirs = make(layers), make(keras.layers)
    x = np.linspace(-6, 8, 56, dtype=np.float32).reshape(4, 14)
    np.testing.assert_allclose(ours(x), theirs(x), rtol=2e-6, atol=2e-6)
    assert ours.get_config() | {"name": "x"} == theirs.get_config() | {"name": "x"}


def test_softmax_layer(keras):
    layer = layers.Softmax(axis=1)
    check_op(call(layer), lambda x: softmax(x, axis=1), [normal(2, 4, 3)],
             lambda x, g: [softmax(x, 1) * (g - np.sum(g * softmax(x, 1), 1, keepdims=True))])
    x = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], bool)
    np.testing.assert_allclose(layers.Softmax()(x, mask=mask), keras.layers.Softmax()(x, mask=mask), rtol=1e-6,
                               atol=1e-7)
    assert layers.Softmax(axis=1, name="s").get_config() == keras.layers.Softmax(axis=1, name="s").get_config()


def test_leaky_relu_alpha_keyword(keras):
    """ch11 #9: LeakyReLU(alpha=0.2), the Keras 2 spelling: accepted with Keras 3's warning."""
    with pytest.warns(UserWarning, match=r"Argument `alpha` is deprecated. Use `negative_slope` instead."):
        layer = layers.LeakyReLU(alpha=0.2)
    assert layer.negative_slope == 0.2 and layer.name.startswith("leaky_re_lu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert layer.get_config()["negative_slope"] == keras.layers.LeakyReLU(alpha=0.2).get_config()["negative_slope"]
    for bad in (-0.1, None):
        with pytest.raises(ValueError, match="negative_slope"):
            layers.LeakyReLU(negative_slope=bad)


def test_leaky_relu_as_layer_and_as_dense_activation_in_fit():
    xkeras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 8)).astype(np.float32)
    y = (x[:, :1] * 2 - x[:, 1:2] > 0).astype(np.float32)
    with pytest.warns(UserWarning):
        model = xkeras.Sequential([
            xkeras.Input((8,)),
            layers.Dense(50, activation=layers.LeakyReLU(alpha=0.2), kernel_initializer="he_normal"),
            layers.Dense(50, kernel_initializer="he_normal"),
            layers.LeakyReLU(alpha=0.2),
            layers.Dense(1, activation="sigmoid")])
    dense = model.layers[0]
    pre = np.asarray(_core.dense(x, dense.kernel, dense.bias))
    np.testing.assert_allclose(dense(x), np.where(pre > 0, pre, 0.2 * pre), rtol=1e-5, atol=1e-6)
    cfg = dense.get_config()["activation"]
    assert cfg["class_name"] == "LeakyReLU" and cfg["config"]["negative_slope"] == 0.2
    model.compile(optimizer=xkeras.optimizers.SGD(learning_rate=0.1), loss="binary_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=5, verbose=0).history
    assert hist["loss"][-1] < 0.6 * hist["loss"][0] and hist["accuracy"][-1] > 0.9


def test_prelu_forward_backward_and_learning(keras):
    layer = layers.PReLU(alpha_initializer=xkeras.initializers.Constant(0.25), shared_axes=[1])
    x = away(4, 3, 5, lo=-3, hi=3)(np.random.default_rng(0)).astype(np.float32)
    layer(x)  # build
    assert layer.alpha.shape == (1, 5) and layer.alpha.trainable
    alpha = np.linspace(0.1, 0.5, 5, dtype=np.float32).reshape(1, 5)
    layer.set_weights([alpha])
    ref = lambda v, a: np.where(v > 0, v, a * v)  # noqa: E731
    check_op(call(layer), lambda v: ref(v, alpha), [lambda r: x], lambda v, g: [g * np.where(v > 0, 1, alpha)])
    w = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    with xkeras.GradientTape() as tape:
        loss = xkeras.ops.sum(xkeras.ops.multiply(layer(x), w))
    (ga,) = tape.gradient(loss, [layer.alpha])
    want = (w * np.minimum(x, 0)).sum((0, 1), keepdims=True)[0]
    np.testing.assert_allclose(ga, want, rtol=1e-5, atol=1e-5)
    fd = numeric_grad(lambda a: np.sum(ref(x.astype(np.float64), a) * w), [alpha.astype(np.float64)], 0)
    np.testing.assert_allclose(ga, fd, rtol=1e-5, atol=1e-5)
    theirs = keras.layers.PReLU(shared_axes=[1])
    theirs(x)
    theirs.set_weights([alpha])
    np.testing.assert_allclose(layer(x), theirs(x), rtol=1e-6, atol=1e-7)
    assert layers.PReLU(name="p").get_config() == keras.layers.PReLU(name="p").get_config()
    # learned in fit: a target that needs a negative slope of 0.5
    xkeras.utils.set_random_seed(0)
    model = xkeras.Sequential([xkeras.Input((4,)), layers.PReLU()])
    xs = np.random.default_rng(2).standard_normal((512, 4)).astype(np.float32)
    model.compile(optimizer=xkeras.optimizers.SGD(learning_rate=0.5), loss="mse")
    model.fit(xs, np.where(xs > 0, xs, 0.5 * xs), epochs=20, verbose=0)
    np.testing.assert_allclose(model.layers[0].alpha.numpy(), 0.5, atol=0.02)


# ---- noise layers --------------------------------------------------------------------------------
def alpha_constants(rate):
    ap = -SELU_A * SELU_S
    a = ((1 - rate) * (1 + rate * ap**2)) ** -0.5
    return a, -a * ap * rate, ap


def test_alpha_dropout_formula_gradient_and_statistics():
    rate = 0.2
    a, b, ap = alpha_constants(rate)
    x = np.random.default_rng(0).standard_normal((400, 250)).astype(np.float32)
    layer = layers.AlphaDropout(rate)
    t = xkeras.convert_to_tensor(x)
    with xkeras.GradientTape() as tape:
        tape.watch(t)
        y = layer(t, training=True)
        loss = xkeras.ops.sum(y)
    out = np.asarray(y)
    dropped = np.isclose(out, a * ap + b, atol=1e-6)
    kept_vals = out[~dropped]
    np.testing.assert_allclose(kept_vals, a * x[~dropped] + b, rtol=1e-5, atol=1e-5)
    assert dropped.mean() == pytest.approx(rate, abs=0.005)
    assert abs(out.mean()) < 0.01 and out.std() == pytest.approx(1.0, abs=0.01)  # SELU's fixed point kept
    np.testing.assert_allclose(tape.gradient(loss, t), np.where(dropped, 0.0, a), rtol=1e-6)
    np.testing.assert_array_equal(layer(x), x)  # inference: identity
    a5, b5, _ = alpha_constants(0.5)
    ns = layers.AlphaDropout(0.5, noise_shape=(None, 1))(x[:50], training=True)
    rows_dropped = np.isclose(np.asarray(ns), a5 * ap + b5, atol=1e-6)
    assert rows_dropped.any() and not rows_dropped.all()
    assert np.all(rows_dropped.all(1) | ~rows_dropped.any(1))  # whole rows share a mask


def test_gaussian_noise_and_dropout_statistics_and_gradients():
    x = np.random.default_rng(0).uniform(0.5, 2.0, (300, 300)).astype(np.float32)
    t = xkeras.convert_to_tensor(x)
    with xkeras.GradientTape(persistent=True) as tape:
        tape.watch(t)
        n = layers.GaussianNoise(0.3)(t, training=True)
        d = layers.GaussianDropout(0.2)(t, training=True)
        ln, ld = xkeras.ops.sum(n), xkeras.ops.sum(d)
    noise, ratio = np.asarray(n) - x, np.asarray(d) / x
    assert abs(noise.mean()) < 0.003 and noise.std() == pytest.approx(0.3, rel=0.01)
    assert ratio.mean() == pytest.approx(1.0, abs=0.003) and ratio.std() == pytest.approx(0.5, rel=0.01)
    np.testing.assert_array_equal(tape.gradient(ln, t), np.ones_like(x))
    np.testing.assert_allclose(tape.gradient(ld, t), ratio, rtol=1e-4)
    np.testing.assert_array_equal(layers.GaussianNoise(0.3)(x), x)
    np.testing.assert_array_equal(layers.GaussianDropout(0.2)(x), x)
    with pytest.raises(ValueError, match="stddev"):
        layers.GaussianNoise(1.5)
    for cls in (layers.AlphaDropout, layers.GaussianDropout, layers.Dropout):
        with pytest.raises(ValueError, match="rate"):
            cls(1.5)


@pytest.mark.parametrize("make", [lambda: layers.AlphaDropout(0.3), lambda: layers.GaussianNoise(0.5),
                                  lambda: layers.GaussianDropout(0.3), lambda: layers.Dropout(0.3)])
def test_noise_is_redrawn_on_every_replay(make):
    """Inside fit the recorded step is replayed; each replay must draw new noise natively."""
    layer = make()
    rec = _core.TraceRecorder()
    with rec:
        y = layer(np.ones((4, 50), np.float32), training=True)
    trace = rec.finish()
    first = np.asarray(y).copy()
    trace.forward()
    assert not np.array_equal(np.asarray(y), first)


def test_seeded_noise_layers_are_reproducible():
    for make in (lambda: layers.AlphaDropout(0.3, seed=7), lambda: layers.GaussianNoise(0.5, seed=7),
                 lambda: layers.GaussianDropout(0.3, seed=7), lambda: layers.Dropout(0.3, seed=7)):
        a, b = make(), make()
        x = np.ones((3, 40), np.float32)
        first = np.asarray(a(x, training=True))
        np.testing.assert_array_equal(first, b(x, training=True))
        assert not np.array_equal(first, a(x, training=True))  # a new draw on the next call


@pytest.mark.parametrize("cls,kwargs", [("AlphaDropout", dict(rate=0.1)), ("GaussianNoise", dict(stddev=0.1)),
                                        ("GaussianDropout", dict(rate=0.1)), ("Rescaling", dict(scale=0.5, offset=1.0)),
                                        ("Reshape", dict(target_shape=(2, 3))), ("ELU", {}), ("ReLU", {}),
                                        ("LayerNormalization", {}), ("Normalization", {}), ("Activation",
                                                                                            dict(activation="relu"))])
def test_config_matches_keras(keras, cls, kwargs):
    ours, theirs = getattr(layers, cls)(name="x", **kwargs), getattr(keras.layers, cls)(name="x", **kwargs)
    assert ours.get_config() == theirs.get_config()


def test_alpha_dropout_subclass_mc(keras):
    """ch11 #129: MCAlphaDropout overrides call(inputs) and forces training=True."""
    class MCAlphaDropout(layers.AlphaDropout):
        def call(self, inputs):
            return super().call(inputs, training=True)

    layer = MCAlphaDropout(rate=0.5)
    assert layer.name == "mc_alpha_dropout" and isinstance(layer, layers.AlphaDropout) and layer.rate == 0.5
    x = np.ones((10, 100), np.float32)
    assert not np.array_equal(np.asarray(layer(x)), x)


# ---- normalization and data layers ---------------------------------------------------------------
def ln_ref(x, gamma, beta, axes, eps=1e-3):
    m, v = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * gamma + beta


@pytest.mark.parametrize("shape,axis", [((5, 8), -1), ((3, 4, 6), -1), ((3, 4, 6), [1, 2]), ((3, 4, 6), 1),
                                        ((2, 3, 4, 5), [1, 3])], ids=str)
def test_layer_normalization(keras, shape, axis):
    layer = layers.LayerNormalization(axis=axis)
    layer.build((None,) + shape[1:])
    axes = tuple(sorted(a % len(shape) for a in (axis if isinstance(axis, list) else [axis])))
    pshape = [shape[d] if d in axes else 1 for d in range(len(shape))]
    rng = np.random.default_rng(0)
    gamma = rng.uniform(0.5, 1.5, layer.gamma.shape).astype(np.float32)
    beta = rng.normal(0, 0.5, layer.beta.shape).astype(np.float32)
    layer.set_weights([gamma, beta])
    g4, b4 = gamma.reshape(pshape), beta.reshape(pshape)
    def dx(x, w):  # with h = w * gamma over each normalized group: inv * (h - mean(h) - xhat * mean(h * xhat))
        inv = 1 / np.sqrt(x.var(axes, keepdims=True) + 1e-3)
        xhat, h = (x - x.mean(axes, keepdims=True)) * inv, w * g4
        return [inv * (h - h.mean(axes, keepdims=True) - xhat * (h * xhat).mean(axes, keepdims=True))]

    check_op(call(layer), lambda x: ln_ref(x, g4, b4, axes), [normal(*shape, scale=2.0)], dx, rtol=2e-5, atol=2e-5,
             grad_rtol=1e-4, grad_atol=1e-4)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(shape).astype(np.float32)
    with xkeras.GradientTape() as tape:
        loss = xkeras.ops.sum(xkeras.ops.multiply(layer(x), w))
    dg, db = tape.gradient(loss, [layer.gamma, layer.beta])
    red = tuple(d for d in range(len(shape)) if d not in axes)
    xhat = ln_ref(x.astype(np.float64), 1.0, 0.0, axes)
    np.testing.assert_allclose(dg, (w * xhat).sum(red).reshape(gamma.shape), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(db, w.sum(red).reshape(beta.shape), rtol=1e-5, atol=1e-5)
    theirs = keras.layers.LayerNormalization(axis=axis)
    theirs.build((None,) + shape[1:])
    theirs.set_weights([gamma, beta])
    np.testing.assert_allclose(layer(x), theirs(x), rtol=1e-5, atol=1e-5)
    assert layer.get_config()["axis"] == theirs.get_config()["axis"]


def test_normalization_adapt_matches_keras(keras):
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((200, 3, 4)) * [1, 2, 3, 4] + [0, 1, 2, 3]).astype(np.float32)
    for axis in (-1, (1, 2), None):
        ours, theirs = layers.Normalization(axis=axis), keras.layers.Normalization(axis=axis)
        ours.adapt(data)
        theirs.adapt(data)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert ours.count_params() == theirs.count_params()
        np.testing.assert_allclose(ours(data[:5]), theirs(data[:5]), rtol=1e-5, atol=1e-5)
    batches = [data[:50], data[50:120], data[120:]]  # an iterable: weighted merge of batch moments
    ours, theirs = layers.Normalization(), keras.layers.Normalization()
    ours.adapt(batches)
    theirs.adapt(batches)
    for a, b in zip(ours.get_weights()[:2], theirs.get_weights()[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    given = layers.Normalization(mean=[1.0, -2.0, 0.5], variance=[4.0, 0.25, 1.0])
    std = np.sqrt([4.0, 0.25, 1.0])
    check_op(call(given), lambda x: (x - [1.0, -2.0, 0.5]) / std, [normal(5, 3)], lambda x, g: [g / std])
    inv = layers.Normalization(mean=2.0, variance=4.0, invert=True)
    np.testing.assert_allclose(inv(np.array([[0.0, 1.0]], np.float32)), [[2.0, 4.0]])
    given = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 0.0])
    np.testing.assert_allclose(given(np.array([[3.0, 2.0]], np.float32)), [[1.0, 0.0]])  # max(std, 1e-7)
    assert given.weights == []


def test_normalization_in_fit_follows_a_later_adapt():
    """The recorded step reads the layer's Variables, so adapt() after a first fit takes effect."""
    data = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32) * 3 + 5
    norm = layers.Normalization()
    model = xkeras.Sequential([xkeras.Input((2,)), norm])
    model.compile(optimizer="sgd", loss="mse")
    np.testing.assert_allclose(model.predict(data, verbose=0), data)  # mean 0, variance 1 before adapt
    norm.adapt(data)
    out = model.predict(data, verbose=0)
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(0), 1, rtol=1e-4)


def test_rescaling_and_reshape(keras):
    check_op(call(layers.Rescaling(1 / 255.0, offset=-1.0)), lambda x: x / 255.0 - 1.0, [normal(3, 4)],
             lambda x, g: [g / 255.0])
    check_op(call(layers.Reshape((3, -1))), lambda x: x.reshape(2, 3, 4), [normal(2, 12)],
             lambda x, g: [g.reshape(2, 12)])
    assert layers.Reshape((-1, 2)).compute_output_shape((None, 3, 4)) == (None, 6, 2)
    assert keras.layers.Reshape((-1, 2)).compute_output_shape((None, 3, 4)) == (None, 6, 2)
    with pytest.raises(ValueError, match="total size"):
        layers.Reshape((5, 5))(np.zeros((2, 12)))
    with pytest.raises(ValueError, match="at most one unknown"):
        layers.Reshape((-1, -1))


def test_every_layer_trains_in_the_native_fit_loop():
    """A model using each new layer fits (the loss drops) and predicts deterministically."""
    xkeras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (512, 4, 4)).astype(np.float32)
    y = (x.reshape(512, -1)[:, :8].mean(1) > 127).astype(np.float32)
    norm = layers.Normalization(axis=None)
    norm.adapt(x / 255.0)
    model = xkeras.Sequential([
        xkeras.Input((4, 4)), layers.Rescaling(1 / 255.0), norm, layers.Reshape((16,)),
        layers.GaussianNoise(0.05), layers.Dense(32, activation="selu", kernel_initializer="lecun_normal"),
        layers.AlphaDropout(0.05), layers.Dense(32), layers.BatchNormalization(), layers.PReLU(),
        layers.GaussianDropout(0.05), layers.Dense(32), layers.LayerNormalization(), layers.ELU(),
        layers.Dense(16), layers.ReLU(max_value=6.0), layers.Dense(2), layers.Softmax()])
    model.compile(optimizer=xkeras.optimizers.SGD(learning_rate=0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x, y, epochs=8, batch_size=32, verbose=0).history
    assert hist["loss"][-1] < 0.5 * hist["loss"][0], hist["loss"]
    assert hist["accuracy"][-1] > 0.85
    p1, p2 = model.predict(x[:20], verbose=0), model.predict(x[:20], verbose=0)
    np.testing.assert_array_equal(p1, p2)  # inference: no noise
