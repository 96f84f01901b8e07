"""Every op of `xkeras.ops`: forward against NumPy (float64), gradients from `xkeras.GradientTape`
against analytic NumPy derivatives and float64 finite differences (see op_check.py), broadcasting,
losses against real Keras 3 (TensorFlow backend), dropout, error messages and tape semantics.
"""
import math
import os

import numpy as np
import pytest

import xkeras
from xkeras import _core, ops
from op_check import (ATOL, RTOL, assert_close, away, check_op, const, draw, labels, log_softmax, mask,
                      nonzero, normal, onehot, positive, probs, sigmoid, softmax, uniform)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

dense = getattr(ops, "dense", _core.dense)  # keras.ops has no `dense`; the fused op lives in _core
TESTED = set()  # public names of xkeras.ops covered below (see test_every_op_is_tested)


def tested(*names):
    TESTED.update(names)


def ids(cases):
    return [c[0] for c in cases]


# ==== binary elementwise ops, with broadcasting in both argument positions ========================
BINARY = {  # name: (xkeras op, numpy op, spec of a, spec of b, analytic (da, db) in the output's shape)
    "add": (ops.add, np.add, normal, normal, lambda a, b, g: (g, g)),
    "subtract": (ops.subtract, np.subtract, normal, normal, lambda a, b, g: (g, -g)),
    "multiply": (ops.multiply, np.multiply, normal, normal, lambda a, b, g: (g * b, g * a)),
    "divide": (ops.divide, np.divide, normal, nonzero, lambda a, b, g: (g / b, -g * a / b**2)),
    "true_divide": (ops.true_divide, np.divide, normal, nonzero, lambda a, b, g: (g / b, -g * a / b**2)),
    "power": (ops.power, np.power, positive, normal,
              lambda a, b, g: (g * b * a ** (b - 1), g * a**b * np.log(a))),
    # normal draws never tie, so the subgradient choice at a == b is never exercised
    "maximum": (ops.maximum, np.maximum, normal, normal, lambda a, b, g: (g * (a > b), g * (a < b))),
    "minimum": (ops.minimum, np.minimum, normal, normal, lambda a, b, g: (g * (a < b), g * (a > b))),
}
tested(*BINARY)
SHAPES = [((3, 4), (3, 4)), ((3, 4), ()), ((3, 4), (1,)), ((3, 4), (4,)), ((3, 4), (3, 1)), ((3, 4), (1, 4)),
          ((2, 3, 4), (3, 4)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 1)), ((2, 3, 4), (2, 1, 4)),
          ((2, 3, 4), (2, 3, 1)), ((2, 1, 4), (1, 3, 1)), ((3, 1), (1, 4))]
SHAPES += [(b, a) for a, b in SHAPES if a != b]  # every case in both argument positions


@pytest.mark.parametrize("shapes", SHAPES, ids=[f"{a}-{b}" for a, b in SHAPES])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary(name, shapes):
    fn, ref, spec_a, spec_b, grad = BINARY[name]
    check_op(fn, ref, [spec_a(*shapes[0]), spec_b(*shapes[1])], grad)


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_python_scalars(name):
    fn, ref, spec_a, spec_b, _ = BINARY[name]
    a, b = 1.5, 0.75  # valid for every op (power needs a > 0, divide b != 0)
    check_op(lambda x: fn(x, b), lambda x: ref(x, b), [spec_a(3, 4)])
    check_op(lambda x: fn(a, x), lambda x: ref(a, x), [spec_b(3, 4)])


WHERE = [((3, 4), (3, 4), (3, 4)), ((3, 1), (3, 4), (4,)), ((4,), (), (3, 4)), ((2, 3, 4), (3, 1), (1, 4)),
         ((3, 4), (2, 1, 4), ()), ((1, 4), (3, 1), (2, 1, 1))]
tested("where")


@pytest.mark.parametrize("shapes", WHERE, ids=[str(s) for s in WHERE])
def test_where(shapes):
    c, a, b = shapes
    check_op(ops.where, np.where, [mask(*c), normal(*a), normal(*b)],
             lambda c, a, b, g: (g * (c != 0), g * (c == 0)), wrt=[1, 2])


def test_where_float_condition():
    check_op(ops.where, lambda c, a, b: np.where(c != 0, a, b),
             [const([[0.0, 2.0, -1.0], [0.5, 0.0, 0.0]]), normal(2, 3), normal(2, 3)], wrt=[1, 2])


