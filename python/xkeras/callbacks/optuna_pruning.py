"""OptunaPruningCallback: prunes an Optuna trial from `fit` (as optuna_integration.KerasPruningCallback).

optuna_integration's callback subclasses the real `keras.callbacks.Callback`, so importing it needs Keras
and a backend installed (it loads TensorFlow here: ~7 s), and xkeras cannot tell that it has no batch
hooks, so every batch would call into Python. This one has the same arguments and behaviour on xkeras'
Callback. Needs `pip install xkeras[tune]`.
"""
import warnings

from xkeras.callbacks.callback import Callback


def _optuna():
    try:
        import optuna
    except ImportError as e:
        raise ImportError("OptunaPruningCallback requires Optuna: pip install xkeras[tune]") from e
    return optuna


class OptunaPruningCallback(Callback):
    """At the end of every `interval`-th epoch, reports `logs[monitor]` to the trial (step = epoch index)
    and raises `optuna.TrialPruned` if the study's pruner says so; `fit` stops there."""

    def __init__(self, trial, monitor="val_loss", interval=1):
        super().__init__()
        _optuna()
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f"`interval` must be a positive integer. Received: interval={interval!r}")
        self._trial = trial
        self._monitor = monitor
        self._interval = interval

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self._interval:
            return
        value = (logs or {}).get(self._monitor)
        if value is None:
            warnings.warn(f"The metric '{self._monitor}' is not in the evaluation logs for pruning. Please make "
                          f"sure you set the correct metric name. Available: {sorted(logs or {})}", stacklevel=2)
            return
        self._trial.report(float(value), step=epoch)
        if self._trial.should_prune():
            raise _optuna().TrialPruned(f"Trial was pruned at epoch {epoch}.")
