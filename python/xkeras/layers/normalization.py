"""BatchNormalization and LayerNormalization (keras/src/layers/normalization; keras-spec §3.6-3.7).

Both run as one fused native op (cpp/ops/normalization.cpp). BatchNormalization's training op also
updates the moving statistics in place, once per (replayed) step.
"""
from xkeras import _core, constraints, initializers, regularizers
from xkeras.layers.layer import Layer


def _weight_args(self, prefix):
    return {key: getattr(self, f"{prefix}_{key}") for key in ("initializer", "regularizer", "constraint")}


def _serialized(self, *prefixes):
    out = {}
    for p in prefixes:
        out[p + "_initializer"] = initializers.serialize(getattr(self, p + "_initializer"))
    for p in prefixes:
        out[p + "_regularizer"] = regularizers.serialize(getattr(self, p + "_regularizer"))
    for p in prefixes:
        out[p + "_constraint"] = constraints.serialize(getattr(self, p + "_constraint"))
    return out


class BatchNormalization(Layer):
    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if renorm:
            raise NotImplementedError("BatchNormalization(renorm=True) is not implemented in xkeras.")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.renorm, self.renorm_clipping, self.renorm_momentum = renorm, renorm_clipping, renorm_momentum
        self.synchronized = synchronized
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank:
            raise ValueError(f"Axis {self.axis} is out of bounds for input shape {tuple(input_shape)}. "
                             f"Received: axis={self.axis}")
        shape = (input_shape[self.axis],)
        if shape[0] is None:
            raise ValueError(f"Axis {self.axis} of input tensor should have a defined dimension but the layer "
                             f"received an input with shape {tuple(input_shape)}.")
        if self.scale:
            self.gamma = self.add_weight(shape=shape, name="gamma", **_weight_args(self, "gamma"))
        if self.center:
            self.beta = self.add_weight(shape=shape, name="beta", **_weight_args(self, "beta"))
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean", initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               initializer=self.moving_variance_initializer, trainable=False)
        self.built = True  # also when build() is called directly, as in Keras

    def call(self, inputs, training=None, mask=None):
        size = self.moving_mean.shape[0]
        shape = tuple(inputs.shape)
        if len(shape) != len(self._build_shape or shape) or shape[self.axis] != size:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: expected axis "
                             f"{self.axis} of input shape to have value {size}, but received input with shape {shape}")
        # Keras: batch statistics only when training *and* trainable (a frozen BN runs in inference mode).
        return _core.batch_normalization(inputs, self.gamma, self.beta, self.moving_mean, self.moving_variance,
                                         self.axis, self.momentum, self.epsilon, bool(training and self.trainable))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint),
                "synchronized": self.synchronized, "renorm": self.renorm, "renorm_clipping": self.renorm_clipping,
                "renorm_momentum": self.renorm_momentum}


class LayerNormalization(Layer):
    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        if kwargs.pop("rms_scaling", False):
            raise NotImplementedError("LayerNormalization(rms_scaling=True) is deprecated in Keras and not "
                                      "implemented in xkeras.")
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError("Expected an int or a list/tuple of ints for the argument 'axis', but received: %r" % axis)
        self.epsilon, self.center, self.scale = epsilon, center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = None

    def build(self, input_shape):
        # As Keras, `axis` becomes a sorted list once built (and is saved that way).
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        rank = len(input_shape)
        for a in self.axis:
            if not -rank <= a < rank:
                raise ValueError(f"Axis {a} is out of bounds for input shape {tuple(input_shape)}. "
                                 f"Received: axis={self.axis}")
        shape = tuple(input_shape[a] for a in self.axis)
        if self.scale:
            self.gamma = self.add_weight(shape=shape, name="gamma", **_weight_args(self, "gamma"))
        if self.center:
            self.beta = self.add_weight(shape=shape, name="beta", **_weight_args(self, "beta"))
        self.built = True  # also when build() is called directly, as in Keras

    def call(self, inputs):
        rank = len(inputs.shape)
        axes = sorted(a % rank for a in self.axis)
        if axes == list(range(rank - len(axes), rank)):  # trailing axes: one fused native op
            return _core.layer_normalization(inputs, self.gamma, self.beta, len(axes), float(self.epsilon))
        return self._composed(inputs, axes)

    def _composed(self, x, axes):
        """Any other set of axes, from native primitives (Keras' formula: x * inv + (beta - mean * inv))."""
        shape = [d if i in axes else 1 for i, d in enumerate(x.shape)]
        mean = _core.mean(x, axes, True)
        var = _core.mean(_core.square(_core.subtract(x, mean)), axes, True)
        inv = _core.divide(1.0, _core.sqrt(_core.add(var, float(self.epsilon))))
        if self.gamma is not None:
            inv = _core.multiply(inv, _core.reshape(self.gamma, shape))
        res = _core.negative(_core.multiply(mean, inv))
        if self.beta is not None:
            res = _core.add(res, _core.reshape(self.beta, shape))
        return _core.add(_core.multiply(x, inv), res)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "rms_scaling": False, **_serialized(self, "beta", "gamma")}
