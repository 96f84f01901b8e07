"""keras.utils.plot_model / model_to_dot: the same boxes and edges as Keras 3, and clear errors."""
import html
import os
import re
import sys

import numpy as np
import pytest

import xkeras
from xkeras.utils import model_visualization as mv

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

LAYERS = [("flatten", "Flatten", {}), ("hidden", "Dense", {"units": 30, "activation": "relu"}),
          ("bn", "BatchNormalization", {}), ("out", "Dense", {"units": 10, "activation": "softmax"})]


def build(keras):
    model = keras.Sequential([keras.Input((28, 28))] + [getattr(keras.layers, cls)(name=name, **kw)
                                                         for name, cls, kw in LAYERS])
    model.layers[2].trainable = False
    return model


def box_texts(dot):
    """Each node's label as plain text, in graph order."""
    texts = []
    for node in dot.get_nodes():
        label = node.get("label")
        if label:
            texts.append(html.unescape(re.sub(r"<[^>]+>", " ", label[1:-1])).split())  # label: <<table...>>
    return texts


def test_same_boxes_as_keras():
    import keras
    flags = dict(show_shapes=True, show_dtype=True, show_layer_activations=True, show_trainable=True)
    for kw in ({}, flags, {**flags, "show_layer_names": False}):
        ours = xkeras.utils.model_to_dot(build(xkeras), **kw)
        theirs = keras.utils.model_to_dot(build(keras), **kw)
        assert box_texts(ours) == box_texts(theirs)
        assert len(ours.get_edges()) == len(theirs.get_edges()) == 3
        for attr in ("rankdir", "dpi", "splines", "concentrate"):
            assert str(ours.get(attr)) == str(theirs.get(attr))
    texts = box_texts(xkeras.utils.model_to_dot(build(xkeras), **flags))
    assert texts[1] == ["hidden", "(Dense)", "Activation:", "relu", "Input", "shape:", "(None,", "784)",
                        "Output", "shape:", "(None,", "30)", "Output", "dtype:", "float32", "Trainable"]
    assert texts[2][-1] == "Non-trainable"


def test_plot_model_writes_png_and_returns_image(tmp_path):
    from IPython import display
    model = build(xkeras)
    path = tmp_path / "model.png"
    image = xkeras.utils.plot_model(model, to_file=path, dpi=50)
    assert isinstance(image, display.Image)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and image.data == data
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert height > width > 50  # four boxes stacked top to bottom
    # Keras 3's plot_model shows class names only by default (model_to_dot: with names)
    assert "hidden" not in mv.model_to_dot(model, show_layer_names=False).to_string()
    xkeras.utils.plot_model(model, to_file=tmp_path / "wide.png", rankdir="LR", dpi=50)
    data = (tmp_path / "wide.png").read_bytes()
    assert int.from_bytes(data[16:20], "big") > int.from_bytes(data[20:24], "big")
    svg = xkeras.utils.plot_model(model, to_file=str(tmp_path / "model.svg"))
    assert isinstance(svg, display.SVG) and "<svg" in (tmp_path / "model.svg").read_text()
    assert xkeras.utils.plot_model(model, to_file=str(tmp_path / "model.pdf")) is None
    assert (tmp_path / "model.pdf").read_bytes()[:4] == b"%PDF"


def test_nested_model_expanded_as_cluster():
    dense = xkeras.layers.Dense
    inner = xkeras.Sequential([xkeras.Input((8,)), dense(4, name="a"), dense(3, name="b")], name="inner")
    model = xkeras.Sequential([xkeras.Input((8,)), inner, dense(2, name="c")])
    flat = mv.model_to_dot(model)
    assert len(box_texts(flat)) == 2 and len(flat.get_edges()) == 1
    nested = mv.model_to_dot(model, expand_nested=True)
    (cluster,) = nested.get_subgraphs()
    assert cluster.get("label") == "inner" and len(cluster.get_nodes()) == 2
    assert len(box_texts(nested)) == 1 and len(nested.get_edges()) + len(cluster.get_edges()) == 2
    names = {n.get_name(): box_texts_of(n) for n in nested.get_nodes() + cluster.get_nodes() if n.get("label")}
    edges = [(names[e.get_source()], names[e.get_destination()]) for e in nested.get_edges() + cluster.get_edges()]
    assert sorted(edges) == [("a", "b"), ("b", "c")]


def box_texts_of(node):
    return re.sub(r"<[^>]+>", " ", node.get("label")[1:-1]).split()[0]


def test_missing_pydot_or_graphviz(tmp_path, monkeypatch, capsys):
    model = build(xkeras)
    monkeypatch.setitem(sys.modules, "pydot", None)  # `import pydot` raises ImportError
    with pytest.raises(ImportError, match=r"install pydot \(`pip install pydot`, or `pip install xkeras\[plot\]`\)"):
        xkeras.utils.plot_model(model, to_file=str(tmp_path / "m.png"))
    with pytest.raises(ImportError, match="pip install pydot"):
        xkeras.utils.model_to_dot(model)
    # inside IPython, as Keras: the message is printed and the notebook goes on
    import IPython
    with monkeypatch.context() as m:
        m.setattr(IPython, "get_ipython", lambda: object())
        assert xkeras.utils.plot_model(model, to_file=str(tmp_path / "m.png")) is None
    assert "You must install pydot" in capsys.readouterr().out
    monkeypatch.delitem(sys.modules, "pydot")
    monkeypatch.setenv("PATH", str(tmp_path))  # pydot is there, Graphviz's `dot` is not
    with pytest.raises(ImportError, match="You must install graphviz"):
        xkeras.utils.plot_model(model, to_file=str(tmp_path / "m.png"))
    assert not (tmp_path / "m.png").exists()


def test_errors():
    with pytest.raises(ValueError, match="not yet been built"):
        xkeras.utils.plot_model(xkeras.Sequential([xkeras.layers.Dense(2)]))
    model = build(xkeras)
    with pytest.raises(ValueError, match="`layer_range` is no longer supported"):
        xkeras.utils.plot_model(model, layer_range=["flatten", "out"])
    with pytest.raises(ValueError, match="Unrecognized keyword arguments"):
        xkeras.utils.model_to_dot(model, colour=True)
    model(np.zeros((1, 28, 28), np.float32))  # still plots after use
    assert len(box_texts(xkeras.utils.model_to_dot(model))) == 4


def test_shown_inline_in_jupyter(tmp_path, monkeypatch):
    import base64

    from test_summary import run_notebook_cell  # a one-cell notebook in a fresh kernel
    outputs = run_notebook_cell(
        "import xkeras as keras\n"
        "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])\n"
        "keras.utils.plot_model(model, dpi=40)", tmp_path, monkeypatch)
    (out,) = outputs
    assert out.output_type == "execute_result"
    png = base64.b64decode(out.data["image/png"])
    assert png == (tmp_path / "model.png").read_bytes()  # written to the notebook's directory
