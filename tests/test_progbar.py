"""xkeras Progbar vs keras.utils.Progbar: identical bytes on stdout.

Both bars are driven with the same updates while `time.time` returns the
same scripted values, and stdout is captured as a string.
"""

import contextlib
import io
import os
import random
import time

import numpy as np
import pytest

from xkeras.utils.progbar import Progbar

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="module")
def KProgbar():
    keras = pytest.importorskip(
        "keras", reason="real Keras is the reference for these comparisons"
    )
    return keras.utils.Progbar


class FakeClock:
    t = 0.0

    def __call__(self):
        return self.t


def drive(cls, kwargs, ops, monkeypatch, dynamic=None):
    """ops: list of (time, method, args, kwargs). Returns captured stdout."""
    clock = FakeClock()
    monkeypatch.setattr(time, "time", clock)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        clock.t = ops[0][0] if ops else 0.0
        bar = cls(**kwargs)
        if dynamic is not None:
            bar._dynamic_display = dynamic
        for t, method, args, kw in ops:
            clock.t = t
            if method != "noop":  # a noop only sets the construction time
                getattr(bar, method)(*args, **kw)
    return out.getvalue()


def assert_same_text(ours, theirs):
    """Equality with a short message (pytest's own diff of long strings
    full of backspaces can take minutes)."""
    if ours == theirs:
        return
    i = next((k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b),
             min(len(ours), len(theirs)))
    pytest.fail(
        f"outputs differ at char {i} (len {len(ours)} vs {len(theirs)}):\n"
        f"  ours:  {ours[max(0, i - 60):i + 60]!r}\n"
        f"  keras: {theirs[max(0, i - 60):i + 60]!r}",
        pytrace=False,
    )


def same(KProgbar, monkeypatch, kwargs, ops, dynamic=None):
    ours = drive(Progbar, kwargs, ops, monkeypatch, dynamic)
    theirs = drive(KProgbar, kwargs, ops, monkeypatch, dynamic)
    assert_same_text(ours, theirs)
    return ours


def steps(target, dt, values=lambda i: None, start=100.0, finalize_last=None):
    ops = []
    for i in range(1, target + 1):
        kw = {}
        if finalize_last is not None and i == target:
            kw["finalize"] = finalize_last
        ops.append((start + dt * i, "update", (i, values(i)), kw))
    return [(start, "noop", (), {})] + ops


def test_exact_bytes_without_keras(monkeypatch):
    # Bytes checked by hand against Keras 3.15.1 (no Keras import needed).
    ops = steps(3, 0.5, lambda i: [("loss", 1.0 / i)])
    out = drive(Progbar, {"target": 3, "stateless_metrics": set()}, ops,
                monkeypatch, dynamic=True)
    bar = "\u2501"
    B, G, W, R = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"
    back = "\b" * 53  # visible width of the previous line
    assert out == (
        f"\r{B}1/3{R} {G}{bar * 6}{R}{W}{bar * 14}{R} {B}1s{R}"
        " 500ms/step - loss: 1.0000"
        f"{back}\r{B}2/3{R} {G}{bar * 13}{R}{W}{bar * 7}{R} {B}0s{R}"
        " 500ms/step - loss: 0.5000"
        f"{back}\r{B}3/3{R} {G}{bar * 20}{R}{W}{R} {B}2s{R}"
        " 500ms/step - loss: 0.3333\n"
    )
    out2 = drive(Progbar, {"target": 3, "verbose": 2}, ops, monkeypatch)
    # The finalizing update replaces averaged values (Keras >= 3.11).
    assert out2 == "3/3 - 2s - 500ms/step - loss: 0.3333\n"


