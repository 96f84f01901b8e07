"""compile / fit / evaluate / predict (keras/src/trainers/trainer.py) on the native loop.

A training step is recorded once per batch size by running the model's Python `call` on placeholders
under a trace; the C++ loop then replays it over whole epochs with the GIL released. Python runs only
for the callbacks' hooks (batch hooks only when a callback overrides them; the progress bar is updated
at its own refresh interval).
"""
import math
import warnings

import numpy as np

from xkeras import _core, losses as losses_mod, metrics as metrics_mod, optimizers as optimizers_mod
from xkeras.callbacks.callback_list import CallbackList, pythonify_logs


class Trainer:
    def _init_trainer(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._programs = {}
        self._compile_metrics = []
        self._metric_objs = None

    # ---- compile -------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = loss
        self._loss_obj = losses_mod.get(loss)
        if metrics is not None and not isinstance(metrics, (list, tuple, dict)):
            raise ValueError("Expected `metrics` argument to be a list, tuple, or dict. "
                             f"Received instead: metrics={metrics} of type {type(metrics)}")
        self._compile_metrics = list(metrics or [])
        self._metric_objs = None
        self._programs = {}
        self.compiled = True

    def _assert_compiled(self):
        if not getattr(self, "compiled", False):
            raise ValueError("You must call `compile()` before using the model.")

    # ---- recording -----------------------------------------------------------------------------
    def _resolve_metrics(self, y_shape, pred_shape):
        if self._metric_objs is None:
            self._metric_objs = [metrics_mod.resolve(m, y_shape, pred_shape) for m in self._compile_metrics]
            for m in self._metric_objs:
                if m._native is None:
                    raise NotImplementedError(f"Metric {m.name} has no native implementation yet.")
        return self._metric_objs

    def _compute_loss(self, y, y_pred, sample_weight):
        loss = self._loss_obj(y, y_pred, sample_weight)
        for extra in self.losses:
            loss = _core.add(loss, extra)
        return loss

    def _program(self, kind, batch_size, x_tail, y_tail=None, with_sw=False):
        """The recorded step for (kind, batch size, shapes); recorded on first use."""
        key = (kind, batch_size, x_tail, y_tail, with_sw, tuple(id(v) for v in self.trainable_weights))
        prog = self._programs.get(key)
        if prog is not None:
            return prog
        if not self.built:
            self.build((None,) + tuple(x_tail))
        state = [w.numpy() for w in self.non_trainable_weights]  # recording must not move BN statistics
        rec = _core.TraceRecorder()
        with rec:
            x = _core.constant(np.zeros((batch_size,) + x_tail, np.float32))
            y_pred = self(x, training=(kind == "train"))
            y = sw = loss = None
            if kind != "predict":
                y = _core.constant(np.zeros((batch_size,) + y_tail, np.float32))
                sw = _core.constant(np.ones((batch_size,), np.float32)) if with_sw else None
                loss = self._compute_loss(y, y_pred, sw)
        trace = rec.finish()
        for w, v in zip(self.non_trainable_weights, state):
            w.assign(v)
        variables = [w._handle for w in self.trainable_weights]
        prog = _core.Program(trace, x, y, sw, y_pred, loss, variables)
        self._programs[key] = prog
        return prog

    def _programs_for(self, kind, n, batch_size, x, y=None, with_sw=False):
        sizes = {min(batch_size, n)}
        if n % batch_size:
            sizes.add(n % batch_size)
        x_tail = tuple(x.shape[1:])
        y_tail = None if y is None else tuple(y.shape[1:])
        return {s: self._program(kind, s, x_tail, y_tail, with_sw) for s in sizes}

    # ---- fit -----------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_batch_size=None,
            validation_freq=1):
        self._assert_compiled()
        x, y = _as_data(x, "x"), _as_labels(y)
        _check_same_rows(x, y)
        if validation_data is None and validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"`validation_split` must be in [0, 1). Received: validation_split={validation_split}")
            split_at = int(math.floor(len(x) * (1.0 - validation_split)))
            if split_at in (0, len(x)):
                raise ValueError(f"Training data contains {len(x)} samples, which is not sufficient to split it "
                                 f"into a validation and training set as specified by `validation_split={validation_split}`.")
            x, x_val = x[:split_at], x[split_at:]
            y, y_val = y[:split_at], y[split_at:]
            sample_weight = None if sample_weight is None else np.asarray(sample_weight)[:split_at]
            validation_data = (x_val, y_val)
        batch_size = _batch_size(batch_size)
        sw = _sample_weights(y, sample_weight, class_weight, len(x))
        n = len(x)
        steps = math.ceil(n / batch_size)
        self.stop_training = False
        programs = self._programs_for("train", n, batch_size, x, y, sw is not None)
        metric_objs = self._resolve_metrics(y.shape, self.output_shape)
        specs = [m.native_spec() for m in metric_objs]
        val = None
        if validation_data is not None:
            vx, vy = _as_data(validation_data[0], "validation x"), _as_labels(validation_data[1])
            _check_same_rows(vx, vy)
            vsw = None if len(validation_data) < 3 else _sample_weights(vy, validation_data[2], None, len(vx))
            vbs = _batch_size(validation_batch_size or batch_size)
            val = (vx, vy, vsw, vbs, self._programs_for("test", len(vx), vbs, vx, vy, vsw is not None))
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           verbose=verbose, epochs=epochs, steps=steps)
        tx, ty = _core.constant(x), _core.constant(y)
        tsw = None if sw is None else _core.constant(sw)
        logs = {}
        every_batch = cbs.has_train_batch_hooks
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            order = np.random.permutation(n) if shuffle else None
            hook = self._batch_hook(cbs, "train", every_batch) if (every_batch or cbs.progbar) else None
            logs = _core.run_epoch(programs, self.optimizer._native, tx, ty, tsw, order, batch_size, specs, hook,
                                   every_batch, 0.05)
            logs = dict(logs)
            if val is not None and not self.stop_training and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_arrays(*val, cbs)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            logs = pythonify_logs(logs)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history

    def _batch_hook(self, cbs, mode, every_batch):
        begin = getattr(cbs, f"on_{mode}_batch_begin")
        end = getattr(cbs, f"on_{mode}_batch_end")
        progbar = cbs.progbar

        def hook(phase, batch, logs):
            if phase == 0:
                begin(batch)
            elif every_batch:
                end(batch, logs)
            elif progbar is not None:  # only the progress bar listens: update it alone
                getattr(progbar, f"on_{mode}_batch_end")(batch, pythonify_logs(logs))
            return bool(self.stop_training)

        return hook

    # ---- evaluate ------------------------------------------------------------------------------
    def _evaluate_arrays(self, x, y, sw, batch_size, programs, cbs):
        every = cbs.has_test_batch_hooks
        cbs.on_test_begin()
        hook = self._batch_hook(cbs, "test", every) if (every or cbs.progbar) else None
        specs = [m.native_spec() for m in self._resolve_metrics(y.shape, self.output_shape)]
        logs = _core.run_epoch(programs, None, _core.constant(x), _core.constant(y),
                               None if sw is None else _core.constant(sw), None, batch_size, specs, hook, every, 0.05)
        logs = pythonify_logs(logs)
        cbs.on_test_end(logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        if kwargs:
            raise ValueError(f"Arguments not recognized: {kwargs}")
        self._assert_compiled()
        x, y = _as_data(x, "x"), _as_labels(y)
        _check_same_rows(x, y)
        batch_size = _batch_size(batch_size)
        sw = _sample_weights(y, sample_weight, None, len(x))
        programs = self._programs_for("test", len(x), batch_size, x, y, sw is not None)
        self._resolve_metrics(y.shape, self.output_shape)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                           steps=math.ceil(len(x) / batch_size))
        logs = self._evaluate_arrays(x, y, sw, batch_size, programs, cbs)
        return self._format_eval(logs, return_dict)

    def _format_eval(self, logs, return_dict):
        if return_dict:
            return logs
        names = ["loss"] + [m.name for m in self._metric_objs or []]
        values = [logs[k] for k in names]
        return values[0] if len(values) == 1 else values

    # ---- predict -------------------------------------------------------------------------------
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        x = _as_data(x, "x")
        batch_size = _batch_size(batch_size)
        if len(x) == 0:
            raise ValueError("Expected at least one sample to predict on. Received: x with 0 samples.")
        programs = self._programs_for("predict", len(x), batch_size, x)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                           steps=math.ceil(len(x) / batch_size))
        every = cbs.has_predict_batch_hooks
        cbs.on_predict_begin()
        hook = self._batch_hook(cbs, "predict", every) if (every or cbs.progbar) else None
        out = _core.run_predict(programs, _core.constant(x), batch_size, hook, every, 0.05).numpy()
        out = np.array(out)  # a writable array the caller owns
        cbs.on_predict_end()
        return out

    # ---- single batches ------------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        self._assert_compiled()
        x, y = _as_data(x, "x"), _as_labels(y)
        _check_same_rows(x, y)
        sw = _sample_weights(y, sample_weight, class_weight, len(x))
        programs = self._programs_for("train", len(x), len(x), x, y, sw is not None)
        specs = [m.native_spec() for m in self._resolve_metrics(y.shape, self.output_shape)]
        logs = _core.run_epoch(programs, self.optimizer._native, _core.constant(x), _core.constant(y),
                               None if sw is None else _core.constant(sw), None, len(x), specs, None, False, 0.05)
        return self._format_eval(pythonify_logs(logs), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._assert_compiled()
        x, y = _as_data(x, "x"), _as_labels(y)
        sw = _sample_weights(y, sample_weight, None, len(x))
        programs = self._programs_for("test", len(x), len(x), x, y, sw is not None)
        specs = [m.native_spec() for m in self._resolve_metrics(y.shape, self.output_shape)]
        logs = _core.run_epoch(programs, None, _core.constant(x), _core.constant(y),
                               None if sw is None else _core.constant(sw), None, len(x), specs, None, False, 0.05)
        return self._format_eval(pythonify_logs(logs), return_dict)

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=len(x), verbose=0)


