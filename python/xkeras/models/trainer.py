"""compile / fit / evaluate / predict (keras/src/trainers/trainer.py) on the native loop.

A training step is recorded once per batch size by running the model's Python `call` on placeholders
under a trace; the C++ loop then replays it over whole epochs with the GIL released. Python runs only
for the callbacks' hooks (batch hooks only when a callback overrides them; the progress bar is updated
at its own refresh interval).
"""
import math
import threading
import warnings

import numpy as np

from xkeras import _core, losses as losses_mod, metrics as metrics_mod, optimizers as optimizers_mod
from xkeras.callbacks.callback_list import CallbackList, pythonify_logs
from xkeras.callbacks.gradient_monitor import attach_gradient_monitor, layer_outputs
from xkeras.layers import layer as layer_mod


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
        # A recorded Program has one set of placeholder and node buffers, and training updates the weights in
        # place: two threads replaying (or recording) this model's steps at once would overwrite each other's
        # batches. Recording and replay hold this lock; a thread waiting for it waits without the GIL
        # (threading locks release it), and the holder may re-enter (a callback calling predict).
        self._replay_lock = threading.RLock()

    def _replay(self, run, *args):
        """_core.run_epoch / run_predict under the model's replay lock."""
        with self._replay_lock:
            return run(*args)

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

    @property
    def metrics_names(self):
        """Keras 3: the names of `model.metrics`: the loss tracker, then one entry for all compiled metrics."""
        if not getattr(self, "compiled", False):
            return []
        return ["loss"] + (["compile_metrics"] if self._compile_metrics else [])

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
        extras = self.losses
        if self._loss_obj is None and not extras:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        loss = None if self._loss_obj is None else self._loss_obj(y, y_pred, sample_weight)
        for extra in extras:
            loss = extra if loss is None else _core.add(loss, extra)
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
        taps = layer_mod.recording.outputs = [] if kind == "train" else None
        try:
            with rec:
                x = _core.constant(np.zeros((batch_size,) + x_tail, np.float32))
                y_pred = self(x, training=(kind == "train"))
                y = sw = loss = None
                if kind != "predict":
                    y = _core.constant(np.zeros((batch_size,) + y_tail, np.float32))
                    sw = _core.constant(np.ones((batch_size,), np.float32)) if with_sw else None
                    loss = self._compute_loss(y, y_pred, sw)
        finally:
            layer_mod.recording.outputs = None
        trace = rec.finish()
        for w, v in zip(self.non_trainable_weights, state):
            w.assign(v)
        variables = [w._handle for w in self.trainable_weights]
        output_layers, outputs = layer_outputs(self, taps or [])
        prog = _core.Program(trace, x, y, sw, y_pred, loss, variables, outputs)
        prog.output_layers = output_layers  # for the gradient monitor
        self._programs[key] = prog
        return prog

    def _build_optimizer(self):
        # Builds the optimizer once and hands it each variable's constraint (applied natively per step).
        with self._replay_lock:
            self.optimizer._track(self.trainable_weights)

    def _programs_for(self, kind, n, batch_size, x, y=None, with_sw=False):
        sizes = {min(batch_size, n)}
        if n % batch_size:
            sizes.add(n % batch_size)
        x_tail = tuple(x.shape[1:])
        y_tail = None if y is None else tuple(y.shape[1:])
        with self._replay_lock:
            return {s: self._program(kind, s, x_tail, y_tail, with_sw) for s in sizes}

    # ---- fit -----------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_batch_size=None,
            validation_freq=1):
        self._assert_compiled()
        if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool):
            raise TypeError(f"`epochs` must be an integer. Received: epochs={epochs!r}")
        if epochs < 0:
            raise ValueError(f"`epochs` must be a non-negative integer. Received: epochs={epochs}")
        if validation_data is not None and (not isinstance(validation_data, (tuple, list))
                                            or len(validation_data) not in (2, 3)):
            raise ValueError("`validation_data` should be a tuple `(x_val, y_val)` or `(x_val, y_val, "
                             f"val_sample_weight)`. Received: validation_data={_describe(validation_data)}")
        _positive_int(validation_freq, "validation_freq")
        x, y = _as_data(x, "x"), _as_labels(y)
        _check_same_rows(x, y)
        user_batch_size = batch_size
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
        batch_size = _batch_size(batch_size, len(x), steps_per_epoch)
        sw = _sample_weights(y, sample_weight, class_weight, len(x))
        n = len(x)
        steps = math.ceil(n / batch_size)  # batches in one pass over the data
        per_epoch = steps if steps_per_epoch is None else _positive_int(steps_per_epoch, "steps_per_epoch")
        self.stop_training = False
        programs = self._programs_for("train", n, batch_size, x, y, sw is not None)
        self._build_optimizer()
        metric_objs = self._resolve_metrics(y.shape, self.output_shape)
        specs = [m.native_spec() for m in metric_objs]
        val = None
        if validation_data is not None:
            vx, vy = _as_data(validation_data[0], "validation x"), _as_labels(validation_data[1])
            _check_same_rows(vx, vy)
            vsw = None if len(validation_data) < 3 else _sample_weights(vy, validation_data[2], None, len(vx))
            vbs = _batch_size(validation_batch_size or user_batch_size, len(vx), validation_steps)
            if validation_steps is not None:  # the first `validation_steps` batches, every time
                keep = _positive_int(validation_steps, "validation_steps") * vbs
                vx, vy, vsw = vx[:keep], vy[:keep], None if vsw is None else vsw[:keep]
            val = (vx, vy, vsw, vbs, self._programs_for("test", len(vx), vbs, vx, vy, vsw is not None))
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           verbose=verbose, epochs=epochs, steps=per_epoch)
        tx, ty, tsw = x, y, sw  # float32 C-contiguous: the native loop reads them in place
        monitor = attach_gradient_monitor(cbs.callbacks, programs)  # None unless a GradientMonitor is given
        # Plain SGD is fused into the weight-gradient GEMM and leaves no gradients, unless a callback reads them.
        keep_gradients = any(getattr(cb, "reads_gradients", False) for cb in cbs.callbacks)
        logs = {}
        every_batch = cbs.has_train_batch_hooks
        cbs.on_train_begin()
        done, order = 0, None  # batches of the current pass already run (steps_per_epoch continues a pass)
        nan_warned = False
        initial_epoch = getattr(self, "_initial_epoch", None) or initial_epoch  # set by BackupAndRestore
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            if done == 0:
                order = _shuffled(n, batch_size, shuffle)
            rows, done = _epoch_rows(order, n, batch_size, done, per_epoch, steps)
            hook = self._batch_hook(cbs, "train", every_batch) if (every_batch or cbs.progbar) else None
            logs = self._replay(_core.run_epoch, programs, self.optimizer._native, tx, ty, tsw, rows, batch_size,
                                specs, hook, every_batch, 0.05, monitor, keep_gradients)
            logs = dict(logs)
            if val is not None and (epoch + 1) % validation_freq == 0:  # as Keras, even after stop_training
                val_logs = self._evaluate_arrays(*val, cbs)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            logs = pythonify_logs(logs)
            if not nan_warned and not math.isfinite(logs.get("loss", 0.0)):
                nan_warned = True
                warnings.warn(f"Epoch {epoch + 1}: the loss is {logs['loss']}. Training diverged (learning rate too "
                              "high?) or the data holds NaN/inf values; the weights are probably NaN now. "
                              "`keras.callbacks.TerminateOnNaN()` stops fit at the first such batch.", stacklevel=2)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        if epochs > 0:  # use_ema: the weights become their moving averages, as Keras
            self.optimizer.finalize_variable_values(self.trainable_weights)
        cbs.on_train_end(logs)
        return self.history

    def find_learning_rate(self, x, y, **kwargs):
        """The LR finder (xkeras.utils.find_learning_rate): one pass with an exponentially growing rate."""
        from xkeras.utils.lr_finder import find_learning_rate
        return find_learning_rate(self, x, y, **kwargs)

    def _batch_hook(self, cbs, mode, every_batch):
        begin = getattr(cbs, f"on_{mode}_batch_begin")
        end = getattr(cbs, f"on_{mode}_batch_end")
        progbar = cbs.progbar
        stop_flag = {"train": "stop_training", "test": "stop_evaluating", "predict": "stop_predicting"}[mode]

        def hook(phase, batch, logs):
            if phase == 0:
                begin(batch)
            elif every_batch:
                end(batch, logs)
            elif progbar is not None:  # only the progress bar listens: update it alone
                getattr(progbar, f"on_{mode}_batch_end")(batch, pythonify_logs(logs))
            return bool(getattr(self, stop_flag, False))

        return hook

    # ---- evaluate ------------------------------------------------------------------------------
    def _evaluate_arrays(self, x, y, sw, batch_size, programs, cbs):
        every = cbs.has_test_batch_hooks
        self.stop_evaluating = False
        cbs.on_test_begin()
        hook = self._batch_hook(cbs, "test", every) if (every or cbs.progbar) else None
        specs = [m.native_spec() for m in self._resolve_metrics(y.shape, self.output_shape)]
        logs = self._replay(_core.run_epoch, programs, None, x, y, sw, None, batch_size, specs, hook, every, 0.05)
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
        batch_size = _batch_size(batch_size, len(x), steps)
        sw = _sample_weights(y, sample_weight, None, len(x))
        if steps is not None:  # only the first `steps` batches
            keep = _positive_int(steps, "steps") * batch_size
            x, y, sw = x[:keep], y[:keep], None if sw is None else sw[:keep]
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
        batch_size = _batch_size(batch_size, len(x), steps)
        if steps is not None:  # only the first `steps` batches
            x = x[:_positive_int(steps, "steps") * batch_size]
        if len(x) == 0:
            raise ValueError("Expected at least one sample to predict on. Received: x with 0 samples.")
        programs = self._programs_for("predict", len(x), batch_size, x)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                           steps=math.ceil(len(x) / batch_size))
        self.stop_predicting = False
        cbs.on_predict_begin()
        if cbs.has_predict_batch_hooks:  # a user hook sees every batch and its outputs, as in Keras
            out = self._predict_batches(programs, x, batch_size, cbs)
        else:
            hook = self._batch_hook(cbs, "predict", False) if cbs.progbar else None
            out = self._replay(_core.run_predict, programs, x, batch_size, hook, False, 0.05).numpy()
            out = np.array(out)  # a writable array the caller owns
        cbs.on_predict_end()
        return out

    def _predict_batches(self, programs, x, batch_size, cbs):
        outs = []
        for batch, start in enumerate(range(0, len(x), batch_size)):
            cbs.on_predict_batch_begin(batch)
            rows = x[start:start + batch_size]
            out = self._replay(_core.run_predict, programs, rows, batch_size, None, False, 0.05)
            outs.append(np.array(out.numpy()))
            cbs.on_predict_batch_end(batch, {"outputs": outs[-1]})
            if self.stop_predicting:
                break
        return np.concatenate(outs)

    # ---- single batches ------------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        self._assert_compiled()
        x, y = _as_data(x, "x"), _as_labels(y)
        _check_same_rows(x, y)
        sw = _sample_weights(y, sample_weight, class_weight, len(x))
        programs = self._programs_for("train", len(x), len(x), x, y, sw is not None)
        self._build_optimizer()
        specs = [m.native_spec() for m in self._resolve_metrics(y.shape, self.output_shape)]
        logs = self._replay(_core.run_epoch, programs, self.optimizer._native, x, y, sw, None, len(x), specs, None,
                            False, 0.05)
        return self._format_eval(pythonify_logs(logs), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._assert_compiled()
        x, y = _as_data(x, "x"), _as_labels(y)
        sw = _sample_weights(y, sample_weight, None, len(x))
        programs = self._programs_for("test", len(x), len(x), x, y, sw is not None)
        specs = [m.native_spec() for m in self._resolve_metrics(y.shape, self.output_shape)]
        logs = self._replay(_core.run_epoch, programs, None, x, y, sw, None, len(x), specs, None, False, 0.05)
        return self._format_eval(pythonify_logs(logs), return_dict)

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=len(x), verbose=0)


