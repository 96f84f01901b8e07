"""Keras 3's object envelope {module, class_name, config, registered_name} (keras/src/saving/serialization_lib.py).

Writing: public xkeras classes are named by their Keras module (`keras.layers`/`Dense`), user classes by
their registered name, and built-in configs are trimmed to the key set every Keras 3.x release reads
(keras-spec §11.5). Reading: classes are looked up only in custom objects, the registry and xkeras' own
modules (nothing named in a file is imported from elsewhere), keys that newer Keras releases add are
dropped while they hold their neutral value, and a Python lambda is refused unless safe_mode=False.
"""
import base64
import importlib
import inspect
import marshal
import threading
import types

import numpy as np

_REGISTRY = {}  # "package>Name" -> class or function (register_keras_serializable)
_NAMES = {}  # class or function -> "package>Name"
_scope = threading.local()  # custom objects and safe mode of the load in progress (nested from_config calls)

# Public namespaces, longest first: a class is written under the first one that exports it by name.
_PUBLIC = ["xkeras.optimizers.schedules", "xkeras.layers", "xkeras.models", "xkeras.initializers",
           "xkeras.regularizers", "xkeras.constraints", "xkeras.optimizers", "xkeras.losses", "xkeras.metrics",
           "xkeras.activations", "xkeras.callbacks"]
# Where a name without a module is looked up (legacy .h5 configs, tf.keras 2 files).
_SEARCH = ["xkeras.layers", "xkeras.models", "xkeras", "xkeras.initializers", "xkeras.regularizers",
           "xkeras.constraints", "xkeras.optimizers", "xkeras.optimizers.schedules", "xkeras.losses",
           "xkeras.metrics"]
_FUNCTION_MODULES = ["xkeras.activations", "xkeras.losses", "xkeras.metrics"]

# Keys newer Keras releases write (or accept) that older ones reject: dropped on write while they hold
# these values, so the file loads in every 3.x release (keras-spec §11.5).
_WRITE_DROP = {"quantization_config": None, "input_axes": None, "output_axes": None, "renorm": False,
               "renorm_clipping": None, "renorm_momentum": 0.99, "gradient_accumulation_steps": None,
               "loss_scale_factor": None, "lora_rank": None, "lora_alpha": None, "activity_regularizer": None}
# Keys any Keras 3.x release may write that mean "feature off" at these values: dropped on read unless
# the xkeras class names them itself. Any other value reaches the constructor, which refuses it.
_READ_NEUTRAL = {**_WRITE_DROP, "synchronized": False, "use_ema": False, "ema_momentum": 0.99,
                 "ema_overwrite_frequency": None, "weight_decay": None, "clipnorm": None, "clipvalue": None,
                 "global_clipnorm": None, "autocast": True, "ragged": False, "sparse": False, "optional": False}


# ---- registry ------------------------------------------------------------------------------------

def register_keras_serializable(package="Custom", name=None):
    def decorator(obj):
        key = f"{package}>{name or obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        _REGISTRY[key] = obj
        _NAMES[obj] = key
        return obj
    return decorator


def get_registered_name(obj):
    return _NAMES.get(obj, getattr(obj, "__name__", None))


def get_custom_objects():
    return _REGISTRY


def get_registered_object(name, custom_objects=None, module_objects=None):
    for table in (getattr(_scope, "custom", None) or {}, custom_objects or {}, _REGISTRY, module_objects or {}):
        if name in table:
            return table[name]
    return None


class CustomObjectScope:
    """`with custom_object_scope({"MyLayer": MyLayer}):` makes the names visible to every load inside."""

    def __init__(self, custom_objects=None, safe_mode=None):
        self.custom_objects = dict(custom_objects or {})
        self.safe_mode = safe_mode

    def __enter__(self):
        self._saved = (getattr(_scope, "custom", None), getattr(_scope, "safe_mode", None))
        _scope.custom = {**(self._saved[0] or {}), **self.custom_objects}
        if self.safe_mode is not None:
            _scope.safe_mode = self.safe_mode
        return self

    def __exit__(self, *exc):
        _scope.custom, _scope.safe_mode = self._saved


custom_object_scope = CustomObjectScope


# ---- serialize -----------------------------------------------------------------------------------

