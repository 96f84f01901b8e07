"""The built-in optimizers (keras/src/optimizers/*.py; update rules in keras-spec §6.3, run natively)."""
from xkeras import _core
from xkeras.optimizers.base import Optimizer


def _common(kwargs, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
            ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name):
    return dict(weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                use_ema=use_ema, ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                loss_scale_factor=loss_scale_factor, gradient_accumulation_steps=gradient_accumulation_steps,
                name=name, **kwargs)


class SGD(Optimizer):
    """Gradient descent (with momentum): `m = momentum * m - lr * g; w += m` (Nesterov: `w += momentum*m - lr*g`)."""

    _native_class = _core.SGD
    _hyperparameters = ("momentum", "nesterov")

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **_common(kwargs, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                                                  ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                                                  gradient_accumulation_steps, name))
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = nesterov


class RMSprop(Optimizer):
    """RMSprop: `v = rho*v + (1-rho)*g^2; w -= lr*g / sqrt(v + eps)` (centered: `v - a^2`; optional momentum)."""

    _native_class = _core.RMSprop
    _hyperparameters = ("rho", "momentum", "epsilon", "centered")

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, **_common(kwargs, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                                                  ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                                                  gradient_accumulation_steps, name))
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered


class Adam(Optimizer):
    """Adam: bias-corrected first and second moments (`amsgrad`: the running maximum of the second)."""

    _native_class = _core.Adam
    _hyperparameters = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, **_common(kwargs, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                                                  ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                                                  gradient_accumulation_steps, name))
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad


class AdamW(Adam):
    """Adam with decoupled weight decay: `w -= w * weight_decay * lr` before each Adam step."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         name=name, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency, loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")


class Adagrad(Optimizer):
    """Adagrad: `acc += g^2; w -= lr * g / sqrt(acc + eps)`."""

    _native_class = _core.Adagrad
    _hyperparameters = ("initial_accumulator_value", "epsilon")

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, **_common(kwargs, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                                                  ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                                                  gradient_accumulation_steps, name))
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon


class Adadelta(Optimizer):
    """Adadelta: steps scaled by the ratio of running RMS of updates and of gradients."""

    _native_class = _core.Adadelta
    _hyperparameters = ("rho", "epsilon")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **_common(kwargs, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                                                  ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                                                  gradient_accumulation_steps, name))
        self.rho, self.epsilon = rho, epsilon


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm, `u = max(beta_2 * u, |g|)`."""

    _native_class = _core.Adamax
    _hyperparameters = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **_common(kwargs, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                                                  ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                                                  gradient_accumulation_steps, name))
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon


class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum (Keras 3's momentum schedule `u_t = beta_1 * (1 - 0.5 * 0.96^t)`)."""

    _native_class = _core.Nadam
    _hyperparameters = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **_common(kwargs, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                                                  ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                                                  gradient_accumulation_steps, name))
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon


class Lion(Optimizer):
    """Lion: `w -= lr * sign(beta_1 * m + (1 - beta_1) * g); m = beta_2 * m + (1 - beta_2) * g`."""

    _native_class = _core.Lion
    _hyperparameters = ("beta_1", "beta_2")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **_common(kwargs, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                                                  ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                                                  gradient_accumulation_steps, name))
        self.beta_1, self.beta_2 = beta_1, beta_2
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates to "
                             f"SignSGD. Received: beta_1={beta_1}.")

