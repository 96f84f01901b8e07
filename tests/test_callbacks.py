"""Callbacks in real fit/evaluate/predict runs, checked against real Keras 3 and against the weights."""
import io
import os
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest

import xkeras as keras
from test_callbacks_base import KERAS_EVALUATE_ORDER, KERAS_FIT_ORDER, KERAS_PREDICT_ORDER, make_recorder

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def real_keras():
    return pytest.importorskip("keras", reason="real Keras is the reference")


def small_classifier():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def linear_model(lr=0.1, w0=(0.5, -0.25, 0.125)):
    """Dense(1) without bias and MSE: one batch's gradient is 2/n Xᵀ(Xw - y), computed below in NumPy."""
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, use_bias=False)])
    m.set_weights([np.array(w0, np.float32).reshape(3, 1)])
    m.compile(keras.optimizers.SGD(learning_rate=lr), "mse")
    return m


RNG = np.random.default_rng(7)
X_LIN = RNG.normal(size=(8, 3)).astype(np.float32)
Y_LIN = RNG.normal(size=(8, 1)).astype(np.float32)


def gradient(w, x=X_LIN, y=Y_LIN):
    return 2.0 / len(x) * x.T.astype(np.float64) @ (x @ w - y)


class WeightLog(keras.callbacks.Callback):
    """The kernel before and after each epoch (one batch per epoch in these tests)."""

    def __init__(self):  # never calls super().__init__(), as course notebooks do
        self.before, self.after = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.before.append(self.model.get_weights()[0].copy())

    def on_epoch_end(self, epoch, logs=None):
        self.after.append(self.model.get_weights()[0].copy())

    def rates(self):
        """The learning rate each epoch's SGD step used: Δw = -lr·g."""
        out = []
        for w0, w1 in zip(self.before, self.after):
            out.append(float(np.median(-(w1 - w0) / gradient(w0))))
        return out


class Script(keras.callbacks.Callback):
    """Writes a scripted value into the epoch logs before the callbacks after it read them."""

    def __init__(self, curve, key="val_loss"):
        super().__init__()
        self.curve, self.key = curve, key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.curve[epoch]


# ------------------------------------------------------------------ call order in fit / evaluate / predict

def test_fit_evaluate_predict_call_orders_equal_keras():
    Rec = make_recorder(keras.callbacks.Callback)
    m = small_classifier()
    x = np.random.default_rng(0).random((6, 3)).astype("float32")
    y = np.array([0, 1, 0, 1, 0, 1])
    r = Rec()
    m.fit(x, y, batch_size=2, epochs=2, validation_data=(x[:4], y[:4]), callbacks=[r], verbose=0)
    assert r.calls == KERAS_FIT_ORDER
    assert r.params == {"verbose": 0, "epochs": 2, "steps": 3}
    r.calls = []
    m.evaluate(x, y, batch_size=4, callbacks=[r], verbose=0)
    assert r.calls == KERAS_EVALUATE_ORDER
    r.calls = []
    out = m.predict(x, batch_size=4, callbacks=[r], verbose=0)
    assert r.calls == KERAS_PREDICT_ORDER
    np.testing.assert_array_equal(out, m.predict(x, batch_size=4, verbose=0))


def test_predict_batch_end_receives_the_outputs():
    m = small_classifier()
    x = np.random.default_rng(1).random((5, 3)).astype("float32")
    got = []
    cb = keras.callbacks.LambdaCallback(on_predict_batch_end=lambda b, logs: got.append(logs["outputs"]))
    out = m.predict(x, batch_size=2, callbacks=[cb], verbose=0)
    assert [g.shape for g in got] == [(2, 2), (2, 2), (1, 2)]
    np.testing.assert_allclose(np.concatenate(got), out)


def test_stop_evaluating_and_stop_predicting_end_their_loops():
    m = linear_model()
    stop_eval = keras.callbacks.LambdaCallback(
        on_test_batch_end=lambda b, logs: setattr(m, "stop_evaluating", b == 1))
    loss = m.evaluate(X_LIN, Y_LIN, batch_size=2, callbacks=[stop_eval], verbose=0)
    np.testing.assert_allclose(loss, m.evaluate(X_LIN[:4], Y_LIN[:4], verbose=0), rtol=1e-6)  # batches 0, 1
    stop_pred = keras.callbacks.LambdaCallback(
        on_predict_batch_end=lambda b, logs: setattr(m, "stop_predicting", b == 2))
    assert m.predict(X_LIN, batch_size=2, callbacks=[stop_pred], verbose=0).shape == (6, 1)
    assert m.predict(X_LIN, batch_size=2, verbose=0).shape == (8, 1)  # reset at the next predict


