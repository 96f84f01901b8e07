"""The Layer base class: Keras 3's build/call/get_config lifecycle over native Variables."""
import inspect
import threading

import numpy as np

from xkeras import _core, initializers
from xkeras._tensor import Variable, convert_to_tensor
from xkeras.backend import unique_name

_BASE_KWARGS = {"input_shape", "input_dim", "batch_input_shape", "batch_size", "autocast", "dtype"}

# `.outputs` is a list while fit records a step on this thread: every layer call appends (layer, output)
# to it (the gradient monitor's taps).
recording = threading.local()


class Layer:
    def __init_subclass__(cls, **kwargs):
        # As Keras: a direct `layer.build(shape)` call marks the layer built, so its first call
        # does not build it again with fresh weights.
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:
            user_build = cls.__dict__["build"]

            def build(self, *args, **kw):
                user_build(self, *args, **kw)
                self.built = True

            build.__wrapped__ = user_build
            build.__doc__ = user_build.__doc__
            cls.build = build

    def __init__(self, *, activity_regularizer=None, trainable=True, dtype=None, autocast=True, name=None,
                 **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        kwargs.pop("batch_size", None)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if not isinstance(trainable, bool):
            raise ValueError(f"Expected `trainable` argument to be a boolean, but got: {trainable}")
        if input_dim is not None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None
        self.name = name or unique_name(type(self).__name__)
        self._trainable = trainable
        self._own_weights = []
        self._sublayers = []
        self._build_shape = None
        self.built = False
        self.activity_regularizer = activity_regularizer
        self._losses = []

    def __setattr__(self, name, value):
        if isinstance(value, Layer) and name not in ("_parent",) and "_sublayers" in self.__dict__:
            if not any(value is l for l in self._sublayers):
                self._sublayers.append(value)
        super().__setattr__(name, value)

    # ---- weights -------------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                   regularizer=None, constraint=None, aggregation="none", name=None):
        shape = tuple(int(d) for d in (shape or ()))
        init = initializers.get(initializer if initializer is not None else "glorot_uniform")
        value = np.asarray(init(shape, dtype="float32"), np.float32)
        var = Variable(value, trainable=trainable and self._trainable, name=name or "variable")
        var._declared_trainable = trainable
        var.path = f"{self.name}/{var.name}"
        var.regularizer = regularizer
        var.constraint = constraint
        self._own_weights.append(var)
        return var

    @property
    def weights(self):
        own = [w for w in self._own_weights if w._declared_trainable]
        own += [w for w in self._own_weights if not w._declared_trainable]
        out, seen = [], set()
        for w in own + [w for l in self._sublayers for w in l.weights]:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        return out

    @property
    def trainable_weights(self):
        return [w for w in self.weights if w.trainable] if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [w for w in self.weights if not w.trainable] if self.trainable else self.weights

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def variables(self):
        return self.weights

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for w in self._own_weights:
            w.trainable = self._trainable and w._declared_trainable
        for l in self._sublayers:
            l.trainable = value

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        params = self.weights
        if len(weights) != len(params):
            raise ValueError(f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of "
                             f"length {len(weights)}, but the layer was expecting {len(params)} weights.")
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if w.dtype.kind not in "fiub":
                raise ValueError(f"Layer {self.name} weight {p.path} must be a numeric array. Received: an array "
                                 f"of dtype {w.dtype} and shape {tuple(w.shape)}")
            if tuple(w.shape) != tuple(p.shape):
                raise ValueError(f"Layer {self.name} weight shape {tuple(p.shape)} is not compatible with "
                                 f"provided weight shape {tuple(w.shape)}.")
        for p, w in zip(params, weights):
            p.assign(w)

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                             "built. You can build it manually via: `layer.build(input_shape)`.")
        return int(sum(np.prod(w.shape) for w in self.weights))

    @property
    def losses(self):
        """Regularization penalties of the current weights (recomputed on every access, as Keras)."""
        out = list(self._losses)
        for w in self._own_weights:
            if w.regularizer is not None and w.trainable:
                out.append(w.regularizer(w.value))
        for l in self._sublayers:
            out.extend(l.losses)
        return out

    def add_loss(self, loss):
        self._losses.append(loss)

    # ---- build / call --------------------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def _maybe_build(self, shape):
        if not self.built:
            self._build_shape = tuple(shape)
            self.build(tuple(shape))
            self.built = True

    def call(self, inputs, *args, **kwargs):
        return inputs

    def __call__(self, inputs, *args, training=None, **kwargs):
        if not isinstance(inputs, (list, tuple)):
            inputs = convert_to_tensor(inputs)
            self._maybe_build((None,) + tuple(inputs.shape)[1:])
        else:
            inputs = [convert_to_tensor(x) for x in inputs]
            self._maybe_build([(None,) + tuple(x.shape)[1:] for x in inputs])
        if _accepts(type(self).call, "training"):
            kwargs["training"] = bool(training) if training is not None else False
        self._losses = []
        out = self.call(inputs, *args, **kwargs)
        taps = getattr(recording, "outputs", None)
        if taps is not None:
            taps.append((self, out))
        if self.activity_regularizer is not None:
            from xkeras import ops
            batch = float(out.shape[0]) if out.shape else 1.0
            self._losses.append(ops.divide(self.activity_regularizer(out), batch))
        return out

    def compute_output_shape(self, input_shape):
        """By running the layer on one zero sample in inference mode (no tape, no side effects)."""
        x = np.zeros((1,) + tuple(input_shape)[1:], np.float32)
        return (None,) + tuple(self(x, training=False).shape)[1:]

    # ---- config --------------------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": _dtype_policy()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = None
        return cls(**config)

    def get_build_config(self):
        if self._build_shape is not None:
            return {"input_shape": list(self._build_shape)}
        return None

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _dtype_policy():
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


_accepts_cache = {}


def _accepts(fn, arg):
    key = (fn, arg)
    if key not in _accepts_cache:
        params = inspect.signature(fn).parameters
        _accepts_cache[key] = arg in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
    return _accepts_cache[key]
