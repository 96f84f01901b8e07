"""Atomic file writes: a temporary file in the target's directory, then os.replace, so an interrupted save
never leaves a half-written file where a complete one (or nothing) was before."""
import os
import uuid


def write_atomically(path, write):
    """Calls write(fileobj) on a fresh binary file and moves it over `path` only if write returned."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x+b") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