def test_legacy_batch_hooks_and_logs_are_running_means():
    """on_batch_* fire in fit; the batch `loss` is the mean over the epoch so far (course #89)."""
    m = linear_model(lr=0.0)  # no update: every batch loss is known from the fixed weights
    seen = []

    class Legacy(keras.callbacks.Callback):
        def on_batch_end(self, batch, logs):
            seen.append((batch, logs["loss"]))

    m.fit(X_LIN, Y_LIN, batch_size=2, epochs=1, shuffle=False, callbacks=[Legacy()], verbose=0)
    per_batch = ((X_LIN @ m.get_weights()[0] - Y_LIN) ** 2).reshape(4, 2).mean(axis=1)
    running = np.cumsum(per_batch) / np.arange(1, 5)
    assert [b for b, _ in seen] == [0, 1, 2, 3]
    np.testing.assert_allclose([v for _, v in seen], running, rtol=1e-5)


# ------------------------------------------------------------------ EarlyStopping

class FakeModel:
    """Enough of a model for callbacks driven directly: weights are the epoch index."""

    def __init__(self, lr=0.01):
        self.stop_training = False
        self.weights = [np.array([-1.0])]
        self.optimizer = FakeOptimizer(lr)

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, ws):
        self.weights = [np.array(w) for w in ws]


class FakeOptimizer:
    def __init__(self, lr):
        self._lr = np.float32(lr)

    @property
    def learning_rate(self):
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value):  # a float32 variable, as in Keras
        self._lr = np.float32(value)


def drive(cb, curve, monitor="val_loss"):
    """Run cb's epoch hooks over a scripted curve like fit does; returns what it did."""
    model = FakeModel()
    cb.set_model(model)
    cb.on_train_begin({})
    lrs, epochs = [], 0
    for epoch, v in enumerate(curve):
        cb.on_epoch_begin(epoch, {})
        model.weights = [np.array([float(epoch)])]
        logs = {"loss": 1.0, monitor: v}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cb.on_epoch_end(epoch, logs)
        lrs.append((logs.get("learning_rate"), float(model.optimizer.learning_rate)))
        epochs += 1
        if model.stop_training:
            break
    cb.on_train_end({})
    return epochs, model.weights[0].tolist(), lrs


CURVES = {
    "dip": [1.0, 0.8, 0.6, 0.7, 0.65, 0.61, 0.9, 0.5, 0.4],
    "flat": [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
    "tiny_gains": [1.0, 0.99995, 0.9999, 0.9998, 0.99, 0.98, 0.985, 0.99, 0.999],
    "rising": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
    "float32_tie": [0.3, 0.3 - 1e-9, 0.3 - 2e-9, 0.29999999, 0.3 + 1e-9, 0.31],  # equal in float32
    "nan": [1.0, float("nan"), 0.9, float("nan"), 0.95, 0.97],
}
ES_CONFIGS = [
    {},
    {"patience": 2},
    {"patience": 2, "restore_best_weights": True},
    {"patience": 10, "restore_best_weights": True},  # never stops, still restores (Keras 3)
    {"patience": 1, "min_delta": 0.05},
    {"patience": 1, "min_delta": -0.05},  # abs(min_delta)
    {"patience": 3, "baseline": 0.62, "restore_best_weights": True},
    {"patience": 1, "start_from_epoch": 3, "restore_best_weights": True},
    {"patience": 2, "mode": "max"},
    {"patience": 1, "mode": "max", "baseline": 0.95},
    {"patience": 0, "verbose": 1, "restore_best_weights": True},
]


@pytest.mark.parametrize("config", ES_CONFIGS, ids=[str(c) for c in ES_CONFIGS])
def test_early_stopping_matches_keras_on_scripted_curves(config):
    K = real_keras()
    for name, curve in CURVES.items():
        ours, theirs = keras.callbacks.EarlyStopping(**config), K.callbacks.EarlyStopping(**config)
        out_ours, out_theirs = io.StringIO(), io.StringIO()
        with redirect_stdout(out_ours):
            r_ours = drive(ours, curve)
        with redirect_stdout(out_theirs):
            r_theirs = drive(theirs, curve)
        state = lambda cb: (cb.stopped_epoch, cb.wait, cb.best_epoch, cb.best)  # noqa: E731
        assert r_ours == r_theirs, name
        assert str(state(ours)) == str(state(theirs)), name  # str: NaN == NaN
        assert out_ours.getvalue() == out_theirs.getvalue(), name


def test_early_stopping_in_fit_restores_the_best_epoch_weights():
    curve = [1.0, 0.8, 0.6, 0.7, 0.65, 0.61, 0.9, 0.5]  # best at epoch 2; patience 3 stops at epoch 5
    m = linear_model(lr=0.05)
    log = WeightLog()
    es = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True, verbose=1)
    out = io.StringIO()
    with redirect_stdout(out):
        h = m.fit(X_LIN, Y_LIN, batch_size=8, epochs=len(curve), validation_data=(X_LIN, Y_LIN),
                  callbacks=[Script(curve), log, es], verbose=0)
    assert es.stopped_epoch == 5 and es.best_epoch == 2 and es.best == 0.6
    assert h.epoch == [0, 1, 2, 3, 4, 5] and h.history["val_loss"] == curve[:6]
    assert len(log.after) == 6 and not np.array_equal(log.after[5], log.after[2])
    np.testing.assert_array_equal(m.get_weights()[0], log.after[2])
    assert out.getvalue() == "Epoch 6: early stopping\nRestoring model weights from the end of the best epoch: 3.\n"
    assert m.stop_training is True


