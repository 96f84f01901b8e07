"""`keras.models`."""
from xkeras.models.cloning import clone_model, model_from_json  # noqa: F401
from xkeras.models.sequential import Model, Sequential  # noqa: F401
from xkeras.saving import load_model, save_model  # noqa: F401