# ==== unary math and activations ==================================================================
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
erf = np.vectorize(math.erf)


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def gelu_tanh_grad(x):
    c = np.sqrt(2 / np.pi)
    t = np.tanh(c * (x + 0.044715 * x**3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * c * (1 + 3 * 0.044715 * x**2)


def softplus(x):
    return np.logaddexp(0.0, x)


def mish_grad(x):
    t = np.tanh(softplus(x))
    return t + x * (1 - t**2) * sigmoid(x)


UNARY = [  # (name, xkeras op, numpy forward, input spec, analytic dx(x, g))
    ("negative", ops.negative, np.negative, normal(3, 4), lambda x, g: -g),
    ("exp", ops.exp, np.exp, uniform(3, 4, lo=-3, hi=3), lambda x, g: g * np.exp(x)),
    ("log", ops.log, np.log, positive(3, 4, lo=0.1, hi=5), lambda x, g: g / x),
    ("sqrt", ops.sqrt, np.sqrt, positive(3, 4, lo=0.1, hi=5), lambda x, g: g / (2 * np.sqrt(x))),
    ("square", ops.square, np.square, normal(3, 4), lambda x, g: 2 * g * x),
    ("absolute", ops.absolute, np.abs, away(3, 4), lambda x, g: g * np.sign(x)),
    ("abs", ops.abs, np.abs, away(2, 3, 4), lambda x, g: g * np.sign(x)),
    ("clip", lambda x: ops.clip(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5),
     away(3, 4, lo=-1, hi=1, kinks=(-0.5, 0.5)), lambda x, g: g * (np.abs(x) < 0.5)),
    ("clip_int_bounds", lambda x: ops.clip(x, -1, 2), lambda x: np.clip(x, -1, 2),
     away(3, 4, lo=-3, hi=3, kinks=(-1, 2)), lambda x, g: g * ((x > -1) & (x < 2))),
    ("relu", ops.relu, lambda x: np.maximum(x, 0), away(3, 5), lambda x, g: g * (x > 0)),
    ("relu6", ops.relu6, lambda x: np.clip(x, 0, 6), away(3, 5, lo=-3, hi=9, kinks=(0, 6)),
     lambda x, g: g * ((x > 0) & (x < 6))),
    ("leaky_relu", ops.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x), away(3, 5),  # Keras' 0.2
     lambda x, g: g * np.where(x > 0, 1, 0.2)),
    ("leaky_relu_0.01", lambda x: ops.leaky_relu(x, negative_slope=0.01), lambda x: np.where(x > 0, x, 0.01 * x),
     away(3, 5), lambda x, g: g * np.where(x > 0, 1, 0.01)),
    ("sigmoid", ops.sigmoid, sigmoid, uniform(3, 5, lo=-8, hi=8), lambda x, g: g * sigmoid(x) * (1 - sigmoid(x))),
    ("hard_sigmoid", ops.hard_sigmoid, lambda x: np.clip(x + 3, 0, 6) / 6, away(3, 5, lo=-5, hi=5, kinks=(-3, 3)),
     lambda x, g: g * (np.abs(x) < 3) / 6),
    ("tanh", ops.tanh, np.tanh, uniform(3, 5, lo=-4, hi=4), lambda x, g: g * (1 - np.tanh(x) ** 2)),
    ("softplus", ops.softplus, softplus, uniform(3, 5, lo=-15, hi=15), lambda x, g: g * sigmoid(x)),
    ("softsign", ops.softsign, lambda x: x / (1 + np.abs(x)), normal(3, 5, scale=2),
     lambda x, g: g / (1 + np.abs(x)) ** 2),
    ("elu", ops.elu, lambda x: np.where(x > 0, x, np.expm1(x)), uniform(3, 5, lo=-4, hi=4),
     lambda x, g: g * np.where(x > 0, 1, np.exp(x))),
    ("elu_alpha", lambda x: ops.elu(x, alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), away(3, 5),
     lambda x, g: g * np.where(x > 0, 1, 0.5 * np.exp(x))),
    ("selu", ops.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)), away(3, 5),
     lambda x, g: g * SELU_SCALE * np.where(x > 0, 1, SELU_ALPHA * np.exp(x))),
    ("gelu", ops.gelu, gelu_tanh, uniform(3, 5, lo=-5, hi=5), lambda x, g: g * gelu_tanh_grad(x)),  # default
    ("gelu_approximate", lambda x: ops.gelu(x, approximate=True), gelu_tanh, uniform(3, 5, lo=-5, hi=5),
     lambda x, g: g * gelu_tanh_grad(x)),
    ("gelu_exact", lambda x: ops.gelu(x, approximate=False), lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2))),
     uniform(3, 5, lo=-5, hi=5),
     lambda x, g: g * (0.5 * (1 + erf(x / np.sqrt(2))) + x * np.exp(-x**2 / 2) / np.sqrt(2 * np.pi))),
    ("silu", ops.silu, lambda x: x * sigmoid(x), uniform(3, 5, lo=-8, hi=8),
     lambda x, g: g * sigmoid(x) * (1 + x * (1 - sigmoid(x)))),
    ("swish", ops.swish, lambda x: x * sigmoid(x), uniform(3, 5, lo=-8, hi=8),
     lambda x, g: g * sigmoid(x) * (1 + x * (1 - sigmoid(x)))),
    ("mish", ops.mish, lambda x: x * np.tanh(softplus(x)), uniform(3, 5, lo=-8, hi=8),
     lambda x, g: g * mish_grad(x)),
]
tested(*(c[0] for c in UNARY))


@pytest.mark.parametrize("name,fn,ref,spec,grad", UNARY, ids=ids(UNARY))
def test_unary(name, fn, ref, spec, grad):
    check_op(fn, ref, [spec], lambda x, g: (grad(x, g),))


# ==== softmax / log_softmax =======================================================================
SOFTMAX = [((2, 3, 4), -1), ((2, 3, 4), 2), ((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -2), ((3, 5), 0), ((6,), -1)]
tested("softmax", "log_softmax")


@pytest.mark.parametrize("shape,axis", SOFTMAX, ids=[f"{s}-axis{a}" for s, a in SOFTMAX])
def test_softmax(shape, axis):
    def grad(x, g):
        y = softmax(x, axis)
        return (y * (g - np.sum(g * y, axis=axis, keepdims=True)),)
    check_op(lambda x: ops.softmax(x, axis=axis), lambda x: softmax(x, axis), [normal(*shape, scale=2)], grad)


@pytest.mark.parametrize("shape,axis", SOFTMAX, ids=[f"{s}-axis{a}" for s, a in SOFTMAX])
def test_log_softmax(shape, axis):
    def grad(x, g):
        return (g - softmax(x, axis) * np.sum(g, axis=axis, keepdims=True),)
    check_op(lambda x: ops.log_softmax(x, axis=axis), lambda x: log_softmax(x, axis),
             [normal(*shape, scale=2)], grad)


def test_softmax_default_axis_and_large_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [3.0, 3.0, 3.0]], np.float32)  # overflows a naive exp
    assert_close(ops.softmax(x), softmax(x.astype(np.float64)), RTOL, ATOL, "softmax")
    assert_close(ops.log_softmax(x), log_softmax(x.astype(np.float64)), RTOL, ATOL, "log_softmax")


# ==== reductions ==================================================================================
AXES = [None, 0, 1, 2, -1, -3, (0, 2), (-1, 0), (0, 1, 2), [1], ()]
tested("sum", "mean")


def reduce_grad(x, g, axis, keepdims, average):
    axes = tuple(range(x.ndim)) if axis is None else tuple(np.atleast_1d(axis).astype(int) % max(x.ndim, 1))
    g = g if keepdims else np.expand_dims(g, axes)
    n = np.prod([x.shape[a] for a in axes]) if average else 1
    return np.broadcast_to(g, x.shape) / n


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=[str(a) for a in AXES])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_reduce(name, axis, keepdims):
    fn, ref = getattr(ops, name), getattr(np, name)
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    check_op(lambda x: fn(x, axis=axis, keepdims=keepdims), lambda x: ref(x, axis=np_axis, keepdims=keepdims),
             [normal(2, 3, 4)], lambda x, g: (reduce_grad(x, g, np_axis, keepdims, name == "mean"),))


@pytest.mark.parametrize("shape", [(), (7,), (5, 1)])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_reduce_small_shapes(name, shape):
    fn, ref = getattr(ops, name), getattr(np, name)
    check_op(fn, ref, [normal(*shape)])
    check_op(lambda x: fn(x, keepdims=True), lambda x: ref(x, keepdims=True), [normal(*shape)])


def test_reduce_positional_axis():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert_close(ops.sum(x, 1), [3, 12], 0, 0, "sum")
    assert_close(ops.mean(x, 0, True), [[1.5, 2.5, 3.5]], 0, 0, "mean")


# ==== shape ops ===================================================================================
RESHAPE = [((2, 3, 4), (6, -1)), ((2, 3, 4), (-1,)), ((2, 3, 4), (4, -1, 3)), ((2, 3, 4), (24,)),
           ((2, 3, 4), (1, -1, 1)), ((6,), (2, -1)), ((6,), [3, 2]), ((1,), ())]
TRANSPOSE = [((2, 3, 4), None), ((2, 3, 4), (1, 0, 2)), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (0, -1, -2)),
             ((3, 4), None), ((3, 4), (0, 1)), ((5,), None), ((2, 3, 4, 5), (3, 1, 0, 2))]
