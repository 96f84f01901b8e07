"""The learning-rate finder (not in Keras): exponential rate growth over one pass, a (rate, loss) curve,
a suggestion in the descending part of the curve, and the model left exactly as it was."""
import numpy as np
import pytest

import xkeras


@pytest.fixture(scope="module")
def data():
    (x, y), _ = xkeras.datasets.fashion_mnist.load_data()
    return (x[:4000] / 255.0).astype(np.float32), y[:4000].astype(np.int64)


def lecture_mlp(optimizer):
    xkeras.backend.clear_session()
    xkeras.utils.set_random_seed(42)
    m = xkeras.Sequential([xkeras.layers.Flatten(input_shape=[28, 28]),
                           xkeras.layers.Dense(300, activation="relu"),
                           xkeras.layers.Dense(100, activation="relu"),
                           xkeras.layers.Dense(10, activation="softmax")])
    m.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return m


def test_curve_and_suggestion_on_the_lecture_mlp(data):
    x, y = data
    m = lecture_mlp(xkeras.optimizers.SGD())
    rates, losses, suggestion = m.find_learning_rate(x, y, min_rate=1e-4, max_rate=10.0, batch_size=32)
    steps = int(np.ceil(len(x) / 32))
    assert len(rates) == len(losses) <= steps
    assert rates[0] == pytest.approx(1e-4)
    assert np.all(np.diff(rates) > 0)  # monotone in the rate, geometrically
    np.testing.assert_allclose(rates[1:] / rates[:-1], (10.0 / 1e-4) ** (1 / (steps - 1)), rtol=1e-9)
    smoothed = xkeras.utils.lr_finder._smooth(losses, 0.98)
    i = int(np.searchsorted(rates, suggestion))
    best = int(np.argmin(smoothed))
    # the suggestion lies in the descending part: below the minimum, where the smoothed loss is falling
    assert rates[0] < suggestion < rates[best]
    assert smoothed[i] < smoothed[0] - 0.05
    assert smoothed[min(i + 10, best)] < smoothed[i]
    # and it trains: one epoch at the suggested rate beats one at the smallest rate tried
    finals = []
    for lr in (1e-4, suggestion):
        m2 = lecture_mlp(xkeras.optimizers.SGD(float(lr)))
        finals.append(m2.fit(x, y, epochs=1, verbose=0).history["loss"][-1])
    assert finals[1] < finals[0] - 0.3


def test_model_and_optimizer_are_left_as_they_were(data):
    x, y = data[0][:1024], data[1][:1024]
    m = lecture_mlp(xkeras.optimizers.Adam(learning_rate=1e-3))
    m.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)  # optimizer state worth restoring
    history = m.history
    weights = m.get_weights()
    state, it, lr = m.optimizer._get_slot_values(), int(m.optimizer.iterations), float(m.optimizer.learning_rate)
    result = xkeras.utils.find_learning_rate(m, x, y, batch_size=64)
    assert len(result.losses) > 5 and result.suggestion > 0
    for a, b in zip(m.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(m.optimizer._get_slot_values(), state):
        np.testing.assert_array_equal(a, b)
    assert int(m.optimizer.iterations) == it and float(m.optimizer.learning_rate) == lr
    assert m.history is history and not m.stop_training
    # training resumes exactly as without the finder
    twin = lecture_mlp(xkeras.optimizers.Adam(learning_rate=1e-3))
    twin.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    m.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    twin.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(m.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_plot_and_errors(data):
    matplotlib = pytest.importorskip("matplotlib", reason="plotting needs matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x, y = data[0][:640], data[1][:640]
    m = lecture_mlp("sgd")
    plt.figure()
    result = m.find_learning_rate(x, y, plot=True)
    ax = plt.gca()
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "Learning rate" and len(ax.get_lines()) == 3
    plt.close("all")
    assert result.smoothed_losses().shape == result.losses.shape
    # per-batch losses recovered from the running mean, last (smaller) batch included: at tiny rates the
    # weights barely move, so their batch-size-weighted mean is the loss over the data
    x, y = data[0][:650], data[1][:650]
    r = m.find_learning_rate(x, y, min_rate=1e-10, max_rate=1e-9, epochs=2, stop_factor=0)
    assert len(r.losses) == 2 * 21 and r.rates[-1] == pytest.approx(1e-9)
    sizes = np.array(([32] * 20 + [10]) * 2)
    assert np.average(r.losses, weights=sizes) == pytest.approx(m.evaluate(x, y, verbose=0)[0], rel=1e-5)
    unc = xkeras.Sequential([xkeras.Input((4,)), xkeras.layers.Dense(1)])
    with pytest.raises(ValueError, match="compile"):
        xkeras.utils.find_learning_rate(unc, np.zeros((8, 4)), np.zeros(8))
    with pytest.raises(ValueError, match="min_rate"):
        m.find_learning_rate(x, y, min_rate=1.0, max_rate=0.1)
