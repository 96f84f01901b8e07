"""model.summary() rendering, matching Keras 3 (rich table + footer).

The model side collects the rows and counts; this module only renders.
"""

import shutil

import rich.console
import rich.markup
import rich.table


def format_size(nbytes):
    """Readable size with 1024-based units: 1069440 -> '1.02 MB'."""
    size = float(nbytes)
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _number(x):
    # Keras' colour theme: None dims in colour 45, numbers in colour 34.
    return f"[color(45)]{x}[/]" if x is None else f"[color(34)]{x}[/]"


def _bold(x, color=None):
    if color:
        return f"[bold][color({color})]{x}[/][/]"
    return f"[bold]{x}[/]"


def _is_shape(obj):
    return isinstance(obj, (tuple, list)) and all(
        d is None or isinstance(d, int) for d in obj
    )


def _shape_markup(shape):
    """A shape tuple, or a list/tuple of shapes, as rich markup."""
    if _is_shape(shape):
        return "(" + ", ".join(_number(d) for d in shape) + ")"
    if isinstance(shape, (list, tuple)):
        parts = [_shape_markup(s) for s in shape]
        if len(parts) == 1:
            return parts[0]
        # Keras prints str(list_of_strings) with the quotes removed.
        return str(type(shape)(parts)).replace("'", "")
    return str(shape)


def format_shape(shape):
    """Plain text of a shape: (None, 784) -> '(None, 784)'."""
    if _is_shape(shape):
        return "(" + ", ".join(str(d) for d in shape) + ")"
    return rich.markup.render(_shape_markup(shape)).plain


def _footer(console, label, count_and_bytes):
    count, nbytes = count_and_bytes
    console.print(
        _bold(f" {label}: ")
        + _number(f"{int(count):,}")
        + f" ({format_size(nbytes)})"
    )


def print_summary(
    model_name,
    rows,
    total,
    trainable,
    non_trainable,
    optimizer_params=None,
    line_length=None,
    positions=None,
    print_fn=None,
    show_trainable=False,
):
    """Print a Sequential-style model summary exactly as Keras 3 does.

    rows: `(name, class_name, output_shape, params[, trainable])` tuples.
      output_shape is a shape tuple (coloured like Keras), a list of shapes,
      or a ready string such as "?"; params is an int, or None for an
      unbuilt layer ("0 (unbuilt)"). The optional trainable entry is True,
      False or None (layer without weights -> "-"); needed for
      show_trainable.
    total, trainable, non_trainable, optimizer_params: `(count, nbytes)`;
      optimizer_params is None until the optimizer is built.
    print_fn: if given, called once with the whole rendered text.
    """
    line = 88
    positions = list(positions or [0.45, 0.80, 1.0])
    header = ["Layer (type)", "Output Shape", "Param #"]
    justify = ["left", "left", "right"]
    if show_trainable:
        line += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        justify.append("center")
    line = min(line, shutil.get_terminal_size().columns - 4)
    line_length = line_length or line

    columns, used = [], 0
    for name, just, pos in zip(header, justify, positions):
        width = int(pos * line_length) - used
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        used += width
        columns.append(rich.table.Column(name, justify=just, width=width))
    table = rich.table.Table(*columns, width=line_length, show_lines=True)

    for row in rows:
        name, cls_name, shape, params = row[:4]
        label = rich.markup.escape(str(name))
        label += f" ([color(33)]{rich.markup.escape(str(cls_name))}[/])"
        if params is None:
            count = f"{_number(0)} (unbuilt)"
        else:
            count = _number(f"{int(params):,}")
        cells = [label, _shape_markup(shape), count]
        if show_trainable:
            flag = row[4] if len(row) > 4 else None
            if flag is None:
                cells.append(_bold("-"))
            else:
                cells.append(_bold("Y", 34) if flag else _bold("N", 9))
        table.add_row(*cells)

    if print_fn:
        plain = dict(highlight=False, force_terminal=False, color_system=None)
        console = rich.console.Console(**plain)
        if console.is_jupyter:
            # Capture only: a Jupyter console would also display an empty HTML block (Keras does).
            console = rich.console.Console(
                **plain, force_jupyter=False, width=console.width
            )
        console.begin_capture()
    else:
        console = rich.console.Console(highlight=False)

    console.print(_bold(f'Model: "{rich.markup.escape(str(model_name))}"'))
    console.print(table)
    _footer(console, "Total params", total)
    _footer(console, "Trainable params", trainable)
    _footer(console, "Non-trainable params", non_trainable)
    if optimizer_params is not None:
        _footer(console, "Optimizer params", optimizer_params)

    if print_fn:
        print_fn(console.end_capture())
