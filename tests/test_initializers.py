"""keras.initializers: sample statistics against Keras' formulas (keras-spec §1), seeding, lookup and
configs against real Keras 3."""
import math
import os
import random

import numpy as np
import pytest

import xkeras
from xkeras import initializers as I

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
TRUNC_STD = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="real Keras 3 is the reference for config comparisons")


def fans(shape):
    if len(shape) == 2:
        return shape
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


# Large kernels: 2-D with fan_in != fan_out (so the modes give different numbers) and a conv kernel.
SHAPES = [(800, 200), (150, 600), (3, 3, 64, 32)]
NAMED = {  # name: (scale, mode, distribution), keras-spec §1.3
    "glorot_uniform": (1.0, "fan_avg", "uniform"), "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"), "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"), "lecun_normal": (1.0, "fan_in", "truncated_normal"),
}


def expected_variance(scale, mode, shape):
    fan_in, fan_out = fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return scale / max(1.0, n)


def check_distribution(w, distribution, s):
    """Mean 0, variance s, and the distribution's support (uniform: ±sqrt(3s); truncated: ±2σ of the
    untruncated normal whose std is sqrt(s)/0.8796)."""
    n = w.size
    std = math.sqrt(s)
    assert abs(w.mean()) < 5 * std / math.sqrt(n), f"mean {w.mean()}"
    assert w.std() == pytest.approx(std, rel=0.02), f"std {w.std()} != {std}"
    if distribution == "uniform":
        limit = math.sqrt(3 * s)
        assert w.min() >= -limit and w.max() <= limit
        assert w.max() > 0.99 * limit and w.min() < -0.99 * limit  # the whole range is used
    elif distribution == "truncated_normal":
        bound = 2 * std / TRUNC_STD
        assert np.abs(w).max() <= bound * (1 + 1e-6)
        assert np.abs(w).max() > 0.98 * bound
    else:  # untruncated: values beyond 2σ occur (~4.6% of them)
        assert np.mean(np.abs(w) > 2 * std) == pytest.approx(0.0455, abs=0.006)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(NAMED))
def test_named_initializers_by_string(name, shape):
    scale, mode, dist = NAMED[name]
    w = I.get(name)(shape)
    assert w.dtype == np.float32 and w.shape == shape
    check_distribution(w, dist, expected_variance(scale, mode, shape))


