"""The Optimizer base class: Keras 3's Python API (keras/src/optimizers/base_optimizer.py) over a native
optimizer (`_core.SGD`, `_core.Adam`, ...) that does the whole step in C++ (keras-spec §6).

Hyperparameters are plain attributes; setting one (e.g. `opt.clipnorm = 1.0`) also sets it natively, so
the next step uses it. tf.keras 2 spellings keep their tf.keras 2 meaning, with a one-time warning:
`lr=` is `learning_rate=`, `decay=d` is power scheduling `lr / (1 + d * iterations)`, `optimizer.lr` is
`optimizer.learning_rate`.
"""
import re
import warnings

import numpy as np

from xkeras import _core, constraints
from xkeras.backend import unique_name
from xkeras.optimizers import schedules

_COMMON = ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay", "use_ema", "ema_momentum",
           "ema_overwrite_frequency", "decay")
_warned = set()


def _warn_once(message, stacklevel=4):
    """Warns the first time only; the default stacklevel points at the user's `SGD(...)` call."""
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, stacklevel=stacklevel)


class _Scalar:
    """A read-only view of one native scalar, usable as a number (NumPy scalar arithmetic)."""

    def numpy(self):
        raise NotImplementedError

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.numpy(), dtype=dtype)

    def __float__(self):
        return float(self.numpy())

    def __int__(self):
        return int(self.numpy())

    def __format__(self, spec):
        return format(self.numpy(), spec)

    def __bool__(self):
        return bool(self.numpy())

    def __hash__(self):
        return id(self)


def _delegate(name):
    return lambda self, *args: getattr(self.numpy(), name)(*(a.numpy() if isinstance(a, _Scalar) else a
                                                             for a in args))


for _op in ("add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "floordiv", "rfloordiv",
            "pow", "rpow", "mod", "neg", "pos", "abs", "lt", "le", "gt", "ge", "eq", "ne"):
    setattr(_Scalar, f"__{_op}__", _delegate(f"__{_op}__"))


class _LearningRate(_Scalar):
    """`optimizer.learning_rate`: float()/.numpy()/arithmetic read the current rate; `.assign(x)` sets it."""

    name = "learning_rate"

    def __init__(self, opt):
        self._opt = opt
        self.path = f"{opt.name}/learning_rate"

    def numpy(self):
        native = self._opt._native
        if native.schedule is not None:
            return np.float32(native.schedule.value(native.iterations))
        return np.float32(native.learning_rate)

    def assign(self, value):
        self._opt.learning_rate = value
        return self

    @property
    def shape(self):
        return ()

    @property
    def dtype(self):
        return "float32"

    def __repr__(self):
        return f"<Variable path={self.path}, shape=(), dtype=float32, value={self.numpy()}>"


class _Iterations(_Scalar):
    """`optimizer.iterations`: the number of updates applied (an int64 Variable in Keras)."""

    name = "iteration"

    def __init__(self, opt):
        self._opt = opt
        self.path = f"{opt.name}/iteration"

    def numpy(self):
        return np.int64(self._opt._native.iterations)

    def __index__(self):
        return int(self._opt._native.iterations)

    def assign(self, value):
        self._opt._native.iterations = int(value)
        return self

    def assign_add(self, value):
        return self.assign(int(self) + int(value))

    @property
    def shape(self):
        return ()

    @property
    def dtype(self):
        return "int64"

    def __repr__(self):
        return f"<Variable path={self.path}, shape=(), dtype=int64, value={self.numpy()}>"


class _StateVariable:
    """One entry of `optimizer.variables` beyond iteration/learning_rate (a slot, an EMA average, ...)."""

    def __init__(self, opt, index, name, shape):
        self._opt, self._index, self.name, self.shape = opt, index, name, tuple(shape)
        self.path = f"{opt.name}/{name}"
        self.dtype = "float32"

    def numpy(self):
        return self._opt._native.state()[self._index].reshape(self.shape)

    def assign(self, value):
        state = self._opt._native.state()
        state[self._index] = np.asarray(value, np.float32)
        self._opt._native.set_state(state)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.numpy(), dtype=dtype)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype=float32, value={self.numpy()}>"