def _as_data(x, what):
    if x is None:
        raise ValueError(f"Expected `{what}` to be an array. Received: None")
    if hasattr(x, "to_numpy"):  # pandas
        x = x.to_numpy()
    try:
        a = np.asarray(x)
    except ValueError as e:  # a ragged list
        raise ValueError(f"Expected `{what}` to be a rectangular array (every sample of the same shape). "
                         f"Received: {what} of type {type(x).__name__} that NumPy cannot stack: {e}") from None
    if a.dtype.kind not in "fiub":
        raise TypeError(f"Expected numeric data for `{what}`, received an array of dtype {a.dtype}.")
    if a.ndim == 0:  # (before ascontiguousarray, which makes it 1-D)
        raise ValueError(f"Expected `{what}` to have a batch axis. Received a scalar: {what}={x!r}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if len(a) == 0:
        raise ValueError(f"Expected `{what}` to contain at least one sample. Received shape {a.shape}.")
    # A float32 sum is finite only if every value is (NaN/inf propagate); if it overflows, look closer.
    if not np.isfinite(np.add.reduce(a, axis=None)) and not np.isfinite(a).all():
        warnings.warn(f"`{what}` contains NaN or inf values.", stacklevel=3)
    return a


def _as_labels(y):
    if y is None:
        raise ValueError("Expected `y` (targets) for training/evaluation. Received: None")
    return _as_data(y, "y")


def _describe(value):
    if hasattr(value, "shape"):
        return f"{type(value).__name__} of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of length {len(value)}"
    return repr(value)[:100]


def _check_same_rows(x, y):
    if len(x) != len(y):
        raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the same number of samples."
                         f"'x' sizes: {len(x)}\n'y' sizes: {len(y)}\n")  # Keras' text, verbatim


