"""xkeras vs Keras 3 (TensorFlow) vs PyTorch on the course's workloads, in one run.

    python3 benchmarks/run.py                    # all workloads, all frameworks
    python3 benchmarks/run.py --workloads mlp32 --epochs 3

Every framework runs in its own subprocess (clean thread settings, its own peak RSS) on the same data,
the same initial weights (drawn here with NumPy) and the same batch order (no shuffling). Thread counts
are pinned to the same number for all (default 1). The table is printed twice when OPENBLAS_CORETYPE is
set: with the environment as it is and with the variable removed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

WORKLOADS = {
    # name: (hidden sizes, input size, batch, optimizer, batch norm, samples)
    "mlp32": ([300, 100], 784, 32, "sgd", False, 55000),
    "mlp128": ([300, 100], 784, 128, "sgd", False, 55000),
    "deep_bn32": ([100] * 20, 784, 32, "nadam", True, 55000),
    "cifar_deep32": ([100] * 20, 3072, 32, "nadam", True, 10000),
}
PREDICT_ROWS, PREDICT_BATCH = 10000, 32  # predict and evaluate: Keras' default batch size


def layer_sizes(name):
    hidden, n_in, *_ = WORKLOADS[name]
    return [n_in] + hidden + [10]


def step_gemms(name, batch):
    """(trans_a, trans_b, m, n, k) of the matrix products of one training step."""
    sizes = layer_sizes(name)
    out = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        out.append((False, False, batch, b, a))      # forward
        out.append((True, False, a, b, batch))       # weight gradient
        if i > 0:
            out.append((False, True, batch, a, b))   # input gradient (not for the input layer)
    return out


def step_flops(name, batch):
    return sum(2 * m * n * k for _, _, m, n, k in step_gemms(name, batch))


def make_data(name, seed=0, samples=None):
    n_in, samples = WORKLOADS[name][1], min(samples or WORKLOADS[name][5], WORKLOADS[name][5])
    if n_in == 784:
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
        from xkeras.datasets import fashion_mnist
        (x, y), (xt, yt) = fashion_mnist.load_data()
        x = (x[:samples].reshape(samples, -1) / 255.0).astype(np.float32)
        return x, y[:samples].astype(np.int64), (xt[:PREDICT_ROWS].reshape(PREDICT_ROWS, -1) / 255.0).astype(np.float32), yt[:PREDICT_ROWS].astype(np.int64)
    rng = np.random.default_rng(seed)
    x = rng.random((samples, n_in), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    return x, y, x[:PREDICT_ROWS], y[:PREDICT_ROWS]


def make_weights(name, seed=0):
    rng = np.random.default_rng(seed)
    sizes = layer_sizes(name)
    ws = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (a + b))
        ws.append((rng.uniform(-limit, limit, (a, b)).astype(np.float32), np.zeros(b, np.float32)))
    return ws


# ---- workers: one framework each, in a fresh process -------------------------------------------

def worker(framework, name, epochs, threads, data_file):
    d = np.load(data_file)
    x, y, xt, yt = d["x"], d["y"], d["xt"], d["yt"]
    weights = [(d[f"w{i}"], d[f"b{i}"]) for i in range(len(layer_sizes(name)) - 1)]
    batch, opt, bn = WORKLOADS[name][2], WORKLOADS[name][3], WORKLOADS[name][4]
    run = {"xkeras": run_keras_like, "xkeras-openblas": run_keras_like, "keras": run_keras_like, "torch": run_torch}[framework]
    result = run(framework, name, x, y, xt, yt, weights, batch, opt, bn, epochs, threads)
    import resource
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def median_time(fn, runs=3):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def run_keras_like(framework, name, x, y, xt, yt, weights, batch, opt, bn, epochs, threads):
    if framework.startswith("xkeras"):
        import xkeras as keras
        keras._core.set_blas_threads(threads)
        if framework == "xkeras-openblas":
            keras._core.set_gemm_engine("openblas")
        engine = keras._core.gemm_engine()
        info = {"gemm_engine": f"OpenBLAS ({keras._core.blas_corename()})" if engine == "openblas" else "oneDNN"}
    else:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        import keras
        info = {"gemm_engine": "TensorFlow (Eigen/oneDNN)"}
    layers = [keras.Input((x.shape[1],))]
    for w, _ in weights[:-1]:
        layers.append(keras.layers.Dense(w.shape[1], activation="relu"))
        if bn:
            layers.append(keras.layers.BatchNormalization())
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    for layer, (w, b) in zip(dense, weights):
        layer.set_weights([w, b])
    optimizer = keras.optimizers.SGD(learning_rate=0.01) if opt == "sgd" else keras.optimizers.Nadam()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    hist = model.fit(x, y, batch_size=batch, epochs=epochs + 1, shuffle=False, verbose=0, callbacks=[Timer()])
    model.predict(xt[:64], verbose=0)
    predict_s = median_time(lambda: model.predict(xt, batch_size=PREDICT_BATCH, verbose=0))
    evaluate_s = median_time(lambda: model.evaluate(xt, yt, batch_size=PREDICT_BATCH, verbose=0))
    return {**info, "epoch_s": float(np.median(times[1:])), "predict_s": predict_s, "evaluate_s": evaluate_s,
            "loss": float(hist.history["loss"][-1]), "accuracy": float(hist.history["accuracy"][-1])}


def run_torch(framework, name, x, y, xt, yt, weights, batch, opt, bn, epochs, threads):
    import torch
    torch.set_num_threads(threads)
    mods = []
    for w, b in weights:
        lin = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if len(mods) < 2 * len(weights) - 1 and w.shape[1] != 10:
            mods.append(torch.nn.ReLU())
            if bn:
                mods.append(torch.nn.BatchNorm1d(w.shape[1], eps=1e-3, momentum=0.01))
    model = torch.nn.Sequential(*mods)
    optimizer = (torch.optim.SGD(model.parameters(), lr=0.01) if opt == "sgd"
                 else torch.optim.NAdam(model.parameters(), lr=0.001, eps=1e-7))
    loss_fn = torch.nn.CrossEntropyLoss()
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    times = []
    for _ in range(epochs + 1):
        t = time.perf_counter()
        total = correct = 0.0
        for i in range(0, len(X), batch):
            xb, yb = X[i:i + batch], Y[i:i + batch]
            optimizer.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            correct += (out.argmax(1) == yb).sum().item()
        times.append(time.perf_counter() - t)
    model.eval()
    with torch.no_grad():
        XT, YT, b = torch.from_numpy(xt), torch.from_numpy(yt), PREDICT_BATCH
        predict_s = median_time(lambda: torch.cat([torch.softmax(model(XT[i:i + b]), 1) for i in range(0, len(XT), b)]))
        evaluate_s = median_time(lambda: [loss_fn(model(XT[i:i + b]), YT[i:i + b]).item() for i in range(0, len(XT), b)])
    return {"gemm_engine": "PyTorch CPU", "epoch_s": float(np.median(times[1:])), "predict_s": predict_s,
            "evaluate_s": evaluate_s, "loss": total / len(X), "accuracy": correct / len(X)}


# ---- the parent: run everything and print the table --------------------------------------------

def gemm_floor(name, batch, steps, engine, forward_only=False, threads=1):
    """Seconds per epoch in the step's GEMMs alone, in `engine`, buffers shared as in the real step
    (`forward_only`: the forward products, the floor of predict)."""
    import xkeras
    xkeras._core.set_blas_threads(threads)  # as the frameworks get
    xkeras._core.set_gemm_engine(engine)
    fused = WORKLOADS[name][3] == "sgd"  # plain SGD adds the update into W inside the dW GEMM
    return xkeras._core.time_dense_step(layer_sizes(name), batch, fused, 300, forward_only) * steps


def gemm_floors(name, batch, steps, engine, threads):
    """(training epoch floor, predict-10k floor at batch 32), printed for the parent."""
    print(gemm_floor(name, batch, steps, engine, threads=threads),
          gemm_floor(name, PREDICT_BATCH, -(-PREDICT_ROWS // PREDICT_BATCH), engine, True, threads))


def machine():
    """The CPU model, and one core's FP32 peak measured with independent FMA chains (xkeras._core)."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import xkeras
    return model, xkeras._core.fma_peak_gflops(20)  # the best of 20 short runs: the VM's clock varies