def test_injected_clock():
    t = [10.0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        bar = Progbar(2, verbose=2, clock=lambda: t[0])
        t[0] = 13.0
        bar.update(2, [("loss", -0.5)])
    assert out.getvalue() == "2/2 - 3s - 2s/step - loss: -5.0000e-01\n"


@pytest.mark.parametrize("target", [1, 3, 7, 10, 99, 1719])
@pytest.mark.parametrize("verbose", [1, 2])
@pytest.mark.parametrize("mode", ["default", "logger", "stateful"])
def test_targets_and_modes(monkeypatch, KProgbar, target, verbose, mode):
    kwargs = {"target": target, "verbose": verbose}
    if mode == "logger":
        kwargs["stateless_metrics"] = set()
    elif mode == "stateful":
        kwargs["stateful_metrics"] = ["acc"]
    dt = 0.013 if target > 50 else 0.4
    vals = lambda i: [("loss", 2.5 / i - 0.1), ("acc", 0.1 + 0.8 * i / target)]
    out = same(KProgbar, monkeypatch, kwargs, steps(target, dt, vals))
    assert out.endswith("\n")


def test_negative_and_tiny_values(monkeypatch, KProgbar):
    vals = [
        [("a", -0.5), ("b", 1e-4), ("c", 0.0), ("d", -1e-5), ("e", 12345.678)],
        [("a", -0.25), ("b", 2e-3), ("c", 0), ("d", 5e-4), ("e", -3.0)],
        [("a", 0.0009), ("b", -2e-3), ("c", np.float32(0.7)), ("d", 1), ("e", 7)],
    ]
    for verbose in (1, 2):
        for kw in ({}, {"stateless_metrics": set()}):
            ops = steps(3, 1.7, lambda i: vals[i - 1])
            out = same(KProgbar, monkeypatch, dict(target=3, verbose=verbose, **kw), ops)
            if verbose == 2 and kw:
                # verbose=2 formats negatives with .4e (no abs()).
                assert "a: 9.0000e-04" in out and "b: -2.0000e-03" in out


def test_numpy_values_and_arrays(monkeypatch, KProgbar):
    vals = lambda i: [
        ("f32", np.float32(i / 7)),
        ("i64", np.int64(i)),
        ("arr", np.array([i, 2 * i], dtype="float32")),
        ("py", i),
    ]
    for kw in ({}, {"stateless_metrics": set()}):
        same(KProgbar, monkeypatch, dict(target=4, **kw), steps(4, 0.2, vals))


def test_unknown_target_and_finalize(monkeypatch, KProgbar):
    vals = lambda i: [("loss", 1.0 / i)]
    ops = steps(5, 0.3, vals, finalize_last=True)
    out = same(KProgbar, monkeypatch, {"target": None}, ops)
    assert "      5/Unknown" in out and out.endswith("\n")
    # Finalize before the target; and target=0.
    same(KProgbar, monkeypatch, {"target": 10}, steps(4, 0.3, vals, finalize_last=True))
    same(KProgbar, monkeypatch, {"target": 0}, steps(2, 0.3, vals))
    # verbose=2 with unknown target prints nothing.
    assert same(KProgbar, monkeypatch, {"target": None, "verbose": 2},
                steps(3, 0.3, vals, finalize_last=True)) == ""


def test_eta_formats_and_shrinking_lines(monkeypatch, KProgbar):
    # Slow steps give h:mm:ss and m:ss ETAs; the line then shrinks and is
    # padded with spaces.
    times = [0, 1, 5000, 5100, 5130, 5140, 5141]
    vals = [None, [("loss", 123.456)], [("loss", 1.5)], [("loss", 0.5)],
            [("x", 1.0)], None, [("loss", 2.0)]]
    ops = [(100.0, "noop", (), {})] + [
        (100.0 + t, "update", (i, vals[i]), {}) for i, t in enumerate(times)
    ]
    out = same(KProgbar, monkeypatch, {"target": 9, "stateless_metrics": set()}, ops)
    assert ":" in out
    same(KProgbar, monkeypatch, {"target": 9}, ops)
    same(KProgbar, monkeypatch, {"target": 9}, ops, dynamic=False)
    # ETA exactly 60 s and 3600 s (first step 30 s / 1800 s, 2 to go).
    for first in (30.0, 1800.0, 30.5):
        ops = [(0.0, "noop", (), {}), (first, "update", (1,), {})]
        out = same(KProgbar, monkeypatch, {"target": 3}, ops)
        assert {30.0: "60s", 1800.0: "60:00", 30.5: "1:01"}[first] in out


def test_interval_throttling_and_time_units(monkeypatch, KProgbar):
    for dt in (0.0001, 0.004, 0.02, 0.06, 1.5, 0.0):
        ops = steps(12, dt, lambda i: [("m", 1.0 / i)])
        same(KProgbar, monkeypatch, {"target": 12}, ops)
        same(KProgbar, monkeypatch, {"target": 12, "unit_name": "sample",
                                     "interval": 0.001}, ops)


def test_add_and_verbose_zero(monkeypatch, KProgbar):
    ops = [(10.0, "noop", (), {})] + [
        (10.0 + 0.1 * i, "add", (n, [("l", float(n))]), {})
        for i, n in enumerate([1, 3, 2, 4], 1)
    ]
    same(KProgbar, monkeypatch, {"target": 10}, ops)
    assert same(KProgbar, monkeypatch, {"target": 10, "verbose": 0}, ops) == ""


def test_non_dynamic_display(monkeypatch, KProgbar):
    ops = steps(5, 0.2, lambda i: [("loss", 1.0 / i)])
    out = same(KProgbar, monkeypatch, {"target": 5}, ops, dynamic=False)
    assert out.startswith("\n") and "\b" not in out


def test_random_sequences(monkeypatch, KProgbar):
    rng = random.Random(1234)
    for _ in range(60):
        target = rng.choice([None, 1, 2, 5, 13, 100, 4096])
        kwargs = {"target": target, "verbose": rng.choice([1, 1, 2]),
                  "width": rng.choice([20, 10, 30])}
        choice = rng.random()
        if choice < 0.4:
            kwargs["stateless_metrics"] = set()
        elif choice < 0.7:
            kwargs["stateful_metrics"] = ["b"]
        t, cur, ops = 50.0, 0, [(50.0, "noop", (), {})]
        n = target or rng.randint(1, 30)
        while cur < n:
            cur = min(n, cur + rng.choice([1, 1, 2, 7]))
            t += rng.choice([0.0, 0.01, 0.049, 0.051, 0.3, 2.0, 70.0])
            keys = rng.sample(["a", "b", "loss", "val_x"], rng.randint(0, 3))
            vals = [(k, rng.choice([-1.0, 1.0]) * 10 ** rng.uniform(-6, 4))
                    for k in keys]
            kw = {}
            if rng.random() < 0.1 or (target is None and cur == n):
                kw["finalize"] = True
            ops.append((t, "update", (cur, vals), kw))
        same(KProgbar, monkeypatch, kwargs, ops, dynamic=rng.random() < 0.8)
