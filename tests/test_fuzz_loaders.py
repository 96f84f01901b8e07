"""Fuzzing the model loaders (.keras, legacy .h5, .weights.h5) with mutated valid files.

A seeded mutator damages a valid file in one of several ways: raw bytes (bit flips, overwrites, truncation,
deleted/duplicated/inserted chunks), or, for the `.keras` zip, a re-zipped archive whose config.json or
inner weights file was damaged (the zip's CRC would otherwise reject nearly every byte change), or, for the
legacy `.h5`, a `model_config` attribute whose JSON was mutated structurally (values replaced by other types,
huge or negative numbers, keys deleted). Each case must end in a Python exception or a model that loads; a
model that loads must also predict. A crash, an abort or a hang is a failure.

The cases run in a child process (a segfault must not take pytest down with it), under an address-space
limit (a config asking for a huge layer must fail with MemoryError, not swap), with a per-case watchdog.
The suite runs a few hundred cases; a nightly-style run takes more:

    XKERAS_FUZZ_CASES=10000 python3 -m pytest tests/test_fuzz_loaders.py -q -s
    python3 tests/test_fuzz_loaders.py 10000 [seed]      # the same, without pytest

Found so far: a config with Input((0,)) crashed the process (SIGFPE in Dense/matmul; fixed). Known and not
fixable here: a few damaged legacy `.h5` files (e.g. seed 3, case 7009) make HDF5 1.14.6 loop forever in
H5HG__cache_heap_deserialize while h5py reads a variable-length string attribute; real Keras hangs on the
same files. The watchdog reports such a case with its traceback.
"""
import collections
import copy
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np

CASES = int(os.environ.get("XKERAS_FUZZ_CASES", "300"))
SEED = int(os.environ.get("XKERAS_FUZZ_SEED", "20240610"))
CASE_TIMEOUT = 20  # seconds; a single load + predict takes milliseconds
INTERESTING = [0, 1, -1, 2 ** 31 - 1, -2 ** 31, 2 ** 62, 1e308, -1e-300, float("nan"), float("inf"), "",
               "relu", "x" * 300, None, True, [], {}, [1, 2], {"class_name": "Dense"}, 3.5]


# ---- the valid files -------------------------------------------------------------------------------

def make_valid_files(directory):
    """A small trained model (Dense, BatchNormalization, Dropout, Adam state) saved in the three formats."""
    import xkeras as keras
    keras.utils.set_random_seed(0)
    L = keras.layers
    model = keras.Sequential([keras.Input((6,)), L.Dense(5, activation="relu"), L.BatchNormalization(),
                              L.Dropout(0.2), L.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    model.fit(rng.random((16, 6)), rng.integers(0, 3, 16), epochs=1, verbose=0)
    paths = {"keras": os.path.join(directory, "m.keras"), "h5": os.path.join(directory, "m.h5"),
             "weights": os.path.join(directory, "m.weights.h5")}
    model.save(paths["keras"])
    model.save(paths["h5"])
    model.save_weights(paths["weights"])
    return model, paths


# ---- the mutator -----------------------------------------------------------------------------------

def mutate_bytes(data, rng):
    data = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 4, 16])):
        if not data:
            break
        op = rng.randrange(6)
        i = rng.randrange(len(data))
        if op == 0:
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[i] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)])
        elif op == 2:
            del data[i:]
        elif op == 3:
            del data[i:i + rng.randrange(1, 64)]
        elif op == 4:
            j = rng.randrange(len(data))
            data[i:i] = data[j:j + rng.randrange(1, 64)]
        else:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    return bytes(data)


