"""History callback: records epoch logs; returned by fit()."""

from xkeras.callbacks.callback import Callback


class History(Callback):
    """`history` maps each log key to its per-epoch values; `epoch` lists
    the 0-based epoch indices of the current fit."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        # As in Keras: fit() returns model.history, set here.
        self.model.history = self