def _public_module(cls):
    """'keras.layers' for xkeras.layers.core.Dense, 'keras' for Sequential; None if not public."""
    mod = cls.__module__ or ""
    if not mod.startswith("xkeras"):
        return None
    import xkeras
    if getattr(xkeras, cls.__name__, None) is cls:
        return "keras"
    for ns in _PUBLIC:
        if mod == ns or mod.startswith(ns + "."):
            try:
                public = importlib.import_module(ns)
            except ImportError:
                continue
            if getattr(public, cls.__name__, None) is cls:
                return "keras" + ns[len("xkeras"):]
    return None


def _write_compat(config, cls):
    if not (cls.__module__ or "").startswith("xkeras") or not isinstance(config, dict):
        return config
    out = {k: v for k, v in config.items() if not (k in _WRITE_DROP and _same(v, _WRITE_DROP[k]))}
    dtype = out.get("dtype")
    if isinstance(dtype, dict) and dtype.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
        out["dtype"] = dtype.get("config", {}).get("name", "float32")  # the form Keras <= 3.3 reads
    return out


def _same(a, b):
    return a is b or (type(a) is type(b) and a == b)


def serialize_keras_object(obj):
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": str(obj.dtype)}}
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        code = base64.b64encode(marshal.dumps(obj.__code__)).decode("ascii")
        return {"class_name": "__lambda__", "config": {"code": code, "defaults": None, "closure": None}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        if (obj.__module__ or "").startswith("xkeras"):
            return {"module": "builtins", "class_name": "function", "config": obj.__name__,
                    "registered_name": "function"}
        return {"module": obj.__module__, "class_name": "function", "config": obj.__name__,
                "registered_name": get_registered_name(obj)}
    if not hasattr(obj, "get_config"):
        raise TypeError(f"Cannot serialize object {obj!r} of type {type(obj).__name__}: it has no get_config().")
    cls = type(obj)
    module = _public_module(cls)
    config = _write_compat(serialize_keras_object(obj.get_config()), cls)
    out = {"module": module, "class_name": cls.__name__, "config": config,
           "registered_name": None if module else get_registered_name(cls)}
    build = getattr(obj, "get_build_config", None)
    if build is not None and getattr(obj, "built", False) and build():
        out["build_config"] = build()
    compile_cfg = getattr(obj, "get_compile_config", None)
    if compile_cfg is not None and compile_cfg():
        out["compile_config"] = compile_cfg()
    return out


# ---- deserialize ---------------------------------------------------------------------------------

def _safe_mode(safe_mode):
    if safe_mode is not None:
        return safe_mode
    scoped = getattr(_scope, "safe_mode", None)
    return True if scoped is None else scoped


def _module_attr(module, name):
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _locate(class_name, registered_name, module, custom_objects, search=None):
    for key in (registered_name, class_name):
        if key:
            found = get_registered_object(key, custom_objects)
            if found is not None:
                return found
    if module and (module == "keras" or module.startswith("keras.") or module.startswith("xkeras")):
        mod = module if module.startswith("xkeras") else "x" + module
        found = _module_attr(mod, class_name)
        if inspect.isclass(found):
            return found
    if not module:
        for mod in (search or []) + _SEARCH:
            found = _module_attr(mod, class_name)
            if inspect.isclass(found):
                return found
    raise TypeError(f"Could not locate class '{class_name}'. Make sure custom classes are decorated with "
                    "`@keras.saving.register_keras_serializable()` or passed in `custom_objects`, and that "
                    f"xkeras implements the Keras built-ins the file uses. Received: module={module!r}, "
                    f"class_name={class_name!r}")


def _locate_function(name, registered_name, module, custom_objects):
    for key in (registered_name, name):
        if key and key != "function":
            found = get_registered_object(key, custom_objects)
            if found is not None:
                return found
    for mod in _FUNCTION_MODULES:
        found = _module_attr(mod, name)
        if callable(found) and not inspect.isclass(found):
            return found
    raise TypeError(f"Could not locate function '{name}'. Pass it in `custom_objects` or decorate it with "
                    f"`@keras.saving.register_keras_serializable()`. Received: module={module!r}")


def _read_compat(config, cls):
    """Drops keys at their neutral value that the xkeras class does not name; keeps everything else."""
    if not (cls.__module__ or "").startswith("xkeras"):
        return config
    named = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            named |= set(inspect.signature(init).parameters)
    out = {}
    for k, v in config.items():
        if k in _READ_NEUTRAL and k not in named and _same_or_equal(v, _READ_NEUTRAL[k]):
            continue
        if k == "dtype" and isinstance(v, dict):
            v = _dtype_name(v)
        if k == "dtype" and isinstance(v, str) and v != "float32":
            raise ValueError(f"xkeras computes in float32 only; {cls.__name__} in this file uses dtype {v!r}.")
        out[k] = v
    return out


def _same_or_equal(a, b):
    return a is b or (a == b and type(a) in (type(b), int, float) and type(b) in (type(a), int, float))


def _dtype_name(policy):
    if policy.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy", "Policy"):
        raise ValueError(f"Unsupported dtype policy in the file: {policy}")
    return (policy.get("config") or {}).get("name", "float32")


def contains_lambda(config):
    if isinstance(config, dict):
        return config.get("class_name") == "__lambda__" or any(contains_lambda(v) for v in config.values())
    if isinstance(config, (list, tuple)):
        return any(contains_lambda(v) for v in config)
    return False


def refuse_lambda():
    raise ValueError("Requested the deserialization of a Python lambda. This carries a potential risk of "
                     "arbitrary code execution and thus it is disallowed by default. If you trust the source "
                     "of the artifact, you can override this error by passing `safe_mode=False` to the loading "
                     "function.")


def deserialize_keras_object(config, custom_objects=None, safe_mode=None, module_objects=None, search=None):
    """The object an envelope describes. `search` lists xkeras modules to try first for a bare class name."""
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects, module_objects)
        return found if found is not None else config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode, module_objects, search) for x in config]
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse config: {config!r}")
    if "class_name" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode, module_objects, search)
                for k, v in config.items()}
    class_name = config["class_name"]
    for key in ("class_name", "module", "registered_name"):
        if not isinstance(config.get(key, ""), (str, type(None))):
            raise TypeError(f"The '{key}' of an object in the config must be a string. Received: {config[key]!r}")
    inner = config.get("config")
    inner = {} if inner is None else inner
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__lambda__":
        if _safe_mode(safe_mode):
            refuse_lambda()
        code = inner.get("code", inner.get("value"))
        return types.FunctionType(marshal.loads(base64.b64decode(code)), globals())
    if class_name in ("DTypePolicy", "FloatDTypePolicy"):
        return _dtype_name(config)
    module, registered = config.get("module"), config.get("registered_name")
    if class_name == "function":
        if not isinstance(inner, str):
            raise TypeError(f"Expected the config of a function to be its name. Received: {config}")
        return _locate_function(inner, registered, module, custom_objects)
    if module_objects and class_name in module_objects:
        cls = module_objects[class_name]
    else:
        cls = _locate(class_name, registered, module, custom_objects, search)
    if isinstance(cls, types.FunctionType):
        return cls
    if not hasattr(cls, "from_config") and not hasattr(cls, "get_config"):
        raise TypeError(f"Unable to reconstruct an instance of '{class_name}' because the class is missing a "
                        f"`from_config()` method. Full object config: {config}")
    if not isinstance(inner, dict):
        raise TypeError(f"Expected 'config' to be a dict for {class_name}. Received: {inner!r}")
    with CustomObjectScope(custom_objects, safe_mode):
        try:
            make = getattr(cls, "from_config", None) or (lambda c: cls(**c))  # Keras' default from_config
            obj = make(_read_compat(inner, cls))
        except (TypeError, ValueError) as e:
            raise type(e)(f"Could not deserialize '{class_name}' from its config: {e}") from e
        build_config = config.get("build_config")
        if build_config and not getattr(obj, "built", True):
            build_from_config(obj, build_config)
        compile_config = config.get("compile_config")
        if compile_config and hasattr(obj, "compile_from_config"):
            obj.compile_from_config(compile_config)
    return obj


def build_from_config(obj, build_config):
    if hasattr(obj, "build_from_config"):
        return obj.build_from_config(build_config)
    shape = build_config.get("input_shape")
    if shape is None:
        return None
    if hasattr(obj, "_maybe_build"):
        return obj._maybe_build(tuple(shape))
    return obj.build(tuple(shape))


def get_from_identifier(identifier, by_name, deserialize, kind):
    """The `get()` of regularizers and constraints: None, a name, a config dict, a class or an instance."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = by_name.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret {kind} identifier: {identifier}")
