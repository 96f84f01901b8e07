"""plot_gradient_flow: one figure of what keras.callbacks.GradientMonitor recorded."""
import numpy as np


def plot_gradient_flow(history, figsize=(15, 4)):
    """Gradient norm per layer over the training steps (log scale), each layer's activation std, and the
    fraction of dead ReLUs. `history`: what `fit` returned (with a GradientMonitor among its callbacks),
    the GradientMonitor itself, or its records dict. Returns the matplotlib Figure."""
    records = _records_of(history)
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("plot_gradient_flow needs matplotlib. Install it with `pip install xkeras[plot]`.") from e
    steps = np.asarray(records["step"])
    fig, (ax_grad, ax_std, ax_dead) = plt.subplots(1, 3, figsize=figsize)
    for name, values in records["gradient_norm"].items():
        ax_grad.plot(steps, values, label=name)
    ax_grad.set_yscale("log")
    ax_grad.set_title("Gradient norm per layer")
    for name, values in records["activation_std"].items():
        ax_std.plot(steps, values, label=name)
    ax_std.set_title("Activation std per layer")
    for name, values in records["dead_relu_fraction"].items():
        ax_dead.plot(steps, values, label=name)
    ax_dead.set_ylim(-0.02, 1.02)
    ax_dead.set_title("Dead ReLU fraction")
    if not records["dead_relu_fraction"]:
        ax_dead.text(0.5, 0.5, "no ReLU layers", ha="center", va="center", transform=ax_dead.transAxes)
    for ax in (ax_grad, ax_std, ax_dead):
        ax.set_xlabel("training step")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _records_of(history):
    if isinstance(history, dict) and "gradient_norm" in history:
        return history
    for attr in ("gradient_monitor", "records"):  # a History, or the GradientMonitor callback
        records = getattr(history, attr, None)
        if isinstance(records, dict):
            return records
    raise ValueError("plot_gradient_flow needs the records of a keras.callbacks.GradientMonitor: pass the History "
                     "returned by a fit that had a GradientMonitor among its callbacks. Received: "
                     f"{type(history).__name__} without gradient monitor records")