def test_early_stopping_auto_mode_uses_the_metric_direction():
    m = small_classifier()
    x = np.random.default_rng(2).random((8, 3)).astype("float32")
    y = np.array([0, 1] * 4)
    es = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=1)
    m.fit(x, y, epochs=6, validation_data=(x, y), callbacks=[Script([0.5, 0.6, 0.55, 0.5, 0.9, 0.9],
                                                                     "val_accuracy"), es], verbose=0)
    assert es.best == 0.6 and es.stopped_epoch == 2  # max mode: 0.55 after 0.6 is no improvement
    bad = keras.callbacks.EarlyStopping(monitor="val_learning_rate")
    with pytest.raises(ValueError, match="isn't able to automatically determine"):
        m.fit(x, y, epochs=1, validation_data=(x, y), callbacks=[bad], verbose=0)
    with pytest.warns(UserWarning, match="mode 'sideways' is unknown"):
        assert keras.callbacks.EarlyStopping(mode="sideways").mode == "auto"


def test_early_stopping_missing_monitor_warns_and_never_stops():
    m = linear_model()
    es = keras.callbacks.EarlyStopping(patience=0)  # val_loss is absent without validation data
    with pytest.warns(UserWarning, match="Early stopping conditioned on metric `val_loss` which is not "
                                         "available. Available metrics are: loss"):
        h = m.fit(X_LIN, Y_LIN, epochs=3, callbacks=[es], verbose=0)
    assert h.epoch == [0, 1, 2]


# ------------------------------------------------------------------ learning-rate callbacks

RLR_CONFIGS = [
    {"patience": 1, "factor": 0.5},
    {"patience": 2, "factor": 0.1, "cooldown": 1},
    {"patience": 0, "factor": 0.5, "min_lr": 0.004},
    {"patience": 1, "factor": 0.2, "min_delta": 0.05, "verbose": 1},
    {"patience": 1, "factor": 0.5, "mode": "max", "epsilon": 1e-3},  # old kwarg: ignored
]


