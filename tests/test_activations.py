"""keras.activations by name: forward against the NumPy formula, gradient against the analytic NumPy
derivative and finite differences (op_check.py), forward against real Keras 3; lookup rules; and the
lesson's two measured facts: a 100-layer SELU + lecun_normal net self-normalizes, a sigmoid +
N(0, 1) net's gradients vanish toward the input."""
import math
import os

import numpy as np
import pytest

import xkeras
from xkeras import activations, ops
from op_check import away, check_op, log_softmax, normal, sigmoid, softmax, uniform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
erf = np.vectorize(math.erf)


def softplus(x):
    return np.logaddexp(x, 0.0)


def elu(x, a=1.0):
    return np.where(x > 0, x, a * np.expm1(x))


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def gelu_tanh_grad(x):
    c = math.sqrt(2 / math.pi)
    t = np.tanh(c * (x + 0.044715 * x**3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)


def softmax_grad(x, g):
    y = softmax(x)
    return y * (g - np.sum(g * y, -1, keepdims=True))


# name: (NumPy forward, NumPy derivative dy/dx (elementwise) or full gradient fn, input spec)
X = (4, 6)
ACTIVATIONS = {
    "linear": (lambda x: x, lambda x: np.ones_like(x), normal(*X)),
    "sigmoid": (sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x)), uniform(*X, lo=-6, hi=6)),
    "hard_sigmoid": (lambda x: np.clip(x / 6 + 0.5, 0, 1), lambda x: ((x > -3) & (x < 3)) / 6.0,
                     away(*X, lo=-5, hi=5, kinks=(-3, 3))),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2, uniform(*X, lo=-3, hi=3)),
    "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0, away(*X)),
    "relu6": (lambda x: np.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)) * 1.0, away(*X, lo=-3, hi=9, kinks=(0, 6))),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.2 * x), lambda x: np.where(x > 0, 1.0, 0.2), away(*X)),
    "elu": (elu, lambda x: np.where(x > 0, 1.0, np.exp(x)), away(*X)),
    "selu": (lambda x: SELU_S * elu(x, SELU_A), lambda x: SELU_S * np.where(x > 0, 1.0, SELU_A * np.exp(x)), away(*X)),
    "gelu": (lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2))),
             lambda x: 0.5 * (1 + erf(x / math.sqrt(2))) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi),
             uniform(*X, lo=-4, hi=4)),
    "swish": (lambda x: x * sigmoid(x), lambda x: sigmoid(x) * (1 + x * (1 - sigmoid(x))), uniform(*X, lo=-5, hi=5)),
    "silu": (lambda x: x * sigmoid(x), lambda x: sigmoid(x) * (1 + x * (1 - sigmoid(x))), uniform(*X, lo=-5, hi=5)),
    "mish": (lambda x: x * np.tanh(softplus(x)),
             lambda x: np.tanh(softplus(x)) + x * (1 - np.tanh(softplus(x)) ** 2) * sigmoid(x),
             uniform(*X, lo=-5, hi=5)),
    "softplus": (softplus, sigmoid, uniform(*X, lo=-8, hi=8)),
    "softsign": (lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2, away(*X)),
    "exponential": (np.exp, np.exp, uniform(*X, lo=-3, hi=3)),
    "hard_silu": (lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
                  lambda x: np.clip(x / 6 + 0.5, 0, 1) + x * ((x > -3) & (x < 3)) / 6.0,
                  away(*X, lo=-5, hi=5, kinks=(-3, 3))),
    "log_sigmoid": (lambda x: -softplus(-x), lambda x: sigmoid(-x), uniform(*X, lo=-8, hi=8)),
    "celu": (elu, lambda x: np.where(x > 0, 1.0, np.exp(x)), away(*X)),
    "hard_tanh": (lambda x: np.clip(x, -1, 1), lambda x: (np.abs(x) < 1) * 1.0, away(*X, kinks=(-1, 1))),
    "tanh_shrink": (lambda x: x - np.tanh(x), lambda x: np.tanh(x) ** 2, uniform(*X, lo=-3, hi=3)),
    "squareplus": (lambda x: (x + np.sqrt(x * x + 4)) / 2, lambda x: (1 + x / np.sqrt(x * x + 4)) / 2, normal(*X)),
}
GRADIENTS = {  # activations whose gradient is not elementwise
    "softmax": (softmax, softmax_grad, normal(*X, scale=2)),
    "log_softmax": (log_softmax, lambda x, g: g - softmax(x) * np.sum(g, -1, keepdims=True), normal(*X, scale=2)),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_by_name(name):
    ref, deriv, spec = ACTIVATIONS[name]
    check_op(activations.get(name), ref, [spec], lambda x, g: [g * deriv(x)])


@pytest.mark.parametrize("name", list(GRADIENTS))
def test_softmax_family_by_name(name):
    ref, grad, spec = GRADIENTS[name]
    check_op(activations.get(name), ref, [spec], lambda x, g: [grad(x, g)])


def test_gelu_approximate_flag():
    check_op(lambda x: activations.gelu(x, approximate=True), gelu_tanh, [uniform(3, 5, lo=-4, hi=4)],
             lambda x, g: [g * gelu_tanh_grad(x)])
    x = np.linspace(-3, 3, 13, dtype=np.float32)
    assert not np.allclose(activations.gelu(x), activations.gelu(x, approximate=True), atol=1e-5)


RELU_CASES = [dict(negative_slope=0.1), dict(max_value=6.0), dict(max_value=2.5), dict(threshold=0.5),
              dict(negative_slope=0.1, max_value=3.0), dict(negative_slope=0.2, threshold=1.0),
              dict(negative_slope=0.3, max_value=4.0, threshold=0.5)]


def relu_ref(x, negative_slope=0.0, max_value=None, threshold=0.0):
    y = np.where(x > threshold, x, 0.0)
    if max_value is not None:
        y = np.minimum(y, max_value)
    return y - negative_slope * np.maximum(threshold - x, 0.0)


@pytest.mark.parametrize("kw", RELU_CASES, ids=str)
def test_relu_arguments(kw):
    kinks = (0.0, kw.get("threshold", 0.0), kw.get("max_value") or 0.0)

    def deriv(x):
        t, m, s = kw.get("threshold", 0.0), kw.get("max_value"), kw.get("negative_slope", 0.0)
        inside = (x > t) & (x < (m if m is not None else np.inf))
        return inside * 1.0 + (x < t) * s

    check_op(lambda x: activations.relu(x, **kw), lambda x: relu_ref(x, **kw),
             [away(4, 6, lo=-4, hi=7, kinks=kinks)], lambda x, g: [g * deriv(x)])


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="real Keras 3 is the reference for these comparisons")


