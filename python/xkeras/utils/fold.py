"""fold_batch_normalization: merge BatchNormalization layers into adjacent Dense layers for inference.

In inference a BatchNormalization layer is a per-feature affine map y = x * a + c with
a = gamma / sqrt(moving_variance + epsilon) and c = beta - moving_mean * a. Next to a Dense layer it
can be merged into the Dense's kernel and bias:

- backward, when the Dense before it has no activation (Dense(use_bias=False) -> BN -> Activation):
  kernel' = kernel * a (per column), bias' = bias * a + c;
- forward, into the Dense after it (Flatten -> BN -> Dense, or Dense(activation) -> BN -> Dense):
  kernel' = a[:, None] * kernel, bias' = bias + c @ kernel.

Layers that are the identity in inference (Dropout and the noise layers) may sit in between; they are
kept. The arithmetic is done in float64 and rounded once to float32.
"""
import warnings

import numpy as np

from xkeras import activations
from xkeras.layers.core import Dense, Dropout, InputLayer
from xkeras.layers.normalization import BatchNormalization
from xkeras.layers.regularization import AlphaDropout, GaussianDropout, GaussianNoise

# Identity in inference, and applied elementwise: a BatchNormalization folds through them. Exact types
# only: a subclass such as the course's MCDropout stays active in inference.
_PASS_THROUGH = (Dropout, AlphaDropout, GaussianDropout, GaussianNoise)


class _Item:
    """One layer of the new model: the original layer, plus the new Dense weights once folded."""

    def __init__(self, layer, input_shape):
        self.layer = layer
        self.rank = len(input_shape)
        self.kernel = self.bias = None
        if type(layer) is Dense:  # not a subclass: its call may differ
            self.kernel = layer.kernel.numpy().astype(np.float64)
            self.bias = None if layer.bias is None else layer.bias.numpy().astype(np.float64)
        self.folded = False  # a Dense whose weights changed (it then always has a bias)

    def is_dense(self):
        return self.kernel is not None


def _bn_affine(bn):
    """(a, c) of the inference map x * a + c, in float64."""
    mean = bn.moving_mean.numpy().astype(np.float64)
    var = bn.moving_variance.numpy().astype(np.float64)
    gamma = bn.gamma.numpy().astype(np.float64) if bn.gamma is not None else 1.0
    beta = bn.beta.numpy().astype(np.float64) if bn.beta is not None else 0.0
    a = gamma / np.sqrt(var + bn.epsilon)
    return a, beta - mean * a


def _on_last_axis(item):
    return item.layer.axis % item.rank == item.rank - 1


def _activation_name(fn):
    return getattr(fn, "__name__", None) or type(fn).__name__


def _neighbour(items, start, step):
    """Index of the first item from `start` (moving by `step`) that is not a pass-through layer."""
    i = start
    while 0 <= i < len(items) and type(items[i].layer) in _PASS_THROUGH:
        i += step
    return i if 0 <= i < len(items) else None


def _fold_backward(items):
    """Dense (no activation) -> BN: the BN disappears into the Dense. Left to right, so chains fold too."""
    out = []
    for item in items:
        layer = item.layer
        if type(layer) is BatchNormalization and _on_last_axis(item):
            j = _neighbour(out, len(out) - 1, -1)
            prev = out[j] if j is not None else None
            if (prev is not None and prev.is_dense() and activations.serialize(prev.layer.activation) == "linear"
                    and prev.kernel.shape[1] == layer.moving_mean.shape[0]):
                a, c = _bn_affine(layer)
                prev.kernel = prev.kernel * a
                prev.bias = (prev.bias * a if prev.bias is not None else 0.0) + c
                prev.folded = True
                continue
        out.append(item)
    return out


def _fold_forward(items):
    """BN -> Dense: the BN disappears into the next Dense. Right to left, so BN -> BN -> Dense folds too."""
    items = list(items)
    i = len(items) - 1
    while i >= 0:
        layer = items[i].layer
        if type(layer) is BatchNormalization and _on_last_axis(items[i]):
            j = _neighbour(items, i + 1, 1)
            nxt = items[j] if j is not None else None
            if nxt is not None and nxt.is_dense() and nxt.kernel.shape[0] == layer.moving_mean.shape[0]:
                a, c = _bn_affine(layer)
                bias = nxt.bias if nxt.bias is not None else 0.0
                nxt.bias = bias + c @ nxt.kernel
                nxt.kernel = a[:, None] * nxt.kernel
                nxt.folded = True
                del items[i]
        i -= 1
    return items


def _why_not(items, i):
    bn = items[i].layer
    if not _on_last_axis(items[i]):
        return f"it normalizes axis {bn.axis}, not the last axis a Dense kernel acts on"
    p, n = _neighbour(items, i - 1, -1), _neighbour(items, i + 1, 1)
    prev = items[p].layer if p is not None else None
    nxt = items[n].layer if n is not None else None
    if isinstance(prev, Dense):
        before = f"the Dense before it ('{prev.name}') has activation '{_activation_name(prev.activation)}'"
    else:
        before = "no Dense without activation comes before it"
    after = f"it is followed by '{nxt.name}' ({type(nxt).__name__})" if nxt is not None else "it is the last layer"
    return f"{before} and {after}"


def fold_batch_normalization(model):
    """A new Sequential model, equal to `model` in inference, with BatchNormalization layers merged into
    adjacent Dense layers (see the module docstring for the patterns). `model` is left unchanged.

    BatchNormalization layers that cannot be merged are kept, and a warning names each one and why.
    Nested Sequential models are folded too. The new model is compiled with the same configuration
    (fresh optimizer) when `model` is compiled. It is meant for inference: with `training=True` the
    merged layers no longer use batch statistics.
    """
    from xkeras.models.sequential import Sequential
    if not isinstance(model, Sequential):
        raise ValueError("fold_batch_normalization() supports Sequential models. "
                         f"Received: model of type {type(model).__name__}")
    if not model.built:
        raise ValueError("This model has not yet been built. Build the model first by calling `build()` or by "
                         "calling the model on a batch of data.")
    input_shapes = [model._build_shape] + model._layer_output_shapes()[:-1]
    items = _fold_forward(_fold_backward([_Item(layer, shape) for layer, shape in zip(model.layers, input_shapes)]))

    kept = [f"'{it.layer.name}': {_why_not(items, i)}" for i, it in enumerate(items)
            if isinstance(it.layer, BatchNormalization)]
    if kept:
        warnings.warn(f"fold_batch_normalization: {len(kept)} BatchNormalization layer(s) could not be folded "
                      "and are kept:\n  " + "\n  ".join(kept), UserWarning, stacklevel=2)

    layers, weights = [], []
    for it in items:
        layer = it.layer
        if isinstance(layer, Sequential):
            layers.append(fold_batch_normalization(layer))
            weights.append(None)
            continue
        config = layer.get_config()
        if it.folded:
            config["use_bias"] = True
            weights.append([it.kernel.astype(np.float32), np.asarray(it.bias, np.float64).astype(np.float32)])
        else:
            weights.append(layer.get_weights())
        layers.append(type(layer).from_config(config))

    if model._input_layer is not None:
        src = model._input_layer
        layers = [InputLayer(batch_shape=src.batch_shape, name=src.name)] + layers
    folded = Sequential(layers, name=model.name, trainable=model.trainable)
    if not folded.built:
        folded.build(model._build_shape)
    for layer, w in zip(folded.layers, weights):
        if w is not None:
            layer.set_weights(w)
    config = model.get_compile_config()
    if config is not None:
        folded.compile_from_config(config)
    return folded
