"""CallbackList: dispatches every hook to a list of callbacks."""

import numpy as np

from xkeras.callbacks.callback import Callback, is_default
from xkeras.callbacks.history import History
from xkeras.callbacks.progbar_logger import ProgbarLogger

_TRAIN_BATCH_HOOKS = (
    "on_train_batch_begin", "on_train_batch_end",
    "on_batch_begin", "on_batch_end",
)
_TEST_BATCH_HOOKS = ("on_test_batch_begin", "on_test_batch_end")
_PREDICT_BATCH_HOOKS = ("on_predict_batch_begin", "on_predict_batch_end")


def pythonify_logs(logs):
    """Sorted, flattened copy of `logs` with values made Python floats
    where `float(value)` works (numpy scalars, 0-d/1-element arrays).
    Tensors (anything with `__array__`) become numpy first, as in Keras."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
            continue
        try:
            if hasattr(value, "__array__") and not isinstance(value, np.ndarray):
                value = np.asarray(value)
            value = float(value)
        except Exception:
            pass
        result[key] = value
    return result


def _flatten(callbacks):
    out = []
    for cb in callbacks:
        if isinstance(cb, (list, tuple)):
            out.extend(_flatten(cb))
        else:
            out.append(cb)
    return out


class CallbackList(Callback):
    """Container calling every hook on each callback, in list order.

    History and ProgbarLogger are appended (in that order) when requested
    and not already present. `**params` go to every callback's set_params.
    """

    def __init__(
        self,
        callbacks=None,
        add_history=False,
        add_progbar=False,
        model=None,
        **params,
    ):
        super().__init__()
        self.callbacks = _flatten(callbacks) if callbacks else []
        self._in_begin_end_block_count = 0
        self._progbar = None
        self._history = None
        for cb in self.callbacks:
            if isinstance(cb, ProgbarLogger):
                self._progbar = cb
            elif isinstance(cb, History):
                self._history = cb
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)

    @property
    def progbar(self):
        """The ProgbarLogger in the list, or None."""
        return self._progbar

    @property
    def history(self):
        """The History in the list, or None."""
        return self._history

    def set_params(self, params):
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    def set_model(self, model):
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    # -- which batch hooks need calling (the progbar has a native path) --

    def _overrides(self, names):
        for cb in self.callbacks:
            owner = type(cb)
            if cb is self._progbar:
                # Only a subclass overriding ProgbarLogger's hooks counts.
                if all(
                    getattr(owner, n) is getattr(ProgbarLogger, n)
                    for n in names
                ):
                    continue
                return True
            if any(not is_default(getattr(cb, n)) for n in names):
                return True
        return False

    @property
    def has_train_batch_hooks(self):
        return self._overrides(_TRAIN_BATCH_HOOKS)

    @property
    def has_test_batch_hooks(self):
        return self._overrides(_TEST_BATCH_HOOKS)

    @property
    def has_predict_batch_hooks(self):
        return self._overrides(_PREDICT_BATCH_HOOKS)

    # -- dispatch --

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def _call_batch(self, hook, batch, logs):
        logs = pythonify_logs(logs)
        for cb in self.callbacks:
            getattr(cb, hook)(batch, logs=logs)

    def _on_begin(self):
        self._in_begin_end_block_count += 1

    def _on_end(self):
        self._in_begin_end_block_count -= 1
        if self._in_begin_end_block_count < 0:
            raise ValueError(
                "`on_xxx_end` called without corresponding `on_xxx_begin`"
            )

    def on_batch_begin(self, batch, logs=None):
        self._call_batch("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call_batch("on_batch_end", batch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call_batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call_batch("on_predict_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, pythonify_logs(logs))

    def on_epoch_end(self, epoch, logs=None):
        # One shared dict: edits by earlier callbacks are seen by later ones.
        self._call("on_epoch_end", epoch, pythonify_logs(logs))

    def on_train_begin(self, logs=None):
        self._on_begin()
        self._call("on_train_begin", pythonify_logs(logs))

    def on_train_end(self, logs=None):
        self._call("on_train_end", pythonify_logs(logs))
        self._on_end()

    def on_test_begin(self, logs=None):
        self._on_begin()
        self._call("on_test_begin", pythonify_logs(logs))

    def on_test_end(self, logs=None):
        self._call("on_test_end", pythonify_logs(logs))
        self._on_end()

    def on_predict_begin(self, logs=None):
        self._on_begin()
        self._call("on_predict_begin", pythonify_logs(logs))

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", pythonify_logs(logs))
        self._on_end()
