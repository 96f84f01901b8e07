"""Keras' serialization envelope {module, class_name, config, registered_name}."""

_PUBLIC_MODULES = {
    "xkeras.initializers": "keras.initializers", "xkeras.regularizers": "keras.regularizers",
    "xkeras.constraints": "keras.constraints", "xkeras.optimizers": "keras.optimizers",
    "xkeras.losses": "keras.losses", "xkeras.metrics": "keras.metrics",
}


def serialize_keras_object(obj):
    if obj is None:
        return None
    module = type(obj).__module__
    public = next((v for k, v in _PUBLIC_MODULES.items() if module.startswith(k)), None)
    if module.startswith("xkeras.layers"):
        public = "keras.layers"
    return {"module": public or module, "class_name": type(obj).__name__, "config": obj.get_config(),
            "registered_name": None if public else f"{module}>{type(obj).__name__}"}


def deserialize_keras_object(config, custom_objects=None):
    import importlib
    custom_objects = custom_objects or {}
    name = config["class_name"]
    if name in custom_objects:
        cls = custom_objects[name]
    else:
        module = config.get("module", "keras").replace("keras", "xkeras", 1)
        cls = getattr(importlib.import_module(module), name)
    return cls.from_config(config.get("config", {}))
