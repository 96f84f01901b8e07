"""Optimizers: Keras 3's update rules (keras-spec §6) run natively, checked three ways.

1. Against a float64 NumPy implementation of Keras's formulas (written here from keras/src/optimizers),
   20 steps on fixed gradients, rtol 1e-6 (float32 weights vs a float64 reference).
2. Against Keras's own golden values (adam_test.py).
3. Against real Keras: the same variables and gradients through `keras.optimizers.X(...).apply_gradients`,
   and a whole fit of a small model.
"""
import os
import re
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import xkeras  # noqa: E402

STEPS = 20
SHAPES = [(3, 4), (4,)]


@pytest.fixture(scope="module")
def K():
    keras = pytest.importorskip("keras", reason="real Keras 3 is the reference for the parity tests")
    if keras.backend.backend() != "tensorflow":
        pytest.skip(f"parity expects Keras' TensorFlow backend, found {keras.backend.backend()!r}")
    return keras


def problem(seed=0):
    """Weights away from zero (so rtol is meaningful) and a fixed gradient per step, all float32."""
    rng = np.random.default_rng(seed)
    w0 = [(rng.uniform(0.5, 2.0, s) * rng.choice([-1, 1], s)).astype(np.float32) for s in SHAPES]
    grads = [[rng.normal(0, 1, s).astype(np.float32) for s in SHAPES] for _ in range(STEPS)]
    return w0, grads


# ---- the float64 reference: base_optimizer.apply and each update_step -----------------------------

