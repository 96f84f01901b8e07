"""The Keras 3 `.keras` zip (config.json, metadata.json, model.weights.h5) and `.weights.h5` files
(keras/src/saving/saving_lib.py; layout in keras-spec §11)."""
import datetime
import io
import json
import os
import zipfile

import numpy as np

from xkeras.saving import state
from xkeras.saving.h5_check import _h5py, open_h5  # noqa: F401 (open_h5 is used by pickling.py)
from xkeras.saving.serialization import (CustomObjectScope, contains_lambda, deserialize_keras_object,
                                         refuse_lambda, serialize_keras_object)

KERAS_VERSION = "3.15.1"  # the Keras release whose file layout xkeras writes (metadata only; never read back)
_CONFIG, _METADATA, _WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
_MAX_MEMBER = 4 << 30  # a zip member announcing more than this is refused (zip-bomb guard)
# What zipfile raises on a damaged archive (NotImplementedError: a damaged version or compression method).
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError)


# ---- weights (.weights.h5 and the zip member) ----------------------------------------------------

def write_weights_h5(fileobj, model, include_optimizer=True):
    """Every saveable's variables as `<path>/vars/<i>` datasets, groups named as Keras 3.6+ names them."""
    buf = io.BytesIO()
    with _h5py().File(buf, "w") as f:
        for path, obj in state.saveables(model, include_optimizer):
            if state._is_optimizer(obj):
                values = [v for _, v in state.optimizer_variables(obj)]
            else:
                values = [w.numpy() for w in state.own_variables(obj)]
            group = f.create_group(f"{path}/vars" if path else "vars")
            group.attrs["name"] = str(obj.name)
            for i, v in enumerate(values):
                group.create_dataset(str(i), data=v)
    fileobj.write(buf.getvalue())


def _read_vars(f, path):
    """The datasets of `<path>/vars` in index order, not read yet; None when the group is missing."""
    h5py = _h5py()
    key = f"{path}/vars" if path else "vars"
    if key not in f and path.startswith("layers") and "_layer_checkpoint_dependencies" in f:  # tf.keras 2.13
        key = "_layer_checkpoint_dependencies" + key[len("layers"):]
    if key not in f:
        return None
    group = f[key]
    if not isinstance(group, h5py.Group) or sorted(group.keys()) != sorted(str(i) for i in range(len(group))):
        raise ValueError(f"Unexpected entries in the weights file at '{key}': {list(getattr(group, 'keys', list)())}")
    out = []
    for i in range(len(group)):
        d = group[str(i)]
        # Keras marks bfloat16 values with a "dtype" attribute; testing that it exists reads no string.
        if not isinstance(d, h5py.Dataset) or d.dtype.kind not in "fiub" or "dtype" in d.attrs:
            raise ValueError(f"Unsupported entry in the weights file at '{key}/{i}': {d}")
        out.append(d)
    return out


def load_weights_from_h5(model, f, skip_mismatch=False):
    """Checks every layer's saved variables against the model (shapes before any data is read), then reads
    and assigns them all, or nothing."""
    errors, plan, opt_values = [], [], None
    for path, obj in state.saveables(model):
        saved = _read_vars(f, path)
        if state._is_optimizer(obj):
            opt_values = saved
            continue
        saved = saved or []
        expected = state.own_variables(obj)
        if len(saved) != len(expected):
            errors.append((obj, f"Layer '{obj.name}' expected {len(expected)} variables, but received "
                                f"{len(saved)} variables during loading. Expected: {[v.name for v in expected]}"))
            continue
        bad = [(v, a) for v, a in zip(expected, saved) if tuple(v.shape) != tuple(a.shape)]
        if bad:
            errors.append((obj, f"Layer '{obj.name}': shape mismatch for variable '{bad[0][0].name}': expected "
                                f"{tuple(bad[0][0].shape)}, received {tuple(bad[0][1].shape)}."))
            continue
        plan += list(zip(expected, saved))
    if errors and not skip_mismatch:
        raise ValueError(f"A total of {len(errors)} objects could not be loaded. Example error message for object "
                         f"{errors[0][0]!r}:\n\n{errors[0][1]}\n\nList of objects that could not be loaded:\n"
                         f"{[e[0] for e in errors]}")
    values = [np.asarray(d[()], np.float32) for _, d in plan]
    for (var, _), value in zip(plan, values):
        var.assign(value)
    opt = getattr(model, "optimizer", None)
    if opt is not None and opt_values is not None and getattr(opt, "built", False):
        state.load_optimizer_variables(opt, opt_values, model.trainable_weights)


