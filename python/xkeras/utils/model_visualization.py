"""keras.utils.plot_model and model_to_dot (keras/src/utils/model_visualization.py; keras-spec §12.3).

One box per layer, drawn by pydot + Graphviz (`pip install xkeras[plot]` and Graphviz's `dot` program),
both imported only when a plot is asked for. The boxes look like Keras 3's: a black header with the
class (and name), then optional rows for the activation, shapes, dtype and trainability.
"""
import html
import os
import sys


def _import_pydot():
    try:
        import pydot
    except ImportError:
        return None
    return pydot


def _missing_message(pydot):
    """What to install, or None when pydot and Graphviz both work."""
    if pydot is None:
        return ("You must install pydot (`pip install pydot`, or `pip install xkeras[plot]`) for `plot_model` "
                "to work.")
    try:
        pydot.Dot.create(pydot.Dot())  # runs Graphviz's `dot` on an empty graph
    except (OSError, pydot.PydotException):
        return ("You must install graphviz (its `dot` program: `apt-get install graphviz`, `brew install graphviz`, "
                "or see https://graphviz.gitlab.io/download/) for `plot_model` to work.")
    return None


def _in_ipython():
    """True inside a running IPython shell or Jupyter kernel (not merely when IPython was imported)."""
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def _cell(text, colspan=None, bgcolor="white", color=None, size=14):
    span = f' colspan="{colspan}"' if colspan else ""
    font_color = f' color="{color}"' if color else ""
    return f'<td bgcolor="{bgcolor}"{span}><font point-size="{size}"{font_color}>{text}</font></td>'


def _activation_name(activation):
    name = getattr(activation, "name", None) or getattr(activation, "__name__", None)
    return name or str(activation)


def _label(layer, in_shape, out_shape, show_shapes, show_dtype, show_layer_names, show_layer_activations,
           show_trainable):
    """The layer's box as a Graphviz HTML-like label."""
    cls = type(layer).__name__
    cells = []
    if show_shapes:
        fmt = lambda s: html.escape(str(tuple(s))) if s is not None else "?"  # noqa: E731
        if cls != "InputLayer":
            cells.append(_cell(f"Input shape: <b>{fmt(in_shape)}</b>"))
        cells.append(_cell(f"Output shape: <b>{fmt(out_shape)}</b>"))
    if show_dtype:
        cells.append(_cell("Output dtype: <b>float32</b>"))
    if show_trainable and layer.weights:
        if layer.trainable:
            cells.append(_cell("<b>Trainable</b>", bgcolor="forestgreen", color="white"))
        else:
            cells.append(_cell("<b>Non-trainable</b>", bgcolor="firebrick", color="white"))
    span = max(1, len(cells))

    name = html.escape(layer.name)
    title = f"<b>{name}</b> ({cls})" if show_layer_names else f"<b>{cls}</b>"
    rows = [_cell(title, span, bgcolor="black", color="white", size=16)]
    if show_layer_activations and getattr(layer, "activation", None) is not None:
        rows.append(_cell(f"Activation: <b>{html.escape(_activation_name(layer.activation))}</b>", span))
    if cells:
        rows.append("".join(cells))
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f'<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">{body}</table>>'


def _add_node(pydot, graph, layer, in_shape, out_shape, opts):
    node = pydot.Node(str(id(layer)), label=_label(layer, in_shape, out_shape, **opts))
    node.set("fontname", "Helvetica")
    node.set("border", "0")
    node.set("margin", "0")
    graph.add_node(node)
    return node.get_name()


def _add_sequential(pydot, graph, model, opts, expand_nested):
    """The layers as a chain of nodes (nested Sequential models as dashed clusters when expanded).
    Returns the ids of the first and the last node, for the edges around a nested model."""
    from xkeras.models.sequential import Sequential
    outs = list(model._layer_output_shapes())
    ins = [model._build_shape] + outs[:-1]
    ends = []
    for layer, in_shape, out_shape in zip(model.layers, ins, outs):
        if expand_nested and isinstance(layer, Sequential) and layer.layers:
            cluster = pydot.Cluster(str(id(layer)), style="dashed", label=layer.name, labeljust="l")
            ends.append(_add_sequential(pydot, cluster, layer, opts, True))
            graph.add_subgraph(cluster)
        else:
            node = _add_node(pydot, graph, layer, in_shape, out_shape, opts)
            ends.append((node, node))
    for (_, src), (dst, _) in zip(ends, ends[1:]):
        graph.add_edge(pydot.Edge(src, dst, penwidth="2"))
    return ends[0][0], ends[-1][1]


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, subgraph=False, show_layer_activations=False, show_trainable=False,
                 splines="ortho", **kwargs):
    """The model as a `pydot.Dot` graph (a `pydot.Cluster` with `subgraph=True`)."""
    from xkeras.models.sequential import Sequential
    if not model.built:
        raise ValueError("This model has not yet been built. Build the model first by calling `build()` or by "
                         "calling the model on a batch of data.")
    pydot = _import_pydot()
    if pydot is None:
        raise ImportError("You must install pydot (`pip install pydot`, or `pip install xkeras[plot]`) for "
                          "model_to_dot to work.")
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")

    if subgraph:
        dot = pydot.Cluster(model.name, style="dashed", label=model.name, labeljust="l")
    else:
        dot = pydot.Dot()
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
        dot.set("splines", splines)
        dot.set_node_defaults(shape="record")
    opts = dict(show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                show_layer_activations=show_layer_activations, show_trainable=show_trainable)
    if isinstance(model, Sequential) and model.layers:
        _add_sequential(pydot, dot, model, opts, expand_nested)
    else:  # a subclassed model is one box, as in Keras
        _add_node(pydot, dot, model, None, None, opts)
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               splines="ortho", **kwargs):
    """Draws the model into `to_file` (the format from its extension, png by default) and returns it as an
    `IPython.display.Image` when IPython is installed, so a notebook cell shows it inline.

    Without pydot or Graphviz it raises ImportError saying what to install; inside an IPython session
    it prints that message and returns None instead (as Keras does, so a notebook keeps running).
    """
    if not model.built:
        raise ValueError("This model has not yet been built. Build the model first by calling `build()` or by "
                         "calling the model on a batch of data.")
    message = _missing_message(_import_pydot())
    if message:
        if _in_ipython():
            print(message)
            return None
        raise ImportError(message)
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")

    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                       rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable,
                       splines=splines)
    to_file = str(to_file)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    dot.write(to_file, format=extension)
    if extension == "pdf":
        return None
    try:
        from IPython import display
    except ImportError:
        return None
    if extension == "svg":
        return display.SVG(filename=to_file)
    return display.Image(filename=to_file)
