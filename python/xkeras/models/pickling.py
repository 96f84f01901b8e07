"""pickle and copy.deepcopy of models (keras/src/saving/keras_saveable.py).

As Keras 3, a model pickles as the bytes of its `.keras` archive (config, compile config, weights and
optimizer state) and unpickles by loading them, so a copy shares nothing with the original: no variable,
no recorded step, no lock. copy.deepcopy goes through the same path (`__reduce__`).
Pickle is not a safe format: unpickling runs arbitrary code anyway, so loading uses safe_mode=False.
"""
import io
import json
import zipfile

from xkeras.saving import keras_format


def model_to_bytes(model):
    buf = io.BytesIO()
    keras_format.save_keras(model, buf)
    return buf.getvalue()


def model_from_bytes(data):
    """The model a `model_to_bytes` archive describes, compiled as it was, with its weights and optimizer state."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        config = json.loads(zf.read("config.json").decode("utf-8"))
        weights = zf.read("model.weights.h5")
    model = keras_format.model_from_config(config, compile=True, safe_mode=False)
    with keras_format.open_h5(io.BytesIO(weights), "the weights of a pickled model") as f:
        keras_format.load_weights_from_h5(model, f)
    return model


def reduce_model(model):
    """Model.__reduce__: (loader, (archive bytes,))."""
    return model_from_bytes, (model_to_bytes(model),)
