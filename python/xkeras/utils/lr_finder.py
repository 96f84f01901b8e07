"""The learning-rate finder of the course (Géron ch. 11; Smith 2015), not part of Keras.

`keras.utils.find_learning_rate(model, x, y)` (or `model.find_learning_rate(x, y)`) trains the compiled
model for one pass over the data (or `epochs` passes) while the rate grows exponentially from `min_rate`
to `max_rate`, one step per batch (natively: the optimizer evaluates an exponential schedule each step). It returns the
(rate, loss) curve and a suggested rate, then puts the model back exactly as it was: weights restored,
and the compiled optimizer untouched (the pass runs on a fresh copy of it).
"""
import math
from typing import NamedTuple

import numpy as np

from xkeras.callbacks.callback import Callback
from xkeras.optimizers import schedules


class LRFinderResult(NamedTuple):
    rates: np.ndarray    # the rate used by each batch (increasing)
    losses: np.ndarray   # each batch's loss
    suggestion: float    # a rate in the descending part of the curve: the minimum of the smoothed loss / 10

    def smoothed_losses(self, beta=0.98):
        return _smooth(self.losses, beta)

    def plot(self, ax=None):
        """Loss against rate (log scale), with the smoothed curve and the suggestion marked."""
        import matplotlib.pyplot as plt
        ax = ax or plt.gca()
        ax.plot(self.rates, self.losses, alpha=0.4, label="loss")
        ax.plot(self.rates, self.smoothed_losses(), label="smoothed loss")
        ax.axvline(self.suggestion, color="r", linestyle="--", label=f"suggestion {self.suggestion:.3g}")
        ax.set_xscale("log")
        top = self.losses[0] if np.isfinite(self.losses[0]) else np.nanmax(self.losses)
        ax.set_ylim(0.9 * np.nanmin(self.losses), 1.1 * top)
        ax.set_xlabel("Learning rate")
        ax.set_ylabel("Loss")
        ax.grid(True)
        ax.legend()
        return ax


def _smooth(losses, beta):
    """Exponential moving average with bias correction (as fastai's finder)."""
    out, avg = np.empty(len(losses)), 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out[i] = avg / (1 - beta ** (i + 1))
    return out


class _Recorder(Callback):
    """Recovers each batch's loss from the running mean in the batch logs; stops when the loss explodes."""

    def __init__(self, n, batch_size, stop_factor, beta):
        super().__init__()
        self.n, self.batch_size, self.stop_factor, self.beta = n, batch_size, stop_factor, beta
        self.losses, self.total, self.avg, self.best = [], 0.0, 0.0, math.inf

    def on_epoch_begin(self, epoch, logs=None):
        self.total = 0.0  # the running mean restarts each epoch

    def on_train_batch_end(self, batch, logs=None):
        seen = min((batch + 1) * self.batch_size, self.n)
        total = logs["loss"] * seen  # the running mean is weighted by batch size
        loss = (total - self.total) / (seen - batch * self.batch_size)
        self.total = total
        self.losses.append(loss)
        self.avg = self.beta * self.avg + (1 - self.beta) * loss
        smoothed = self.avg / (1 - self.beta ** len(self.losses))
        self.best = min(self.best, smoothed)
        if not math.isfinite(loss) or (len(self.losses) > 10 and smoothed > self.stop_factor * self.best):
            self.model.stop_training = True


def find_learning_rate(model, x, y, min_rate=1e-5, max_rate=10.0, batch_size=32, epochs=1, stop_factor=4.0,
                       beta=0.98, plot=False, verbose=0):
    """One pass over (x, y) with the rate growing exponentially from min_rate to max_rate per batch.

    Args:
        model: a compiled model; its weights and its optimizer are left as they were.
        x, y: training data (a few thousand samples are enough).
        min_rate, max_rate: the range of rates tried (log-uniformly, one per batch).
        batch_size, epochs: as in fit (the rate grows over all the epochs' steps).
        stop_factor: stop early once the smoothed loss exceeds this multiple of its minimum (0: never).
        beta: smoothing of the loss curve used for the suggestion (exponential moving average).
        plot: draw the curve with matplotlib (on the current axes).
        verbose: fit's progress bar.

    Returns:
        LRFinderResult(rates, losses, suggestion): unpack it, `rates, losses, lr = find_learning_rate(...)`.
    """
    if not getattr(model, "compiled", False):
        raise ValueError("You must call `compile()` before using the model.")
    if not 0 < min_rate < max_rate:
        raise ValueError(f"Expected 0 < min_rate < max_rate. Received: min_rate={min_rate}, max_rate={max_rate}")
    n = len(x)
    steps = math.ceil(n / batch_size) * epochs
    growth = (max_rate / min_rate) ** (1.0 / max(steps - 1, 1))
    x = np.asarray(x)
    if not model.built:
        model.build((None,) + x.shape[1:])
    original = model.optimizer
    weights = model.get_weights()
    history, stop = getattr(model, "history", None), getattr(model, "stop_training", False)
    finder = type(original).from_config(original.get_config())  # a fresh optimizer, same settings
    finder.learning_rate = schedules.ExponentialDecay(float(min_rate), 1, growth)
    finder.decay = 0.0  # no tf.keras 2 power decay on top of the exploration
    recorder = _Recorder(n, batch_size, stop_factor if stop_factor else math.inf, beta)
    try:
        model.optimizer = finder
        model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, callbacks=[recorder], verbose=verbose)
    finally:
        model.optimizer = original
        model.set_weights(weights)
        model.history, model.stop_training = history, stop
    losses = np.asarray(recorder.losses, np.float64)
    rates = min_rate * growth ** np.arange(len(losses))
    smoothed = _smooth(losses, beta)
    finite = np.where(np.isfinite(smoothed), smoothed, np.inf)
    suggestion = float(max(rates[int(np.argmin(finite))] / 10, rates[0])) if len(losses) else float(min_rate)
    result = LRFinderResult(rates, losses, suggestion)
    if plot:
        result.plot()
    return result