BROADCAST_TO = [((4,), (3, 4)), ((3, 1), (3, 4)), ((), (2, 3)), ((1,), (5,)), ((1, 4), (2, 3, 4)),
                ((2, 1, 4), (2, 3, 4)), ((3, 1), (2, 3, 4)), ((3, 4), (3, 4))]
tested("reshape", "transpose", "broadcast_to")


@pytest.mark.parametrize("shape,new", RESHAPE, ids=[f"{s}->{n}" for s, n in RESHAPE])
def test_reshape(shape, new):
    check_op(lambda x: ops.reshape(x, new), lambda x: np.reshape(x, new), [normal(*shape)],
             lambda x, g: (g.reshape(x.shape),))


@pytest.mark.parametrize("shape,axes", TRANSPOSE, ids=[f"{s}-{a}" for s, a in TRANSPOSE])
def test_transpose(shape, axes):
    inverse = np.argsort(np.arange(len(shape))[::-1] if axes is None else np.array(axes) % len(shape))
    check_op(lambda x: ops.transpose(x, axes), lambda x: np.transpose(x, axes), [normal(*shape)],
             lambda x, g: (np.transpose(g, inverse),))
    if axes is None:
        check_op(ops.transpose, np.transpose, [normal(*shape)])


@pytest.mark.parametrize("shape,to", BROADCAST_TO, ids=[f"{s}->{t}" for s, t in BROADCAST_TO])
def test_broadcast_to(shape, to):
    check_op(lambda x: ops.broadcast_to(x, to), lambda x: np.broadcast_to(x, to), [normal(*shape)],
             lambda x, g: (g,))  # check_op sums g over the broadcast axes