def _nodes(tree, out):
    """Every (container, key) position in a JSON tree."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for k, v in items:
        out.append((tree, k))
        _nodes(v, out)
    return out


def mutate_json(tree, rng):
    tree = copy.deepcopy(tree)
    for _ in range(rng.choice([1, 1, 2, 3])):
        nodes = _nodes(tree, [])
        if not nodes:
            break
        container, key = rng.choice(nodes)
        op = rng.randrange(4)
        if op == 0 and isinstance(container, dict):
            del container[key]
        elif op == 1:
            other_container, other_key = rng.choice(nodes)
            container[key] = copy.deepcopy(other_container[other_key])
        else:
            container[key] = copy.deepcopy(rng.choice(INTERESTING))
    return tree


def _rezip(data, replace):
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, replace.get(name, src.read(name)))
    return out.getvalue()


def mutated_case(kind, original, rng, workdir):
    """(path to load, how it was damaged) for one case."""
    how = "bytes"
    data = original
    if kind == "keras" and rng.random() < 0.6:
        with zipfile.ZipFile(io.BytesIO(original)) as zf:
            config, weights = zf.read("config.json"), zf.read("model.weights.h5")
        if rng.random() < 0.5:
            how = "config.json"
            text = (json.dumps(mutate_json(json.loads(config), rng)).encode() if rng.random() < 0.7
                    else mutate_bytes(config, rng))
            data = _rezip(original, {"config.json": text})
        else:
            how = "model.weights.h5"
            data = _rezip(original, {"model.weights.h5": mutate_bytes(weights, rng)})
    elif kind == "h5" and rng.random() < 0.4:
        how = "model_config"
        data = _mutated_h5_config(original, rng, workdir)
    else:
        data = mutate_bytes(original, rng)
    suffix = {"keras": ".keras", "h5": ".h5", "weights": ".weights.h5"}[kind]
    path = os.path.join(workdir, "case" + suffix)
    with open(path, "wb") as f:
        f.write(data)
    return path, how


def _mutated_h5_config(original, rng, workdir):
    import h5py
    path = os.path.join(workdir, "edit.h5")
    with open(path, "wb") as f:
        f.write(original)
    with h5py.File(path, "r+") as f:
        name = rng.choice(["model_config", "model_config", "training_config"])
        tree = json.loads(f.attrs[name])
        f.attrs[name] = json.dumps(mutate_json(tree, rng)).encode()
    with open(path, "rb") as f:
        return f.read()


# ---- the run (in a child process) ------------------------------------------------------------------

def run(cases, seed):
    """Runs `cases` cases; prints the outcomes ({"<kind>: <exception type or 'loaded'>": count}) as JSON."""
    import faulthandler
    import resource
    import warnings
    import logging
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):  # (ASan reserves terabytes of address space)
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))  # huge layers fail fast with MemoryError
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    import xkeras as keras
    rng = random.Random(seed)
    outcomes = collections.Counter()
    with tempfile.TemporaryDirectory() as workdir:
        template, paths = make_valid_files(workdir)
        originals = {k: open(p, "rb").read() for k, p in paths.items()}
        x = np.random.default_rng(1).random((4, 6)).astype(np.float32)
        start = time.perf_counter()
        for case in range(cases):
            kind = ("keras", "h5", "weights")[case % 3]
            path, how = mutated_case(kind, originals[kind], rng, workdir)
            faulthandler.dump_traceback_later(CASE_TIMEOUT, exit=True)
            sys.stderr.write(f"\rcase {case} ({kind}, {how})   ")
            try:
                if kind == "weights":
                    model = keras.models.clone_model(template)
                    model.load_weights(path)
                else:
                    model = keras.models.load_model(path)
                model.predict(x, verbose=0)
                outcomes[f"{kind}: loaded"] += 1
            except Exception as e:  # a Python exception (MemoryError included) is the expected outcome
                outcomes[f"{kind}: {type(e).__name__}"] += 1
            finally:
                faulthandler.cancel_dump_traceback_later()
        elapsed = time.perf_counter() - start
    sys.stderr.write(f"\n{cases} cases in {elapsed:.1f} s\n")
    print(json.dumps(dict(sorted(outcomes.items()))))


def test_loaders_raise_only_python_exceptions_on_damaged_files():
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), str(CASES), str(SEED)],
                          capture_output=True, text=True, timeout=CASE_TIMEOUT * 3 + CASES * 2)
    assert proc.returncode == 0, (f"the fuzz run ended with exit code {proc.returncode} (negative: killed by "
                                  f"signal {-proc.returncode}); the last case and any traceback:\n"
                                  f"{proc.stderr[-3000:]}")
    outcomes = json.loads(proc.stdout.splitlines()[-1])
    print(outcomes, proc.stderr.splitlines()[-1])
    assert sum(outcomes.values()) == CASES
    for kind in ("keras", "h5", "weights"):  # the mutator damages every format, and not every damage is fatal
        raised = sum(n for k, n in outcomes.items() if k.startswith(kind) and not k.endswith("loaded"))
        assert raised > CASES / 12 and outcomes.get(f"{kind}: loaded", 0) > 0, outcomes


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else CASES, int(sys.argv[2]) if len(sys.argv) > 2 else SEED)