class Reference:
    def __init__(self, kind, w0, learning_rate=0.001, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 weight_decay=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, decay=0.0,
                 **hyper):
        self.kind, self.hyper = kind, hyper
        self.w = [np.asarray(w, np.float64).copy() for w in w0]
        self.lr, self.decay = learning_rate, decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.weight_decay = 0.004 if kind == "AdamW" and weight_decay is None else weight_decay
        self.use_ema, self.ema_momentum, self.ema_freq = use_ema, ema_momentum, ema_overwrite_frequency
        self.avg = [np.zeros_like(w) for w in self.w]
        init = hyper.get("initial_accumulator_value", 0.1) if kind == "Adagrad" else 0.0
        self.s = [[np.full_like(w, init) for _ in range(3)] for w in self.w]
        self.u_product = 1.0
        self.it = 0

    def rate(self):
        lr = self.lr(self.it) if callable(self.lr) else self.lr
        return lr / (1 + self.decay * self.it)

    def step(self, grads):
        g = [np.asarray(x, np.float64) for x in grads]
        if self.clipnorm:
            g = [x * self.clipnorm / max(np.sqrt(np.sum(x * x)), self.clipnorm) for x in g]
        elif self.global_clipnorm:
            norm = np.sqrt(sum(np.sum(x * x) for x in g))
            g = [x * self.global_clipnorm * min(1 / norm, 1 / self.global_clipnorm) for x in g]
        elif self.clipvalue:
            g = [np.clip(x, -self.clipvalue, self.clipvalue) for x in g]
        lr, t = self.rate(), self.it + 1
        if self.weight_decay is not None:
            self.w = [w - w * self.weight_decay * lr for w in self.w]
        if self.kind == "Nadam":
            self.u_product *= self.hyper.get("beta_1", 0.9) * (1 - 0.5 * 0.96 ** t)
        for w, gi, s in zip(self.w, g, self.s):
            getattr(self, self.kind.lower())(w, gi, s, lr, t, **self.hyper)
        if self.use_ema:
            m = self.ema_momentum if self.it else 0.0
            self.avg = [m * a + (1 - m) * w for a, w in zip(self.avg, self.w)]
            if self.ema_freq and (self.it + 1) % self.ema_freq == 0:
                self.w = [a.copy() for a in self.avg]
        self.it += 1

    @staticmethod
    def sgd(w, g, s, lr, t, momentum=0.0, nesterov=False):
        if momentum == 0:
            w -= lr * g
            return
        s[0][...] = momentum * s[0] - lr * g
        w += momentum * s[0] - lr * g if nesterov else s[0]

    @staticmethod
    def rmsprop(w, g, s, lr, t, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
        v, m, a = s
        v[...] = rho * v + (1 - rho) * g * g
        if centered:
            a[...] = rho * a + (1 - rho) * g
            den = v - a * a + epsilon
        else:
            den = v + epsilon
        inc = lr * g / np.sqrt(den)
        if momentum > 0:
            m[...] = momentum * m + inc
            w -= m
        else:
            w -= inc

    @staticmethod
    def adam(w, g, s, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
        m, v, vh = s
        alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        m += (g - m) * (1 - beta_1)
        v += (g * g - v) * (1 - beta_2)
        if amsgrad:
            vh[...] = np.maximum(vh, v)
            v = vh
        w -= m * alpha / (np.sqrt(v) + epsilon)

    adamw = adam

    @staticmethod
    def adagrad(w, g, s, lr, t, initial_accumulator_value=0.1, epsilon=1e-7):
        s[0] += g * g
        w -= lr * g / np.sqrt(s[0] + epsilon)

    @staticmethod
    def adadelta(w, g, s, lr, t, rho=0.95, epsilon=1e-7):
        eg, edx = s[0], s[1]
        eg[...] = rho * eg + (1 - rho) * g * g
        d = -np.sqrt(edx + epsilon) * g / np.sqrt(eg + epsilon)
        edx[...] = rho * edx + (1 - rho) * d * d
        w += lr * d

    @staticmethod
    def adamax(w, g, s, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        m, u = s[0], s[1]
        m += (g - m) * (1 - beta_1)
        u[...] = np.maximum(beta_2 * u, np.abs(g))
        w -= lr * m / ((1 - beta_1 ** t) * (u + epsilon))

    def nadam(self, w, g, s, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        m, v = s[0], s[1]
        u_t = beta_1 * (1 - 0.5 * 0.96 ** t)
        u_next = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
        m += (g - m) * (1 - beta_1)
        v += (g * g - v) * (1 - beta_2)
        m_hat = u_next * m / (1 - self.u_product * u_next) + (1 - u_t) * g / (1 - self.u_product)
        v_hat = v / (1 - beta_2 ** t)
        w -= m_hat * lr / (np.sqrt(v_hat) + epsilon)

    @staticmethod
    def lion(w, g, s, lr, t, beta_1=0.9, beta_2=0.99):
        w -= lr * np.sign(beta_1 * s[0] + (1 - beta_1) * g)
        s[0][...] = beta_2 * s[0] + (1 - beta_2) * g


def run_xkeras(kind, cfg, w0, grads):
    opt = getattr(xkeras.optimizers, kind)(**cfg)
    vs = [xkeras.Variable(w) for w in w0]
    history = []
    for g in grads:
        opt.apply_gradients(zip(g, vs))
        history.append([v.numpy() for v in vs])
    return opt, vs, history


# Rates large enough that each formula's terms (eps placement, bias corrections, ...) move the weights
# by more than rtol 1e-6.
CASES = [
    ("SGD", {"learning_rate": 0.05}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "epsilon": 0.1}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True, "momentum": 0.3, "rho": 0.8, "epsilon": 0.5}),
    ("Adam", {"learning_rate": 0.01}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("Adam", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 0.1}),
    ("AdamW", {"learning_rate": 0.01}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.5, "amsgrad": True}),
    ("Adagrad", {"learning_rate": 0.05}),
    ("Adagrad", {"learning_rate": 0.05, "initial_accumulator_value": 0.5, "epsilon": 0.1}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.5, "epsilon": 1e-3}),
    ("Adamax", {"learning_rate": 0.01}),
    ("Adamax", {"learning_rate": 0.01, "beta_1": 0.5, "epsilon": 0.1}),
    ("Nadam", {"learning_rate": 0.01}),
    ("Nadam", {"learning_rate": 0.01, "beta_1": 0.95, "beta_2": 0.9, "epsilon": 0.1}),
    ("Lion", {"learning_rate": 0.01}),
    ("Lion", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9}),
    # the common arguments (base_optimizer.apply), on a stateless and a stateful rule
    ("SGD", {"learning_rate": 0.05, "momentum": 0.5, "clipnorm": 1.0}),
    ("Adam", {"learning_rate": 0.01, "clipnorm": 0.5}),
    ("SGD", {"learning_rate": 0.05, "clipvalue": 0.3}),
    ("Adam", {"learning_rate": 0.01, "clipvalue": 0.3}),
    ("SGD", {"learning_rate": 0.05, "global_clipnorm": 1.5}),
    ("RMSprop", {"learning_rate": 0.01, "global_clipnorm": 1.5}),
    ("SGD", {"learning_rate": 0.05, "weight_decay": 0.3}),
    ("Nadam", {"learning_rate": 0.01, "weight_decay": 0.3}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "use_ema": True, "ema_momentum": 0.9}),
    ("Adam", {"learning_rate": 0.01, "use_ema": True, "ema_momentum": 0.8, "ema_overwrite_frequency": 3}),
]