@pytest.mark.parametrize("config", RLR_CONFIGS, ids=[str(c) for c in RLR_CONFIGS])
def test_reduce_lr_on_plateau_matches_keras_on_scripted_curves(config):
    K = real_keras()
    for name, curve in CURVES.items():
        ours, theirs = keras.callbacks.ReduceLROnPlateau(**config), K.callbacks.ReduceLROnPlateau(**config)
        out_ours, out_theirs = io.StringIO(), io.StringIO()
        with redirect_stdout(out_ours):
            r_ours = drive(ours, curve)
        with redirect_stdout(out_theirs):
            r_theirs = drive(theirs, curve)
        assert r_ours == r_theirs, name
        assert (ours.wait, ours.cooldown_counter) == (theirs.wait, theirs.cooldown_counter), name
        assert out_ours.getvalue() == out_theirs.getvalue(), name
    with pytest.raises(ValueError, match="does not support a factor >= 1.0"):
        keras.callbacks.ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_on_plateau_changes_the_rate_sgd_uses():
    curve = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    m = linear_model(lr=0.1)
    log = WeightLog()
    rlr = keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=1)
    h = m.fit(X_LIN, Y_LIN, batch_size=8, epochs=len(curve), shuffle=False, validation_data=(X_LIN, Y_LIN),
              callbacks=[Script(curve), log, rlr], verbose=0)
    # Reduced at the end of epochs 1, 2 (wait reaches 1 each time) and 4, 5: rate of the NEXT epoch.
    expected = [0.1, 0.1, 0.05, 0.025, 0.025, 0.0125, 0.00625]
    np.testing.assert_allclose(log.rates(), expected, rtol=1e-4)
    logged = [0.1, 0.1, 0.05, 0.025, 0.025, 0.0125, 0.00625]  # the rate in effect during the epoch
    assert h.history["learning_rate"] == [float(np.float32(v)) for v in logged]
    assert float(m.optimizer.learning_rate) == float(np.float32(0.003125))


@pytest.mark.parametrize("two_args", [False, True])
def test_learning_rate_scheduler_sets_the_rate_sgd_uses(two_args):
    if two_args:
        def schedule(epoch, lr):
            return lr if epoch == 0 else lr * 0.5
    else:
        def schedule(epoch):
            return np.float64(0.2) * 0.5 ** epoch  # a NumPy float64, as course #83 returns
    m = linear_model(lr=0.2)
    log = WeightLog()
    h = m.fit(X_LIN, Y_LIN, batch_size=8, epochs=4, callbacks=[log, keras.callbacks.LearningRateScheduler(schedule)],
              verbose=0)
    expected = [0.2, 0.1, 0.05, 0.025]
    np.testing.assert_allclose(log.rates(), expected, rtol=1e-4)
    assert h.history["learning_rate"] == [float(np.float32(v)) for v in expected]


def test_learning_rate_scheduler_rejects_int_and_prints_like_keras():
    K = real_keras()
    m = linear_model()
    with pytest.raises(ValueError, match="The output of the `schedule` function should be a float. Got: 1"):
        m.fit(X_LIN, Y_LIN, epochs=1, callbacks=[keras.callbacks.LearningRateScheduler(lambda e: 1)], verbose=0)
    outs = []
    for lib in (keras, K):
        cb = lib.callbacks.LearningRateScheduler(lambda e, lr: lr * 0.5, verbose=1)
        out = io.StringIO()
        with redirect_stdout(out):
            drive(cb, [1.0, 0.9])
        outs.append(out.getvalue())
    assert outs[0] == outs[1] == ("\nEpoch 1: LearningRateScheduler setting learning rate to 0.004999999888241291.\n"
                                  "\nEpoch 2: LearningRateScheduler setting learning rate to 0.0024999999441206455.\n")


def test_rate_set_between_batches_is_used_by_the_next_step():
    """Course #89/#94: a callback sets the rate in on_batch_begin; the very next step uses it."""
    rates = [0.1, 0.01, 0.3, 0.05]
    m = linear_model()
    steps = []

    class PerBatch(keras.callbacks.Callback):
        def on_batch_begin(self, batch, logs):
            self.model.optimizer.learning_rate = rates[batch]
            self.w = self.model.get_weights()[0].copy()

        def on_batch_end(self, batch, logs):
            steps.append((self.w, self.model.get_weights()[0].copy()))

    m.fit(X_LIN, Y_LIN, batch_size=2, epochs=1, shuffle=False, callbacks=[PerBatch()], verbose=0)
    for b, (w0, w1) in enumerate(steps):
        g = gradient(w0, X_LIN[2 * b:2 * b + 2], Y_LIN[2 * b:2 * b + 2])
        np.testing.assert_allclose(w1 - w0, -rates[b] * g, rtol=1e-4, atol=1e-7)


# ------------------------------------------------------------------ TerminateOnNaN

