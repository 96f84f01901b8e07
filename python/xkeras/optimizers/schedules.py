"""`keras.optimizers.schedules` (keras/src/optimizers/schedules/learning_rate_schedule.py; keras-spec §7).

Each schedule is evaluated natively by the optimizer before every update, at `step = optimizer.iterations`
(so the first update uses `schedule(0)`). Calling a schedule, `schedule(step)`, runs the same native code.
A user subclass of `LearningRateSchedule` works too: the optimizer then calls it from Python once per
step. `OneCycle` is not in Keras (see its docstring).
"""
import numpy as _np

from xkeras import _core


class LearningRateSchedule:
    """The learning rate schedule base class.

    Subclass it and implement `__call__(self, step)` (and `get_config`) for a custom schedule; built-in
    schedules are evaluated natively, custom ones are called from Python once per training step.
    """

    _kind = None  # the native schedule kind of a built-in subclass

    def __call__(self, step):
        if self._kind is None:
            raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                      "`__call__(self, step)`.")
        native = self._native_schedule()
        steps = _np.asarray(step.numpy() if hasattr(step, "numpy") else step, dtype=_np.float64)
        values = _np.vectorize(lambda s: native.value(int(s)), otypes=[_np.float64])(steps)
        return _core.constant(values.astype(_np.float32))

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `get_config()` "
                                  "in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _native_schedule(self):
        """The native description the optimizer evaluates each step (None for a user-defined subclass)."""
        if self._kind is None:
            return None
        s = _core.Schedule(self._kind)
        for field, value in self._native_fields().items():
            setattr(s, field, value)
        return s

    def _native_fields(self):
        return {}


def _positive_steps(name, value):
    if value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