def _positive_int(value, name):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value}")
    return int(value)


def _shuffled(n, batch_size, shuffle):
    """Row order for one pass: None (in order), a permutation, or shuffle="batch": the same batches as
    without shuffling, each permuted within itself (Keras' array adapter)."""
    if not shuffle:
        return None
    if shuffle == "batch":
        return np.concatenate([start + np.random.permutation(min(batch_size, n - start))
                               for start in range(0, n, batch_size)])
    return np.random.permutation(n)


def _epoch_rows(order, n, batch_size, done, per_epoch, steps):
    """The rows one epoch trains on, and the batches of the pass used afterwards.

    As Keras' EpochIterator with `steps_per_epoch`: an epoch continues the current pass over the data
    (one shuffle per pass); an epoch that reaches the end of the pass stops there, with a warning if
    it wanted more steps, and the next epoch starts a new pass."""
    take = min(per_epoch, steps - done)
    if take < per_epoch:
        warnings.warn("Your input ran out of data; interrupting training. Make sure that your dataset or "
                      "generator can generate at least `steps_per_epoch * epochs` batches. You may need to "
                      "use the `.repeat()` function when building your dataset.", stacklevel=3)
    if done == 0 and take == steps:
        return order, 0  # the whole pass (None: rows in order)
    rows = (np.arange(n) if order is None else order)[done * batch_size:min((done + take) * batch_size, n)]
    done += take
    return rows, 0 if done >= steps else done


def _batch_size(batch_size, n=None, steps=None):
    if batch_size is None:  # as Keras' array adapter: enough rows for `steps` batches, else 32
        return int(math.ceil(n / steps)) if steps else 32
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
