"""No heap allocation per step once warm: an allocator hook (benchmarks/alloc_probe.c, LD_PRELOAD) counts
malloc/calloc/realloc/memalign calls made inside the native part of each fit/evaluate/predict step.

xkeras's own code must allocate nothing. What the GEMM library allocates inside its calls is counted apart
and printed (oneDNN's sgemm mallocs a packing buffer per call; OpenBLAS does for some shapes): it is not
ours to change, and benchmarks/README.md reports it."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent("""
    import ctypes, json
    import numpy as np
    import xkeras as keras

    lib = ctypes.CDLL(None)  # the preloaded probe's symbols are global
    for f in (lib.xkeras_alloc_probe_own, lib.xkeras_alloc_probe_engine_allocations, lib.xkeras_alloc_probe_windows):
        f.restype = ctypes.c_long
    counts = lambda: (lib.xkeras_alloc_probe_own(), lib.xkeras_alloc_probe_engine_allocations(),
                      lib.xkeras_alloc_probe_windows())

    class PerEpoch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = [counts()]
        def on_epoch_end(self, epoch, logs=None):
            self.seen.append(counts())

    def layers(kind):
        L = keras.layers
        if kind == "bn":
            return [L.Dense(32, use_bias=False), L.BatchNormalization(), L.Activation("elu"), L.Dense(5, activation="softmax")]
        if kind == "dropout":
            return [L.Dense(32, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-3)), L.Dropout(0.3),
                    L.Dense(5, activation="softmax")]
        return [L.Dense(32, activation="relu"), L.Dense(16, activation="selu"), L.Dense(5, activation="softmax")]

    cases = {"sgd": ("plain", keras.optimizers.SGD(0.01)),
             "momentum_clipnorm": ("plain", keras.optimizers.SGD(0.01, momentum=0.9, clipnorm=1.0)),
             "adam": ("dropout", keras.optimizers.Adam()),
             "nadam_bn": ("bn", keras.optimizers.Nadam())}
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 20)).astype(np.float32)
    y = rng.integers(0, 5, 1000)
    out = {}
    for name, (kind, opt) in cases.items():
        model = keras.Sequential([keras.Input((20,))] + layers(kind))
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        cb = PerEpoch()
        model.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[cb])  # 1000 = 31 * 32 + 8: two programs
        (a1, e1, w1), (a3, e3, w3) = cb.seen[1], cb.seen[3]
        out[name] = {"allocations": a3 - a1, "engine": e3 - e1, "steps": w3 - w1}
        model.predict(x, batch_size=32, verbose=0)
        a, e, w = counts()
        model.predict(x, batch_size=32, verbose=0)
        model.evaluate(x, y, batch_size=32, verbose=0)
        a2, e2, w2 = counts()
        out[name + "_predict_evaluate"] = {"allocations": a2 - a, "engine": e2 - e, "steps": w2 - w}
    print(json.dumps(out))
""")


def test_no_allocation_per_step_once_warm(tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler to build the allocation probe (install gcc)")
    probe = tmp_path / "alloc_probe.so"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(probe), os.path.join(ROOT, "benchmarks", "alloc_probe.c")],
                   check=True)
    env = {**os.environ, "LD_PRELOAD": str(probe), "OPENBLAS_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    counts = json.loads(r.stdout.strip().splitlines()[-1])
    print("heap allocations in warm steps (xkeras / inside the GEMM library):",
          {name: (c["allocations"], c["engine"], c["steps"]) for name, c in counts.items()})
    for name, c in counts.items():
        assert c["steps"] > 60, (name, c)  # the probe really bracketed the steps
        assert c["allocations"] == 0, f"{name}: {c['allocations']} heap allocations in {c['steps']} warm steps"
