"""Which objects own variables, under which path, in which order (keras/src/saving/saving_lib.py `_save_state`).

Paths come from attribute and class names, not layer names: a Sequential visits `layers` first
(`layers/dense`, `layers/dense_1`, ... by snake-cased class name, unique in visit order), then its other
attributes sorted with `_private` ones last (`optimizer`). Each object is visited once. A layer's own
variables are its declared-trainable ones, then the others, in creation order.

The optimizer's variables are Keras' `optimizer.variables` (keras-spec §6.4): `iteration` (int64),
`learning_rate` (float32, only for a float rate), then the state the native optimizer lists in Keras
order: `state_layout()` [(slot name, variable index, shape)], `state()` and `set_state(list)`.
"""
import re
import warnings

import numpy as np


def snake(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _is_layer(obj):
    from xkeras.layers.layer import Layer
    return isinstance(obj, Layer)


def _is_optimizer(obj):
    return hasattr(obj, "_native") and hasattr(obj, "iterations") and not _is_layer(obj)


def _saveable(obj):
    return _is_layer(obj) or _is_optimizer(obj)


def _holds_saveable(container):
    items = container.values() if isinstance(container, dict) else container
    return any(_saveable(x) or (isinstance(x, (list, tuple, dict)) and _holds_saveable(x)) for x in items)


_SKIP = {"_sublayers", "_own_weights", "_input_layer", "_parent", "_layers"}


def _children(obj):
    out = []
    if _is_layer(obj) and hasattr(type(obj), "layers") and hasattr(obj, "_layers"):
        out.append(("layers", obj.layers))
    attrs = vars(obj)
    for name in sorted(attrs, key=lambda n: "~" + n if n.startswith("_") else n):
        value = attrs[name]
        if name in _SKIP or name == "layers":
            continue
        if _saveable(value) or (isinstance(value, (list, tuple, dict)) and _holds_saveable(value)):
            out.append((name, value))
    return out


def saveables(model, include_optimizer=True):
    """[(path, object)] in Keras' visit order; the model itself has path ''."""
    out, seen = [], set()

    def visit(obj, path):
        if id(obj) in seen or (_is_optimizer(obj) and not include_optimizer):
            return
        seen.add(id(obj))
        out.append((path, obj))
        if _is_layer(obj):
            for name, child in _children(obj):
                sub = f"{path}/{name}" if path else name
                visit(child, sub) if _saveable(child) else visit_container(child, sub)

    def visit_container(container, path):
        used = {}
        for item in (container.values() if isinstance(container, dict) else container):
            if _saveable(item):
                visit(item, f"{path}/{_unique(snake(type(item).__name__), used)}")
            elif isinstance(item, (list, tuple, dict)):
                visit_container(item, f"{path}/{_unique('container', used)}")

    visit(model, "")
    return out


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def own_variables(layer):
    own = getattr(layer, "_own_weights", [])
    return ([w for w in own if getattr(w, "_declared_trainable", True)] +
            [w for w in own if not getattr(w, "_declared_trainable", True)])


# ---- optimizer state -----------------------------------------------------------------------------

def _float_lr(opt):
    try:
        lr = opt.get_config().get("learning_rate")
    except Exception:  # noqa: BLE001 - an optimizer without a usable config has no float rate to save
        return False
    return isinstance(lr, (int, float)) and not isinstance(lr, bool)


def _state_layout(opt):
    """[(slot name, variable index or -1, shape)] of the state after iteration and learning_rate."""
    native = opt._native
    if hasattr(native, "state_layout"):
        return [(str(n), int(i), tuple(shape)) for n, i, shape in native.state_layout()]
    shapes = [tuple(s) for s in opt._slot_shapes()] if hasattr(opt, "_slot_shapes") else []
    return [("momentum", i, s) for i, s in enumerate(shapes)]


def _state_values(opt):
    """The state arrays in Keras order, or None when this optimizer does not expose them."""
    native, layout = opt._native, _state_layout(opt)
    if hasattr(native, "state"):
        values = [np.asarray(v, np.float32) for v in native.state()]
    elif hasattr(native, "slots"):
        flat = list(native.slots())
        if not flat:  # built, no step taken yet: Keras' slots start at zero
            flat = [np.zeros(0, np.float32)] * len(layout)
        values = [np.zeros(s, np.float32) if np.size(a) == 0 else np.asarray(a, np.float32)
                  for a, (_, _, s) in zip(flat, layout)] if len(flat) == len(layout) else None
    else:
        values = None
    if values is None or len(values) != len(layout):
        return None
    return [v.reshape(s) for v, (_, _, s) in zip(values, layout)]


def optimizer_variables(opt, variable_paths=None):
    """[(name, array)] of Keras' `optimizer.variables`; only iteration and learning_rate if unbuilt.
    Given the trainable variables' paths, slot names follow Keras (`sequential_dense_kernel_momentum`)."""
    out = [("iteration", np.asarray(int(opt._native.iterations), np.int64))]
    if _float_lr(opt):
        out.append(("learning_rate", np.asarray(opt._native.learning_rate, np.float32)))
    if getattr(opt, "built", False):
        layout, values = _state_layout(opt), _state_values(opt)
        if values is None:
            warnings.warn(f"Optimizer '{opt.name}' does not expose its slot variables; they are not saved, "
                          "and training resumed from this file restarts them at zero.", stacklevel=4)
            layout, values = [], []
        for (name, index, _), value in zip(layout, values):
            if variable_paths is not None and 0 <= index < len(variable_paths):
                name = f"{variable_paths[index].replace('/', '_')}_{name}"
            out.append((name, value))
    return out


def load_optimizer_variables(opt, values, trainable_weights):
    """Restores Keras-ordered optimizer variables; warns and skips on a count or shape mismatch, as Keras."""
    if not getattr(opt, "built", False):
        opt.build(trainable_weights)
    layout = _state_layout(opt)
    shapes = [()] + ([()] if _float_lr(opt) else []) + [s for _, _, s in layout]
    if len(values) != len(shapes) or any(tuple(np.shape(v)) != s for v, s in zip(values, shapes)):
        warnings.warn(f"Skipping variable loading for optimizer '{opt.name}', because it has {len(shapes)} "
                      f"variables whereas the saved optimizer has {len(values)} variables.", stacklevel=4)
        return False
    slots = [np.ascontiguousarray(v, np.float32) for v in values[len(values) - len(layout):]]
    if slots:
        native = opt._native
        if hasattr(native, "set_state"):
            native.set_state(slots)
        elif hasattr(native, "set_slots"):
            native.set_slots([s.reshape(-1) for s in slots])
        else:
            warnings.warn(f"Optimizer '{opt.name}' cannot restore its slot variables; they restart at zero.",
                          stacklevel=4)
    opt._native.iterations = int(np.asarray(values[0]))
    if _float_lr(opt):
        opt._native.learning_rate = float(np.asarray(values[1]))
    return True