class Optimizer:
    """Base class of the native optimizers. Subclasses name their native class and hyperparameters."""

    _native_class = None   # e.g. _core.Adam
    _hyperparameters = ()  # attribute names mirrored to the native optimizer

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if "lr" in kwargs:  # tf.keras 2 spelling, kept with its meaning
            _warn_once("The `lr` argument is a tf.keras 2 spelling (Keras 3 rejects it); xkeras reads it as "
                       "`learning_rate`.")
            learning_rate = kwargs.pop("lr")
        decay = kwargs.pop("decay", None)
        if decay:  # tf.keras 2 power scheduling (Keras 3 ignores `decay`)
            _warn_once("The `decay` argument is a tf.keras 2 spelling (Keras 3 ignores it); xkeras keeps its "
                       "tf.keras 2 meaning: learning_rate / (1 + decay * iterations).")
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if loss_scale_factor is not None:
            raise NotImplementedError("`loss_scale_factor` is not supported by xkeras optimizers yet. "
                                      f"Received: loss_scale_factor={loss_scale_factor}")
        if gradient_accumulation_steps:
            raise NotImplementedError("`gradient_accumulation_steps` is not supported by xkeras optimizers yet. "
                                      f"Received: gradient_accumulation_steps={gradient_accumulation_steps}")
        if use_ema:
            if ema_momentum > 1 or ema_momentum < 0:
                raise ValueError(f"`ema_momentum` must be in the range [0, 1]. Received: ema_momentum={ema_momentum}")
            if ema_overwrite_frequency and (not isinstance(ema_overwrite_frequency, int)
                                            or ema_overwrite_frequency < 1):
                raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. "
                                 f"Received: ema_overwrite_frequency={ema_overwrite_frequency}")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        if not isinstance(learning_rate, (float, schedules.LearningRateSchedule)) and not callable(learning_rate):
            raise ValueError("Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or "
                             "a callable (that takes in the current iteration value and returns the corresponding "
                             f"learning rate value). Received instead: learning_rate={learning_rate}")
        self.name = name or unique_name(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.use_ema, self.ema_momentum, self.ema_overwrite_frequency = use_ema, ema_momentum, ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.decay = float(decay or 0.0)
        self._learning_rate = learning_rate
        self._built_variables = None
        self._exclude_ids, self._exclude_pattern = set(), None

    # ---- the native optimizer ------------------------------------------------------------------
    @property
    def _native(self):
        native = self.__dict__.get("_native_obj")
        if native is None:  # created on first use, once the subclass has set its hyperparameters
            if self._native_class is None:
                raise NotImplementedError(
                    f"{type(self).__name__}: optimizers written in Python (a custom `update_step`) are not supported "
                    "by xkeras' native training loop yet. Use one of SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, "
                    "Adamax, Nadam, Lion.")
            native = self.__dict__["_native_obj"] = self._native_class()
            for name in self._hyperparameters + _COMMON:
                self._push(native, name)
            self._push_learning_rate(native, self._learning_rate)
        return native

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if "_native_obj" in self.__dict__ and (name in self._hyperparameters or name in _COMMON):
            self._push(self.__dict__["_native_obj"], name)

    def _push(self, native, name):
        value = getattr(self, name)
        if name == "weight_decay":
            native.use_weight_decay = value is not None
            native.weight_decay = float(value or 0.0)
        elif name in ("clipnorm", "clipvalue", "global_clipnorm", "ema_overwrite_frequency", "decay"):
            setattr(native, name, value or 0)  # None and 0 mean off
        else:
            setattr(native, name, value)

    def _push_learning_rate(self, native, value):
        if isinstance(value, schedules.LearningRateSchedule):
            builtin = type(value).__call__ is schedules.LearningRateSchedule.__call__  # not overridden in Python
            native.schedule = ((builtin and value._native_schedule())
                               or _core.Schedule.from_function(lambda step: float(value(step))))
        elif callable(value):
            native.schedule = _core.Schedule.from_function(lambda step: float(value()))
        else:
            native.schedule = None
            native.learning_rate = float(value)

    # ---- learning rate and iterations ----------------------------------------------------------
    @property
    def learning_rate(self):
        return _LearningRate(self)

    @learning_rate.setter
    def learning_rate(self, value):
        if not isinstance(value, schedules.LearningRateSchedule) and not callable(value):
            if isinstance(self._learning_rate, schedules.LearningRateSchedule) or callable(self._learning_rate):
                raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                                "`learning_rate` constructor argument, hence its learning rate is not settable. "
                                "If you need the learning rate to be settable, you should instantiate the "
                                "optimizer with a float `learning_rate` argument.")
            value = float(value)
        self._learning_rate = value
        self._push_learning_rate(self._native, value)

    @property
    def lr(self):
        _warn_once("`optimizer.lr` is a tf.keras 2 spelling (Keras 3 has only `optimizer.learning_rate`).", 3)
        return self.learning_rate

    @lr.setter
    def lr(self, value):
        _warn_once("`optimizer.lr` is a tf.keras 2 spelling (Keras 3 has only `optimizer.learning_rate`).", 3)
        self.learning_rate = value

    @property
    def iterations(self):
        return _Iterations(self)

    # ---- building and applying -----------------------------------------------------------------
    @property
    def built(self):
        return self._built_variables is not None

    def build(self, variables):
        """Creates the slots of `variables` (Keras builds once, at the first training step)."""
        if self._built_variables is None:
            self._built_variables = list(variables)
        self._track(variables)

    def _track(self, variables):
        """Hands the variables (and each one's constraint and weight-decay setting) to the native optimizer."""
        if self._built_variables is None:
            self._built_variables = list(variables)
        known = {id(v) for v in self._built_variables}
        self._built_variables += [v for v in variables if id(v) not in known]
        handles = [_handle(v) for v in variables]
        self._native.build(handles)
        for v, h in zip(variables, handles):
            self._native.configure_variable(h, constraints.native(getattr(v, "constraint", None)),
                                            self._use_weight_decay(v))

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude variables (by object, or by a regex matching the variable's name) from weight decay."""
        self._exclude_ids = {id(v) for v in var_list or []}
        self._exclude_pattern = re.compile("|".join(set(var_names))) if var_names else None
        if self.built:
            self._track(self._built_variables)

    def _use_weight_decay(self, variable):
        if id(variable) in self._exclude_ids:
            return False
        name = getattr(variable, "name", "")
        return not (self._exclude_pattern is not None and self._exclude_pattern.search(name or ""))

    def apply_gradients(self, grads_and_vars):
        pairs = list(grads_and_vars)
        if not pairs:
            return self.iterations
        grads, variables = zip(*pairs)
        self.apply(grads, variables)
        return self.iterations

    def apply(self, grads, trainable_variables=None):
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be built on "
                                 "a list of variables. Call `optimizer.build(trainable_variables)` first. ")
            trainable_variables = self._built_variables
        trainable_variables = list(trainable_variables)
        self._track(trainable_variables)
        missing = [getattr(v, "path", getattr(v, "name", "?")) for g, v in zip(grads, trainable_variables) if g is None]
        if missing and len(missing) < len(grads):
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss. If using "
                          "`model.compile()`, did you forget to provide a `loss` argument?", stacklevel=3)
        self._native.apply([_handle(v) for v in trainable_variables], list(grads))

    def finalize_variable_values(self, var_list=None):
        """With use_ema, overwrites the variables with their moving averages (done at the end of fit)."""
        if self.use_ema and self.built:
            self._native.finalize_variable_values()

    def scale_loss(self, loss):
        return loss

    # ---- optimizer variables (keras-spec §6.4) -------------------------------------------------
    def _state_names(self):
        names = []
        for slot, index, _ in self._native.state_layout():
            if index < 0:
                names.append(slot)
            else:
                var = self._built_variables[index]
                path = getattr(var, "path", getattr(var, "name", "variable"))
                names.append(f"{path.replace('/', '_')}_{slot}")
        return names

    @property
    def variables(self):
        out = [self.iterations]
        if not isinstance(self._learning_rate, schedules.LearningRateSchedule) and not callable(self._learning_rate):
            out.append(self.learning_rate)
        if self.built:
            layout = self._native.state_layout()
            out += [_StateVariable(self, i, name, shape)
                    for i, (name, (_, _, shape)) in enumerate(zip(self._state_names(), layout))]
        return out

    def _slot_shapes(self):
        return [tuple(shape) for _, _, shape in self._native.state_layout()] if self.built else []

    def _slot_names(self):
        return self._state_names() if self.built else []

    def _get_slot_values(self):
        return [np.asarray(a, np.float32) for a in self._native.state()] if self.built else []

    def _set_slot_values(self, values):
        self._native.set_state([np.asarray(v, np.float32) for v in values])

    def _params_count_and_bytes(self):
        """(count, bytes) of `optimizer.variables` for summary(): iteration is an int64, the rest float32."""
        if not self.built:
            return None
        floats = sum(int(np.prod(s)) for s in self._slot_shapes())
        if len(self.variables) > 1 and isinstance(self.variables[1], _LearningRate):
            floats += 1
        return 1 + floats, 8 + 4 * floats

    # ---- config ----------------------------------------------------------------------------------
    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            lr = schedules.serialize(lr)
        elif not callable(lr):
            lr = float(np.float32(self._native.learning_rate))
        config = {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                  "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                  "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                  "ema_overwrite_frequency": self.ema_overwrite_frequency,
                  "loss_scale_factor": self.loss_scale_factor,
                  "gradient_accumulation_steps": self.gradient_accumulation_steps}
        config.update({name: getattr(self, name) for name in self._hyperparameters})  # Keras' order: base, then own
        if self.decay:
            config["decay"] = self.decay  # tf.keras 2 power scheduling, kept on a round trip
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, learning_rate={float(self.learning_rate):g}>"


def _handle(variable):
    return variable._handle if hasattr(variable, "_handle") else variable
