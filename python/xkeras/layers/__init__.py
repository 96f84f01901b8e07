"""`keras.layers`."""
from xkeras.layers.activations import ELU, LeakyReLU, PReLU, ReLU, Softmax  # noqa: F401
from xkeras.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer, KerasTensor  # noqa: F401
from xkeras.layers.layer import Layer  # noqa: F401
from xkeras.layers.normalization import BatchNormalization, LayerNormalization  # noqa: F401
from xkeras.layers.preprocessing import Normalization, Rescaling  # noqa: F401
from xkeras.layers.regularization import AlphaDropout, GaussianDropout, GaussianNoise  # noqa: F401
from xkeras.layers.reshaping import Reshape  # noqa: F401
