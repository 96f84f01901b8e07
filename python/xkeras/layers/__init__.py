"""`keras.layers`."""
from xkeras.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer, KerasTensor  # noqa: F401
from xkeras.layers.layer import Layer  # noqa: F401
