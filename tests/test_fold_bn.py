"""keras.utils.fold_batch_normalization: BN merged into adjacent Dense layers, same predictions."""
import warnings

import numpy as np
import pytest

import xkeras as keras
from xkeras.layers import (Activation, AlphaDropout, BatchNormalization, Dense, Dropout, Flatten, Input,
                           LayerNormalization)

RNG = np.random.default_rng(0)


def randomize_bn(model):
    """Moving statistics and gamma/beta far from their initial values, so a wrong fold shows."""
    for layer in model.layers:
        if isinstance(layer, BatchNormalization):
            layer.set_weights([RNG.uniform(0.2, 2.0, w.shape) if w is layer.moving_variance or w is layer.gamma
                               else RNG.normal(0, 1, w.shape) for w in layer.weights])


def check(model, x, n_kept=0):
    """Folds, compares predictions (1e-5) and returns the folded model."""
    randomize_bn(model)
    before = [w.copy() for w in model.get_weights()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folded = keras.utils.fold_batch_normalization(model)
    kept = [l for l in folded.layers if isinstance(l, BatchNormalization)]
    assert len(kept) == n_kept
    assert (len([w for w in caught if "could not be folded" in str(w.message)]) == 1) == (n_kept > 0)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(folded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(folded(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    for a, b in zip(before, model.get_weights()):  # the original is unchanged
        np.testing.assert_array_equal(a, b)
    assert model.layers[0] is not folded.layers[0]
    return folded


def names(model):
    return [type(l).__name__ for l in model.layers]


def test_course_bn_before_each_dense_folds_forward():
    # ch11 #26: Flatten, BN, Dense(300, relu), BN, Dense(100, relu), BN, Dense(10, softmax)
    model = keras.Sequential([Input((28, 28)), Flatten(), BatchNormalization(), Dense(30, activation="relu"),
                              BatchNormalization(), Dense(20, activation="relu"), BatchNormalization(),
                              Dense(10, activation="softmax")])
    folded = check(model, RNG.normal(size=(64, 28, 28)).astype(np.float32))
    assert names(folded) == ["Flatten", "Dense", "Dense", "Dense"]
    assert [l.name for l in folded.layers] == [model.layers[i].name for i in (0, 2, 4, 6)]
    assert folded.count_params() == 784 * 30 + 30 + 30 * 20 + 20 + 20 * 10 + 10


def test_course_dense_without_bias_then_bn_then_activation_folds_backward():
    # ch11 #31: Dense(use_bias=False), BN, Activation
    model = keras.Sequential([Input((12,)), BatchNormalization(), Dense(16, use_bias=False), BatchNormalization(),
                              Activation("relu"), Dense(8, use_bias=False), BatchNormalization(),
                              Activation("elu"), Dense(3, activation="softmax")])
    folded = check(model, RNG.normal(size=(50, 12)).astype(np.float32))
    assert names(folded) == ["Dense", "Activation", "Dense", "Activation", "Dense"]
    assert folded.layers[0].use_bias and len(folded.layers[0].weights) == 2


def test_center_scale_epsilon_dropout_and_chains():
    model = keras.Sequential([
        Input((10,)),
        BatchNormalization(center=False, epsilon=0.5), Dropout(0.5), BatchNormalization(scale=False),
        Dense(9),  # linear: both BNs after it fold backward through the Dropout
        AlphaDropout(0.2), BatchNormalization(center=False, scale=False, epsilon=1e-5),
        BatchNormalization(epsilon=0.1),
        Activation("tanh"),
        Dense(7, activation="selu"), BatchNormalization(), Dropout(0.3), Dense(4),
    ])
    folded = check(model, RNG.normal(size=(40, 10)).astype(np.float32))
    assert names(folded) == ["Dropout", "Dense", "AlphaDropout", "Activation", "Dense", "Dropout", "Dense"]


def test_unfoldable_bn_stays_and_is_named():
    model = keras.Sequential([Input((6,)), Dense(5, activation="relu"), BatchNormalization(name="bn_end")])
    with pytest.warns(UserWarning, match=r"'bn_end': the Dense before it \('.*'\) has activation 'relu' and it "
                                         r"is the last layer"):
        keras.utils.fold_batch_normalization(model)
    model = keras.Sequential([Input((6,)), Dense(5, activation="relu"), BatchNormalization(name="bn_mid"),
                              LayerNormalization(), Dense(2)])
    folded = check(model, RNG.normal(size=(20, 6)).astype(np.float32), n_kept=1)
    assert names(folded) == names(model)
    # the course's MCDropout is not the identity in inference: no folding through it
    class MCDropout(Dropout):
        def call(self, inputs, training=False):
            return super().call(inputs, training=True)

    model = keras.Sequential([Input((6,)), Dense(5), MCDropout(0.5), BatchNormalization(name="bn_mc")])
    with pytest.warns(UserWarning, match="'bn_mc': no Dense without activation comes before it"):
        assert names(keras.utils.fold_batch_normalization(model))[-1] == "BatchNormalization"
    # BN on an axis that is not the one Dense acts on
    model = keras.Sequential([Input((4, 3)), BatchNormalization(axis=1), Dense(2)])
    with pytest.warns(UserWarning, match="normalizes axis 1"):
        keras.utils.fold_batch_normalization(model)


def test_after_fit_compiled_saved_and_reloaded(tmp_path):
    keras.utils.set_random_seed(3)
    x = RNG.normal(size=(256, 20)).astype(np.float32) * 3 + 1
    y = (x[:, 0] + x[:, 1] > 2).astype(np.int64)
    model = keras.Sequential([Input((20,)), BatchNormalization(), Dense(32, activation="relu"),
                              BatchNormalization(), Dense(32, use_bias=False), BatchNormalization(),
                              Activation("relu"), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    folded = keras.utils.fold_batch_normalization(model)
    assert names(folded) == ["Dense", "Dense", "Activation", "Dense"]
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(folded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    # compiled like the original (fresh optimizer): evaluate gives the same numbers
    np.testing.assert_allclose(folded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-5)
    path = str(tmp_path / "folded.keras")
    folded.save(path)
    np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def reference(layers, h):
    """The inference forward pass in float64 (Flatten, Dense, BatchNormalization, swish, softmax)."""
    for layer in layers:
        if isinstance(layer, keras.Sequential):
            h = reference(layer.layers, h)
        elif isinstance(layer, Flatten):
            h = h.reshape(len(h), -1)
        elif isinstance(layer, BatchNormalization):
            gamma, beta, mean, var = [w.astype(np.float64) for w in layer.get_weights()]
            h = (h - mean) / np.sqrt(var + layer.epsilon) * gamma + beta
        elif isinstance(layer, Activation):
            h = h / (1 + np.exp(-h))
        else:
            h = h @ layer.kernel.numpy() + (layer.bias.numpy() if layer.use_bias else 0)
            if layer.activation is keras.activations.softmax:
                e = np.exp(h - h.max(axis=1, keepdims=True))
                h = e / e.sum(axis=1, keepdims=True)
    return h


def test_deep_course_net_and_nested_model():
    # the exercise's 20 x (Dense, BN, swish) net, at a smaller width, nested in an outer model, with BN
    # statistics from training (momentum=0: the last batch's).
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    inner = keras.Sequential([Input((28, 28)), Flatten(), BatchNormalization(momentum=0.0)])
    for _ in range(20):
        inner.add(Dense(24, kernel_initializer="he_normal"))
        inner.add(BatchNormalization(momentum=0.0))
        inner.add(Activation("swish"))
    model = keras.Sequential([Input((28, 28)), inner, Dense(10, activation="softmax")])
    x = rng.uniform(size=(256, 28, 28)).astype(np.float32)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, rng.integers(0, 10, 256), epochs=1, batch_size=256, verbose=0)
    folded = keras.utils.fold_batch_normalization(model)
    assert names(folded.layers[0]) == ["Flatten"] + ["Dense", "Activation"] * 20
    # The fold is exact up to rounding the new weights to float32 ...
    exact = reference(model.layers, x.astype(np.float64))
    np.testing.assert_allclose(reference(folded.layers, x.astype(np.float64)), exact, rtol=1e-5, atol=1e-5)
    # ... but through 20 layers float32 rounding of the activations alone moves the outputs by ~1e-5
    # (the original is 3e-6..2e-5 away from the float64 result over seeds 1-8; folded vs original
    # 1e-5..5e-5), so here the float32 predictions are compared at 1e-4.
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-4, atol=1e-4)


def test_errors():
    with pytest.raises(ValueError, match="not yet been built"):
        keras.utils.fold_batch_normalization(keras.Sequential([Dense(2)]))
    with pytest.raises(ValueError, match="supports Sequential models"):
        keras.utils.fold_batch_normalization(Dense(2))