def case_id(case):
    return case[0] + "-" + "-".join(f"{k}={v}" for k, v in case[1].items() if k != "learning_rate")


@pytest.mark.parametrize("kind,cfg", CASES, ids=[case_id(c) for c in CASES])
def test_20_steps_match_numpy_reference(kind, cfg):
    w0, grads = problem()
    opt, vs, history = run_xkeras(kind, cfg, w0, grads)
    ref = Reference(kind, w0, **cfg)
    for step, g in enumerate(grads):
        ref.step(g)
        for got, want in zip(history[step], ref.w):
            # atol: the weights are O(1) and float32's spacing at 1 is 1.2e-7, so a weight that passes near
            # zero keeps an absolute error of that size and no relative precision.
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=f"{kind} step {step + 1}")
    assert int(opt.iterations) == STEPS
    if cfg.get("use_ema"):  # the averages, written into the weights by finalize_variable_values
        opt.finalize_variable_values([])
        for v, a in zip(vs, ref.avg):
            np.testing.assert_allclose(v.numpy(), a, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind,cfg", CASES, ids=[case_id(c) for c in CASES])
def test_10_steps_match_real_keras(K, kind, cfg):
    w0, grads = problem(1)
    grads = grads[:10]  # Keras' eager steps cost ~12 ms each; the NumPy test above runs all 20
    _, vs, _ = run_xkeras(kind, cfg, w0, grads)
    kopt = getattr(K.optimizers, kind)(**cfg)
    kvs = [K.Variable(w) for w in w0]
    for g in grads:
        kopt.apply_gradients(zip(g, kvs))
    for v, kv in zip(vs, kvs):
        np.testing.assert_allclose(v.numpy(), kv.numpy(), rtol=1e-6, atol=1e-6)  # float32 both, as above


def test_ema_averages_match_real_keras(K):
    w0, grads = problem(2)
    cfg = {"learning_rate": 0.05, "momentum": 0.9, "use_ema": True, "ema_momentum": 0.9}
    xopt, vs, _ = run_xkeras("SGD", cfg, w0, grads)
    kopt = K.optimizers.SGD(**cfg)
    kvs = [K.Variable(w) for w in w0]
    for g in grads:
        kopt.apply_gradients(zip(g, kvs))
    for v, kv in zip(vs, kvs):  # before finalize: the raw weights
        np.testing.assert_allclose(v.numpy(), kv.numpy(), rtol=2e-6)
    xopt.finalize_variable_values(vs)
    kopt.finalize_variable_values(kvs)
    for v, kv in zip(vs, kvs):  # after: the moving averages
        np.testing.assert_allclose(v.numpy(), kv.numpy(), rtol=2e-6)


# ---- Keras's golden values (keras/src/optimizers/adam_test.py) ----------------------------------

def test_adam_single_step_golden():
    v = xkeras.Variable(np.array([1.0, 2.0, 3.0, 4.0], np.float32))
    xkeras.optimizers.Adam(learning_rate=0.5).apply_gradients([(np.array([1.0, 6.0, 7.0, 2.0], np.float32), v)])
    np.testing.assert_allclose(v.numpy(), [0.5, 1.5, 2.5, 3.5], rtol=1e-4, atol=1e-4)


def test_adam_amsgrad_golden():
    opt = xkeras.optimizers.Adam(amsgrad=True)
    x = xkeras.Variable(np.ones([10], np.float32))
    grads = np.arange(0.1, 1.1, 0.1).astype(np.float32)
    golden = np.tile([[0.999], [0.9982], [0.9974], [0.9965], [0.9955]], (1, 10))
    opt.apply_gradients([(np.full((10,), 0.01, np.float32), x)])
    for i in range(5):
        np.testing.assert_allclose(x.numpy(), golden[i], rtol=5e-4, atol=5e-4)
        opt.apply_gradients([(grads, x)])


def test_adam_weight_decay_golden_and_exclusion():
    def var(v, name=None):
        return xkeras.Variable(np.float32(v), name=name)

    zero = np.zeros((), np.float32)
    var1, var2, var3 = var(2.0), var(2.0, "exclude"), var(2.0)
    xkeras.optimizers.Adam(learning_rate=1.0, weight_decay=0.004).apply_gradients([(zero, var1)])
    opt2 = xkeras.optimizers.Adam(learning_rate=1.0, weight_decay=0.004)
    opt2.exclude_from_weight_decay(var_names=["exclude"])
    opt2.apply_gradients(zip([zero, zero], [var1, var2]))
    opt3 = xkeras.optimizers.Adam(learning_rate=1.0, weight_decay=0.004)
    opt3.exclude_from_weight_decay(var_list=[var3])
    opt3.apply_gradients(zip([zero, zero], [var1, var3]))
    np.testing.assert_allclose(var1.numpy(), 1.9760959, rtol=0, atol=1e-6)
    assert var2.numpy() == 2.0 and var3.numpy() == 2.0


# ---- clipping semantics ------------------------------------------------------------------------

def test_clipnorm_is_per_variable_and_global_clipnorm_is_joint():
    g = [np.array([3.0, 4.0], np.float32), np.array([0.0, 12.0], np.float32)]  # norms 5 and 12, global 13

    def moved(**clip):
        vs = [xkeras.Variable(np.zeros(2, np.float32)) for _ in g]
        xkeras.optimizers.SGD(1.0, **clip).apply_gradients(zip(g, vs))
        return [-v.numpy() for v in vs]

    a, b = moved(clipnorm=1.0)
    np.testing.assert_allclose(a, [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(b, [0.0, 1.0], rtol=1e-6)
    a, b = moved(global_clipnorm=1.0)
    np.testing.assert_allclose(a, [3 / 13, 4 / 13], rtol=1e-6)
    np.testing.assert_allclose(b, [0.0, 12 / 13], rtol=1e-6)
    a, b = moved(clipvalue=3.5)
    np.testing.assert_allclose(a, [3.0, 3.5])
    np.testing.assert_allclose(b, [0.0, 3.5])
    a, b = moved(clipnorm=100.0)  # under the threshold: untouched
    np.testing.assert_allclose(a, [3.0, 4.0], rtol=1e-6)


def test_only_one_clip_argument_and_other_keras_errors():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        xkeras.optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="should be float"):
        xkeras.optimizers.Adam(learning_rate=1)
    with pytest.raises(ValueError, match="should be float"):
        xkeras.optimizers.Adam(learning_rate=np.float32(0.1))
    xkeras.optimizers.Adam(learning_rate=np.float64(0.1))  # a float subclass, as in Keras
    with pytest.raises(ValueError, match="`momentum` must be a float"):
        xkeras.optimizers.SGD(momentum=0)
    with pytest.raises(ValueError, match=r"Argument\(s\) not recognized"):
        xkeras.optimizers.Adam(foo=1)
    with pytest.raises(ValueError, match="`weight_decay` must be a float"):
        xkeras.optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="beta_1"):
        xkeras.optimizers.Lion(beta_1=0.0)
    with pytest.raises(ImportError, match="legacy"):
        xkeras.optimizers.legacy.Adam()
    with pytest.raises(NotImplementedError, match="gradient_accumulation_steps"):
        xkeras.optimizers.SGD(gradient_accumulation_steps=2)
    v = xkeras.Variable(np.ones(2, np.float32))
    with pytest.raises(ValueError, match="No gradients provided"):
        xkeras.optimizers.SGD().apply_gradients([(None, v)])


# ---- strings, configs, state -------------------------------------------------------------------

NAMES = ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam", "Lion"]


@pytest.mark.parametrize("name", NAMES)
def test_get_by_string_and_config_match_keras(K, name):
    for spelling in (name, name.lower(), name.upper()):
        assert type(xkeras.optimizers.get(spelling)) is getattr(xkeras.optimizers, name)
    xcfg = getattr(xkeras.optimizers, name)().get_config()
    kcfg = getattr(K.optimizers, name)().get_config()
    xcfg.pop("name"), kcfg.pop("name")
    assert xcfg == kcfg
    clone = getattr(xkeras.optimizers, name).from_config(xcfg)
    assert clone.get_config() | {"name": None} == xcfg | {"name": None}


def test_default_names_follow_keras_auto_name():
    xkeras.backend.clear_session()
    assert xkeras.optimizers.RMSprop().name == "rm_sprop"
    assert xkeras.optimizers.AdamW().name == "adam_w"
    assert xkeras.optimizers.SGD().name == "sgd"


@pytest.mark.parametrize("name,cfg", [("Adam", {"amsgrad": True}), ("RMSprop", {"momentum": 0.5, "centered": True}),
                                      ("Nadam", {"use_ema": True}), ("SGD", {"momentum": 0.9}), ("SGD", {}),
                                      ("Adagrad", {}), ("Adadelta", {}), ("Adamax", {}), ("Lion", {})])
def test_optimizer_variables_order_matches_keras(K, name, cfg):
    """iteration, learning_rate, EMA averages, slots interleaved per variable by group, Nadam's u_product."""
    w0, grads = problem(3)
    xopt, _, _ = run_xkeras(name, cfg, w0, grads[:2])
    kopt = getattr(K.optimizers, name)(**cfg)
    kvs = [K.Variable(w, name=f"v{i}") for i, w in enumerate(w0)]
    for g in grads[:2]:
        kopt.apply_gradients(zip(g, kvs))
    kvars, xvars = kopt.variables, xopt.variables
    assert [tuple(v.shape) for v in xvars] == [tuple(v.shape) for v in kvars]
    knames = [re.sub(r"^variable(_\d+)?$", "u_product", v.name) for v in kvars]  # Nadam's is unnamed in Keras
    assert [v.name.split("_")[-1] for v in xvars] == [n.split("_")[-1] for n in knames]
    for a, b in zip(xvars, kvars):
        np.testing.assert_allclose(np.asarray(a, np.float64), b.numpy().astype(np.float64), rtol=1e-5, atol=1e-7)
    count, nbytes = xopt._params_count_and_bytes()
    assert count == sum(int(np.prod(v.shape)) for v in kvars)
    assert nbytes == 8 + 4 * (count - 1)


def test_state_round_trip_continues_identically():
    w0, grads = problem(4)
    opt, vs, _ = run_xkeras("Nadam", {"learning_rate": 0.01}, w0, grads[:10])
    state, it, weights = opt._get_slot_values(), int(opt.iterations), [v.numpy() for v in vs]
    opt2 = xkeras.optimizers.Nadam(learning_rate=0.01)
    vs2 = [xkeras.Variable(w) for w in weights]
    opt2.build(vs2)
    opt2._set_slot_values(state)
    opt2.iterations.assign(it)
    for g in grads[10:]:
        opt.apply_gradients(zip(g, vs))
        opt2.apply_gradients(zip(g, vs2))
    for a, b in zip(vs, vs2):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# ---- learning rate and iterations: readable, settable between steps; tf.keras 2 spellings ---------

def test_learning_rate_and_iterations_read_and_set():
    opt = xkeras.optimizers.SGD(learning_rate=0.1)
    v = xkeras.Variable(np.zeros(1, np.float32))
    g = np.ones(1, np.float32)
    assert isinstance(opt.learning_rate.numpy(), np.float32) and float(opt.learning_rate) == np.float32(0.1)
    opt.apply_gradients([(g, v)])
    opt.learning_rate = 0.01
    opt.apply_gradients([(g, v)])
    opt.learning_rate.assign(0.001)
    opt.apply_gradients([(g, v)])
    xkeras.backend.set_value(opt.learning_rate, opt.learning_rate * 2)  # Géron's ExponentialLearningRate
    assert xkeras.backend.get_value(opt.learning_rate) == np.float32(0.002)
    opt.apply_gradients([(g, v)])
    np.testing.assert_allclose(v.numpy(), [-(0.1 + 0.01 + 0.001 + 0.002)], rtol=1e-6)
    assert opt.iterations.numpy() == 4 and isinstance(opt.iterations.numpy(), np.int64)
    assert int(opt.iterations) == 4 and xkeras.backend.get_value(opt.iterations) == 4
    opt.iterations.assign(10)
    assert int(opt.iterations) == 10


def test_learning_rate_set_from_a_callback_between_batches():
    class Grow(xkeras.callbacks.Callback):  # the course's ExponentialLearningRate, verbatim
        def __init__(self, factor):
            self.factor, self.rates = factor, []

        def on_batch_end(self, batch, logs):
            K = xkeras.backend
            self.rates.append(K.get_value(self.model.optimizer.learning_rate))
            K.set_value(self.model.optimizer.learning_rate, self.model.optimizer.learning_rate * self.factor)

    xkeras.utils.set_random_seed(0)
    x = np.random.rand(64, 3).astype(np.float32)
    y = x.sum(1, keepdims=True)
    m = xkeras.Sequential([xkeras.Input((3,)), xkeras.layers.Dense(1, kernel_initializer="zeros")])
    m.compile(optimizer=xkeras.optimizers.SGD(learning_rate=1e-3), loss="mse")
    cb = Grow(2.0)
    m.fit(x, y, batch_size=16, epochs=1, shuffle=False, callbacks=[cb], verbose=0)
    np.testing.assert_allclose(cb.rates, [1e-3, 2e-3, 4e-3, 8e-3], rtol=1e-6)
    # each step used the rate set just before it: replay in NumPy
    w, b = np.zeros((3, 1)), 0.0
    for i, lr in enumerate(cb.rates):
        xb, yb = x[16 * i:16 * (i + 1)], y[16 * i:16 * (i + 1)]
        err = xb @ w + b - yb
        w, b = w - lr * 2 * xb.T @ err / 16, b - lr * 2 * err.mean()
    np.testing.assert_allclose(m.get_weights()[0], w, rtol=1e-5)


def test_tf_keras_2_lr_and_decay_spellings():
    import xkeras.optimizers.base as base
    base._warned.clear()
    with pytest.warns(UserWarning, match="`lr` argument"):
        opt = xkeras.optimizers.SGD(lr=0.1, decay=0.5)
    assert float(opt.lr) == np.float32(0.1) and float(opt.learning_rate) == np.float32(0.1)
    v = xkeras.Variable(np.zeros(1, np.float32))
    for _ in range(4):  # tf.keras 2 power scheduling: lr / (1 + decay * iterations)
        opt.apply_gradients([(np.ones(1, np.float32), v)])
    np.testing.assert_allclose(v.numpy(), [-sum(0.1 / (1 + 0.5 * t) for t in range(4))], rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        xkeras.optimizers.Adam(lr=0.01)
    assert opt.get_config()["decay"] == 0.5


def test_schedule_learning_rate_is_not_assignable():
    opt = xkeras.optimizers.SGD(xkeras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.01
    assert "learning_rate" not in [v.name for v in opt.variables]


# ---- whole fits against Keras -----------------------------------------------------------------

@pytest.fixture(scope="module")
def small_data():
    (x, y), _ = xkeras.datasets.fashion_mnist.load_data()
    return (x[:512].reshape(512, -1) / 255.0).astype(np.float32), y[:512].astype(np.int64)


@pytest.mark.parametrize("name,cfg", [("Adam", {"clipnorm": 1.0}), ("Nadam", {}), ("RMSprop", {"momentum": 0.5})])
def test_one_epoch_fit_matches_keras(K, small_data, name, cfg):
    x, y = small_data

    def build(lib):
        return lib.Sequential([lib.Input((784,)), lib.layers.Dense(32, activation="relu"),
                               lib.layers.Dense(10, activation="softmax")])

    K.utils.set_random_seed(0)
    km = build(K)
    xm = build(xkeras)
    xm.set_weights(km.get_weights())
    km.compile(optimizer=getattr(K.optimizers, name)(learning_rate=1e-3, **cfg),
               loss="sparse_categorical_crossentropy")
    xm.compile(optimizer=getattr(xkeras.optimizers, name)(learning_rate=1e-3, **cfg),
               loss="sparse_categorical_crossentropy")
    hk = km.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    hx = xm.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(hx.history["loss"], hk.history["loss"], rtol=1e-5)
    for a, b in zip(xm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert int(xm.optimizer.iterations) == int(km.optimizer.iterations) == 16


def test_fit_with_ema_finalizes_weights_like_keras(K, small_data):
    x, y = small_data
    x, y = x[:128], y[:128]

    def build(lib):
        return lib.Sequential([lib.Input((784,)), lib.layers.Dense(10, activation="softmax")])

    K.utils.set_random_seed(1)
    km, xm = build(K), build(xkeras)
    xm.set_weights(km.get_weights())
    cfg = dict(learning_rate=0.05, momentum=0.9, use_ema=True, ema_momentum=0.9)
    km.compile(optimizer=K.optimizers.SGD(**cfg), loss="sparse_categorical_crossentropy")
    xm.compile(optimizer=xkeras.optimizers.SGD(**cfg), loss="sparse_categorical_crossentropy")
    km.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    xm.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(xm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_denormals_are_flushed_as_in_tensorflow(K):
    """TF runs ops with denormals flushed to zero; so does the native step (and it keeps Adam fast when the
    moments of dead units decay below 1e-38)."""
    w = np.full(3, 1e-39, np.float32)
    v, kv = xkeras.Variable(w), K.Variable(w)
    xkeras.optimizers.SGD(0.1).apply_gradients([(np.zeros(3, np.float32), v)])
    K.optimizers.SGD(0.1).apply_gradients([(np.zeros(3, np.float32), kv)])
    np.testing.assert_array_equal(v.numpy(), kv.numpy())
    assert np.all(v.numpy() == 0)
    assert np.float32(1e-39) * np.float32(1) != 0  # Python-side NumPy is unaffected (the mode is restored)