# ExponentialDecay and InverseTimeDecay take the same four arguments.
def _init_decay(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
    self.initial_learning_rate = initial_learning_rate
    self.decay_steps = decay_steps
    self.decay_rate = decay_rate
    self.staircase = staircase
    self.name = name
    _positive_steps("decay_steps", decay_steps)


def _decay_native_fields(self):
    return {"initial_learning_rate": float(self.initial_learning_rate), "decay_steps": float(self.decay_steps),
            "decay_rate": float(self.decay_rate), "staircase": bool(self.staircase)}


def _decay_config(self):
    return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(LearningRateSchedule):
    """A `LearningRateSchedule` that uses an exponential decay schedule.

    `initial_learning_rate * decay_rate ** (step / decay_steps)`, with an integer exponent if `staircase`.
    """

    _kind = "exponential_decay"

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        _init_decay(self, initial_learning_rate, decay_steps, decay_rate, staircase, name)

    _native_fields = _decay_native_fields
    get_config = _decay_config


class PiecewiseConstantDecay(LearningRateSchedule):
    """A `LearningRateSchedule` that uses a piecewise constant decay schedule.

    `values[0]` while `step <= boundaries[0]`, `values[i]` while `boundaries[i-1] < step <= boundaries[i]`,
    and `values[-1]` after the last boundary.
    """

    _kind = "piecewise_constant_decay"

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values. Received: "
                             f"boundaries={boundaries} of length {len(boundaries)}, and values={values} "
                             f"of length {len(values)}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def _native_fields(self):
        return {"boundaries": [float(b) for b in self.boundaries], "values": [float(v) for v in self.values]}

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """A `LearningRateSchedule` that uses a polynomial decay schedule.

    `(initial - end) * (1 - step / decay_steps) ** power + end`, with `step` capped at `decay_steps`, or,
    with `cycle`, `decay_steps` stretched to the first multiple of itself above `step`.
    """

    _kind = "polynomial_decay"

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name
        _positive_steps("decay_steps", decay_steps)

    def _native_fields(self):
        return {"initial_learning_rate": float(self.initial_learning_rate), "decay_steps": float(self.decay_steps),
                "end_learning_rate": float(self.end_learning_rate), "power": float(self.power),
                "cycle": bool(self.cycle)}

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """A `LearningRateSchedule` that uses an inverse time decay schedule.

    `initial_learning_rate / (1 + decay_rate * step / decay_steps)` (integer `step / decay_steps` if
    `staircase`). This is the "power scheduling" of the course.
    """

    _kind = "inverse_time_decay"

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        _init_decay(self, initial_learning_rate, decay_steps, decay_rate, staircase, name)

    _native_fields = _decay_native_fields
    get_config = _decay_config


class CosineDecay(LearningRateSchedule):
    """A `LearningRateSchedule` that uses a cosine decay with optional warmup.

    Without warmup: `lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)` with
    `s = min(step, decay_steps)`. With `warmup_target`: a linear ramp from `initial_learning_rate` to
    `warmup_target` over `warmup_steps`, then the cosine decay from `warmup_target`.
    """

    _kind = "cosine_decay"

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target
        _positive_steps("decay_steps", decay_steps)

    def _native_fields(self):
        return {"initial_learning_rate": float(self.initial_learning_rate), "decay_steps": float(self.decay_steps),
                "alpha": float(self.alpha), "warmup_steps": float(self.warmup_steps),
                "warmup_target": float("nan") if self.warmup_target is None else float(self.warmup_target)}

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """A `LearningRateSchedule` that uses a cosine decay schedule with restarts.

    Cosine decays over `first_decay_steps`, each restart `t_mul` times longer and `m_mul` times lower (SGDR).
    """

    _kind = "cosine_decay_restarts"

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name
        _positive_steps("first_decay_steps", first_decay_steps)

    def _native_fields(self):
        return {"initial_learning_rate": float(self.initial_learning_rate),
                "decay_steps": float(self.first_decay_steps), "t_mul": float(self._t_mul),
                "m_mul": float(self._m_mul), "alpha": float(self.alpha)}

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self._t_mul, "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


class OneCycle(LearningRateSchedule):
    """A `LearningRateSchedule` for 1cycle training (Smith 2018, as in Géron ch. 11); not part of Keras.

    The rate rises linearly from `initial_learning_rate` to `max_learning_rate` over the first half of the
    cycle, falls back linearly over the second half, then falls linearly to `final_learning_rate` over the
    last `final_steps` steps and stays there. With `half = (total_steps - final_steps) // 2`:

        step < half:           initial + (max - initial) * step / half
        step < 2 * half:       max - (max - initial) * (step - half) / half
        step < total_steps:    initial + (final - initial) * (step - 2 * half) / (total_steps - 2 * half)
        afterwards:            final

    Args:
        max_learning_rate: the peak rate (e.g. about 10x lower than where the LR finder's loss climbs).
        total_steps: the number of training steps the cycle spans, e.g. `epochs * ceil(n / batch_size)`.
        initial_learning_rate: where the cycle starts and ends; default `max_learning_rate / 10`.
        final_learning_rate: the rate at the very end; default `initial_learning_rate / 1000`.
        final_steps: length of the final annihilation phase; default `total_steps // 10 + 1`.
        max_momentum, min_momentum, cycle_momentum: with `SGD(momentum > 0)`, the momentum moves opposite
            to the rate while it cycles (`max_momentum` at `initial_learning_rate`, `min_momentum` at the
            peak) and is `max_momentum` in the final phase; the optimizer's own `momentum` is then unused.
            Other optimizers ignore these arguments.
    """

    _kind = "one_cycle"

    def __init__(self, max_learning_rate, total_steps, initial_learning_rate=None, final_learning_rate=None,
                 final_steps=None, max_momentum=0.95, min_momentum=0.85, cycle_momentum=True, name="OneCycle"):
        _positive_steps("total_steps", total_steps)
        self.max_learning_rate = max_learning_rate
        self.total_steps = int(total_steps)
        self.initial_learning_rate = max_learning_rate / 10 if initial_learning_rate is None else initial_learning_rate
        self.final_learning_rate = (self.initial_learning_rate / 1000 if final_learning_rate is None
                                    else final_learning_rate)
        self.final_steps = self.total_steps // 10 + 1 if final_steps is None else int(final_steps)
        if not 0 <= self.final_steps <= self.total_steps:
            raise ValueError(f"`final_steps` must be between 0 and total_steps={total_steps}. "
                             f"Received: final_steps={final_steps}")
        self.max_momentum = max_momentum
        self.min_momentum = min_momentum
        self.cycle_momentum = cycle_momentum
        self.name = name

    def _native_fields(self):
        return {"initial_learning_rate": float(self.initial_learning_rate),
                "max_learning_rate": float(self.max_learning_rate),
                "end_learning_rate": float(self.final_learning_rate), "total_steps": float(self.total_steps),
                "final_steps": float(self.final_steps), "max_momentum": float(self.max_momentum),
                "min_momentum": float(self.min_momentum), "cycle_momentum": bool(self.cycle_momentum)}

    def momentum(self, step):
        """The SGD momentum this schedule sets at `step`."""
        return float(self._native_schedule().momentum(int(step)))

    def get_config(self):
        return {"max_learning_rate": self.max_learning_rate, "total_steps": self.total_steps,
                "initial_learning_rate": self.initial_learning_rate,
                "final_learning_rate": self.final_learning_rate, "final_steps": self.final_steps,
                "max_momentum": self.max_momentum, "min_momentum": self.min_momentum,
                "cycle_momentum": self.cycle_momentum, "name": self.name}


_BUILTIN = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay,
                                     CosineDecay, CosineDecayRestarts, OneCycle)}


def serialize(learning_rate_schedule):
    """The Keras envelope `{module, class_name, config, registered_name}` of a schedule."""
    cls = type(learning_rate_schedule)
    builtin = _BUILTIN.get(cls.__name__) is cls
    return {"module": "keras.optimizers.schedules" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": learning_rate_schedule.get_config(),
            "registered_name": None if builtin else f"{cls.__module__}>{cls.__name__}"}


def deserialize(config, custom_objects=None):
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BUILTIN.get(name)
    if cls is None:
        raise ValueError(f"Unknown decay: '{name}'. Please ensure you are using a `keras.utils.custom_object_scope` "
                         "and that this object is included in the scope.")
    return cls.from_config(config["config"])
