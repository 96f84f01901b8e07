"""The legacy HDF5 model format (`model.save("x.h5")`; keras/src/legacy/saving/legacy_h5_format.py).

Root attributes `model_config`/`training_config` (JSON), group `model_weights` with one subgroup per layer
(sorted by name; `weight_names` lists its datasets, trainable weights first), group `optimizer_weights`.
Weights are matched to layers by order, as Keras does.
"""
import io
import json
import logging

import numpy as np

from xkeras.saving import state
from xkeras.saving.keras_format import KERAS_VERSION, open_h5
from xkeras.saving.serialization import (CustomObjectScope, contains_lambda, deserialize_keras_object,
                                         refuse_lambda, serialize_keras_object)


def _legacy_entry(envelope):
    return {"class_name": envelope.get("registered_name") or envelope["class_name"], "config": envelope["config"]}


def _configs(model, include_optimizer):
    full = serialize_keras_object(model)
    config = dict(full["config"])
    if isinstance(config.get("layers"), list):
        config["layers"] = [_legacy_entry(layer) for layer in config["layers"]]
    model_config = {"class_name": full.get("registered_name") or full["class_name"], "config": config}
    training = None
    compile_config = full.get("compile_config")
    if include_optimizer and compile_config:
        training = {k: v for k, v in compile_config.items() if k != "optimizer"}
        training["optimizer_config"] = _legacy_entry(compile_config["optimizer"])
    return model_config, training


def _unique(name, used):
    out, k = name, 1
    while out in used:
        out, k = f"{name}_{k}", k + 1
    used.add(out)
    return out


def save_legacy_h5(model, fileobj, include_optimizer=True):
    import h5py
    model_config, training = _configs(model, include_optimizer)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["backend"] = "xkeras"
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        if training is not None:
            f.attrs["training_config"] = json.dumps(training).encode("utf8")
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [layer.name.encode("utf8") for layer in model.layers]
        group.attrs["backend"] = b"xkeras"
        group.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
        used = set()
        for layer in sorted(model.layers, key=lambda l: l.name):
            weights = layer.trainable_weights + layer.non_trainable_weights
            names = [_unique(f"{model.name}/{getattr(w, 'path', w.name)}", used) for w in weights]
            _write_subset(group.create_group(layer.name), names, [w.numpy() for w in weights])
        _write_subset(group.create_group("top_level_model_weights"), [], [])
        opt = getattr(model, "optimizer", None)
        if include_optimizer and opt is not None:
            paths = [f"{model.name}/{getattr(w, 'path', w.name)}" for w in model.trainable_weights]
            values = state.optimizer_variables(opt, paths)
            names = [_unique(f"{opt.name}/{n}", used) for n, _ in values]
            _write_subset(f.create_group("optimizer_weights"), names, [v for _, v in values])
    fileobj.write(buf.getvalue())


def _write_subset(group, names, values):
    group.attrs["weight_names"] = [n.encode("utf8") for n in names] if names else np.zeros((0,))
    for name, value in zip(names, values):
        group.create_dataset(name, data=value)


def _attr_list(group, name):
    if name in group.attrs:
        raw = _names(group, name)
    else:  # long lists are chunked into name0, name1, ...
        raw, k = [], 0
        while f"{name}{k}" in group.attrs:
            raw += _names(group, f"{name}{k}")
            k += 1
    return [n.decode("utf8") if hasattr(n, "decode") else str(n) for n in raw]


def _names(group, name):
    value = group.attrs[name]
    if np.ndim(value) != 1:
        raise ValueError(f"The '{name}' attribute of group '{group.name}' should be a list of names. "
                         f"Received: {str(value)[:200]}")
    return list(value)


def _datasets(group, names):
    """The datasets `names` of `group`, not read yet."""
    out = []
    for n in names:
        if n not in group:
            raise ValueError(f"The weights file lists '{n}' in group '{group.name}' but has no such dataset.")
        d = group[n]
        if not hasattr(d, "dtype") or d.dtype.kind not in "fiub":
            raise ValueError(f"Unsupported entry '{n}' in group '{group.name}' of the weights file.")
        out.append(d)
    return out


