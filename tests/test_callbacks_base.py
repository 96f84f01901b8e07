"""Callback, CallbackList, History and ProgbarLogger (pure Python part)."""

import contextlib
import io
import os
import time
import warnings

import numpy as np
import pytest

from xkeras.callbacks.callback import Callback, default, is_default
from xkeras.callbacks.callback_list import CallbackList, pythonify_logs
from xkeras.callbacks.history import History
from xkeras.callbacks.progbar_logger import ProgbarLogger

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HOOKS_NO_INDEX = [
    "on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
    "on_predict_begin", "on_predict_end",
]
HOOKS_INDEX = [
    "on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
    "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end",
]
A, L, V = ["accuracy", "loss"], None, ["accuracy", "loss", "val_accuracy", "val_loss"]

# Recorded from Keras 3.15.1: fit(x(6), batch_size=2, epochs=2,
# validation_data=4 samples with batch_size 2) with a callback overriding
# every hook; entries are (hook, index or None, sorted log keys).
KERAS_FIT_ORDER = (
    [("on_train_begin", None, [])]
    + [c for e in range(2) for c in (
        [("on_epoch_begin", e, [])]
        + [c for b in range(3) for c in (
            ("on_train_batch_begin", b, []), ("on_train_batch_end", b, A))]
        + [("on_test_begin", None, [])]
        + [c for b in range(2) for c in (
            ("on_test_batch_begin", b, []), ("on_test_batch_end", b, A))]
        + [("on_test_end", None, A), ("on_epoch_end", e, V)]
    )]
    + [("on_train_end", None, V)]
)
KERAS_EVALUATE_ORDER = [
    ("on_test_begin", None, []),
    ("on_test_batch_begin", 0, []), ("on_test_batch_end", 0, A),
    ("on_test_batch_begin", 1, []), ("on_test_batch_end", 1, A),
    ("on_test_end", None, A),
]
KERAS_PREDICT_ORDER = [
    ("on_predict_begin", None, []),
    ("on_predict_batch_begin", 0, []), ("on_predict_batch_end", 0, ["outputs"]),
    ("on_predict_batch_begin", 1, []), ("on_predict_batch_end", 1, ["outputs"]),
    ("on_predict_end", None, []),
]


def make_recorder(base):
    """A `base` subclass overriding every hook to record (hook, i, keys)."""
    ns = {}
    for h in HOOKS_NO_INDEX:
        ns[h] = (lambda h: lambda self, logs=None: self.calls.append(
            (h, None, sorted(logs or {}))))(h)
    for h in HOOKS_INDEX:
        ns[h] = (lambda h: lambda self, i, logs=None: self.calls.append(
            (h, i, sorted(logs or {}))))(h)

    def init(self):
        base.__init__(self)
        self.calls = []

    ns["__init__"] = init
    return type("Recorder", (base,), ns)


class FakeModel:
    stop_training = False


def simulate_fit(cbl, epochs=2, steps=3, val_steps=2):
    """The hook sequence of Keras's fit loop (see keras-spec §8.2)."""
    logs = None
    cbl.on_train_begin()
    for epoch in range(epochs):
        cbl.on_epoch_begin(epoch)
        for b in range(steps):
            cbl.on_train_batch_begin(b)
            logs = {"loss": np.float32(1.0 / (b + 1)), "accuracy": np.float64(0.5)}
            cbl.on_train_batch_end(b, logs)
        cbl.on_test_begin()
        for b in range(val_steps):
            cbl.on_test_batch_begin(b)
            cbl.on_test_batch_end(b, {"loss": 0.7, "accuracy": 0.25})
        cbl.on_test_end({"loss": 0.7, "accuracy": 0.25})
        logs = dict(logs, val_loss=0.7, val_accuracy=0.25)
        cbl.on_epoch_end(epoch, logs)
    cbl.on_train_end(logs)


def test_reference_order_matches_real_keras():
    keras = pytest.importorskip(
        "keras", reason="real Keras checks the recorded reference order")
    Rec = make_recorder(keras.callbacks.Callback)
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.rand(6, 3).astype("float32")
    y = np.array([0, 1, 0, 1, 0, 1])
    r = Rec()
    m.fit(x, y, batch_size=2, epochs=2, validation_data=(x[:4], y[:4]),
          callbacks=[r], verbose=0)
    assert r.calls == KERAS_FIT_ORDER
    assert r.params == {"verbose": 0, "epochs": 2, "steps": 3}
    r.calls = []
    m.evaluate(x, y, batch_size=4, callbacks=[r], verbose=0)
    assert r.calls == KERAS_EVALUATE_ORDER
    r.calls = []
    m.predict(x, batch_size=4, callbacks=[r], verbose=0)
    assert r.calls == KERAS_PREDICT_ORDER


