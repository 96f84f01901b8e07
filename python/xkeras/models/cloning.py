"""keras.models.clone_model and model_from_json (keras/src/models/cloning.py, keras/src/models/model.py)."""
import json


def _clone_layer(layer):
    return type(layer).from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """Same architecture, freshly initialised weights (copy them with `clone.set_weights(model.get_weights())`)."""
    from xkeras.layers.core import InputLayer
    from xkeras.models.sequential import Sequential
    if kwargs:
        raise ValueError(f"Unexpected keyword argument(s): {list(kwargs)}")
    if call_function is not None:
        raise NotImplementedError("clone_model(call_function=...) applies to functional models, which xkeras "
                                  "does not have yet.")
    clone_function = clone_function or _clone_layer

    def clone(layer):
        if recursive and isinstance(layer, Sequential):
            return clone_model(layer, clone_function=clone_function, recursive=True)
        return clone_function(layer)

    if not isinstance(model, Sequential):
        if input_tensors is not None:
            raise NotImplementedError("clone_model(input_tensors=...) is only supported for Sequential models.")
        return clone_function(model)
    layers = [clone(layer) for layer in model.layers]
    if input_tensors is not None:
        tensor = input_tensors[0] if isinstance(input_tensors, (list, tuple)) else input_tensors
        layers = [tensor] + layers
    elif model._input_layer is not None:
        src = model._input_layer
        layers = [InputLayer(batch_shape=src.batch_shape, name=src.name)] + layers
    clone_ = Sequential(layers, name=model.name, trainable=model.trainable)
    if not clone_.built and model.built and model._build_shape is not None:
        clone_.build(model._build_shape)
    if getattr(model, "compiled", False):  # as Keras: the clone is compiled the same way
        clone_.compile_from_config(model.get_compile_config())
    return clone_


def model_from_json(json_string, custom_objects=None):
    from xkeras.saving import deserialize_keras_object
    try:
        config = json.loads(json_string)
    except (json.JSONDecodeError, TypeError) as e:
        raise ValueError(f"model_from_json expects a JSON string from `model.to_json()`: {e}") from None
    return deserialize_keras_object(config, custom_objects=custom_objects)