KERAS_NAMES = sorted(set(ACTIVATIONS) | set(GRADIENTS))


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_activation_matches_keras(keras, name):
    x = np.linspace(-7, 7, 60, dtype=np.float32).reshape(6, 10)
    want = np.asarray(keras.activations.get(name)(x))
    np.testing.assert_allclose(np.asarray(activations.get(name)(x)), want, rtol=3e-6, atol=3e-6, err_msg=name)


@pytest.mark.parametrize("kw", RELU_CASES, ids=str)
def test_relu_arguments_match_keras(keras, kw):
    x = np.linspace(-7, 7, 57, dtype=np.float32)
    np.testing.assert_allclose(activations.relu(x, **kw), keras.activations.relu(x, **kw), rtol=1e-6, atol=1e-6)


def test_lookup_rules(keras):
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.get(activations.tanh) is activations.tanh
    for bad in ("ReLU", "Relu", "leakyrelu"):  # case-sensitive, as Keras
        with pytest.raises(ValueError, match="Could not interpret activation function identifier"):
            activations.get(bad)
        with pytest.raises(ValueError):
            keras.activations.get(bad)
    swish = keras.activations.serialize(keras.activations.get("swish"))
    assert activations.serialize(activations.get("swish")) == swish
    assert activations.serialize(activations.relu) == "relu"
    layer = xkeras.layers.LeakyReLU(0.2)  # a layer instance is a valid activation
    assert activations.get(layer) is layer
    np.testing.assert_allclose(activations.get(layer)(np.array([-1.0, 2.0])), [-0.2, 2.0], rtol=1e-6)


def test_softmax_axis():
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(activations.softmax(x, axis=1), softmax(x, axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(activations.softmax(x, axis=(1,)), softmax(x, axis=1), rtol=1e-5, atol=1e-6)


# ---- the lesson's measurements ------------------------------------------------------------------
def test_selu_lecun_normal_self_normalizes_through_100_layers():
    """Géron ch11: SELU + lecun_normal on standardized inputs keeps every layer's outputs near mean 0
    and std 1. The same net with glorot_uniform (smaller weights) lets the scale drift away."""
    x = np.random.default_rng(0).standard_normal((1000, 100)).astype(np.float32)

    def layer_stats(init):
        xkeras.utils.set_random_seed(42)
        h, stats = x, []
        for _ in range(100):
            h = xkeras.layers.Dense(100, activation="selu", kernel_initializer=init)(h)
            a = np.asarray(h)
            stats.append((a.mean(), a.std()))
        return np.array(stats)

    s = layer_stats("lecun_normal")
    assert np.abs(s[:, 0]).max() < 0.15, f"max |mean| {np.abs(s[:, 0]).max()}"
    assert 0.85 < s[:, 1].min() and s[:, 1].max() < 1.15, f"std range {s[:, 1].min()}..{s[:, 1].max()}"
    drift = layer_stats(xkeras.initializers.RandomNormal(stddev=0.05))
    assert drift[-1, 1] < 0.5, f"std after 100 layers with N(0, 0.05) weights: {drift[-1, 1]}"


def test_sigmoid_with_unit_normal_init_has_vanishing_gradients():
    """Per-layer gradient norms of a 20-layer sigmoid net initialised with N(0, 1) shrink toward the
    input (Glorot & Bengio 2010); SELU + lecun_normal keeps them of the same order."""
    x = np.random.default_rng(0).standard_normal((200, 100)).astype(np.float32)

    def grad_norms(activation, init):
        xkeras.utils.set_random_seed(1)
        layers = [xkeras.layers.Dense(100, activation=activation, kernel_initializer=init) for _ in range(20)]
        with xkeras.GradientTape() as tape:
            h = x
            for layer in layers:
                h = layer(h)
            loss = ops.mean(ops.square(h))
        grads = tape.gradient(loss, [layer.kernel for layer in layers])
        return np.array([np.linalg.norm(np.asarray(g)) for g in grads])

    n = grad_norms("sigmoid", xkeras.initializers.RandomNormal(mean=0.0, stddev=1.0))
    assert n[0] < 0.15 * n[-1], f"first/last layer gradient norm {n[0] / n[-1]}"
    slope = np.polyfit(np.arange(20), np.log(n), 1)[0]  # log-norm grows from the input to the output
    assert slope > 0.05, f"log gradient norm per layer: {slope}"
    s = grad_norms("selu", "lecun_normal")
    assert s[0] > 0.3 * s[-1], f"SELU first/last layer gradient norm {s[0] / s[-1]}"