def test_callback_list_dispatch_in_order():
    Rec = make_recorder(Callback)
    first, second = Rec(), Rec()
    model = FakeModel()
    cbl = CallbackList([first, [second]], add_history=True, add_progbar=True,
                       model=model, verbose=0, epochs=2, steps=3)
    assert [type(c) for c in cbl.callbacks] == [Rec, Rec, History, ProgbarLogger]
    assert cbl.progbar is cbl.callbacks[3] and cbl.history is cbl.callbacks[2]
    assert model.history is cbl.history
    assert first.model is model and first.params == {"verbose": 0, "epochs": 2, "steps": 3}
    simulate_fit(cbl)
    assert first.calls == KERAS_FIT_ORDER == second.calls

    # Every hook, including the legacy ones, goes to every callback in order.
    seen = []

    class Tag(Callback):
        def __init__(self, tag):
            super().__init__()
            self.tag = tag

    for h in HOOKS_INDEX + HOOKS_NO_INDEX:
        setattr(Tag, h, (lambda h: lambda self, *a, **k: seen.append((self.tag, h)))(h))
    cbl = CallbackList([Tag(1), Tag(2)])
    for h in HOOKS_INDEX:
        getattr(cbl, h)(0, {"x": 1})
    for h in HOOKS_NO_INDEX:
        getattr(cbl, h)({"x": 1})
    assert seen == [(t, h) for h in HOOKS_INDEX + HOOKS_NO_INDEX for t in (1, 2)]


def test_existing_history_and_progbar_are_not_duplicated():
    h, p = History(), ProgbarLogger()
    cbl = CallbackList([p, h], add_history=True, add_progbar=True)
    assert cbl.callbacks == [p, h] and cbl.history is h and cbl.progbar is p
    assert CallbackList().callbacks == [] and CallbackList().progbar is None


def test_end_without_begin_raises():
    cbl = CallbackList([])
    cbl.on_test_begin()
    cbl.on_test_end()
    with pytest.raises(ValueError, match="without corresponding"):
        cbl.on_predict_end()


