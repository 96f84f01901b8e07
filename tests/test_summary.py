"""xkeras summary rendering vs keras Model.summary(), same rows and counts."""

import math
import os

import numpy as np
import pytest

from xkeras.utils import summary as xs

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Keras 3.15.1 output at 80 columns (L = 76), captured with print_fn.
FASHION_MLP = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ flatten (Flatten)               │ (None, 784)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 300)            │       235,500 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 100)            │        30,100 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_2 (Dense)                 │ (None, 10)             │         1,010 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 266,610 (1.02 MB)
 Trainable params: 266,610 (1.02 MB)
 Non-trainable params: 0 (0.00 B)
"""
FASHION_ROWS = [
    ("flatten", "Flatten", (None, 784), 0),
    ("dense", "Dense", (None, 300), 235500),
    ("dense_1", "Dense", (None, 100), 30100),
    ("dense_2", "Dense", (None, 10), 1010),
]


@pytest.fixture
def cols80(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")


def render(*args, **kwargs):
    got = []
    xs.print_summary(*args, print_fn=got.append, **kwargs)
    assert len(got) == 1  # the whole table is one string
    return got[0]


def test_format_helpers():
    assert xs.format_size(0) == "0.00 B"
    assert xs.format_size(1023) == "1023.00 B"
    assert xs.format_size(1024) == "1.00 KB"
    assert xs.format_size(266610 * 4) == "1.02 MB"
    assert xs.format_size(3 * 1024**4) == "3.00 TB"
    assert xs.format_shape((None, 784)) == "(None, 784)"
    assert xs.format_shape((None, 28, 28, 1)) == "(None, 28, 28, 1)"
    assert xs.format_shape(()) == "()"
    assert xs.format_shape([(None, 3), (None, 5)]) == "[(None, 3), (None, 5)]"


def test_known_text_without_keras(cols80):
    b = 266610 * 4
    text = render("sequential", FASHION_ROWS, (266610, b), (266610, b), (0, 0))
    assert text == FASHION_MLP
    assert all(len(line) == 76 for line in text.splitlines()[1:12])


def test_adam_footer_and_unbuilt_without_keras(cols80):
    text = render(
        "m", [("dense_9", "Dense", "?", None)],
        (153184, 612736), (51018, 204072), (128, 512),
        optimizer_params=(102038, 408152),
    )
    lines = text.splitlines()
    assert lines[4] == "│ dense_9 (Dense)                 │ ?                      │   0 (unbuilt) │"
    assert lines[-4:] == [
        " Total params: 153,184 (598.38 KB)",
        " Trainable params: 51,018 (199.29 KB)",
        " Non-trainable params: 128 (512.00 B)",
        " Optimizer params: 102,038 (398.59 KB)",
    ]


# ---------------------------------------------------------------- vs Keras


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip(
        "keras", reason="real Keras is the reference for these comparisons"
    )


def _nbytes(variables):
    unique = {id(v): v for v in variables}.values()
    return sum(
        math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in unique
    )


def rows_of(model, layers=None, trainable=False):
    rows = []
    for layer in layers if layers is not None else model.layers:
        if layer.built:
            try:
                shape = tuple(layer.output.shape)
            except (AttributeError, ValueError):
                shape = tuple(layer.compute_output_shape(
                    *layer._build_shapes_dict.values()))
            params = layer.count_params()
        else:
            shape, params = "?", None
        row = (layer.name, type(layer).__name__, shape, params)
        if trainable:
            row += (layer.trainable if layer.weights else None,)
        rows.append(row)
    return rows


def counts_of(model):
    def cb(vs):
        return (sum(math.prod(v.shape) for v in vs), _nbytes(vs))

    tr, nt = cb(model.trainable_weights), cb(model.non_trainable_weights)
    opt = None
    if model.compiled and model.optimizer and model.optimizer.built:
        opt = cb(model.optimizer.variables)
    total_n = tr[0] + nt[0] + (opt[0] if opt else 0)
    total_b = tr[1] + nt[1] + (opt[1] if opt else 0)
    return dict(total=(total_n, total_b), trainable=tr, non_trainable=nt,
                optimizer_params=opt)


def compare(model, capsys, layers=None, **kwargs):
    got = []
    model.summary(print_fn=got.append, **kwargs)
    ref = got[0]
    trainable = kwargs.get("show_trainable", False)
    ours = render(model.name, rows_of(model, layers, trainable),
                  **counts_of(model), **kwargs)
    assert ours == ref
    # Printed to (captured, non-terminal) stdout without print_fn.
    capsys.readouterr()
    model.summary(**kwargs)
    ref_out = capsys.readouterr().out
    xs.print_summary(model.name, rows_of(model, layers, trainable),
                     **counts_of(model), **kwargs)
    assert capsys.readouterr().out == ref_out
    return ours


def fashion_mlp(keras):
    keras.backend.clear_session()
    return keras.Sequential([
        keras.Input((28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def test_sequential_mlp(keras, capsys, cols80):
    model = fashion_mlp(keras)
    assert compare(model, capsys) == FASHION_MLP


def test_line_length_positions_show_trainable(keras, capsys):
    model = fashion_mlp(keras)
    model.layers[1].trainable = False
    compare(model, capsys)  # whatever the real terminal width is
    compare(model, capsys, line_length=100)
    compare(model, capsys, line_length=60, positions=[0.5, 0.75, 1.0])
    compare(model, capsys, show_trainable=True)
    compare(model, capsys, show_trainable=True, line_length=90)


def test_batchnorm_and_after_fit_with_adam(keras, capsys, cols80):
    keras.backend.clear_session()
    model = keras.Sequential([
        keras.Input((32,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ], name="bn_model")
    text = compare(model, capsys)
    assert " Non-trainable params: 128 (512.00 B)" in text
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(np.zeros((8, 32), "float32"), np.zeros(8), verbose=0)
    text = compare(model, capsys)
    assert text.splitlines()[-1].startswith(" Optimizer params: 5,782 (22.59 KB)")
    # 2 Adam slots x 2,890 trainable + iteration + learning_rate.


def test_unbuilt_and_long_names(keras, capsys, cols80):
    keras.backend.clear_session()
    model = keras.Sequential([
        keras.layers.Dense(4, name="a_very_long_layer_name_that_wraps_in_the_cell"),
        keras.layers.Dense(2, name="odd[bold]name"),
    ])
    text = compare(model, capsys)
    assert "0 (unbuilt)" in text and "odd[bold]name (Dense)" in text


def test_functional_linear_and_conv(keras, capsys, cols80):
    keras.backend.clear_session()
    inp = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(8, 3)(inp)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(10)(x)
    model = keras.Model(inp, out, name="cnn")
    text = compare(model, capsys, layers=model._operations)
    assert "input_layer (InputLayer)" in text and "(None, 13, 13, 8)" in text


def test_colour_terminal_output(keras, capsys, cols80, monkeypatch):
    # FORCE_COLOR makes rich treat captured stdout as a colour terminal.
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    model = fashion_mlp(keras)
    capsys.readouterr()
    model.summary(show_trainable=True)
    ref = capsys.readouterr().out
    xs.print_summary(model.name, rows_of(model, trainable=True),
                     **counts_of(model), show_trainable=True)
    ours = capsys.readouterr().out
    assert "\x1b[" in ref and ours == ref


# ---------------------------------------------------------------- in Jupyter

def run_notebook_cell(source, tmp_path, monkeypatch):
    """Executes a one-cell notebook in a fresh kernel of this interpreter; returns the cell's outputs."""
    import json
    import sys

    import nbformat
    from nbclient import NotebookClient
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps(
        {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "Python 3 (xkeras tests)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("COLUMNS", raising=False)  # as in a kernel started by a Jupyter server
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb.cells[0].outputs


def test_summary_in_jupyter_is_the_keras_table(tmp_path, monkeypatch):
    import html
    import re
    outputs = run_notebook_cell(
        "import xkeras as keras\n"
        "model = keras.Sequential([keras.Input(shape=[28, 28]), keras.layers.Flatten(),\n"
        "    keras.layers.Dense(300, activation='relu'), keras.layers.Dense(100, activation='relu'),\n"
        "    keras.layers.Dense(10, activation='softmax')])\n"
        "model.summary()\n"
        "model.summary(print_fn=print)", tmp_path, monkeypatch)
    # rich shows each part as HTML (what Jupyter renders) with a text/plain fallback, exactly as
    # Keras does in a kernel; both must read as the terminal table at Keras' 76 columns.
    shown = [o for o in outputs if o.output_type == "display_data"]
    assert len(shown) == 5 and all(o.data["text/plain"].strip() for o in shown)
    pages = "".join(o.data["text/html"] for o in shown)
    plain = "".join(o.data["text/plain"] for o in shown)
    assert "\x1b" not in pages and "&#" not in pages
    for text in (html.unescape(re.sub(r"<[^>]+>", "", pages)), re.sub(r"\x1b\[[0-9;]*m", "", plain)):
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines == FASHION_MLP.splitlines()
    assert "\x1b[38;5;34m266,610\x1b[0m" in plain  # coloured as in a terminal, as Keras
    # print_fn gets the plain table, and nothing else is displayed (Keras adds an empty HTML block)
    printed = [o for o in outputs if o.output_type == "stream"]
    assert len(outputs) == 6 and [o.text for o in printed] == [FASHION_MLP + "\n"]
