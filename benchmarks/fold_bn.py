"""Predict time of the course's deep BatchNormalization nets before and after
`keras.utils.fold_batch_normalization`, on the 10,000 Fashion-MNIST test images.

    python3 benchmarks/fold_bn.py

Two 784-[100]x20-10 nets: the chapter exercise's (Flatten, BN, 20 x [Dense(100), BN, swish], softmax;
every BN folds, the first one forward) and benchmarks/run.py's deep_bn (20 x [Dense(100, relu), BN],
softmax; every BN folds forward). Each is trained for one short epoch so its BN statistics are real.
Predict time is the median of 5 runs (batch 32, one OpenBLAS thread) after a warm-up.
"""
import time

import numpy as np

import xkeras as keras
from xkeras.layers import Activation, BatchNormalization, Dense, Flatten, Input


def exercise_net():
    model = keras.Sequential([Input((28, 28)), Flatten(), BatchNormalization()])
    for _ in range(20):
        model.add(Dense(100, kernel_initializer="he_normal"))
        model.add(BatchNormalization())
        model.add(Activation("swish"))
    model.add(Dense(10, activation="softmax"))
    return model


def run_py_net():
    model = keras.Sequential([Input((28, 28)), Flatten()])
    for _ in range(20):
        model.add(Dense(100, activation="relu"))
        model.add(BatchNormalization())
    model.add(Dense(10, activation="softmax"))
    return model


def predict_ms(model, x, repeats=5):
    model.predict(x[:64], verbose=0)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.predict(x, batch_size=32, verbose=0)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def main():
    keras.utils.set_random_seed(42)
    try:
        (x_train, y_train), (x_test, _) = keras.datasets.fashion_mnist.load_data()
    except Exception as e:  # no dataset here: the same shapes, random pixels
        print(f"Fashion-MNIST not available ({e}); using random 28x28 images")
        rng = np.random.default_rng(0)
        x_train, y_train = rng.integers(0, 256, (5000, 28, 28)), rng.integers(0, 10, 5000)
        x_test = rng.integers(0, 256, (10000, 28, 28))
    x_train, x_test = x_train[:5000] / 255.0, (x_test[:10000] / 255.0).astype(np.float32)
    print(f"{'net':<10} {'layers':>13} {'before ms':>10} {'after ms':>9} {'speed-up':>9} {'max |diff|':>11}")
    for name, build in (("exercise", exercise_net), ("run.py", run_py_net)):
        model = build()
        model.compile(optimizer="nadam", loss="sparse_categorical_crossentropy")
        model.fit(x_train, y_train[:5000], epochs=1, batch_size=32, verbose=0)
        folded = keras.utils.fold_batch_normalization(model)
        before, after = predict_ms(model, x_test), predict_ms(folded, x_test)
        diff = np.abs(model.predict(x_test, verbose=0) - folded.predict(x_test, verbose=0)).max()
        print(f"{name:<10} {len(model.layers):>5} -> {len(folded.layers):<5} {before:>10.1f} {after:>9.1f} "
              f"{before / after:>8.2f}x {diff:>11.2e}")


if __name__ == "__main__":
    main()