def load_weights_legacy(group, model, skip_mismatch=False):
    """Order-based loading: the i-th saved layer with weights goes to the i-th model layer with weights."""
    layers = [l for l in model.layers if l.weights]
    saved = []
    layer_names = _attr_list(group, "layer_names")
    if len(set(layer_names)) != len(layer_names):
        raise ValueError(f"The weights file lists a layer twice in 'layer_names': {layer_names}")
    for name in layer_names:
        if name not in group:
            raise ValueError(f"The weights file lists layer '{name}' but has no group for it.")
        names = _attr_list(group[name], "weight_names")
        if names:
            saved.append((name, _datasets(group[name], names)))
    if len(saved) != len(layers):
        raise ValueError("Layer count mismatch when loading weights from file. Model expected "
                         f"{len(layers)} layers, found {len(saved)} saved layers.")
    plan = []
    for k, ((name, values), layer) in enumerate(zip(saved, layers)):
        syms = layer.trainable_weights + layer.non_trainable_weights
        if len(values) != len(syms):
            raise ValueError(f"Weight count mismatch for layer #{k} (named {layer.name} in the current model, "
                             f"{name} in the save file). Layer expects {len(syms)} weight(s). Received "
                             f"{len(values)} saved weight(s)")
        for w, v in zip(syms, values):
            if tuple(w.shape) != tuple(v.shape):
                if skip_mismatch:
                    continue
                raise ValueError(f"Shape mismatch in layer #{k} (named {layer.name}) for weight {w.path}. Weight "
                                 f"expects shape {tuple(w.shape)}. Received saved weight with shape {v.shape}")
            plan.append((w, v))
    values = [np.asarray(d[()], np.float32) for _, d in plan]  # shapes were checked before any read
    for (w, _), v in zip(plan, values):
        w.assign(v)


def _json_attr(f, name, filepath):
    raw = f.attrs.get(name)
    if raw is None:
        return None
    if hasattr(raw, "decode"):
        raw = raw.decode("utf-8")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, TypeError) as e:
        raise ValueError(f"The '{name}' attribute of {filepath} is not valid JSON: {e}") from None


def load_legacy_h5(filepath, custom_objects=None, compile=True, safe_mode=True):
    with open_h5(filepath, filepath) as f:
        return _load(f, filepath, custom_objects, compile, safe_mode)


def _load(f, filepath, custom_objects, compile, safe_mode):
    model_config = _json_attr(f, "model_config", filepath)
    if model_config is None:
        raise ValueError(f"No model config found in the file at {filepath}.")
    if safe_mode and contains_lambda(model_config):
        refuse_lambda()
    with CustomObjectScope(custom_objects, safe_mode):
        try:
            model = deserialize_keras_object(model_config, custom_objects, safe_mode, search=["xkeras.models"])
        except (KeyError, AttributeError, IndexError) as e:
            raise ValueError(f"Malformed model config in {filepath} ({type(e).__name__}: {e}).") from None
        if not hasattr(model, "layers"):
            raise ValueError(f"{filepath} describes a {type(model).__name__}, not a model.")
        if "model_weights" not in f:
            raise ValueError(f"{filepath} has no 'model_weights' group.")
        load_weights_legacy(f["model_weights"], model)
        if not compile:
            return model
        training = _json_attr(f, "training_config", filepath)
        if training is None:
            logging.warning("No training configuration found in the save file, so the model was *not* compiled. "
                            "Compile it manually.")
            return model
        model.compile(**compile_args(training, custom_objects, safe_mode))
        opt = model.optimizer
        if "optimizer_weights" in f and model.built:
            group = f["optimizer_weights"]
            values = _datasets(group, _attr_list(group, "weight_names"))
            state.load_optimizer_variables(opt, values, model.trainable_weights)
    return model


def compile_args(training, custom_objects=None, safe_mode=True):
    def get(value, module):
        return deserialize_keras_object(value, custom_objects, safe_mode, search=[module])
    metrics = training.get("metrics")
    if isinstance(metrics, list) and metrics and all(isinstance(m, list) for m in metrics):
        metrics = [m for group in metrics for m in group]  # tf.keras 2 wrote one list per output
    optimizer = training["optimizer_config"] if "optimizer_config" in training else training["optimizer"]
    args = {"optimizer": get(optimizer, "xkeras.optimizers"),
            "loss": get(training.get("loss"), "xkeras.losses"),
            "metrics": get(metrics, "xkeras.metrics")}
    for key in ("loss_weights", "weighted_metrics"):
        if training.get(key) is not None:
            args[key] = get(training[key], "xkeras.metrics")
    return args
