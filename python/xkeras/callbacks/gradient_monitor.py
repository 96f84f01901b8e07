"""GradientMonitor: "track the size of the gradients" made first-class (an xkeras extension, not in Keras).

Every `every_n_batches` training batches it records, per layer, the L2 norm of the gradient (of each
trainable variable and of the layer's variables together), the mean and std of the layer's output, and
for ReLU outputs the fraction of dead units (0 for every sample of the batch). The statistics are taken
natively inside the epoch loop (cpp/train/monitor.cpp), between the backward pass and the optimizer
update, so they describe exactly the batch the optimizer steps on: the gradients are those of the whole
loss (regularization penalties included) before any clipping, the outputs those of the training-mode
forward pass (dropout applied). Without a monitor the loop does nothing extra.

The records land in `history.gradient_monitor` (and `callback.records`); `history.history` keeps
Keras' per-epoch keys only. `xkeras.utils.plot_gradient_flow(history)` draws them.
"""
import math

import numpy as np

from xkeras import _core
from xkeras.callbacks.callback import Callback

_RELU_OPS = ("relu", "relu6")  # outputs whose zeros mean "dead" units


def layer_outputs(model, taps):
    """([(layer, op)], [output]) from the (layer, output) pairs a recorded step appended: each layer's
    last output (an earlier call may be a build-time probe), the model's own call left out, in call order."""
    last = {}
    for layer, out in taps:
        if layer is model or not isinstance(out, _core.Tensor):
            continue
        last.pop(id(layer), None)  # re-inserted: the order is that of each layer's last call
        last[id(layer)] = (layer, out)
    pairs = list(last.values())
    return [(layer, out.op) for layer, out in pairs], [out for _, out in pairs]


def attach_gradient_monitor(callbacks, programs):
    """The native monitor for fit's epoch loop, or None when no GradientMonitor is among the callbacks."""
    monitors = [cb for cb in callbacks if isinstance(cb, GradientMonitor)]
    if not monitors:
        return None
    if len(monitors) > 1:
        raise ValueError(f"fit accepts one GradientMonitor at a time. Received: {len(monitors)} of them.")
    return monitors[0]._attach(getattr(next(iter(programs.values())), "output_layers", []))


class GradientMonitor(Callback):
    """Records gradient norms, activation statistics and dead ReLUs every `every_n_batches` batches.

    Args:
        every_n_batches: record every N-th training batch, counted from the start of `fit`
            (the first batch is always recorded).

    After `fit`, `history.gradient_monitor` (also `callback.records`) is a dict of lists, one entry per
    recorded batch: "step" (batch index since the start of fit), "epoch", "batch" (index in the epoch),
    "loss" (that batch's loss), and dicts keyed by layer name: "gradient_norm" (L2 norm of all the layer's
    trainable variables' gradients), "activation_mean", "activation_std" (over the batch and the units of
    the layer's output), "dead_relu_fraction" (layers whose output is a ReLU); plus
    "variable_gradient_norm" keyed by variable path ("dense/kernel"). NaN marks a variable that received
    no gradient in that batch.
    """

    def __init__(self, every_n_batches=100):
        super().__init__()
        if not isinstance(every_n_batches, (int, np.integer)) or isinstance(every_n_batches, bool) \
                or every_n_batches < 1:
            raise ValueError(f"`every_n_batches` must be a positive integer. Received: every_n_batches={every_n_batches!r}")
        self.every_n_batches = int(every_n_batches)
        self.records = None
        self._native = None
        self._epoch = 0

    def _attach(self, output_layers):
        """Called by fit once the steps are recorded: the native monitor for this fit, and fresh records."""
        variables = self.model.trainable_weights
        self._variable_paths = [v.path for v in variables]
        self._layer_names = [layer.name for layer, _ in output_layers]
        self._relu = [op in _RELU_OPS for _, op in output_layers]
        self._groups = _variables_by_layer(self.model, variables, [layer for layer, _ in output_layers])
        self._native = _core.StepMonitor(self.every_n_batches, len(variables), len(output_layers))
        self.records = {
            "step": [], "epoch": [], "batch": [], "loss": [],
            "gradient_norm": {name: [] for name in self._groups},
            "variable_gradient_norm": {path: [] for path in self._variable_paths},
            "activation_mean": {name: [] for name in self._layer_names},
            "activation_std": {name: [] for name in self._layer_names},
            "dead_relu_fraction": {name: [] for name, relu in zip(self._layer_names, self._relu) if relu},
        }
        return self._native

    def on_train_begin(self, logs=None):
        history = getattr(self.model, "history", None)
        if history is not None and self.records is not None:
            history.gradient_monitor = self.records

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self._collect()

    def on_train_end(self, logs=None):
        self._collect()  # rows of an epoch cut short (nothing after a normal epoch end)

    def _collect(self):
        if self._native is None:
            return
        rows = self._native.take()
        nv = len(self._variable_paths)
        r = self.records
        for row in rows:
            r["step"].append(int(row[0]))
            r["epoch"].append(self._epoch)
            r["batch"].append(int(row[1]))
            r["loss"].append(float(row[2]))
            norms = row[3:3 + nv]
            for path, value in zip(self._variable_paths, norms):
                r["variable_gradient_norm"][path].append(float(value))
            for name, idx in self._groups.items():
                r["gradient_norm"][name].append(_combined_norm(norms[idx]))
            stats = row[3 + nv:].reshape(-1, 3)
            for name, relu, (mean, std, dead) in zip(self._layer_names, self._relu, stats):
                r["activation_mean"][name].append(float(mean))
                r["activation_std"][name].append(float(std))
                if relu:
                    r["dead_relu_fraction"][name].append(float(dead))


def _variables_by_layer(model, variables, tapped_layers):
    """{layer name: indices into `variables`}: the model's layers (else the tapped ones) in order, then
    any variable no layer claims under its path's first component."""
    layers = list(getattr(model, "layers", None) or tapped_layers)
    index = {id(v): i for i, v in enumerate(variables)}
    groups, claimed = {}, set()
    for layer in layers:
        idx = [index[id(w)] for w in layer.trainable_weights if id(w) in index and index[id(w)] not in claimed]
        if idx:
            groups[layer.name] = idx
            claimed.update(idx)
    for i, v in enumerate(variables):
        if i not in claimed:
            groups.setdefault(v.path.split("/")[0], []).append(i)
    return {name: np.array(idx) for name, idx in groups.items()}


def _combined_norm(norms):
    """The L2 norm of several gradients from their norms (NaN when none of them received a gradient)."""
    present = norms[~np.isnan(norms)]
    return float(math.sqrt(float(np.sum(present ** 2)))) if len(present) else float("nan")