FRAMEWORK_ENGINE = {"xkeras": "onednn", "xkeras-openblas": "openblas"}


def print_targets(results, peak):
    """The issue's targets, each with the measured value and whether it is met."""
    def epoch(rows, fw):
        return rows.get(fw, {}).get("epoch_s")
    lines = []
    if "mlp32" in results:
        rows, floors, flops = results["mlp32"]
        x = epoch(rows, "xkeras")
        if x:
            floor = floors.get("xkeras", (None, None))[0]
            at_floor = f" (the GEMM floor alone: {100 * flops / floor / 1e9 / peak:.0f} %)" if floor else ""
            lines.append(("mlp32 >= 65 % of one core's peak", f"{100 * flops / x / 1e9 / peak:.0f} %{at_floor}",
                          flops / x / 1e9 / peak >= 0.65))
            if floor:
                lines.append(("mlp32 within 1.15x of the GEMM floor", f"{x / floor:.2f}x", x / floor <= 1.15))
            for fw, want in (("torch", 2.0), ("keras", 4.0)):
                if epoch(rows, fw):
                    lines.append((f"mlp32 >= {want:g}x faster than {fw}", f"{epoch(rows, fw) / x:.2f}x", epoch(rows, fw) / x >= want))
    if "deep_bn32" in results:
        rows, _, _ = results["deep_bn32"]
        x = epoch(rows, "xkeras")
        for fw in ("torch", "keras"):
            if x and epoch(rows, fw):
                lines.append((f"deep_bn32 >= 3.5x faster than {fw}", f"{epoch(rows, fw) / x:.2f}x", epoch(rows, fw) / x >= 3.5))
    for name, (rows, floors, _) in results.items():
        x, t = rows.get("xkeras", {}), rows.get("torch", {})
        if "predict_s" in x and "predict_s" in t:
            floor = floors.get("xkeras", (None, None))[1]
            bound = f" (at most {t['predict_s'] / floor:.2f}x: forward GEMMs alone {floor * 1e3:.0f} ms)" if floor else ""
            lines.append((f"{name} predict >= 2x torch", f"{t['predict_s'] / x['predict_s']:.2f}x{bound}",
                          t["predict_s"] / x["predict_s"] >= 2))
        if "peak_rss_mb" in x and "peak_rss_mb" in t:
            lines.append((f"{name} peak RSS <= torch's", f"{x['peak_rss_mb']:.0f} vs {t['peak_rss_mb']:.0f} MB",
                          x["peak_rss_mb"] <= t["peak_rss_mb"]))
    if lines:
        print("\n| target | measured | met |\n|---|---|---|")
        for what, value, ok in lines:
            print(f"| {what} | {value} | {'yes' if ok else 'NO'} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", nargs="*", default=list(WORKLOADS))
    p.add_argument("--frameworks", nargs="*", default=["xkeras", "xkeras-openblas", "keras", "torch"],
                   help="xkeras uses its default GEMM engine (oneDNN when built with it), xkeras-openblas OpenBLAS")
    p.add_argument("--also-coretype", metavar="CORE",
                   help="when OPENBLAS_CORETYPE is unset, add a table with it set to CORE (e.g. Haswell)")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs (median); one more warms up")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--samples", type=int, help="train on fewer samples than the workload's (a quick check)")
    p.add_argument("--peak-gflops", type=float,
                   help="one core's FP32 peak (default: measured here with independent AVX-512/AVX2 FMA chains)")
    p.add_argument("--worker", nargs=4, metavar=("FRAMEWORK", "WORKLOAD", "EPOCHS", "DATA"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        fw, name, epochs, data = args.worker
        return worker(fw, name, int(epochs), args.threads, data)

    envs = [("environment as is", dict(os.environ))]
    if "OPENBLAS_CORETYPE" in os.environ:
        envs.append(("OPENBLAS_CORETYPE unset", {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}))
    elif args.also_coretype:
        envs.append((f"OPENBLAS_CORETYPE={args.also_coretype}", {**os.environ, "OPENBLAS_CORETYPE": args.also_coretype}))
    else:
        print("OPENBLAS_CORETYPE is unset here, so 'as is' and 'unset' are the same table "
              "(--also-coretype Haswell adds one with the variable set).")
    model, measured_peak = machine()
    peak = args.peak_gflops or measured_peak
    print(f"Machine: {model}; one core's FP32 peak: {peak:.0f} GFLOP/s "
          f"({'given' if args.peak_gflops else 'measured, 16 independent FMA chains on registers'}).")
    for label, env in envs:
        env = {**env, "OMP_NUM_THREADS": str(args.threads), "OPENBLAS_NUM_THREADS": str(args.threads),
               "MKL_NUM_THREADS": str(args.threads), "TF_CPP_MIN_LOG_LEVEL": "3"}
        core = subprocess.run([sys.executable, "-c", "import xkeras; print(xkeras._core.blas_corename())"],
                              env=env, capture_output=True, text=True).stdout.strip()
        print(f"\n## {label}: OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')}, OpenBLAS core in use: "
              f"{core}, threads per framework: {args.threads}\n")
        print("| workload | framework | epoch s | step µs | GFLOP/s | % core peak | vs xkeras | GEMM floor s | vs floor |"
              " predict 10k ms | evaluate 10k ms | peak RSS MB | loss | accuracy |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        results = {}
        for name in args.workloads:
            x, y, xt, yt = make_data(name, samples=args.samples)
            batch = WORKLOADS[name][2]
            steps = -(-len(x) // batch)
            with tempfile.NamedTemporaryFile(suffix=".npz", delete=False) as f:
                arrays = {"x": x, "y": y, "xt": xt, "yt": yt}
                for i, (w, b) in enumerate(make_weights(name)):
                    arrays[f"w{i}"], arrays[f"b{i}"] = w, b
                np.savez(f, **arrays)
            floors = {}
            for fw, engine in FRAMEWORK_ENGINE.items():
                if fw not in args.frameworks:
                    continue
                floor = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r});"
                                        f"from run import gemm_floors; gemm_floors({name!r}, {batch}, {steps}, {engine!r}, {args.threads})"],
                                       env=env, capture_output=True, text=True)
                floors[fw] = tuple(map(float, floor.stdout.split())) if floor.returncode == 0 else (float("nan"),) * 2
            rows = {}
            for fw in args.frameworks:
                r = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--worker", fw, name,
                                    str(args.epochs), f.name], env=env, capture_output=True, text=True)
                lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
                rows[fw] = json.loads(lines[-1]) if (r.returncode == 0 and lines) else {"error": r.stderr.strip().splitlines()[-1:] }
            os.unlink(f.name)
            base = rows.get("xkeras", {}).get("epoch_s")
            flops = step_flops(name, batch) * steps
            for fw, r in rows.items():
                if "error" in r:
                    print(f"| {name} | {fw} | failed: {' '.join(r['error'])[:80]} |" + " |" * 11)
                    continue
                e = r["epoch_s"]
                floor_s = floors.get(fw, (None,))[0]
                floor_cols = f"{floor_s:.3f} | {e / floor_s:.2f}x" if floor_s else " | "
                print(f"| {name} | {fw} | {e:.3f} | {e / steps * 1e6:.0f} | {flops / e / 1e9:.0f} | "
                      f"{100 * flops / e / 1e9 / peak:.0f} % | {e / base:.2f}x | {floor_cols} | "
                      f"{r['predict_s'] * 1e3:.0f} | {r['evaluate_s'] * 1e3:.0f} | {r['peak_rss_mb']:.0f} | "
                      f"{r['loss']:.4f} | {r['accuracy']:.4f} |" if base else f"| {name} | {fw} | {e:.3f} |")
            results[name] = (rows, floors, flops)
        print_targets(results, peak)


if __name__ == "__main__":
    main()
