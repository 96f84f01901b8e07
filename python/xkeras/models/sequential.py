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
        opt = self._optimizer_params()
        total = trainable + non_trainable + (opt or 0)
        sized = lambda n: None if n is None else (n, 4 * n)  # float32 everywhere  # noqa: E731
        print_summary(self.name, rows, sized(total), sized(trainable), sized(non_trainable),
                      optimizer_params=sized(opt),
                      line_length=line_length, positions=positions, print_fn=print_fn, show_trainable=show_trainable)

    def _optimizer_params(self):
        return None

    def _layer_output_shapes(self):
        return [None for _ in self.layers]


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
        layers = []
        if self._input_layer is not None:
            layers.append(serialize_keras_object(self._input_layer))
        for layer in self._layers:
            cfg = serialize_keras_object(layer)
            if layer.get_build_config():
                cfg["build_config"] = layer.get_build_config()
            layers.append(cfg)
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "build_input_shape": list(self._build_shape) if self._build_shape else None}