def nan_run(lib, **kw):
    """Dense(1) regression where row 5 has a NaN target: the running loss turns NaN at batch 2."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(10, 3)).astype("float32"), rng.normal(size=(10, 1)).astype("float32")
    y[5] = np.nan
    m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
    m.compile(lib.optimizers.SGD(0.01), "mse")
    rec = make_recorder(lib.callbacks.Callback)()
    out = io.StringIO()
    with redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = m.fit(x, y, batch_size=2, epochs=3, shuffle=False, validation_data=(x[:4], y[:4]),
                  callbacks=[lib.callbacks.TerminateOnNaN(**kw), rec], verbose=0)
    return rec.calls, out.getvalue(), h


def test_terminate_on_nan_stops_like_keras():
    K = real_keras()
    ours, printed, h = nan_run(keras)
    theirs, printed_k, _ = nan_run(K)
    assert ours == theirs  # stops after batch 2; validation and on_train_end still run
    assert [c for c in ours if c[0] == "on_train_batch_end"][-1][1] == 2
    assert printed == printed_k == "Batch 2: Invalid loss, terminating training\n"
    assert h.epoch == [0] and np.isnan(h.history["loss"][0])
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 2"):
        nan_run(keras, raise_error=True)


# ------------------------------------------------------------------ CSVLogger

def csv_text(lib, tmp_path, runs, **kw):
    path = tmp_path / f"{lib.__name__}.csv"
    cb = lib.callbacks.CSVLogger(path, **kw)
    cb.set_model(FakeModel())
    for logs_per_epoch in runs:
        cb.on_train_begin({})
        for epoch, logs in enumerate(logs_per_epoch):
            cb.on_epoch_end(epoch, dict(logs))
        cb.on_train_end({})
    return path.read_text()


CSV_CASES = {
    "with_val": ([[{"accuracy": 0.5, "loss": 1.25, "val_accuracy": 0.25, "val_loss": 2.0},
                   {"accuracy": 0.75, "loss": 0.1 + 0.2, "val_accuracy": 1 / 3, "val_loss": 1e-5}]], {}),
    "no_val": ([[{"loss": 1.5, "learning_rate": 0.01}, {"loss": 0.5, "learning_rate": 0.001}]], {}),
    "separator": ([[{"loss": 1.0, "val_loss": 2.0}]], {"separator": ";"}),
    "append": ([[{"loss": 1.0, "val_loss": 2.0}], [{"loss": 0.5, "val_loss": 1.0}]], {"append": True}),
    "overwrite": ([[{"loss": 1.0, "val_loss": 2.0}], [{"loss": 0.5, "val_loss": 1.0}]], {}),
    "arrays_and_text": ([[{"loss": 1.0, "vec": np.array([1.0, 2.5]), "note": "a,b", "zero_d": np.array(3.0)}]], {}),
    "key_missing_later": ([[{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5}]], {}),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_csv_logger_file_equals_keras(tmp_path, case):
    K = real_keras()
    runs, kw = CSV_CASES[case]
    assert csv_text(keras, tmp_path, runs, **kw) == csv_text(K, tmp_path, runs, **kw)


def test_csv_logger_in_fit(tmp_path):
    path = tmp_path / "log.csv"
    (path).write_text("")  # append to an empty file writes the header
    m = small_classifier()
    x = np.random.default_rng(4).random((8, 3)).astype("float32")
    y = np.array([0, 1] * 4)
    h = m.fit(x, y, epochs=2, validation_data=(x, y), callbacks=[keras.callbacks.CSVLogger(path, append=True)],
              verbose=0)
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    for e, line in enumerate(lines[1:]):
        cells = line.split(",")
        assert cells[0] == str(e)
        assert [float(c) for c in cells[1:]] == [h.history[k][e] for k in lines[0].split(",")[1:]]
    assert len(lines) == 3


# ------------------------------------------------------------------ LambdaCallback

def test_lambda_callback_hooks_fire_in_fit_and_evaluate():
    seen = []
    cb = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: seen.append(("epoch_begin", epoch)),
        on_train_batch_end=lambda batch, logs: seen.append(("batch_end", batch, sorted(logs))),
        on_epoch_end=lambda epoch, logs: seen.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: seen.append("train_end"),
        on_test_end=lambda logs: seen.append(("test_end", sorted(logs))))
    m = linear_model()
    m.fit(X_LIN, Y_LIN, batch_size=4, epochs=1, callbacks=[cb], verbose=0)
    assert seen == ["train_begin", ("epoch_begin", 0), ("batch_end", 0, ["loss"]), ("batch_end", 1, ["loss"]),
                    ("epoch_end", 0, ["loss"]), "train_end"]
    seen.clear()
    m.evaluate(X_LIN, Y_LIN, callbacks=[cb], verbose=0)
    assert seen == [("test_end", ["loss"])]