# ==== matmul and dense ============================================================================
def matmul_grad(a, b, g):
    """(da, db) of a @ b with NumPy's vector promotion and a 2-D `b` shared by every batch entry."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = np.reshape(g, a2.shape[:-1] + b2.shape[-1:])
    da = g2 @ np.swapaxes(b2, -1, -2)
    db = np.swapaxes(a2, -1, -2) @ g2
    if b2.ndim == 2:
        db = db.reshape(-1, *b2.shape).sum(axis=0)
    return da.reshape(a.shape), db.reshape(b.shape)


MATMUL = [((3, 4), (4, 5)), ((1, 4), (4, 1)), ((2, 3, 4), (4, 5)), ((2, 2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
          ((2, 2, 3, 4), (2, 2, 4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4,))]
# (3, 4) @ (2, 4, 5) (batch broadcasting) is unsupported: see test_error[matmul-batch-broadcast]
tested("matmul")


@pytest.mark.parametrize("shapes", MATMUL, ids=[f"{a}@{b}" for a, b in MATMUL])
def test_matmul(shapes):
    check_op(ops.matmul, np.matmul, [normal(*shapes[0]), normal(*shapes[1])], matmul_grad)


DENSE = [((5, 4), (4, 3), True), ((1, 4), (4, 3), True), ((2, 5, 4), (4, 3), True), ((5, 4), (4, 3), False),
         ((2, 2, 3, 4), (4, 1), True)]


@pytest.mark.parametrize("xs,ks,bias", DENSE, ids=[f"{x}-{k}-bias{b}" for x, k, b in DENSE])
def test_dense(xs, ks, bias):
    def grad(x, k, *rest):
        g = rest[-1]
        dx, dk = g @ k.T, x.reshape(-1, k.shape[0]).T @ g.reshape(-1, k.shape[1])
        return (dx, dk, g.reshape(-1, k.shape[1]).sum(axis=0)) if bias else (dx, dk)
    specs = [normal(*xs), normal(*ks)] + ([normal(ks[1])] if bias else [])
    check_op(lambda x, k, b=None: dense(x, k, b), lambda x, k, b=0.0: x @ k + b, specs, grad)


# ==== losses: NumPy formulas, analytic gradients and finite differences ===========================
EPS = 1e-7  # keras.config.epsilon()
# Keras and xkeras clip probabilities in float32, where 1 - 1e-7 rounds to 1 - 1.19e-7: a float64
# reference clipping at 1 - 1e-7 would be off by log(1.19) ~ 0.17 for a probability of exactly 1.
HI = float(np.float32(1 - EPS))


def sparse_ce_logits(y, z):
    return -np.take_along_axis(log_softmax(z), y[..., None].astype(int), -1)[..., 0]


def sparse_ce_probs(y, p):  # Keras' TF backend: clip, log, then softmax cross-entropy
    return sparse_ce_logits(y, np.log(np.clip(p, EPS, HI)))


def ce_probs(y, p):
    return -np.sum(y * np.log(np.clip(p / p.sum(-1, keepdims=True), EPS, HI)), -1)


def bce_probs(y, p):
    c = np.clip(p, EPS, HI)
    return -np.mean(y * np.log(c) + (1 - y) * np.log(1 - c), -1)


def bce_logits(y, z):
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), -1)


def huber_ref(y, p, delta=1.0):
    e = np.abs(p - y)
    return np.mean(np.where(e <= delta, 0.5 * e**2, delta * e - 0.5 * delta**2), -1)


def binary(*shape):
    return lambda r: (r.random(shape) < 0.5).astype(np.float64)  # 0/1 labels as floats


def onehot_of(y, c):
    return np.eye(c)[y.astype(int)]


def sparse_ce_grad(y, z, g):  # d/dz of sparse CE from logits: softmax - onehot
    return ((softmax(z) - onehot_of(y, z.shape[-1])) * g[..., None],)


LOSSES = [  # (name, xkeras loss(y, p), numpy loss(y, p), label spec, prediction spec, analytic dp(y, p, g))
    ("sparse_ce_logits", lambda y, z: ops.sparse_categorical_crossentropy(y, z, from_logits=True),
     sparse_ce_logits, labels(6, n=5), normal(6, 5, scale=2), sparse_ce_grad),
    ("sparse_ce_logits_3d", lambda y, z: ops.sparse_categorical_crossentropy(y, z, from_logits=True),
     sparse_ce_logits, labels(2, 3, n=4), normal(2, 3, 4, scale=2), sparse_ce_grad),
    ("sparse_ce_logits_col_labels", lambda y, z: ops.sparse_categorical_crossentropy(y, z, from_logits=True),
     lambda y, z: sparse_ce_logits(y[:, 0], z), labels(6, 1, n=5), normal(6, 5),
     lambda y, z, g: sparse_ce_grad(y[:, 0], z, g)),
    ("sparse_ce_probs", ops.sparse_categorical_crossentropy, sparse_ce_probs, labels(6, n=5), probs(6, 5),
     lambda y, p, g: ((1 / p.sum(-1, keepdims=True) - onehot_of(y, 5) / p) * g[:, None],)),
    ("ce_logits", lambda y, z: ops.categorical_crossentropy(y, z, from_logits=True),
     lambda y, z: -np.sum(y * log_softmax(z), -1), onehot(6, 5), normal(6, 5, scale=2),
     lambda y, z, g: ((softmax(z) - y) * g[:, None],)),
    ("ce_logits_soft_labels", lambda y, z: ops.categorical_crossentropy(y, z, from_logits=True),
     lambda y, z: -np.sum(y * log_softmax(z), -1), probs(2, 3, 4), normal(2, 3, 4, scale=2),
     lambda y, z, g: ((softmax(z) * y.sum(-1, keepdims=True) - y) * g[..., None],)),
    ("ce_probs", ops.categorical_crossentropy, ce_probs, onehot(6, 5), probs(6, 5),
     lambda y, p, g: ((y.sum(-1, keepdims=True) / p.sum(-1, keepdims=True) - y / p) * g[:, None],)),
    ("ce_probs_unnormalised", ops.categorical_crossentropy, ce_probs, probs(6, 5), positive(6, 5, lo=0.05, hi=1),
     lambda y, p, g: ((y.sum(-1, keepdims=True) / p.sum(-1, keepdims=True) - y / p) * g[:, None],)),
    ("bce_probs", ops.binary_crossentropy, bce_probs, binary(6, 5), uniform(6, 5, lo=0.01, hi=0.99),
     lambda y, p, g: ((-y / p + (1 - y) / (1 - p)) / 5 * g[:, None],)),
    ("bce_probs_soft_labels", ops.binary_crossentropy, bce_probs, uniform(2, 3, 4, lo=0, hi=1),
     uniform(2, 3, 4, lo=0.01, hi=0.99), lambda y, p, g: ((-y / p + (1 - y) / (1 - p)) / 4 * g[..., None],)),
    ("bce_logits", lambda y, z: ops.binary_crossentropy(y, z, from_logits=True), bce_logits, binary(6, 5),
     normal(6, 5, scale=3), lambda y, z, g: ((sigmoid(z) - y) / 5 * g[:, None],)),
    ("mean_squared_error", ops.mean_squared_error, lambda y, p: np.mean((p - y) ** 2, -1), normal(6, 5),
     normal(6, 5), lambda y, p, g: (2 * (p - y) / 5 * g[:, None],)),
    ("mean_squared_error_1d", ops.mean_squared_error, lambda y, p: np.mean((p - y) ** 2, -1), normal(7),
     normal(7), lambda y, p, g: (2 * (p - y) / 7 * g,)),
    ("mean_absolute_error", ops.mean_absolute_error, lambda y, p: np.mean(np.abs(p - y), -1), normal(6, 5),
     normal(6, 5), lambda y, p, g: (np.sign(p - y) / 5 * g[:, None],)),
    ("huber", ops.huber, huber_ref, normal(6, 5), normal(6, 5, scale=1.5),
     lambda y, p, g: (np.clip(p - y, -1, 1) / 5 * g[:, None],)),
    ("huber_delta", lambda y, p: ops.huber(y, p, 0.5), lambda y, p: huber_ref(y, p, 0.5), normal(2, 3, 4),
     normal(2, 3, 4), lambda y, p, g: (np.clip(p - y, -0.5, 0.5) / 4 * g[..., None],)),
]
tested("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
       "mean_squared_error", "mean_absolute_error", "huber")


@pytest.mark.parametrize("name,fn,ref,yspec,pspec,grad", LOSSES, ids=ids(LOSSES))
def test_loss(name, fn, ref, yspec, pspec, grad):
    check_op(fn, ref, [yspec, pspec], grad, wrt=[1])


# ==== losses and activations against real Keras 3 =================================================
@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras", reason="real Keras 3 is the reference for these comparisons")


def extreme_probs(r):
    """Rows with exact 0s and 1s and values below epsilon: the clipping is exercised."""
    p = softmax(r.uniform(-20, 20, (8, 5)))
    p[0] = [1, 0, 0, 0, 0]
    p[1] = [0, 0.5, 0.5, 0, 0]
    p[2] = [0.2, 0.2, 0.2, 0.2, 0.2]
    return p


KERAS_LOSSES = [  # (name, xkeras call, keras.losses name, keras kwargs, label spec, prediction spec)
    ("sparse_ce_logits", lambda y, p: ops.sparse_categorical_crossentropy(y, p, from_logits=True),
     "sparse_categorical_crossentropy", dict(from_logits=True), labels(8, n=5), normal(8, 5, scale=5)),
    ("sparse_ce_probs", ops.sparse_categorical_crossentropy, "sparse_categorical_crossentropy", {},
     labels(8, n=5), extreme_probs),
    ("sparse_ce_3d", ops.sparse_categorical_crossentropy, "sparse_categorical_crossentropy", {},
     labels(2, 3, n=4), probs(2, 3, 4, lo=-10, hi=10)),
    ("ce_logits", lambda y, p: ops.categorical_crossentropy(y, p, from_logits=True),
     "categorical_crossentropy", dict(from_logits=True), onehot(8, 5), normal(8, 5, scale=5)),
    ("ce_probs", ops.categorical_crossentropy, "categorical_crossentropy", {}, onehot(8, 5), extreme_probs),
    ("ce_probs_unnormalised", ops.categorical_crossentropy, "categorical_crossentropy", {}, probs(8, 5),
     positive(8, 5, lo=0.0, hi=3.0)),
    ("bce_probs", ops.binary_crossentropy, "binary_crossentropy", {}, binary(8, 5),
     extreme_probs),
    ("bce_logits", lambda y, p: ops.binary_crossentropy(y, p, from_logits=True), "binary_crossentropy",
     dict(from_logits=True), uniform(8, 5, lo=0, hi=1), normal(8, 5, scale=10)),
    ("mse", ops.mean_squared_error, "mean_squared_error", {}, normal(8, 5), normal(8, 5)),
    ("mae", ops.mean_absolute_error, "mean_absolute_error", {}, normal(8, 5), normal(8, 5)),
    ("huber", ops.huber, "huber", {}, normal(8, 5), normal(8, 5, scale=2)),
    ("huber_delta", lambda y, p: ops.huber(y, p, 0.3), "huber", dict(delta=0.3), normal(2, 3, 4),
     normal(2, 3, 4)),
]
NUMPY_LOSSES = {"sparse_categorical_crossentropy": lambda y, p, from_logits=False: (
                    sparse_ce_logits if from_logits else sparse_ce_probs)(y, p),
                "categorical_crossentropy": lambda y, p, from_logits=False: (
                    -np.sum(y * log_softmax(p), -1) if from_logits else ce_probs(y, p)),
                "binary_crossentropy": lambda y, p, from_logits=False: (bce_logits if from_logits else bce_probs)(y, p),
                "mean_squared_error": lambda y, p: np.mean((p - y) ** 2, -1),
                "mean_absolute_error": lambda y, p: np.mean(np.abs(p - y), -1),
                "huber": huber_ref}


@pytest.mark.parametrize("name,fn,kname,kwargs,yspec,pspec", KERAS_LOSSES, ids=ids(KERAS_LOSSES))
def test_loss_matches_keras(keras, name, fn, kname, kwargs, yspec, pspec):
    (y, p), _ = draw([yspec, pspec], seed=1)
    got = np.asarray(fn(y, p))
    want_keras = np.asarray(getattr(keras.losses, kname)(y, p, **kwargs))
    y64 = y.astype(np.float64)
    want_numpy = NUMPY_LOSSES[kname](y64, p.astype(np.float64), **kwargs)
    # TF's float32 kernels and ours round differently: a few ulps of values up to -log(1e-7) ~ 16
    assert_close(got, want_keras, 2e-6, 2e-6, f"{name} vs Keras")
    assert_close(got, want_numpy, RTOL, ATOL, f"{name} vs NumPy")


@pytest.mark.parametrize("name,fn,kname,kwargs,yspec,pspec", KERAS_LOSSES, ids=ids(KERAS_LOSSES))
def test_loss_gradient_matches_keras(keras, name, fn, kname, kwargs, yspec, pspec):
    import tensorflow as tf
    (y, p), r = draw([yspec, pspec], seed=1)
    w = r.standard_normal(p.shape[:-1]).astype(np.float32)
    tp = xkeras.convert_to_tensor(p)
    with xkeras.GradientTape() as tape:
        tape.watch(tp)
        loss = ops.sum(fn(y, tp) * w)
    kp = tf.constant(p)
    with tf.GradientTape() as ktape:
        ktape.watch(kp)
        kloss = tf.reduce_sum(getattr(keras.losses, kname)(y, kp, **kwargs) * w)
    # includes the clipped region (zero gradient) and probabilities of exactly 0 and 1; gradients of
    # -log(p) reach 1/eps = 1e7 there, hence the relative tolerance alone on large values
    assert_close(tape.gradient(loss, tp), ktape.gradient(kloss, kp), 1e-5, 1e-5, f"{name} gradient vs Keras")


# Keras' TF backend keeps the softmax/sigmoid input on the output (_keras_logits) and the
# probability-based losses then use it: with logits this spread, the clipped path would differ.
CACHED = [
    ("sparse", ops.sparse_categorical_crossentropy, "softmax", "sparse_categorical_crossentropy",
     labels(4, n=5), sparse_ce_logits, sparse_ce_probs, sparse_ce_grad),
    ("categorical", ops.categorical_crossentropy, "softmax", "categorical_crossentropy",
     onehot(4, 5), lambda y, z: -np.sum(y * log_softmax(z), -1), ce_probs,
     lambda y, z, g: ((softmax(z) - y) * g[:, None],)),
    ("binary", ops.binary_crossentropy, "sigmoid", "binary_crossentropy", binary(4, 5), bce_logits, bce_probs,
     lambda y, z, g: ((sigmoid(z) - y) / 5 * g[:, None],)),
]


@pytest.mark.parametrize("name,loss,act,kname,yspec,ref,clipped_ref,grad", CACHED, ids=ids(CACHED))
def test_loss_uses_cached_logits(keras, name, loss, act, kname, yspec, ref, clipped_ref, grad):
    logits = normal(4, 5, scale=25)
    xk_act = getattr(ops, act)
    np_act = softmax if act == "softmax" else sigmoid
    (y, z), _ = draw([yspec, logits], seed=2)
    out = xk_act(z)
    y64, z64 = y.astype(np.float64), z.astype(np.float64)
    # the cached-logits value and the clipped-probabilities value are far apart for these logits
    assert not np.allclose(ref(y64, z64), clipped_ref(y64, np_act(z64)), rtol=1e-3)
    want_keras = np.asarray(getattr(keras.losses, kname)(y, getattr(keras.ops, act)(z)))
    assert_close(loss(y, out), want_keras, 2e-6, 2e-6, "vs Keras")
    # gradient through the logits: softmax(z) - onehot, not the zero of the clipped region
    check_op(lambda y, z: loss(y, xk_act(z)), ref, [yspec, logits], grad, wrt=[1], seed=2)
    # a plain array of the same probabilities has no logits: the clipped path
    assert_close(loss(y, np.asarray(out)), clipped_ref(y64, np.asarray(out, np.float64)), RTOL, ATOL,
                 "no cached logits")


KERAS_ACTIVATIONS = [  # (name, xkeras call, keras call) on the same input
    ("relu", ops.relu, lambda k, x: k.ops.relu(x)),
    ("relu6", ops.relu6, lambda k, x: k.ops.relu6(x)),
    ("leaky_relu", ops.leaky_relu, lambda k, x: k.ops.leaky_relu(x)),
    ("sigmoid", ops.sigmoid, lambda k, x: k.ops.sigmoid(x)),
    ("hard_sigmoid", ops.hard_sigmoid, lambda k, x: k.ops.hard_sigmoid(x)),
    ("tanh", ops.tanh, lambda k, x: k.ops.tanh(x)),
    ("softplus", ops.softplus, lambda k, x: k.ops.softplus(x)),
    ("softsign", ops.softsign, lambda k, x: k.ops.softsign(x)),
    ("elu", ops.elu, lambda k, x: k.ops.elu(x)),
    ("selu", ops.selu, lambda k, x: k.ops.selu(x)),
    ("gelu", ops.gelu, lambda k, x: k.ops.gelu(x)),
    ("gelu_exact", lambda x: ops.gelu(x, approximate=False), lambda k, x: k.ops.gelu(x, approximate=False)),
    ("silu", ops.silu, lambda k, x: k.ops.silu(x)),
    ("swish", ops.swish, lambda k, x: k.activations.swish(x)),
    ("mish", ops.mish, lambda k, x: k.activations.mish(x)),
    ("softmax", ops.softmax, lambda k, x: k.ops.softmax(x)),
    ("log_softmax", ops.log_softmax, lambda k, x: k.ops.log_softmax(x)),
]


@pytest.mark.parametrize("name,fn,kfn", KERAS_ACTIVATIONS, ids=ids(KERAS_ACTIVATIONS))
def test_activation_matches_keras(keras, name, fn, kfn):
    x = np.linspace(-9, 9, 60, dtype=np.float32).reshape(6, 10)
    assert_close(fn(x), np.asarray(kfn(keras, x)), 2e-6, 2e-6, name)  # float32 vs float32: a few ulps


# ==== dropout =====================================================================================
tested("dropout")


def dropout_with_grad(x, rate, noise_shape=None, seed=0):
    _core.set_seed(seed)  # masks independent of which tests ran before
    t = xkeras.convert_to_tensor(x)
    w = np.random.default_rng(seed).standard_normal(x.shape).astype(np.float32)
    with xkeras.GradientTape() as tape:
        tape.watch(t)
        out = ops.dropout(t, rate, noise_shape=noise_shape)
        loss = ops.sum(out * w)
    return np.asarray(out), np.asarray(tape.gradient(loss, t)), w


def test_dropout_rate_0_is_identity():
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    out, g, w = dropout_with_grad(x, 0.0)
    assert_close(out, x, 0, 0, "forward")
    assert_close(g, w, 0, 0, "gradient")


def test_dropout_rate_1_gives_zeros():
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    out, g, _ = dropout_with_grad(x, 1.0)
    assert_close(out, np.zeros_like(x), 0, 0, "forward")
    assert_close(g, np.zeros_like(x), 0, 0, "gradient")


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5, 0.8])
def test_dropout_scaling_and_gradient(rate):
    x = np.random.default_rng(1).uniform(0.5, 2.0, (200, 250)).astype(np.float32)
    out, g, w = dropout_with_grad(x, rate)
    m = out / x  # the mask, recovered from the output
    kept = m != 0
    assert_close(m[kept], np.full(kept.sum(), 1 / (1 - rate)), 1e-6, 0, "kept values scaled by 1/(1-rate)")
    assert abs(kept.mean() - (1 - rate)) < 0.01  # 50,000 draws: std of the kept fraction <= 0.0023
    assert abs(out.sum() / x.sum() - 1) < 0.02  # the expectation is preserved
    assert_close(g, w * m, 1e-6, 1e-7, "gradient = w * mask / (1 - rate)")


@pytest.mark.parametrize("noise_shape", [(1, 5, 6), (4, 1, 6), (4, 5, 1), (1, 1, 6), (-1, 1, -1)])
def test_dropout_noise_shape(noise_shape):
    x = np.random.default_rng(2).uniform(0.5, 2.0, (4, 5, 6)).astype(np.float32)
    out, g, w = dropout_with_grad(x, 0.5, noise_shape=noise_shape)
    m = out / x
    ms = tuple(n if n != -1 else s for n, s in zip(noise_shape, x.shape))
    first = m[tuple(slice(0, 1) if n == 1 else slice(None) for n in ms)]
    assert_close(m, np.broadcast_to(first, m.shape), 1e-6, 0, "mask constant along the noise_shape 1-axes")
    assert 0 < (m != 0).mean() < 1
    assert_close(g, w * m, 1e-6, 1e-7, "gradient")


def test_dropout_seed_repeatable():
    x = np.ones((50, 40), np.float32)
    _core.set_seed(1234)
    a, b = np.asarray(ops.dropout(x, 0.5)), np.asarray(ops.dropout(x, 0.5))
    _core.set_seed(1234)
    a2, b2 = np.asarray(ops.dropout(x, 0.5)), np.asarray(ops.dropout(x, 0.5))
    _core.set_seed(99)
    c = np.asarray(ops.dropout(x, 0.5))
    assert_close(a2, a, 0, 0, "same seed, same first mask")
    assert_close(b2, b, 0, 0, "same seed, same second mask")
    assert not np.array_equal(a, b)  # successive calls draw new masks
    assert not np.array_equal(a, c)  # another seed, another mask


# ==== errors: a ValueError/TypeError naming the op in brackets and what was received ==============
X34, X5 = np.ones((3, 4), np.float32), np.ones((5,), np.float32)
ERRORS = [  # (id, call, op named in brackets, substrings of the message)
    *[(f"{n}-shapes", (lambda f: lambda: f(X34, X5))(BINARY[n][0]), n.replace("true_", ""), ["(3, 4)", "(5,)"])
      for n in BINARY],
    ("where-shapes", lambda: ops.where(X34 > 0, X34, X5), "where", ["(3, 4)", "(5,)"]),
    ("matmul-inner", lambda: ops.matmul(X34, np.ones((5, 6))), "matmul", ["(3, 4)", "(5, 6)"]),
    ("matmul-rank0", lambda: ops.matmul(X5, np.float32(2)), "matmul", ["(5,)", "()"]),
    ("matmul-batch", lambda: ops.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5))), "matmul", ["(2, 3, 4)", "(3, 4, 5)"]),
    ("matmul-batch-broadcast", lambda: ops.matmul(X34, np.ones((2, 4, 5))), "matmul", ["(3, 4)", "(2, 4, 5)"]),
    ("dense-rank1", lambda: dense(np.ones(4), X34.T), "dense", ["(4,)", "(4, 3)"]),
    ("dense-kernel-rank", lambda: dense(X34, np.ones((4, 3, 1))), "dense", ["(3, 4)", "(4, 3, 1)"]),
    ("dense-inner", lambda: dense(X34, np.ones((3, 2))), "dense", ["(3, 4)", "(3, 2)"]),
    ("dense-bias", lambda: dense(X34, np.ones((4, 2)), np.ones(3)), "dense", ["(3,)"]),
    ("sum-axis", lambda: ops.sum(X34, axis=2), "sum", ["2", "(3, 4)"]),
    ("mean-axis", lambda: ops.mean(X34, axis=(0, -3)), "mean", ["-3", "(3, 4)"]),
    ("softmax-axis", lambda: ops.softmax(X34, axis=2), "softmax", ["axis=2", "(3, 4)"]),
    ("log_softmax-axis", lambda: ops.log_softmax(X34, axis=-3), "log_softmax", ["axis=-3", "(3, 4)"]),
    ("transpose-axes", lambda: ops.transpose(X34, (0, 0)), "transpose", ["(3, 4)"]),
    ("transpose-rank", lambda: ops.transpose(X34, (0, 1, 2)), "transpose", ["(3, 4)"]),
    ("reshape-size", lambda: ops.reshape(X34, (5, 3)), "reshape", ["(3, 4)", "(5, 3)"]),
    ("reshape-infer", lambda: ops.reshape(X34, (5, -1)), "reshape", ["(3, 4)"]),
    ("reshape-two-minus-one", lambda: ops.reshape(X34, (-1, -1)), "reshape", ["(-1, -1)"]),
    ("broadcast_to", lambda: ops.broadcast_to(X34, (4, 4)), "broadcast_to", ["(3, 4)", "(4, 4)"]),
    ("broadcast_to-rank", lambda: ops.broadcast_to(X34, (4,)), "broadcast_to", ["(3, 4)", "(4,)"]),
    ("clip-bounds", lambda: ops.clip(X34, 1, 0), "clip", ["x_min=1", "x_max=0"]),
    ("dropout-rate", lambda: ops.dropout(X34, 1.5), "dropout", ["rate=1.5"]),
    ("dropout-noise-rank", lambda: ops.dropout(X34, 0.5, noise_shape=(3,)), "dropout", ["(3, 4)"]),
    ("dropout-noise-shape", lambda: ops.dropout(X34, 0.5, noise_shape=(2, 4)), "dropout", ["(2, 4)", "(3, 4)"]),
    *[(f"sparse_ce-label{v}-logits{fl}", (lambda v, fl: lambda: ops.sparse_categorical_crossentropy(
        np.array([0, v, 1]), X34, from_logits=fl))(v, fl), "sparse_categorical_crossentropy",
        [f"label value of {v} which", "[0, 4)"])
      for v in (4, -1, 1.5) for fl in (True, False)],
    *[(f"sparse_ce-shape-logits{fl}", (lambda fl: lambda: ops.sparse_categorical_crossentropy(
        np.array([0, 1]), X34, from_logits=fl))(fl), "sparse_categorical_crossentropy", ["(2,)", "(3, 4)"])
      for fl in (True, False)],
    *[(f"ce-shape-logits{fl}", (lambda fl: lambda: ops.categorical_crossentropy(
        np.ones((3, 5)), X34, from_logits=fl))(fl), "categorical_crossentropy", ["(3, 5)", "(3, 4)"])
      for fl in (True, False)],
    *[(f"bce-shape-logits{fl}", (lambda fl: lambda: ops.binary_crossentropy(
        np.ones((4, 3)), X34, from_logits=fl))(fl), "binary_crossentropy", ["(4, 3)", "(3, 4)"])
      for fl in (True, False)],
    *[(f"{n}-shape", (lambda f: lambda: f(X5, X34))(getattr(ops, n)), n, ["(5,)", "(3, 4)"])
      for n in ("mean_squared_error", "mean_absolute_error", "huber")],
]


@pytest.mark.parametrize("call,op,parts", [e[1:] for e in ERRORS], ids=ids(ERRORS))
def test_error(call, op, parts):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    msg = str(info.value)
    assert f"[{op}]" in msg, msg
    for p in parts:
        assert p in msg, f"{p!r} not in {msg!r}"


BAD_INPUTS = [np.array(["a", "b"]), np.array([object(), 1.0], dtype=object), "abc", [["a"]], None]


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=["str-array", "object-array", "str", "str-list", "None"])
def test_non_numeric_input_rejected(bad):
    for call in (lambda: ops.add(bad, 1.0), lambda: ops.relu(bad), lambda: ops.matmul(bad, X34),
                 lambda: ops.sparse_categorical_crossentropy(bad, X34)):
        with pytest.raises(TypeError, match="numeric"):
            call()


def test_non_numeric_input_names_dtype():
    # The boundary conversion refuses it before any op runs, naming the dtype and the fix.
    with pytest.raises(TypeError, match=r"dtype <U1.*float32"):
        ops.add(np.array(["a", "b"]), 1.0)


# ==== GradientTape semantics ======================================================================
def t(x):
    return xkeras.convert_to_tensor(np.asarray(x, np.float32))


def test_tape_unconnected_source_is_none():
    x, z = t([1.0, 2.0]), t([3.0])
    with xkeras.GradientTape() as tape:
        tape.watch([x, z])
        y = ops.sum(x * 2.0)
        u = ops.sum(t([5.0]) * 2.0)  # depends on nothing watched
    gx, gz = tape.gradient(y, [x, z])
    assert_close(gx, [2.0, 2.0], 0, 0, "dx")
    assert gz is None
    with xkeras.GradientTape() as tape:
        tape.watch(x)
        u = ops.sum(t([5.0]) * 2.0)
    assert tape.gradient(u, [x]) == [None]


def test_tape_non_persistent_used_twice_raises():
    x = t([1.0, 2.0])
    with xkeras.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(x * x)
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)


def test_tape_persistent_works_twice():
    x = t([1.0, -2.0, 0.5])
    with xkeras.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y1 = ops.sum(x * x)
        y2 = ops.sum(ops.exp(x))
    for _ in range(2):
        assert_close(tape.gradient(y1, x), 2 * np.asarray(x), 0, 0, "d sum(x^2)")
        assert_close(tape.gradient(y2, x), np.exp(np.asarray(x)), 1e-6, 0, "d sum(exp x)")


def test_tape_accumulates_over_uses():
    x, b = t([[1.0], [-2.0], [3.0]]), t([0.5, -1.0, 2.0, 4.0])
    with xkeras.GradientTape() as tape:
        tape.watch([x, b])
        y = ops.sum(x * x) + ops.sum(x + x) + ops.sum(x * b) + ops.sum(ops.exp(b) * b)
    gx, gb = tape.gradient(y, [x, b])
    xv, bv = np.asarray(x, np.float64), np.asarray(b, np.float64)
    assert_close(gx, 2 * xv + 2 + bv.sum(), 1e-6, 1e-6, "x used in four terms, one broadcast")
    assert_close(gb, np.full(4, xv.sum()) + np.exp(bv) * (1 + bv), 1e-6, 1e-6, "b used twice in one op")


def test_tape_fresh_gradients_each_time():
    x = t([1.0, 2.0])
    for _ in range(3):  # no state leaks from one tape to the next
        with xkeras.GradientTape() as tape:
            tape.watch(x)
            y = ops.sum(x * 3.0)
        assert_close(tape.gradient(y, x), [3.0, 3.0], 0, 0, "dx")


def test_tape_intermediate_source():
    x = t([1.0, 2.0, 3.0])
    with xkeras.GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
        z = ops.sum(y * y)
    gy, gx = tape.gradient(z, [y, x])
    assert_close(gy, 2 * np.asarray(y), 0, 0, "dz/dy")
    assert_close(gx, 8 * np.asarray(x), 0, 0, "dz/dx")


def test_tape_variables_watched_automatically():
    v = xkeras.Variable(np.array([1.0, -2.0], np.float32))
    frozen = xkeras.Variable(np.array([3.0], np.float32), trainable=False)
    with xkeras.GradientTape() as tape:
        y = ops.sum(v * v) + ops.sum(frozen * 2.0) + ops.sum(ops.matmul(v, [[1.0], [1.0]]))
    gv, gf = tape.gradient(y, [v, frozen])
    assert_close(gv, [3.0, -3.0], 0, 0, "dv")
    assert gf is None


def test_tape_ops_before_the_tape_are_not_recorded():
    x = t([1.0, 2.0])
    y = x * 2.0  # outside any tape
    with xkeras.GradientTape() as tape:
        tape.watch(x)
        z = ops.sum(y * 3.0)
    assert tape.gradient(z, [x]) == [None]


def test_tape_nested_sources_keep_structure():
    a, b, c, d = t([1.0]), t([2.0, 3.0]), t(4.0), t([[5.0]])
    with xkeras.GradientTape() as tape:
        tape.watch([a, b, c, d])
        y = ops.sum(a * 1.0) + ops.sum(b * 2.0) + c * 3.0 + ops.sum(d * 4.0)
    g = tape.gradient(y, [a, [b, (c,)], {"k": d}])
    assert isinstance(g, list) and isinstance(g[1], list) and isinstance(g[1][1], tuple) and isinstance(g[2], dict)
    assert_close(g[0], [1.0], 0, 0, "a")
    assert_close(g[1][0], [2.0, 2.0], 0, 0, "b")
    assert_close(g[1][1][0], 3.0, 0, 0, "c")
    assert_close(g[2]["k"], [[4.0]], 0, 0, "d")
    with xkeras.GradientTape() as tape:
        tape.watch(a)
        y = ops.sum(a * 5.0)
    assert_close(tape.gradient(y, a), [5.0], 0, 0, "a single source gives a single gradient")


GRAD_FAMILIES = [  # one use of x (3, 4) per backward kernel family: (name, f(x) -> scalar tensor)
    ("unary", lambda x: ops.sum(ops.exp(x) * 0.5)),
    ("binary-same-shape", lambda x: ops.sum(x * np.arange(12, dtype=np.float32).reshape(3, 4))),
    ("binary-broadcast-other", lambda x: ops.sum(ops.multiply(x, np.ones((2, 3, 4), np.float32)))),
    ("where", lambda x: ops.sum(ops.where(np.eye(3, 4) > 0, x, 2.0) * 3.0)),
    ("softmax", lambda x: ops.sum(ops.softmax(x, axis=0) * np.arange(12.0).reshape(3, 4))),
    ("log_softmax", lambda x: ops.sum(ops.log_softmax(x) * np.arange(12.0).reshape(3, 4))),
    ("sum-axis", lambda x: ops.sum(ops.sum(x, axis=1) * np.array([1.0, 2.0, 3.0]))),
    ("mean", lambda x: ops.mean(x)),
    ("reshape", lambda x: ops.sum(ops.reshape(x, (-1,)) * np.arange(12.0))),
    ("transpose", lambda x: ops.sum(ops.transpose(x) * np.arange(12.0).reshape(4, 3))),
    ("broadcast_to", lambda x: ops.sum(ops.broadcast_to(x, (2, 3, 4)) * np.arange(24.0).reshape(2, 3, 4))),
    ("matmul-a", lambda x: ops.sum(ops.matmul(x, np.ones((4, 2), np.float32)))),
    ("matmul-b", lambda x: ops.sum(ops.matmul(np.arange(6.0).reshape(2, 3), x))),
    ("dense-x", lambda x: ops.sum(dense(x, np.ones((4, 2), np.float32), np.ones(2, np.float32)))),
    ("dense-kernel", lambda x: ops.sum(dense(np.arange(6.0).reshape(2, 3), x, None))),
    ("loss", lambda x: ops.sum(ops.mean_squared_error(np.zeros((3, 4), np.float32), x))),
    ("sparse-ce", lambda x: ops.sum(ops.sparse_categorical_crossentropy(np.array([0, 1, 3]), x, from_logits=True))),
    ("dropout", lambda x: ops.sum(ops.dropout(x, 0.0) * 2.0)),
]


def test_tape_accumulates_across_kernel_families():
    """x feeds every backward family at once: each must add to, not overwrite, what came before."""
    x = t(np.random.default_rng(5).standard_normal((3, 4)))

    def grad(fns):
        with xkeras.GradientTape() as tape:
            tape.watch(x)
            total = fns[0](x)
            for f in fns[1:]:
                total = total + f(x)
        return np.asarray(tape.gradient(total, x), np.float64)

    singles = [grad([f]) for _, f in GRAD_FAMILIES]
    fns = [f for _, f in GRAD_FAMILIES]
    assert_close(grad(fns), np.sum(singles, axis=0), 1e-5, 1e-5, "all families")
    assert_close(grad(fns[::-1]), np.sum(singles, axis=0), 1e-5, 1e-5, "all families, reversed")


def test_tape_non_scalar_target_and_target_as_source():
    x = t([[1.0, 2.0], [3.0, 4.0]])
    with xkeras.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x  # a non-scalar target is summed, as tf.GradientTape does
    assert_close(tape.gradient(y, x), 2 * np.asarray(x), 0, 0, "d sum(y)/dx")
    assert_close(tape.gradient(y, y), np.ones((2, 2)), 0, 0, "dy/dy")
    assert_close(tape.gradient(x, x), np.ones((2, 2)), 0, 0, "dx/dx")


def test_nested_tapes():
    x = t([1.0, -2.0])
    with xkeras.GradientTape() as outer:
        outer.watch(x)
        with xkeras.GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(x * x * x)
        assert_close(inner.gradient(y, x), 3 * np.asarray(x) ** 2, 0, 0, "inner")
        z = y * 2.0
    assert_close(outer.gradient(z, x), 6 * np.asarray(x) ** 2, 0, 0, "outer")


def test_tape_watch_is_per_tape():
    x = t([1.0, 2.0])
    with xkeras.GradientTape() as tape:
        tape.watch(x)
        ops.sum(x * 2.0)
    with xkeras.GradientTape() as tape:
        y = ops.sum(x * 2.0)
    assert tape.gradient(y, [x]) == [None]


# ==== the rest of xkeras.ops =======================================================================
tested("convert_to_tensor", "convert_to_numpy")


def test_convert_roundtrip():
    for value in (np.arange(6, dtype=np.int64).reshape(2, 3), [[1, 2], [3, 4]], 2.5, np.array([True, False])):
        x = ops.convert_to_tensor(value)
        assert isinstance(x, xkeras.Tensor) and x.dtype == "float32"
        y = ops.convert_to_numpy(x)
        assert isinstance(y, np.ndarray) and y.dtype == np.float32
        assert_close(y, np.asarray(value, np.float32), 0, 0, "roundtrip")
    x = ops.convert_to_tensor([1.0])
    assert ops.convert_to_tensor(x) is x
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    for view in (a.T, a[::-1, ::2], a[:, 1]):  # strided and reversed views are copied in order
        assert_close(ops.add(view, 0.0), view, 0, 0, "non-contiguous input")


def test_python_operators():
    a, b = normal(3, 4)(np.random.default_rng(3)), positive(3, 4)(np.random.default_rng(4))
    ta, tb, v = t(a), t(b), xkeras.Variable(b.astype(np.float32))
    a, b = np.asarray(ta, np.float64), np.asarray(tb, np.float64)
    for got, want in [(ta + tb, a + b), (ta - 1, a - 1), (2 - ta, 2 - a), (ta * v, a * b), (1 / tb, 1 / b),
                      (ta / 2, a / 2), (tb ** 2, b**2), (2 ** ta, 2**a), (-ta, -a), (abs(ta), np.abs(a)),
                      (ta @ ops.transpose(tb), a @ b.T), (v + ta, b + a),
                      (a.astype(np.float32) * tb, a * b)]:
        assert isinstance(got, xkeras.Tensor)
        assert_close(got, want, RTOL, ATOL, "operator")


def test_every_op_is_tested():
    public = {n for n in dir(ops) if not n.startswith("_") and callable(getattr(ops, n))}
    assert not public - TESTED, f"ops without tests: {sorted(public - TESTED)}"
