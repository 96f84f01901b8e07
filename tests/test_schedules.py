"""Learning-rate schedules (keras-spec §7): values against their formulas and real Keras, evaluated
natively by the optimizer at `iterations` before each update, OneCycle's shape, user-defined schedules."""
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import xkeras  # noqa: E402

S = xkeras.optimizers.schedules


@pytest.fixture(scope="module")
def K():
    return pytest.importorskip("keras", reason="real Keras 3 is the reference for schedule values")


def expected(name, args, kw, step):
    """The formula of each schedule (keras/src/optimizers/schedules/learning_rate_schedule.py), float64."""
    if name == "ExponentialDecay":
        lr0, ds, rate = args
        p = step / ds
        return lr0 * rate ** (math.floor(p) if kw.get("staircase") else p)
    if name == "InverseTimeDecay":
        lr0, ds, rate = args
        p = step / ds
        return lr0 / (1 + rate * (math.floor(p) if kw.get("staircase") else p))
    if name == "PiecewiseConstantDecay":
        bounds, values = args
        return values[sum(step > b for b in bounds)]
    if name == "PolynomialDecay":
        lr0, ds = args
        end, power = kw.get("end_learning_rate", 1e-4), kw.get("power", 1.0)
        if kw.get("cycle"):
            ds = ds * (1 if step == 0 else math.ceil(step / ds))
        else:
            step = min(step, ds)
        return (lr0 - end) * (1 - step / ds) ** power + end
    if name == "CosineDecay":
        lr0, ds = args
        alpha, target, warm = kw.get("alpha", 0.0), kw.get("warmup_target"), kw.get("warmup_steps", 0)

        def decay(s, frm):
            return frm * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / ds)) + alpha)

        if target is None:
            return decay(min(step, ds), lr0)
        step = min(step, ds + warm)
        return lr0 + (target - lr0) * step / warm if step < warm else decay(step - warm, target)
    if name == "CosineDecayRestarts":
        lr0, first = args
        t_mul, m_mul, alpha = kw.get("t_mul", 2.0), kw.get("m_mul", 1.0), kw.get("alpha", 0.0)
        f = step / first
        if t_mul == 1.0:
            i = math.floor(f)
            f -= i
        else:
            i = math.floor(math.log(1 - f * (1 - t_mul)) / math.log(t_mul))
            f = (f - (1 - t_mul ** i) / (1 - t_mul)) / t_mul ** i
        return lr0 * ((1 - alpha) * 0.5 * m_mul ** i * (1 + math.cos(math.pi * f)) + alpha)
    raise AssertionError(name)


CASES = [
    ("ExponentialDecay", (0.01, 20_000, 0.1), {}),
    ("ExponentialDecay", (0.1, 7, 0.5), {"staircase": True}),
    ("InverseTimeDecay", (0.01, 10_000, 1.0), {}),
    ("InverseTimeDecay", (0.5, 3, 2.0), {"staircase": True}),
    ("PiecewiseConstantDecay", ([31250, 50000], [0.01, 0.005, 0.001]), {}),
    ("PiecewiseConstantDecay", ([3, 6, 9], [1.0, 0.5, 0.25, 0.1]), {}),
    ("PolynomialDecay", (0.1, 10), {}),
    ("PolynomialDecay", (0.1, 10), {"end_learning_rate": 0.01, "power": 0.5, "cycle": True}),
    ("CosineDecay", (0.1, 10), {}),
    ("CosineDecay", (0.1, 10), {"alpha": 0.1, "warmup_target": 1.0, "warmup_steps": 5}),
    ("CosineDecayRestarts", (1.0, 10), {}),
    ("CosineDecayRestarts", (1.0, 10), {"t_mul": 1.0, "m_mul": 0.5}),
    ("CosineDecayRestarts", (0.1, 7), {"t_mul": 1.5, "m_mul": 0.8, "alpha": 0.1}),
]
STEPS = [0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 17, 20, 29, 30, 31, 44, 60, 17_190, 31_250, 31_251, 60_000]