def test_logs_are_sorted_pythonified_and_shared():
    class Mutate(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["learning_rate"] = 0.001

    Rec = make_recorder(Callback)
    rec = Rec()
    got = {}

    class Grab(Callback):
        def on_epoch_end(self, epoch, logs=None):
            got.update(logs=logs)

    cbl = CallbackList([Mutate(), Grab(), rec], add_history=True, model=FakeModel())
    cbl.on_train_begin()
    cbl.on_epoch_end(0, {"val_loss": np.float32(0.5), "loss": np.array(0.25)})
    logs = got["logs"]
    assert list(logs) == ["loss", "val_loss", "learning_rate"]
    assert type(logs["loss"]) is float and logs["val_loss"] == 0.5
    assert cbl.history.history == {
        "loss": [0.25], "val_loss": [0.5], "learning_rate": [0.001]}


PYTHONIFY_CASES = [
    None,
    {},
    {"b": np.float32(1.5), "a": np.int64(3), "c": np.array(2.0)},
    {"s": "text", "n": "1.25", "t": True, "l": [1, 2], "arr": np.array([1.0, 2.0])},
    {"z": 1, "nested": {"y": np.float16(0.5), "x": 2}, "a": 0},
    {"one": np.array([4.0], dtype="float32"), "none": None},
]


@pytest.mark.parametrize("logs", PYTHONIFY_CASES)
def test_pythonify_logs_matches_keras(logs):
    ours = pythonify_logs(logs)
    for v in ours.values():
        assert not isinstance(v, np.generic)
    keras = pytest.importorskip("keras", reason="reference pythonify_logs")
    from keras.src.utils.python_utils import pythonify_logs as kp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        theirs = kp(logs)
    assert list(ours) == list(theirs)
    for k in ours:
        if isinstance(ours[k], np.ndarray):
            np.testing.assert_array_equal(ours[k], theirs[k])
        else:
            assert ours[k] == theirs[k] and type(ours[k]) is type(theirs[k])


def test_pythonify_logs_values():
    out = pythonify_logs({"b": np.float32(1.5), "a": {"d": np.array(2), "c": 1}, "e": "x"})
    assert out == {"d": 2.0, "c": 1.0, "b": 1.5, "e": "x"}
    assert list(out) == ["c", "d", "b", "e"]  # nested, sorted, at parent's place
    assert all(type(v) is float for k, v in out.items() if k != "e")


def test_history_accumulates():
    model = FakeModel()
    h = History()
    cbl = CallbackList([h], model=model, verbose="auto", epochs=3, steps=5)
    assert h.params == {"verbose": "auto", "epochs": 3, "steps": 5}
    cbl.on_train_begin()
    for e in range(3):
        cbl.on_epoch_end(e, {"loss": 1.0 / (e + 1), "acc": np.float32(e / 4)})
    assert h.epoch == [0, 1, 2]
    assert h.history == {"acc": [0.0, 0.25, 0.5], "loss": [1.0, 0.5, 1.0 / 3]}
    assert model.history is h
    # A second fit resets `epoch` but keeps appending to `history`.
    cbl.on_train_begin()
    cbl.on_epoch_end(0, {"loss": 9.0})
    assert h.epoch == [0] and h.history["loss"] == [1.0, 0.5, 1.0 / 3, 9.0]


def test_is_default_and_batch_hook_flags():
    assert is_default(Callback.on_epoch_end) and is_default(Callback().on_batch_end)
    assert not is_default(History.on_epoch_end)
    assert not is_default(ProgbarLogger().on_train_batch_end)

    @default
    def f():
        pass

    assert f._is_default is True and not is_default(lambda: 0)

    class Legacy(Callback):
        def on_batch_end(self, batch, logs=None):
            pass

    class TestHook(Callback):
        def on_test_batch_begin(self, batch, logs=None):
            pass

    class PredictHook(Callback):
        def on_predict_batch_end(self, batch, logs=None):
            pass

    class MyProgbar(ProgbarLogger):
        def on_test_batch_end(self, batch, logs=None):
            pass

    def flags(cbl):
        return (cbl.has_train_batch_hooks, cbl.has_test_batch_hooks,
                cbl.has_predict_batch_hooks)

    plain = dict(add_history=True, add_progbar=True)
    assert flags(CallbackList([Callback()], **plain)) == (False, False, False)
    assert flags(CallbackList([Legacy()], **plain)) == (True, False, False)
    assert flags(CallbackList([TestHook()], **plain)) == (False, True, False)
    assert flags(CallbackList([PredictHook()], **plain)) == (False, False, True)
    assert flags(CallbackList([MyProgbar()], add_history=True)) == (False, True, False)
    assert flags(CallbackList([ProgbarLogger()])) == (False, False, False)
    # A plain (non-progbar) ProgbarLogger-like override still counts.
    assert flags(CallbackList([make_recorder(Callback)()])) == (True, True, True)

    # Legacy on_batch_* is reached through the default train-batch hooks.
    class Count(Legacy):
        n = 0

        def on_batch_begin(self, batch, logs=None):
            Count.n += 1

        def on_batch_end(self, batch, logs=None):
            Count.n += 10

    CallbackList([Count()]).on_train_batch_begin(0)
    CallbackList([Count()]).on_train_batch_end(0, {"loss": 1})
    assert Count.n == 11


def test_subclass_without_super_init():
    class NoInit(Callback):
        def __init__(self, k):
            self.k = k

        def on_epoch_end(self, epoch, logs=None):
            self.seen = (self.model, self.params, epoch, logs)

    cb = NoInit(3)
    assert cb.model is None and cb.params is None
    model = FakeModel()
    cbl = CallbackList([cb], add_history=True, model=model, verbose=1, epochs=1, steps=2)
    cbl.on_train_begin()
    cbl.on_train_batch_begin(0)  # default hooks work without __init__
    cbl.on_epoch_end(0, {"loss": 1})
    assert cb.seen == (model, {"verbose": 1, "epochs": 1, "steps": 2}, 0, {"loss": 1.0})
    cb.model = "other"  # settable like tf.keras 2 code does
    assert cb.model == "other"


# ------------------------------------------------ ProgbarLogger vs Keras


class FakeClock:
    t = 0.0

    def __call__(self):
        return self.t


def drive_logger(logger_cls, params, script, monkeypatch):
    """script: list of (time, hook, args). Returns captured stdout."""
    clock = FakeClock()
    monkeypatch.setattr(time, "time", clock)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cb = logger_cls()
        cb.set_params(params)
        for t, hook, args in script:
            clock.t = t
            getattr(cb, hook)(*args)
    return out.getvalue()


def fit_script(epochs, steps, val_steps=0, dt=0.37, report_steps=None):
    t, s = 1000.0, []

    def at(hook, *args):
        nonlocal t
        t += dt
        s.append((t, hook, args))

    at("on_train_begin", None)
    for e in range(epochs):
        at("on_epoch_begin", e, None)
        logs = {}
        for b in range(steps):
            at("on_train_batch_begin", b, None)
            logs = {"accuracy": 0.5 + b / 10, "loss": 2.0 / (b + 1) - 0.02 * e}
            at("on_train_batch_end", b, logs)
        if val_steps:
            at("on_test_begin", None)
            for b in range(val_steps):
                at("on_test_batch_end", b, {"accuracy": 0.8, "loss": 0.3})
            at("on_test_end", {"accuracy": 0.8, "loss": 0.3})
            logs = dict(logs, val_accuracy=0.8, val_loss=0.0003)
        at("on_epoch_end", e, logs)
    at("on_train_end", logs)
    return s


def eval_script(steps, dt=0.02):
    s = [(0.0, "on_test_begin", (None,))]
    for b in range(steps):
        s.append((dt * (b + 1), "on_test_batch_end", (b, {"loss": 1.5 / (b + 1)})))
    s.append((dt * (steps + 1), "on_test_end", ({"loss": 0.5},)))
    return s


def predict_script(steps, dt=0.3):
    s = [(0.0, "on_predict_begin", (None,))]
    for b in range(steps):
        s.append((dt * (b + 1), "on_predict_batch_end", (b, {"outputs": np.ones(2)})))
    s.append((dt * (steps + 1), "on_predict_end", (None,)))
    return s


def test_progbar_logger_exact_text(monkeypatch):
    # verbose=2: the bar is made at on_epoch_begin and printed once at
    # on_epoch_end, 11 hooks x 0.37 s later: 4 s, 4.07/3 s per step.
    out = drive_logger(ProgbarLogger, {"verbose": 2, "epochs": 2, "steps": 3},
                       fit_script(2, 3, val_steps=2), monkeypatch)
    assert out == (
        "Epoch 1/2\n"
        "3/3 - 4s - 1s/step - accuracy: 0.7000 - loss: 0.6667"
        " - val_accuracy: 0.8000 - val_loss: 3.0000e-04\n"
        "Epoch 2/2\n"
        "3/3 - 4s - 1s/step - accuracy: 0.7000 - loss: 0.6467"
        " - val_accuracy: 0.8000 - val_loss: 3.0000e-04\n"
    )
    # One epoch: no "Epoch 1/1" line; predict prints no metrics.
    out = drive_logger(ProgbarLogger, {"verbose": 2, "epochs": 1, "steps": 3},
                       fit_script(1, 3), monkeypatch)
    assert out.startswith("3/3 - ")
    out = drive_logger(ProgbarLogger, {"verbose": 2, "epochs": 1, "steps": 2},
                       predict_script(2), monkeypatch)
    assert out == "2/2 - 1s - 450ms/step\n"  # 0.9 s / 2 steps


CASES = [
    ("fit verbose=1 2 epochs + val", {"verbose": 1, "epochs": 2, "steps": 3}, fit_script(2, 3, 2)),
    ("fit verbose=auto", {"verbose": "auto", "epochs": 3, "steps": 3}, fit_script(3, 3, dt=0.01)),
    ("fit verbose=2", {"verbose": 2, "epochs": 2, "steps": 3}, fit_script(2, 3, 2)),
    ("fit verbose=0", {"verbose": 0, "epochs": 2, "steps": 3}, fit_script(2, 3, 2)),
    ("fit unknown steps", {"verbose": 1, "epochs": 2, "steps": None}, fit_script(2, 3, 1)),
    ("fit 1 epoch long", {"verbose": 1, "epochs": 1, "steps": 120}, fit_script(1, 120, dt=0.004)),
    ("evaluate v1", {"verbose": 1, "epochs": 1, "steps": 5}, eval_script(5)),
    ("evaluate v2", {"verbose": 2, "epochs": 1, "steps": 5}, eval_script(5)),
    ("evaluate unknown", {"verbose": 1, "epochs": 1, "steps": None}, eval_script(4)),
    ("predict v1", {"verbose": 1, "epochs": 1, "steps": 3}, predict_script(3)),
    ("predict v2", {"verbose": 2, "epochs": 1, "steps": 3}, predict_script(3)),
]


@pytest.mark.parametrize("name,params,script", CASES, ids=[c[0] for c in CASES])
def test_progbar_logger_matches_keras(monkeypatch, name, params, script):
    keras = pytest.importorskip("keras", reason="reference ProgbarLogger")
    ours = drive_logger(ProgbarLogger, params, script, monkeypatch)
    theirs = drive_logger(keras.callbacks.ProgbarLogger, params, script, monkeypatch)
    assert ours == theirs, f"{ours!r}\n!=\n{theirs!r}"
    if params["verbose"] == 0:
        assert ours == ""
    else:
        assert ours.endswith("\n")
