"""TerminateOnNaN (keras/src/callbacks/terminate_on_nan.py; keras-spec §8.7)."""
import numpy as np

from xkeras.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stops fit at the first batch whose (running mean) loss is NaN or inf; raise_error raises instead."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   "Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