def _as_data(x, what):
    if x is None:
        raise ValueError(f"Expected `{what}` to be an array. Received: None")
    if hasattr(x, "to_numpy"):  # pandas
        x = x.to_numpy()
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"Expected numeric data for `{what}`, received an array of dtype {a.dtype}.")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.ndim == 0:
        raise ValueError(f"Expected `{what}` to have a batch axis. Received a scalar.")
    if len(a) == 0:
        raise ValueError(f"Expected `{what}` to contain at least one sample. Received shape {a.shape}.")
    if not np.isfinite(a).all():
        warnings.warn(f"`{what}` contains NaN or inf values.", stacklevel=3)
    return a


def _as_labels(y):
    if y is None:
        raise ValueError("Expected `y` (targets) for training/evaluation. Received: None")
    return _as_data(y, "y")


def _check_same_rows(x, y):
    if len(x) != len(y):
        raise ValueError(f"Data cardinality is ambiguous. Make sure all arrays contain the same number of samples. "
                         f"Received: x sizes: {len(x)}, y sizes: {len(y)}")


def _batch_size(batch_size):
    if batch_size is None:
        return 32
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size}")
    return int(batch_size)


def _sample_weights(y, sample_weight, class_weight, n):
    if class_weight is not None and sample_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
    if class_weight is not None:
        labels = np.argmax(y, axis=-1) if (y.ndim > 1 and y.shape[-1] > 1) else y.reshape(len(y), -1)[:, 0]
        labels = np.round(labels).astype(int)
        cw = {int(k): float(v) for k, v in class_weight.items()}
        return np.array([cw.get(int(c), 1.0) for c in labels], np.float32)
    if sample_weight is None:
        return None
    sw = np.asarray(sample_weight, np.float32).reshape(-1)
    if len(sw) != n:
        raise ValueError(f"sample_weight has {len(sw)} entries, expected one per sample ({n}).")
    return sw
