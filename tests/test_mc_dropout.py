"""MC Dropout (keras-spec §14, course ch11 #106-#113): dropout on with training=True, off otherwise."""
import numpy as np

import xkeras as keras

RNG = np.random.default_rng(5)
X = RNG.random((200, 28, 28))  # float64, as images / 255.0 are in the course


def dropout_mlp(dropout=keras.layers.Dropout):
    keras.utils.set_random_seed(42)
    return keras.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        dropout(rate=0.2),
        keras.layers.Dense(30, activation="elu", kernel_initializer="he_normal"),
        dropout(rate=0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])


def test_training_true_is_stochastic_and_default_is_deterministic():
    m = dropout_mlp()
    a, b = np.asarray(m(X, training=True)), np.asarray(m(X, training=True))
    assert a.shape == (200, 10) and a.dtype == np.float32
    assert not np.allclose(a, b)
    np.testing.assert_allclose(a.sum(axis=1), 1, rtol=1e-5)
    det = np.asarray(m(X))
    np.testing.assert_array_equal(det, np.asarray(m(X)))
    np.testing.assert_array_equal(det, np.asarray(m(X, training=False)))
    np.testing.assert_allclose(det, m.predict(X, verbose=0), rtol=1e-5, atol=1e-7)


def test_dropout_mask_rate_and_scaling():
    m = keras.Sequential([keras.Input((1000,)), keras.layers.Dropout(0.3)])
    out = np.asarray(m(np.ones((50, 1000)), training=True))
    assert set(np.unique(out)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((out == 0).mean() - 0.3) < 0.01  # 50,000 draws
    np.testing.assert_array_equal(np.asarray(m(np.ones((50, 1000)))), 1.0)


def test_mc_average_converges_to_the_deterministic_output_of_a_linear_model():
    """E[dropout(x)] = x, so for a linear model the MC mean approaches model(x)."""
    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.Input((20,)), keras.layers.Dropout(0.5), keras.layers.Dense(3)])
    x = RNG.normal(size=(10, 20))
    mc = np.stack([m(x, training=True) for _ in range(400)]).mean(axis=0)
    det = np.asarray(m(x))
    spread = np.stack([m(x, training=True) for _ in range(50)]).std(axis=0)
    assert np.all(np.abs(mc - det) < 5 * spread / np.sqrt(400) + 1e-6)


class MCDropout(keras.layers.Dropout):
    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def test_mc_dropout_subclass_is_always_on():
    m = dropout_mlp(MCDropout)
    assert [l.name for l in m.layers if isinstance(l, MCDropout)] == ["mc_dropout", "mc_dropout_1"]
    assert not np.allclose(np.asarray(m(X)), np.asarray(m(X)))
    assert not np.allclose(m.predict(X, verbose=0), m.predict(X, verbose=0))
    m.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    y = RNG.integers(0, 10, size=len(X))
    assert m.evaluate(X, y, verbose=0) != m.evaluate(X, y, verbose=0)
    probas = np.stack([m.predict(X[:50], verbose=0) for _ in range(20)]).mean(axis=0)
    np.testing.assert_allclose(probas.sum(axis=1), 1, rtol=1e-5)


def test_fit_trains_with_dropout_and_evaluate_runs_without():
    m = dropout_mlp()
    m.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    y = RNG.integers(0, 10, size=len(X))
    m.fit(X, y, epochs=1, verbose=0)
    assert m.evaluate(X, y, verbose=0) == m.evaluate(X, y, verbose=0)


def test_training_true_moves_batchnorm_statistics_but_mc_dropout_does_not():
    """keras-spec §14: model(X, training=True) also trains BN (moving stats updated); the MCDropout
    subclass is the workaround that keeps BN in inference mode."""
    m = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(), MCDropout(0.5), keras.layers.Dense(2)])
    x = RNG.random((16, 4)) * 3 + 1
    bn = m.layers[0]
    assert not np.allclose(np.asarray(m(x)), np.asarray(m(x)))
    np.testing.assert_array_equal(bn.moving_mean.numpy(), 0.0)
    m(x, training=True)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.01 * x.mean(axis=0), rtol=1e-5)  # momentum 0.99
