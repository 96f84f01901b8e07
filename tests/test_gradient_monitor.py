"""keras.callbacks.GradientMonitor (native per-layer gradient norms, activation stats, dead ReLUs) and
xkeras.utils.plot_gradient_flow, checked against a NumPy forward/backward of the same batches."""
import math

import numpy as np
import pytest

import xkeras as keras


def _relu_net(seed=0):
    rng = np.random.default_rng(seed)
    model = keras.Sequential([
        keras.layers.InputLayer(shape=(6,)),
        keras.layers.Dense(5, activation="relu", name="h1"),
        keras.layers.Dense(4, activation="relu", name="h2"),
        keras.layers.Dense(3, activation="softmax", name="out"),
    ])
    weights = [rng.normal(0, 0.7, w.shape).astype(np.float32) for w in model.get_weights()]
    weights[1][0] = -50.0  # unit 0 of h1 is dead for every input
    model.set_weights(weights)
    return model, weights


def _numpy_step(weights, x, y):
    """Loss, each variable's gradient and each layer's output for sparse CE on a softmax MLP (relu hidden)."""
    (w1, b1), (w2, b2), (w3, b3) = [(weights[i].astype(np.float64), weights[i + 1].astype(np.float64))
                                    for i in (0, 2, 4)]
    z1 = x @ w1 + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ w2 + b2
    a2 = np.maximum(z2, 0)
    z3 = a2 @ w3 + b3
    p = np.exp(z3 - z3.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n = len(x)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    d3 = p.copy()
    d3[np.arange(n), y] -= 1
    d3 /= n
    d2 = (d3 @ w3.T) * (z2 > 0)
    d1 = (d2 @ w2.T) * (z1 > 0)
    grads = [x.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0), a2.T @ d3, d3.sum(0)]
    return loss, grads, {"h1": a1, "h2": a2, "out": p}


def _dead_fraction(a):
    return float(np.mean(np.all(a == 0, axis=0)))


def test_records_match_numpy_forward_and_backward():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(24, 6)).astype(np.float32)
    y = rng.integers(0, 3, 24)
    model, weights = _relu_net()
    lr = 0.1
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy")
    monitor = keras.callbacks.GradientMonitor(every_n_batches=1)
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[monitor])
    rec = history.gradient_monitor
    assert rec is monitor.records
    assert rec["step"] == [0, 1, 2] and rec["batch"] == [0, 1, 2] and rec["epoch"] == [0, 0, 0]
    assert list(rec["gradient_norm"]) == ["h1", "h2", "out"]
    assert list(rec["variable_gradient_norm"]) == ["h1/kernel", "h1/bias", "h2/kernel", "h2/bias",
                                                   "out/kernel", "out/bias"]
    assert list(rec["dead_relu_fraction"]) == ["h1", "h2"]  # the softmax layer has no dead-ReLU entry
    w = [v.astype(np.float64) for v in weights]
    for step in range(3):  # replay SGD in NumPy: each record sees the weights after the previous updates
        xb, yb = x[step * 8:(step + 1) * 8].astype(np.float64), y[step * 8:(step + 1) * 8]
        loss, grads, outs = _numpy_step(w, xb, yb)
        assert rec["loss"][step] == pytest.approx(loss, rel=1e-5)
        norms = [np.linalg.norm(g) for g in grads]
        for path, expected in zip(rec["variable_gradient_norm"], norms):
            assert rec["variable_gradient_norm"][path][step] == pytest.approx(expected, rel=1e-4, abs=1e-7)
        for i, name in enumerate(["h1", "h2", "out"]):
            layer_norm = math.sqrt(norms[2 * i] ** 2 + norms[2 * i + 1] ** 2)
            assert rec["gradient_norm"][name][step] == pytest.approx(layer_norm, rel=1e-4)
            assert rec["activation_mean"][name][step] == pytest.approx(outs[name].mean(), rel=1e-5, abs=1e-7)
            assert rec["activation_std"][name][step] == pytest.approx(outs[name].std(), rel=1e-5, abs=1e-7)
        assert rec["dead_relu_fraction"]["h1"][step] == _dead_fraction(outs["h1"]) >= 0.2
        assert rec["dead_relu_fraction"]["h2"][step] == _dead_fraction(outs["h2"])
        w = [v - lr * g for v, g in zip(w, grads)]
    np.testing.assert_allclose(model.get_weights()[0], w[0], rtol=1e-4, atol=1e-6)


