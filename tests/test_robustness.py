"""Ctrl-C during evaluate/predict, memory over repeated cycles, threads, and seeded determinism.

(Ctrl-C during fit is tested in test_model_api.py; the GIL during fit in test_engine.py.)
"""
import gc
import os
import signal
import threading
import time

import numpy as np
import pytest

import xkeras as keras
from xkeras import _core
from gil_probe import ticks_while

L = keras.layers


def wide_model():
    """~64 µs a sample: 60,000 samples keep evaluate/predict busy for seconds."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), L.Dense(1024, activation="relu"), L.Dense(1024, activation="relu"),
                              L.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def big_data():
    rng = np.random.default_rng(0)
    return rng.random((60000, 64), dtype=np.float32), rng.integers(0, 10, 60000)


# ---- Ctrl-C ---------------------------------------------------------------------------------------------

class _PredictBatches(keras.callbacks.Callback):  # makes predict run batch by batch from Python
    def on_predict_batch_end(self, batch, logs=None):
        pass


@pytest.mark.parametrize("call,mode", [("evaluate", "silent"), ("evaluate", "progress_bar"),
                                       ("predict", "silent"), ("predict", "progress_bar"),
                                       ("predict", "batch_callback")])
def test_ctrl_c_stops_evaluate_and_predict_quickly_and_model_stays_usable(big_data, call, mode):
    x, y = big_data
    model = wide_model()
    model.predict(x[:64], verbose=0)  # record the steps before timing
    model.evaluate(x[:64], y[:64], verbose=0)
    verbose = 1 if mode == "progress_bar" else 0
    callbacks = [_PredictBatches()] if mode == "batch_callback" else None
    run = {"evaluate": lambda: model.evaluate(x, y, batch_size=32, verbose=verbose, callbacks=callbacks),
           "predict": lambda: model.predict(x, batch_size=32, verbose=verbose, callbacks=callbacks)}[call]
    fired = {}

    def fire():
        fired["t"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, fire)
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            run()  # ~4 s uninterrupted
        raised = time.perf_counter()
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)
    assert "t" in fired, f"{call} ended before the signal was sent"
    assert raised - fired["t"] < 0.5, f"KeyboardInterrupt came {raised - fired['t']:.3f}s after SIGINT"
    p = model.predict(x[:100], verbose=0)  # usable: same numbers as a fresh run on the same weights
    fresh = wide_model()
    fresh.set_weights(model.get_weights())
    np.testing.assert_array_equal(p, fresh.predict(x[:100], verbose=0))
    assert np.isfinite(model.evaluate(x[:500], y[:500], verbose=0)[0])
    assert np.isfinite(model.fit(x[:256], y[:256], verbose=0).history["loss"][0])


# ---- memory -----------------------------------------------------------------------------------------------

def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_rss_stays_flat_over_50_build_compile_fit_predict_cycles():
    """A leaked model (weights, Adam slots, recorded steps: ~1.5 MB here) would add ~75 MB."""
    rng = np.random.default_rng(0)
    x, y = rng.random((512, 20), dtype=np.float32), rng.integers(0, 5, 512)

    def cycle():
        model = keras.Sequential([keras.Input((20,)), L.Dense(256, activation="relu"), L.BatchNormalization(),
                                  L.Dropout(0.2), L.Dense(256, activation="relu"), L.Dense(5, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=2, batch_size=32, validation_split=0.1, verbose=0)
        model.predict(x, verbose=0)
        model.evaluate(x, y, verbose=0)

    for _ in range(10):  # the allocator's and the caches' steady state
        cycle()
    gc.collect()
    before = _rss()
    for _ in range(50):
        cycle()
    gc.collect()
    grown = (_rss() - before) / 1e6
    print(f"RSS grew {grown:.2f} MB over 50 cycles")
    assert grown < 5, f"RSS grew {grown:.1f} MB over 50 cycles"


# ---- threads ----------------------------------------------------------------------------------------------

def _mlp(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((32,)), L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")])


def _in_threads(work, n):
    """Runs work(i) in n threads started together; returns the results and re-raises a thread's error."""
    results, errors = [None] * n, []
    barrier = threading.Barrier(n)

    def target(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_predict_from_4_threads_matches_serial():
    """One model, four threads, different inputs: replays share one recorded step, so without the model's
    replay lock a thread's batch overwrites another's (half the predictions came out wrong)."""
    model = _mlp(0)
    rng = np.random.default_rng(1)
    xs = [rng.random((4000, 32), dtype=np.float32) for _ in range(4)]
    serial = [model.predict(x, verbose=0) for x in xs]
    results = _in_threads(lambda i: [model.predict(xs[i], verbose=0) for _ in range(5)], 4)
    for i, outs in enumerate(results):
        for out in outs:
            np.testing.assert_array_equal(out, serial[i])


def test_different_models_predict_in_parallel_threads():
    models = [_mlp(s) for s in range(4)]
    x = np.random.default_rng(2).random((4000, 32), dtype=np.float32)
    serial = [m.predict(x, verbose=0) for m in models]
    for i, out in enumerate(_in_threads(lambda i: models[i].predict(x, verbose=0), 4)):
        np.testing.assert_array_equal(out, serial[i])


def test_predict_while_another_thread_trains_the_same_model():
    model = _mlp(3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(3)
    x, y = rng.random((2000, 32), dtype=np.float32), rng.integers(0, 10, 2000)

    def work(i):
        if i == 0:
            return model.fit(x, y, epochs=5, verbose=0).history["loss"]
        return [model.predict(x[:500], verbose=0) for _ in range(10)]

    losses, predictions = _in_threads(work, 2)
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    for p in predictions:
        assert p.shape == (500, 10) and np.all(np.isfinite(p))
        np.testing.assert_allclose(p.sum(axis=1), 1, atol=1e-5)


def test_a_callback_may_predict_during_fit():
    """The replay lock is re-entrant: a batch hook that calls predict on the training model works."""
    model = _mlp(4)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = np.random.default_rng(4).random((256, 32), dtype=np.float32), np.arange(256) % 10
    seen = []
    peek = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(model.predict(x[:4],
                                                                                                     verbose=0)))
    model.fit(x, y, batch_size=64, verbose=0, callbacks=[peek])
    assert len(seen) == 4 and not np.array_equal(seen[0], seen[-1])  # the weights moved between batches


def test_predict_releases_the_gil(big_data):
    x, _ = big_data
    model = wide_model()
    model.predict(x[:64], verbose=0)
    # Three passes: with oneDNN's GEMMs one pass over 10,000 rows takes under 0.2 s.
    during, elapsed = ticks_while(lambda: [model.predict(x[:10000], batch_size=32, verbose=0) for _ in range(3)])
    assert elapsed > 0.2, elapsed
    # A thread that could not run while predict holds the GIL would tick only at hook points (none here).
    assert during > 0.3 * elapsed / 0.0012, (during, elapsed)


# ---- determinism ----------------------------------------------------------------------------------------------

def _seeded_fit(x, y):
    keras.utils.set_random_seed(42)
    model = keras.Sequential([keras.Input((64,)), L.Dense(512, activation="relu"), L.BatchNormalization(),
                              L.Dropout(0.3), L.Dense(256, activation="relu"), L.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=128, validation_split=0.1, verbose=0)  # shuffled
    return model.get_weights(), history.history


@pytest.mark.parametrize("blas_threads", [1, 2])
def test_set_random_seed_gives_bit_identical_fits(blas_threads):
    x = np.random.default_rng(5).random((2000, 64), dtype=np.float32)
    y = np.arange(2000) % 10
    previous = _core.blas_threads()
    _core.set_blas_threads(blas_threads)
    try:
        (w1, h1), (w2, h2) = _seeded_fit(x, y), _seeded_fit(x, y)
    finally:
        _core.set_blas_threads(previous)
    assert h1 == h2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
