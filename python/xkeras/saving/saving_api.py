"""model.save / keras.models.load_model / save_weights / load_weights (keras/src/saving/saving_api.py).

Every file is written to a temporary file beside the target and moved into place (atomic.py)."""
import io
import logging
import os
import zipfile

from xkeras.saving import keras_format, legacy_h5
from xkeras.saving.atomic import write_atomically


def _path(filepath):
    return os.fspath(filepath)


class LoadError(ValueError, TypeError):
    """A file that cannot be loaded: a ValueError naming the file and what is wrong. It is also a TypeError
    because Keras raises TypeError for an unknown class or a config its class refuses, which code written
    for Keras catches."""


# What a damaged file's content can make the loaders raise anywhere: from rebuilding the model out of its
# config (the file's JSON reaches constructors as any type), from compiling it, from h5py's reads.
_CONTENT_ERRORS = (ValueError, TypeError, AttributeError, LookupError, ArithmeticError, RecursionError,
                   MemoryError, OSError, RuntimeError)


def _loading(filepath, load):
    """load(), with any failure the file's content caused re-raised as a LoadError naming the file."""
    try:
        return load()
    except NotImplementedError:  # a feature xkeras lacks, not a damaged file
        raise
    except _CONTENT_ERRORS as e:
        if type(e) is ValueError and filepath in str(e):
            raise
        reason = f"{e}" if isinstance(e, (ValueError, TypeError)) and str(e) else f"{type(e).__name__}: {e}"
        if isinstance(e, MemoryError):
            reason = "the file asks for more memory than is available (MemoryError)"
        elif isinstance(e, OSError):
            reason = f"an HDF5 read failed (truncated or corrupt?): {e}"
        raise LoadError(f"Could not load {filepath}: {reason}") from e


def _proceed(filepath, overwrite):
    if overwrite or not os.path.exists(filepath):
        return True
    answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n]").strip().lower()
    while answer not in ("y", "n"):
        answer = input('Enter "y" (overwrite) or "n" (cancel).').strip().lower()
    return answer == "y"


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    filepath = _path(filepath)
    include_optimizer = kwargs.pop("include_optimizer", True)
    if zipped is False:
        raise NotImplementedError("model.save(zipped=False) (an unzipped model directory) is not supported by xkeras; "
                                  "load_model does read such directories.")
    save_format = kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    if save_format is not None:
        fmt = {"keras": ".keras", "h5": ".h5", "hdf5": ".h5"}.get(str(save_format).lower())
        if fmt is None or not (filepath.endswith(fmt) or (fmt == ".h5" and filepath.endswith(".hdf5"))):
            raise ValueError("The `save_format` argument is deprecated in Keras 3. Please remove this argument "
                             "and pass a file path with either `.keras` or `.h5` extension."
                             f"Received: save_format={save_format}")
        logging.warning("The `save_format` argument is deprecated in Keras 3. We recommend removing this "
                        "argument as it can be inferred from the file path. Received: save_format=%s", save_format)
    if filepath.endswith((".h5", ".hdf5")):
        logging.warning("You are saving your model as an HDF5 file via `model.save()` or `keras.saving."
                        "save_model(model)`. This file format is considered legacy. We recommend using instead "
                        "the native Keras format, e.g. `model.save('my_model.keras')` or "
                        "`keras.saving.save_model(model, 'my_model.keras')`. ")
        writer = lambda f: legacy_h5.save_legacy_h5(model, f, include_optimizer)  # noqa: E731
    elif filepath.endswith(".keras"):
        writer = lambda f: keras_format.save_keras(model, f)  # noqa: E731
    else:
        raise ValueError("Invalid filepath extension for saving. Please add either a `.keras` extension for the "
                         "native Keras format (recommended) or a `.h5` extension. Use `model.export(filepath)` if "
                         "you want to export a SavedModel for use with TFLite/TFServing/etc. "
                         f"Received: filepath={filepath}.")
    if not getattr(model, "built", True):
        logging.warning("You are saving a model that has not yet been built. It might not contain any weights "
                        "yet. Consider building the model first by calling it on some data.")
    if _proceed(filepath, overwrite):
        write_atomically(filepath, writer)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    filepath = _path(filepath)
    is_dir = os.path.isdir(filepath) and os.path.exists(os.path.join(filepath, "config.json"))
    if filepath.endswith(".keras") or is_dir:
        if not is_dir and not os.path.isfile(filepath):
            raise ValueError(f"File not found: filepath={filepath}. Please ensure the file is an accessible "
                             "`.keras` zip file.")
        return _loading(filepath, lambda: keras_format.load_keras(filepath, custom_objects, compile, safe_mode))
    if filepath.endswith((".h5", ".hdf5")):
        if not os.path.isfile(filepath):
            raise ValueError(f"File not found: filepath={filepath}.")
        return _loading(filepath, lambda: legacy_h5.load_legacy_h5(filepath, custom_objects, compile, safe_mode))
    raise ValueError(f"File format not supported: filepath={filepath}. Keras 3 only supports V3 `.keras` files "
                     "and legacy H5 format files (`.h5` extension). Note that the legacy SavedModel format is "
                     "not supported by `load_model()` in Keras 3. In order to reload a TensorFlow SavedModel as "
                     "an inference-only layer in Keras 3, use `keras.layers.TFSMLayer(filepath, "
                     "call_endpoint='serving_default')` (note that your `call_endpoint` might have a different "
                     "name).")


def save_weights(model, filepath, overwrite=True, **kwargs):
    filepath = _path(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={filepath}")
    if kwargs.get("max_shard_size") is not None:
        raise ValueError("Sharded weights files are not supported by xkeras. Received: "
                         f"max_shard_size={kwargs['max_shard_size']}")
    if _proceed(filepath, overwrite):
        write_atomically(filepath, lambda f: keras_format.write_weights_h5(f, model))


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    filepath = _path(filepath)
    by_name = kwargs.pop("by_name", False)
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"File not found: filepath={filepath}. Please ensure the weights file exists and "
                                "is readable.")
    if not filepath.endswith((".keras", ".h5", ".hdf5")):
        raise ValueError(f"File format not supported: filepath={filepath}. Keras 3 only supports V3 `.keras` "
                         "and `.weights.h5` files, or legacy V1/V2 `.h5` files.")
    legacy = filepath.endswith((".h5", ".hdf5")) and not filepath.endswith(".weights.h5")
    if by_name and not legacy:
        raise ValueError("Invalid keyword arguments: by_name=True is only supported for legacy `.h5` files.")
    if by_name:
        raise NotImplementedError("load_weights(by_name=True) is not implemented in xkeras yet.")
    _loading(filepath, lambda: _load_weights(model, filepath, legacy, skip_mismatch))


def _load_weights(model, filepath, legacy, skip_mismatch):
    source = filepath
    if filepath.endswith(".keras"):
        if not zipfile.is_zipfile(filepath):
            raise ValueError(f"The file {filepath} is not a valid `.keras` zip file.")
        source = io.BytesIO(keras_format.read_keras_archive(filepath)[1])
    with keras_format.open_h5(source, filepath, strings=legacy) as f:
        if legacy:
            legacy_h5.load_weights_legacy(f["model_weights"] if "model_weights" in f else f, model, skip_mismatch)
        else:
            keras_format.load_weights_from_h5(model, f, skip_mismatch)
