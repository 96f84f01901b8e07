"""The engine's own contracts: traces replay correctly on new data, and native work releases the GIL."""
import time

import numpy as np
from gil_probe import ticks_while

import xkeras as keras
from xkeras import _core


def test_trace_replay_matches_fresh_computation():
    rng = np.random.default_rng(0)
    w = keras.Variable(rng.normal(size=(5, 3)).astype(np.float32))
    b = keras.Variable(rng.normal(size=(3,)).astype(np.float32))
    rec = _core.TraceRecorder()
    with rec:
        x = _core.constant(np.zeros((4, 5), np.float32))
        y = _core.sum(_core.tanh(_core.dense(x, w, b)))
    trace = rec.finish()
    assert trace.ops == ["dense", "tanh", "sum"]
    # Refill the placeholder through a Program-free path: replay after assigning new data.
    x_new = rng.normal(size=(4, 5)).astype(np.float32)
    _core.assign(x, x_new)
    trace.forward()
    expected = np.tanh(x_new @ w.numpy() + b.numpy()).sum()
    np.testing.assert_allclose(float(y), expected, rtol=1e-5)


def test_replayed_dropout_draws_a_new_mask_each_time():
    rec = _core.TraceRecorder()
    with rec:
        x = _core.constant(np.ones((64, 64), np.float32))
        y = _core.dropout(x, 0.5)
    trace = rec.finish()
    first = y.numpy().copy()
    trace.forward()
    assert not np.array_equal(first, y.numpy())
    assert set(np.unique(y.numpy())) <= {0.0, 2.0}


def test_fit_releases_the_gil():
    x = np.random.default_rng(1).normal(size=(20000, 64)).astype(np.float32)
    y = np.random.default_rng(2).integers(0, 10, size=20000)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(), loss="sparse_categorical_crossentropy")
    def fit_for_half_a_second():  # long enough to judge, however fast the machine
        start = time.perf_counter()
        while time.perf_counter() - start < 0.5:
            model.fit(x, y, epochs=1, batch_size=32, verbose=0)

    during, elapsed = ticks_while(fit_for_half_a_second)
    # A thread that could not run while fit holds the GIL would tick only at hook points.
    assert during > 0.3 * elapsed / 0.0012, (during, elapsed)