def test_every_n_counts_batches_across_epochs_and_history_stays_keras():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(50, 6)).astype(np.float32), rng.integers(0, 3, 50)
    model, _ = _relu_net()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0,  # 4 batches an epoch, the last of 2 rows
                        callbacks=[keras.callbacks.GradientMonitor(every_n_batches=3)])
    rec = history.gradient_monitor
    assert rec["step"] == [0, 3, 6, 9]
    assert rec["epoch"] == [0, 0, 1, 2] and rec["batch"] == [0, 3, 2, 1]
    assert sorted(history.history) == ["accuracy", "loss"]  # per-epoch keys only
    assert all(len(v) == 4 for d in ("gradient_norm", "activation_std") for v in rec[d].values())
    # without a monitor: no records, same Keras history
    plain = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert not hasattr(plain, "gradient_monitor") and sorted(plain.history) == ["accuracy", "loss"]


def test_activation_layer_and_dropout_are_tapped():
    model = keras.Sequential([
        keras.layers.InputLayer(shape=(4,)),
        keras.layers.Dense(8, name="lin"),
        keras.layers.Activation("relu", name="act"),
        keras.layers.Dropout(0.5, name="drop"),
        keras.layers.Dense(1, name="head"),
    ])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(3).normal(size=(32, 4)).astype(np.float32)
    h = model.fit(x, x[:, :1], batch_size=32, epochs=1, verbose=0,
                  callbacks=[keras.callbacks.GradientMonitor(every_n_batches=1)])
    rec = h.gradient_monitor
    assert list(rec["activation_std"]) == ["lin", "act", "drop", "head"]
    assert list(rec["dead_relu_fraction"]) == ["act"]
    assert list(rec["gradient_norm"]) == ["lin", "head"]  # layers with trainable weights


def _deep_net_first_norms(activation, initializer):
    keras.utils.set_random_seed(4)
    layers = [keras.layers.InputLayer(shape=(20,))]
    layers += [keras.layers.Dense(20, activation=activation, kernel_initializer=initializer) for _ in range(8)]
    model = keras.Sequential(layers + [keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(64, 20)).astype(np.float32), rng.integers(0, 3, 64)
    h = model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[keras.callbacks.GradientMonitor(1)])
    return [v[0] for v in h.gradient_monitor["gradient_norm"].values()]


def test_deep_sigmoid_net_shows_vanishing_gradients():
    norms = _deep_net_first_norms("sigmoid", "glorot_uniform")
    assert len(norms) == 9
    assert norms[0] < norms[-2] * 1e-2, norms  # first hidden layer vs last hidden layer
    assert all(a < b for a, b in zip(norms[:-2], norms[1:-1])), norms  # shrinking towards the input
    relu = _deep_net_first_norms("relu", "he_normal")  # the course's fix keeps them within a factor 10
    assert relu[0] > relu[-2] * 1e-1, relu


def test_plot_gradient_flow_returns_a_figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    model, _ = _relu_net()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(5).normal(size=(40, 6)).astype(np.float32)
    monitor = keras.callbacks.GradientMonitor(every_n_batches=2)
    h = model.fit(x, np.zeros(40), batch_size=4, epochs=1, verbose=0, callbacks=[monitor])
    fig = keras.utils.plot_gradient_flow(h)
    assert isinstance(fig, matplotlib.figure.Figure)
    ax_grad, ax_std, ax_dead = fig.axes
    assert ax_grad.get_yscale() == "log" and len(ax_grad.lines) == 3 and len(ax_dead.lines) == 2
    np.testing.assert_allclose(ax_grad.lines[0].get_ydata(), h.gradient_monitor["gradient_norm"]["h1"])
    assert keras.utils.plot_gradient_flow(monitor).axes  # the callback itself works too
    plt.close("all")
    with pytest.raises(ValueError, match="GradientMonitor"):
        keras.utils.plot_gradient_flow(model.fit(x, np.zeros(40), epochs=1, verbose=0))


def test_invalid_arguments():
    with pytest.raises(ValueError, match="every_n_batches"):
        keras.callbacks.GradientMonitor(every_n_batches=0)
    model, _ = _relu_net()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.zeros((8, 6), np.float32)
    with pytest.raises(ValueError, match="one GradientMonitor"):
        model.fit(x, np.zeros(8), verbose=0, callbacks=[keras.callbacks.GradientMonitor(1),
                                                         keras.callbacks.GradientMonitor(2)])