@pytest.mark.parametrize("dist", ["uniform", "truncated_normal", "untruncated_normal", "normal"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_variance_scaling(mode, dist):
    shape = (800, 200)
    init = I.VarianceScaling(scale=2.0, mode=mode, distribution=dist, seed=3)
    check_distribution(init(shape), "truncated_normal" if dist == "normal" else dist,
                       expected_variance(2.0, mode, shape))


def test_variance_scaling_explicit_axes_and_small_fans():
    init = I.VarianceScaling(1.0, "fan_in", "uniform", seed=1, input_axes=[0, 1], output_axes=[2])
    w = init((20, 30, 50))  # fan_in = 600 from the explicit axes, not 30*20 (conv rule gives the same)...
    assert np.abs(w).max() <= math.sqrt(3 / 600)
    init = I.VarianceScaling(1.0, "fan_in", "uniform", seed=1, input_axes=[2], output_axes=[0])
    w = init((20, 30, 50))  # ...while fan_in = 50 here
    assert np.abs(w).max() > math.sqrt(3 / 600) and np.abs(w).max() <= math.sqrt(3 / 50)
    assert np.abs(I.VarianceScaling(1.0, "fan_in", "uniform")(())).max() <= math.sqrt(3)  # scalar: fans 1
    w = I.VarianceScaling(1.0, "fan_in", "uniform", seed=0)((4000,))  # rank 1: fan_in = fan_out = shape[0]
    assert np.abs(w).max() <= math.sqrt(3 / 4000)


@pytest.mark.parametrize("call,bad", [
    (lambda: I.VarianceScaling(scale=0.0), "scale"), (lambda: I.VarianceScaling(mode="fan_sum"), "mode"),
    (lambda: I.VarianceScaling(distribution="cauchy"), "distribution"), (lambda: I.RandomNormal(seed="a"), "seed"),
    (lambda: I.Identity()((2, 2, 2)), "2D"), (lambda: I.Orthogonal()((5,)), "two-dimensional"),
])
def test_invalid_arguments(call, bad):
    with pytest.raises(ValueError, match=bad):
        call()


def test_random_normal_uniform_truncated():
    w = I.RandomNormal(mean=1.0, stddev=0.5, seed=1)((400, 400))
    assert w.mean() == pytest.approx(1.0, abs=0.005) and w.std() == pytest.approx(0.5, rel=0.01)
    w = I.RandomUniform(minval=-0.2, maxval=0.6, seed=1)((400, 400))
    assert w.min() >= -0.2 and w.max() < 0.6 and w.mean() == pytest.approx(0.2, abs=0.003)
    assert w.std() == pytest.approx(0.8 / math.sqrt(12), rel=0.01)
    w = I.TruncatedNormal(mean=0.5, stddev=0.1, seed=1)((400, 400))
    assert np.abs(w - 0.5).max() <= 0.2 * (1 + 1e-6)
    assert w.std() == pytest.approx(0.1 * TRUNC_STD, rel=0.01)  # no correction for the plain class
    d = I.RandomNormal(seed=2)((300, 300))  # defaults: N(0, 0.05)
    assert d.std() == pytest.approx(0.05, rel=0.02)
    u = I.RandomUniform(seed=2)((300, 300))
    assert u.min() >= -0.05 and u.max() < 0.05


def test_constants_identity_orthogonal():
    assert np.array_equal(I.Zeros()((2, 3)), np.zeros((2, 3))) and np.array_equal(I.Ones()((4,)), np.ones(4))
    assert np.array_equal(I.Constant(2.5)((2, 2)), np.full((2, 2), 2.5, np.float32))
    assert np.array_equal(I.Identity(gain=3.0)((3, 4)), 3 * np.eye(3, 4))
    for shape in [(60, 20), (20, 60), (3, 3, 4, 8)]:
        w = I.Orthogonal(gain=2.0, seed=0)(shape).astype(np.float64)
        m = w.reshape(-1, shape[-1])
        gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
        np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-5)


def test_seeding_is_reproducible():
    a, b = I.HeNormal(seed=7), I.HeNormal(seed=7)
    assert np.array_equal(a((50, 20)), b((50, 20)))
    assert not np.array_equal(a((50, 20)), I.HeNormal(seed=8)((50, 20)))
    c = I.GlorotUniform()  # unseeded: an instance draws its seed once, so it repeats itself
    assert np.array_equal(c((30, 30)), c((30, 30)))
    assert not np.array_equal(c((30, 30)), I.GlorotUniform()((30, 30)))
    xkeras.utils.set_random_seed(123)  # ...and set_random_seed makes the unseeded draws repeatable
    first = [I.get(n)((10, 10)) for n in ("he_normal", "orthogonal", "random_normal")]
    xkeras.utils.set_random_seed(123)
    second = [I.get(n)((10, 10)) for n in ("he_normal", "orthogonal", "random_normal")]
    assert all(np.array_equal(x, y) for x, y in zip(first, second))
    random.seed()  # do not leave Python's generator seeded for other tests


def test_dense_uses_its_initializer():
    xkeras.utils.set_random_seed(0)
    layer = xkeras.layers.Dense(400, kernel_initializer="he_normal", bias_initializer=I.Constant(0.1))
    layer.build((None, 900))
    k = layer.kernel.numpy()
    assert k.std() == pytest.approx(math.sqrt(2 / 900), rel=0.02)
    assert np.array_equal(layer.bias.numpy(), np.full(400, 0.1, np.float32))
    layer = xkeras.layers.Dense(300, kernel_initializer=I.VarianceScaling(2.0, "fan_avg", "uniform"))  # ch11 #7
    layer.build((None, 100))
    assert np.abs(layer.kernel.numpy()).max() <= math.sqrt(3 * 2 / 200)
    layer = xkeras.layers.Dense(5, kernel_initializer=np.ones((3, 5)))  # an array as initializer
    layer.build((None, 3))
    assert np.array_equal(layer.kernel.numpy(), np.ones((3, 5)))
    with pytest.raises(ValueError, match="Expected `shape`"):
        xkeras.layers.Dense(5, kernel_initializer=np.ones((3, 5))).build((None, 4))


LOOKUP = ["glorot_uniform", "GlorotUniform", "glorot_normal", "he_normal", "HeNormal", "he_uniform", "lecun_normal",
          "LecunUniform", "zeros", "Zeros", "zero", "ones", "one", "Ones", "random_normal", "normal",
          "RandomUniform", "uniform", "truncated_normal", "variance_scaling", "orthogonal", "Orthogonal",
          "OrthogonalInitializer", "identity", "IdentityInitializer"]


@pytest.mark.parametrize("name", LOOKUP)
def test_string_lookup_matches_keras(keras, name):
    assert type(I.get(name)).__name__ == type(keras.initializers.get(name)).__name__


def test_lookup_is_case_sensitive_and_accepts_classes_and_callables():
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: He_Normal"):
        I.get("He_Normal")
    assert isinstance(I.get(I.HeNormal), I.HeNormal)
    fn = lambda shape, dtype=None: np.zeros(shape)  # noqa: E731
    assert I.get(fn) is fn and I.get(None) is None
    assert isinstance(xkeras.initializers.he_normal(seed=1), I.HeNormal)  # snake_case class aliases
    assert isinstance(I.get("constant"), I.Constant)  # (real Keras 3.15 raises KeyError here: no "value")


CONFIGS = [("HeNormal", {}), ("GlorotUniform", {"seed": 3}), ("LecunNormal", {}),
           ("VarianceScaling", {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"}),
           ("VarianceScaling", {"distribution": "normal", "seed": 5}),
           ("RandomNormal", {}), ("RandomUniform", {"minval": -1.0, "maxval": 2.0}), ("TruncatedNormal", {"seed": 1}),
           ("Constant", {"value": 3}), ("Zeros", {}), ("Ones", {}), ("Orthogonal", {"gain": 2.0}), ("Identity", {})]


@pytest.mark.parametrize("cls,kwargs", CONFIGS, ids=[c for c, _ in CONFIGS])
def test_config_matches_keras(keras, cls, kwargs):
    ours, theirs = getattr(I, cls)(**kwargs), getattr(keras.initializers, cls)(**kwargs)
    assert ours.get_config() == theirs.get_config()
    ser, kser = I.serialize(ours), keras.initializers.serialize(theirs)
    assert (ser["module"], ser["class_name"]) == (kser["module"], kser["class_name"])
    back = I.get(I.serialize(ours))  # round trip through the config
    assert type(back) is type(ours) and back.get_config() == ours.get_config()


def test_seeded_config_roundtrip_gives_the_same_values():
    a = I.GlorotNormal(seed=11)
    assert np.array_equal(I.GlorotNormal.from_config(a.get_config())((20, 20)), a((20, 20)))