# ---- the .keras zip -------------------------------------------------------------------------------

def save_keras(model, fileobj):
    config = json.dumps(serialize_keras_object(model))
    metadata = json.dumps({"keras_version": KERAS_VERSION, "xkeras_version": _xkeras_version(),
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    with zipfile.ZipFile(fileobj, "w") as zf:  # ZIP_STORED, as Keras
        zf.writestr(_METADATA, metadata)
        zf.writestr(_CONFIG, config)
        with zf.open(_WEIGHTS, "w") as member:
            write_weights_h5(member, model)


def _xkeras_version():
    import xkeras
    return getattr(xkeras, "__version__", "unknown")


def _read_member(zf, name, filepath):
    info = zf.getinfo(name)
    if info.file_size > _MAX_MEMBER or (info.compress_size and info.file_size > 1000 * info.compress_size
                                         and info.file_size > (64 << 20)):
        raise ValueError(f"Refusing to expand '{name}' of {filepath}: {info.file_size} bytes announced.")
    try:
        return zf.read(name)
    except _ZIP_ERRORS as e:
        raise ValueError(f"The `.keras` file {filepath} is corrupt: could not read '{name}'. {e}") from None


def read_keras_archive(filepath):
    """(config dict, weights bytes) of a `.keras` zip or an unzipped model directory."""
    if os.path.isdir(filepath):
        members = {n: os.path.join(filepath, n) for n in os.listdir(filepath)}
        read = lambda n: open(members[n], "rb").read()  # noqa: E731
        names = set(members)
    else:
        try:
            zf = zipfile.ZipFile(filepath)
        except _ZIP_ERRORS as e:
            raise ValueError(f"The file {filepath} is not a valid `.keras` zip file (truncated or corrupt?): "
                             f"{e}") from None
        with zf:
            names = set(zf.namelist())
            members = {n: _read_member(zf, n, filepath) for n in (_CONFIG, _WEIGHTS) if n in names}
        read = members.__getitem__
    if _CONFIG not in names:
        raise ValueError(f"The `.keras` file {filepath} has no {_CONFIG}.")
    if _WEIGHTS not in names:
        extra = " (npz weights are not supported by xkeras)" if "model.weights.npz" in names else ""
        raise ValueError(f"The `.keras` file {filepath} has no {_WEIGHTS}{extra}. "
                         f"Expected a {_WEIGHTS} file.")
    try:
        config = json.loads(read(_CONFIG).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"The {_CONFIG} of {filepath} is not valid JSON: {e}") from None
    return config, read(_WEIGHTS)


def model_from_config(config, custom_objects=None, compile=True, safe_mode=True):
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"The model config must be a Keras object envelope with a 'class_name'. "
                         f"Received: {str(config)[:200]}")
    if safe_mode and contains_lambda(config):
        refuse_lambda()
    if not compile:
        config = {k: v for k, v in config.items() if k != "compile_config"}
    with CustomObjectScope(custom_objects, safe_mode):
        try:
            model = deserialize_keras_object(config, custom_objects, safe_mode)
        except (KeyError, AttributeError, IndexError) as e:
            raise ValueError(f"Malformed model config ({type(e).__name__}: {e}).") from None
    if not hasattr(model, "layers"):
        raise ValueError(f"The file describes a {type(model).__name__}, not a model.")
    return model


def load_keras(filepath, custom_objects=None, compile=True, safe_mode=True):
    config, weights = read_keras_archive(filepath)
    model = model_from_config(config, custom_objects, compile, safe_mode)
    with open_h5(io.BytesIO(weights), f"the weights of {filepath}", strings=False) as f:
        load_weights_from_h5(model, f)
    return model
