"""`keras.models`."""
from xkeras.models.sequential import Model, Sequential  # noqa: F401
