"""Runs every notebooks/*.ipynb top to bottom, headless, in fast mode (XKERAS_NOTEBOOK_FAST=1).

The kernel is this interpreter (a kernelspec named python3 written to a temporary JUPYTER_PATH), so
the notebooks import the xkeras under test whatever kernels the machine has registered.
"""
import asyncio
import glob
import json
import os
import re
import sys
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))
FAST_BUDGET_S = 60  # the target is 30 s per notebook; twice that catches a notebook ignoring FAST
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _ids(paths):
    return [os.path.basename(p) for p in paths]


def _python3_kernelspec(directory):
    """A kernelspec 'python3' that starts ipykernel under sys.executable; returns its JUPYTER_PATH root."""
    spec_dir = os.path.join(directory, "kernels", "python3")
    os.makedirs(spec_dir)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (xkeras tests)", "language": "python"}
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump(spec, f)
    return directory


def _failed_cell(nb):
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return index, cell, out
    return None, None, None


def test_notebooks_exist():
    assert len(NOTEBOOKS) >= 4, f"expected the course notebooks in notebooks/. Received: {_ids(NOTEBOOKS)}"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Executes every notebook once, as many at a time as there are cores (each kernel is its own
    process): {path: (executed notebook, CellExecutionError or None, seconds)}."""
    root = tmp_path_factory.mktemp("notebooks")
    kernels = _python3_kernelspec(str(root / "jupyter"))

    async def run(path, slots):
        async with slots:
            nb = nbformat.read(path, as_version=4)
            workdir = root / os.path.basename(path).replace(".ipynb", "")
            workdir.mkdir()
            client = NotebookClient(nb, timeout=300, kernel_name="python3",
                                    resources={"metadata": {"path": str(workdir)}})
            start = time.perf_counter()
            try:
                await client.async_execute()
                error = None
            except CellExecutionError as e:
                error = e
            return nb, error, time.perf_counter() - start

    async def run_all():
        slots = asyncio.Semaphore(max(1, min(4, os.cpu_count() or 1)))
        return await asyncio.gather(*(run(path, slots) for path in NOTEBOOKS))

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", os.pathsep.join([kernels] + [p for p in [os.environ.get("JUPYTER_PATH")] if p]))
        mp.setenv("XKERAS_NOTEBOOK_FAST", "1")
        mp.setenv("MPLBACKEND", "Agg")
        return dict(zip(NOTEBOOKS, asyncio.run(run_all())))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_in_fast_mode(path, executed):
    nb, error, elapsed = executed[path]
    name = os.path.basename(path)
    if error is not None:
        index, cell, out = _failed_cell(nb)
        if cell is None:
            raise error
        trace = ANSI.sub("", "\n".join(out.get("traceback", [])))
        pytest.fail(f"{name}: code cell {index} raised {out['ename']}: {out['evalue']}\n"
                    f"--- cell source ---\n{cell.source}\n--- traceback ---\n{trace}", pytrace=False)
    print(f"{name}: {elapsed:.1f} s in fast mode")
    assert elapsed < FAST_BUDGET_S, f"{name} took {elapsed:.1f} s in fast mode (budget 30 s)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_stored_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{os.path.basename(path)}: code cell {index} has stored outputs or an execution count; "
                "clear them before saving")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_follows_conventions(path):
    """notebooks/README.md: the first code cell imports xkeras as keras, reads FAST and seeds."""
    nb = nbformat.read(path, as_version=4)
    first = next(c.source for c in nb.cells if c.cell_type == "code")
    for needed in ("import xkeras as keras", 'os.environ.get("XKERAS_NOTEBOOK_FAST") == "1"',
                   "keras.utils.set_random_seed(42)"):
        assert needed in first, f"{os.path.basename(path)}: first code cell lacks `{needed}`"
    assert nb.cells[0].cell_type == "markdown", f"{os.path.basename(path)}: should open with a markdown title"
