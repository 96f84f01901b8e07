"""Sequential (keras/src/models/sequential.py)."""
import numpy as np

from xkeras.layers.core import InputLayer, KerasTensor
from xkeras.layers.layer import Layer
from xkeras.models.trainer import Trainer


class Model(Trainer, Layer):
    def __init__(self, *args, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name, trainable=trainable)
        self._init_trainer()

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        from xkeras.utils.summary import print_summary
        rows = []
        for layer, shape in zip(self.layers, self._layer_output_shapes()):
            params = layer.count_params() if layer.built else None
            rows.append((layer.name, type(layer).__name__, tuple(shape) if shape else "?", params,
                         layer.trainable if layer.weights else None))
        count = lambda ws: int(sum(np.prod(w.shape) for w in ws))  # noqa: E731
        trainable, non_trainable = count(self.trainable_weights), count(self.non_trainable_weights)
        sized = lambda n: (n, 4 * n)  # float32 weights  # noqa: E731
        opt = self._optimizer_params()  # (count, bytes): the optimizer's iteration counter is an int64
        own = trainable + non_trainable
        total = (own + opt[0], 4 * own + opt[1]) if opt else sized(own)
        print_summary(self.name, rows, total, sized(trainable), sized(non_trainable),
                      optimizer_params=opt,
                      line_length=line_length, positions=positions, print_fn=print_fn, show_trainable=show_trainable)

    def _optimizer_params(self):
        """(count, bytes) of the optimizer's variables once it is built (after the first training step)."""
        opt = getattr(self, "optimizer", None)
        return opt._params_count_and_bytes() if opt is not None else None

    def _layer_output_shapes(self):
        return [None for _ in self.layers]

    # ---- saving (xkeras/saving) ----------------------------------------------------------------
    def __reduce__(self):  # pickle and copy.deepcopy go through the .keras format (models/pickling.py)
        from xkeras.models.pickling import reduce_model
        return reduce_model(self)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        from xkeras.saving import save_model
        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        from xkeras.saving import save_weights
        save_weights(self, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        from xkeras.saving import load_weights
        load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def to_json(self, **kwargs):
        import json
        from xkeras.saving import serialize_keras_object
        return json.dumps(serialize_keras_object(self), **kwargs)

    def get_compile_config(self):
        """compile()'s arguments as Keras writes them into `compile_config` (None if not compiled)."""
        if not getattr(self, "compiled", False):
            return None
        from xkeras.saving import serialize_keras_object as ser
        return {"optimizer": ser(self.optimizer), "loss": ser(self.loss), "loss_weights": None,
                "metrics": ser(list(self._compile_metrics)) if self._compile_metrics else None,
                "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}

    def compile_from_config(self, config):
        from xkeras.saving.legacy_h5 import compile_args
        self.compile(**compile_args(config))
        if self.built and self.optimizer is not None:
            self.optimizer.build(self.trainable_weights)


class Sequential(Model):
    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(name=name, trainable=trainable)
        self._input_layer = None
        self._layers = []
        self._output_shapes = []
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    @property
    def layers(self):
        return list(self._layers)

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Model.layers` attribute is reserved and should not be used. Please use another name.")

    def add(self, layer, rebuild=True):
        if isinstance(layer, KerasTensor):
            layer = layer._input_layer
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `keras.Layer` can be added to a Sequential model. "
                             f"Received: {layer} (of type {type(layer)})")
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._layers:
                raise ValueError(f"Sequential model '{self.name}' has already been configured to use input shape "
                                 f"{self._input_layer.batch_shape if self._input_layer else None}. You cannot "
                                 f"add a different Input layer to it.")
            self._input_layer = layer
        else:
            if not self._layers and self._input_layer is None and layer._input_shape_arg is not None:
                self._input_layer = InputLayer(shape=layer._input_shape_arg)
            if any(l.name == layer.name for l in self._layers):
                raise ValueError("All layers added to a Sequential model should have unique names. Name "
                                 f"'{layer.name}' is already the name of a layer in this model. Update the `name` "
                                 "argument to pass a unique name.")
            self._layers.append(layer)
            self._sublayers.append(layer)
        self._programs = {}
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild=True):
        if not self._layers:
            raise IndexError("There are no layers in the model.")
        layer = self._layers.pop()
        self._sublayers.remove(layer)
        self._programs = {}
        self.built = False
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        if self._input_layer is not None and self._layers:
            self.build(self._input_layer.batch_shape)

    def build(self, input_shape=None):
        if input_shape is None:
            raise ValueError("You must provide an `input_shape` argument.")
        shape = (None,) + tuple(input_shape)[1:]
        self._build_shape = shape
        self._output_shapes = []
        for layer in self._layers:
            layer._maybe_build(shape)
            shape = tuple(layer.compute_output_shape(shape))
            self._output_shapes.append(shape)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if self._input_layer is not None:
            self._check_input_rank(tuple(inputs.shape))
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def __call__(self, inputs, training=None, mask=None, **kwargs):
        if not self.built:
            shape = np.shape(inputs) if not hasattr(inputs, "shape") else tuple(inputs.shape)
            self.build((None,) + tuple(shape)[1:])
        return self.call(inputs if hasattr(inputs, "shape") and not isinstance(inputs, np.ndarray)
                         else np.asarray(inputs, np.float32), training=bool(training))

    def _check_input_rank(self, shape):
        """As Keras' Functional input check: the rank must match the Input's (or differ by a trailing 1)."""
        expected = self._input_layer.batch_shape
        if len(shape) == len(expected) or (len(shape) == len(expected) + 1 and shape[-1] == 1) or (
                len(shape) == len(expected) - 1 and expected[-1] == 1):
            return
        raise ValueError(f"Invalid input shape for the input of Sequential model '{self.name}'. Expected shape "
                         f"{expected}, but input has incompatible shape {(None,) + tuple(shape)[1:]}")

    @property
    def input_shape(self):
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        if self._build_shape is not None:
            return self._build_shape
        raise AttributeError(f"Sequential model '{self.name}' has no defined input shape yet.")

    @property
    def output_shape(self):
        if not self._output_shapes:
            raise AttributeError(f"Sequential model '{self.name}' has no defined outputs yet.")
        return self._output_shapes[-1]

    def _layer_output_shapes(self):
        shapes = list(self._output_shapes)
        return shapes + [None] * (len(self._layers) - len(shapes))

    def get_layer(self, name=None, index=None):
        if index is not None:
            if index >= len(self._layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(self._layers)} layers.")
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in self._layers]}.")

    def get_config(self):
        from xkeras.saving import serialize_keras_object
        layers = [serialize_keras_object(l) for l in ([self._input_layer] if self._input_layer else []) + self._layers]
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "build_input_shape": list(self._build_shape) if self._build_shape else None}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from xkeras.saving import deserialize_keras_object
        if not isinstance(config, dict) or "name" not in config or not isinstance(config.get("layers"), list):
            raise ValueError("A Sequential model configuration must be a dictionary containing the 'name' and "
                             f"'layers' keys. Received: config={str(config)[:200]}")
        model = cls(name=config["name"], trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            model.add(deserialize_keras_object(layer_config, custom_objects, search=["xkeras.layers"]), rebuild=False)
        shape = config.get("build_input_shape")
        if model._input_layer is not None:
            model._maybe_rebuild()
        elif isinstance(shape, (list, tuple)) and model._layers:
            model.build(shape)
        return model
