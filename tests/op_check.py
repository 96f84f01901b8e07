"""Table-driven op checking for tests/test_ops.py (in the style of tinygrad's `helper_test_op`).

`check_op(xk_fn, np_fn, specs, grad=...)` draws the inputs from `specs` with a fixed seed, then checks
  1. the forward of `xk_fn` (float32, native engine) against `np_fn` run in float64 on the same values;
  2. the gradient of `sum(xk_fn(*x) * w)` from `xkeras.GradientTape`, with a fixed random `w` so every
     output element gets its own upstream gradient (computed after a pass with NaN upstream gradients on
     the same persistent tape, so stale gradient buffers must be overwritten), against
     (a) `grad(*x, w)`, the analytic derivative written in NumPy (float64), and
     (b) central finite differences of `sum(np_fn(*x) * w)` in float64;
  and that each gradient comes back in its input's own shape.
"""
import numpy as np
import xkeras
from xkeras import ops

RTOL, ATOL = 1e-5, 1e-6  # float32 results against float64 references


# ---- input specs: each is a function rng -> array ------------------------------------------------
def normal(*shape, scale=1.0):
    return lambda r: scale * r.standard_normal(shape)


def uniform(*shape, lo=-1.0, hi=1.0):
    return lambda r: r.uniform(lo, hi, shape)


def positive(*shape, lo=0.5, hi=2.0):
    return uniform(*shape, lo=lo, hi=hi)


def away(*shape, lo=-3.0, hi=3.0, kinks=(0.0,), gap=0.05):
    """Uniform in [lo, hi] but at least `gap` from every kink (where the derivative jumps)."""
    def draw(r):
        x = r.uniform(lo, hi, shape)
        for _ in range(100):
            bad = np.zeros(np.shape(x), bool)
            for k in kinks:
                bad |= np.abs(x - k) < gap
            if not bad.any():
                return x
            x = np.where(bad, r.uniform(lo, hi, shape), x)
        raise AssertionError("could not sample away from the kinks")
    return draw


def nonzero(*shape, lo=0.5, hi=2.0):
    """|x| in [lo, hi] with a random sign (divisors)."""
    return lambda r: r.choice([-1.0, 1.0], shape) * r.uniform(lo, hi, shape)


def labels(*shape, n):
    return lambda r: r.integers(0, n, shape)  # int64: exercises the integer conversion path


def mask(*shape):
    return lambda r: r.random(shape) < 0.5  # bool


def probs(*shape, lo=-2.0, hi=2.0):
    """Rows of a softmax: valid probabilities, all well inside (eps, 1 - eps)."""
    return lambda r: softmax(r.uniform(lo, hi, shape))


def onehot(*shape):
    return lambda r: np.eye(shape[-1])[r.integers(0, shape[-1], shape[:-1])]


def const(value):
    return lambda r: np.asarray(value)


# ---- NumPy float64 helpers -----------------------------------------------------------------------
def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def unbroadcast(g, shape):
    """Sums `g` over the axes that broadcasting added to or stretched in `shape`."""
    g = np.asarray(g, np.float64)
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    axes = tuple(d for d, n in enumerate(shape) if n == 1 and g.shape[d] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def numeric_grad(f, xs, i, eps=1e-6):
    """Central differences of the scalar f(*xs) with respect to xs[i], in float64."""
    xs = [np.array(x, np.float64) if j == i else x for j, x in enumerate(xs)]
    x = xs[i]
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)  # views
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        hi = f(*xs)
        flat[k] = old - eps
        lo = f(*xs)
        flat[k] = old
        gflat[k] = (hi - lo) / (2 * eps)
    return g


def assert_close(got, want, rtol, atol, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != expected {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


# ---- the checker ---------------------------------------------------------------------------------
def draw(specs, seed=0):
    """Inputs as the engine sees them: floats rounded to float32 once; bools and ints kept."""
    r = np.random.default_rng(seed)
    out = []
    for s in specs:
        x = np.asarray(s(r))
        out.append(x.astype(np.float32) if x.dtype.kind == "f" else x)
    return out, r


def check_op(xk_fn, np_fn, specs, grad=None, wrt=None, seed=0, rtol=RTOL, atol=ATOL,
             grad_rtol=None, grad_atol=None, fd_eps=1e-6):
    """Checks forward and backward of `xk_fn` (see the module docstring); returns the inputs.

    grad(*inputs_f64, w) returns one array per differentiated input, either in that input's shape
    or in the (broadcast) output's shape, in which case it is summed over the broadcast axes here.
    wrt: indices of the inputs to differentiate (default: every float input).
    """
    grad_rtol = rtol if grad_rtol is None else grad_rtol
    grad_atol = atol if grad_atol is None else grad_atol
    xs, r = draw(specs, seed)
    x64 = [x.astype(np.float64) if x.dtype.kind == "f" else x for x in xs]
    if wrt is None:
        wrt = [i for i, x in enumerate(xs) if x.dtype.kind == "f"]
    want = np.asarray(np_fn(*x64), np.float64)
    w = r.standard_normal(want.shape).astype(np.float32)
    ts = [xkeras.convert_to_tensor(x) for x in xs]
    with xkeras.GradientTape(persistent=True) as tape:
        for i in wrt:
            tape.watch(ts[i])
        out = xk_fn(*ts)
        loss = ops.sum(ops.multiply(out, w))
        poison = ops.sum(ops.multiply(out, np.full(want.shape, np.nan, np.float32)))
    assert isinstance(out, xkeras.Tensor)
    assert_close(out, want, rtol, atol, "forward")
    if not wrt:
        return xs
    # A first pass with NaN upstream gradients leaves NaN in every gradient buffer of the graph: the
    # real pass must overwrite them (a backward computing 0 * old + new would return NaN).
    tape.gradient(poison, [ts[i] for i in wrt])
    grads = tape.gradient(loss, [ts[i] for i in wrt])
    analytic = grad(*x64, w.astype(np.float64)) if grad is not None else [None] * len(wrt)
    assert len(analytic) == len(wrt)
    w64 = w.astype(np.float64)
    for i, g, a in zip(wrt, grads, analytic):
        assert g is not None, f"gradient of input {i} is None"
        g = np.asarray(g)
        assert g.shape == xs[i].shape, f"gradient of input {i}: shape {g.shape} != input shape {xs[i].shape}"
        if a is not None:
            assert_close(g, unbroadcast(a, xs[i].shape), grad_rtol, grad_atol, f"d/dx{i} vs analytic")
        fd = numeric_grad(lambda *v: np.sum(np.asarray(np_fn(*v), np.float64) * w64), x64, i, fd_eps)
        assert_close(g, fd, grad_rtol, grad_atol, f"d/dx{i} vs finite differences")
    return xs