def case_id(c):
    return c[0] + "-" + "-".join(f"{k}={v}" for k, v in c[2].items())


@pytest.mark.parametrize("name,args,kw", CASES, ids=[case_id(c) for c in CASES])
def test_schedule_values_match_formula_and_keras(K, name, args, kw):
    ours = getattr(S, name)(*args, **kw)
    theirs = getattr(K.optimizers.schedules, name)(*args, **kw)
    got = np.array([float(ours(s)) for s in STEPS])
    want = np.array([expected(name, args, kw, s) for s in STEPS])
    # float32 results (as Keras): a float64 formula agrees to float32 rounding
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(got, [float(theirs(s)) for s in STEPS], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(ours(np.array(STEPS)).numpy(), got)  # vectorised call
    assert ours.get_config() == theirs.get_config()
    assert S.serialize(ours) == K.optimizers.schedules.serialize(theirs)
    again = S.deserialize(S.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()


def test_course_numbers():
    """ch11 #65 and #68: after 10 epochs of 1,719 steps."""
    assert float(S.InverseTimeDecay(0.01, 10_000, 1.0)(17_190)) == pytest.approx(0.01 / 2.719, rel=1e-6)
    assert float(S.ExponentialDecay(0.01, 20_000, 0.1)(17_190)) == pytest.approx(0.01 * 0.1 ** 0.8595, rel=1e-6)


def sgd_steps(learning_rate, n, **kw):
    """The rate each of n SGD steps used, read from the weight's displacement under a unit gradient."""
    opt = xkeras.optimizers.SGD(learning_rate=learning_rate, **kw)
    v = xkeras.Variable(np.zeros(1, np.float64))
    positions = []
    for _ in range(n):
        opt.apply_gradients([(np.ones(1, np.float32), v)])
        positions.append(float(v.numpy()[0]))
    return -np.diff([0.0] + positions), opt


@pytest.mark.parametrize("name,args,kw", CASES[1::2], ids=[case_id(c) for c in CASES[1::2]])
def test_optimizer_evaluates_schedule_natively_at_iterations(name, args, kw):
    schedule = getattr(S, name)(*args, **kw)
    used, opt = sgd_steps(schedule, 25)
    want = [float(schedule(s)) for s in range(25)]  # the first update uses schedule(0)
    np.testing.assert_allclose(used, want, rtol=2e-5, atol=1e-7)  # read back through float32 positions
    assert float(opt.learning_rate) == pytest.approx(float(schedule(25)), rel=1e-6)


def test_schedule_in_fit_matches_keras(K):
    def build(lib):
        return lib.Sequential([lib.Input((5,)), lib.layers.Dense(3, activation="softmax")])

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(96, 5)).astype(np.float32), rng.integers(0, 3, 96)
    K.utils.set_random_seed(0)
    km, xm = build(K), build(xkeras)
    xm.set_weights(km.get_weights())
    args = (0.5, 4)
    km.compile(optimizer=K.optimizers.SGD(K.optimizers.schedules.CosineDecayRestarts(*args), momentum=0.9),
               loss="sparse_categorical_crossentropy")
    xm.compile(optimizer=xkeras.optimizers.SGD(S.CosineDecayRestarts(*args), momentum=0.9),
               loss="sparse_categorical_crossentropy")
    km.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    xm.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(xm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert float(xm.optimizer.learning_rate) == pytest.approx(float(km.optimizer.learning_rate), rel=1e-5)


def test_user_defined_schedule_is_called_once_per_step():
    class Halving(S.LearningRateSchedule):
        def __init__(self):
            self.calls = []

        def __call__(self, step):
            self.calls.append(int(step))
            return 0.1 * 0.5 ** int(step)

        def get_config(self):
            return {}

    schedule = Halving()
    used, _ = sgd_steps(schedule, 5)
    np.testing.assert_allclose(used, [0.1 * 0.5 ** s for s in range(5)], rtol=1e-6)
    assert schedule.calls == [0, 1, 2, 3, 4]
    class Doubled(S.ExponentialDecay):  # a built-in whose __call__ is overridden runs the override
        def __call__(self, step):
            return 2 * float(super().__call__(step))

    used, _ = sgd_steps(Doubled(0.1, 1, 0.5), 3)
    np.testing.assert_allclose(used, [0.2, 0.1, 0.05], rtol=1e-6)
    used, _ = sgd_steps(lambda: 0.25, 3)  # a plain callable learning rate (no argument), as Keras
    np.testing.assert_allclose(used, [0.25] * 3, rtol=1e-6)

    class Broken(S.LearningRateSchedule):
        def __call__(self, step):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        sgd_steps(Broken(), 1)


def test_dir_lists_documented_schedules(K):
    """ch11 #85 prints each capitalised name of the module with its docstring's first line."""
    ours = {n: getattr(S, n).__doc__.splitlines()[0] for n in dir(S) if n[0].isupper()}
    theirs = {n: getattr(K.optimizers.schedules, n).__doc__.splitlines()[0]
              for n in dir(K.optimizers.schedules) if n[0].isupper()}
    assert {n: d for n, d in ours.items() if n != "OneCycle"} == theirs
    assert ours["OneCycle"].startswith("A `LearningRateSchedule` for 1cycle")


# ---- OneCycle -------------------------------------------------------------------------------------

def test_one_cycle_shape():
    s = S.OneCycle(max_learning_rate=0.1, total_steps=100)  # initial 0.01, final 1e-5, final_steps 11
    half = (100 - 11) // 2  # 44
    lr = np.array([float(s(i)) for i in range(120)])
    assert lr[0] == pytest.approx(0.01) and lr[half] == pytest.approx(0.1) and lr[2 * half] == pytest.approx(0.01)
    assert lr[100] == pytest.approx(1e-5) and lr[119] == pytest.approx(1e-5)
    np.testing.assert_allclose(np.diff(lr[:half + 1]), 0.09 / half, rtol=1e-4)  # linear up
    np.testing.assert_allclose(np.diff(lr[half:2 * half + 1]), -0.09 / half, rtol=1e-4)  # linear down
    assert np.all(np.diff(lr[2 * half:101]) < 0)  # then down to the final rate
    mom = np.array([s.momentum(i) for i in range(120)])
    assert mom[0] == pytest.approx(0.95) and mom[half] == pytest.approx(0.85) and mom[2 * half] == pytest.approx(0.95)
    np.testing.assert_allclose(mom[:2 * half], 0.95 - 0.1 * (lr[:2 * half] - 0.01) / 0.09, rtol=1e-6)  # inverse
    assert np.all(mom[2 * half:] == pytest.approx(0.95))
    cfg = s.get_config()
    assert S.OneCycle.from_config(cfg).get_config() == cfg
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycle(0.1, 0)


def test_one_cycle_cycles_sgd_momentum_natively():
    s = S.OneCycle(max_learning_rate=0.2, total_steps=30, final_steps=6)
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(30, 4)).astype(np.float32)
    opt = xkeras.optimizers.SGD(s, momentum=0.9)
    v = xkeras.Variable(np.ones(4, np.float32))
    for g in grads:
        opt.apply_gradients([(g, v)])
    w, m = np.ones(4), np.zeros(4)
    for t, g in enumerate(grads.astype(np.float64)):
        mu, lr = s.momentum(t), float(s(t))
        m = mu * m - lr * g
        w = w + m
    np.testing.assert_allclose(v.numpy(), w, rtol=1e-5, atol=1e-6)
    # without cycle_momentum the optimizer's own momentum is used
    opt = xkeras.optimizers.SGD(S.OneCycle(0.2, 30, final_steps=6, cycle_momentum=False), momentum=0.9)
    v2 = xkeras.Variable(np.ones(4, np.float32))
    for g in grads:
        opt.apply_gradients([(g, v2)])
    w, m = np.ones(4), np.zeros(4)
    for t, g in enumerate(grads.astype(np.float64)):
        m = 0.9 * m - float(s(t)) * g
        w = w + m
    np.testing.assert_allclose(v2.numpy(), w, rtol=1e-5, atol=1e-6)
