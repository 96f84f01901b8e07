"""Callback base class (keras.callbacks.Callback)."""


def default(method):
    """Mark a method as a no-op default so overrides can be detected."""
    method._is_default = True
    return method


def is_default(method):
    """True if `method` is still the `@default` base implementation."""
    return getattr(method, "_is_default", False)


class Callback:
    """Base class for fit/evaluate/predict hooks.

    `params` and `model` have class-level defaults so that subclasses which
    never call `super().__init__()` still work.
    """

    params = None
    _model = None

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    @model.setter
    def model(self, model):
        self._model = model

    @default
    def on_batch_begin(self, batch, logs=None):
        """Legacy alias of `on_train_batch_begin`."""

    @default
    def on_batch_end(self, batch, logs=None):
        """Legacy alias of `on_train_batch_end`."""

    @default
    def on_epoch_begin(self, epoch, logs=None):
        """Start of a training epoch."""

    @default
    def on_epoch_end(self, epoch, logs=None):
        """End of a training epoch; logs include `val_*` keys."""

    @default
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    @default
    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    @default
    def on_test_batch_begin(self, batch, logs=None):
        """Start of an evaluate/validation batch."""

    @default
    def on_test_batch_end(self, batch, logs=None):
        """End of an evaluate/validation batch."""

    @default
    def on_predict_batch_begin(self, batch, logs=None):
        """Start of a predict batch."""

    @default
    def on_predict_batch_end(self, batch, logs=None):
        """End of a predict batch."""

    @default
    def on_train_begin(self, logs=None):
        """Start of fit."""

    @default
    def on_train_end(self, logs=None):
        """End of fit; logs are the last epoch's logs."""

    @default
    def on_test_begin(self, logs=None):
        """Start of evaluate or validation."""

    @default
    def on_test_end(self, logs=None):
        """End of evaluate or validation."""

    @default
    def on_predict_begin(self, logs=None):
        """Start of predict."""

    @default
    def on_predict_end(self, logs=None):
        """End of predict."""
