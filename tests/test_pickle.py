"""pickle and copy.deepcopy of models (as Keras 3: through the .keras format in memory).

Round trips keep the architecture, compile config, weights and optimizer state: predictions are identical,
training continues identically, and the copy shares nothing with the original.
Run: python -m pytest tests/test_pickle.py -q
"""
import copy
import pickle

import numpy as np
import pytest

import xkeras as keras
from xkeras.saving import state

RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 5)).astype(np.float32)
Y = (X[:, :1] * 0.7 - X[:, 1:2] + 0.1 * RNG.normal(size=(96, 1))).astype(np.float32)

ROUND_TRIPS = {"pickle": lambda m: pickle.loads(pickle.dumps(m)), "deepcopy": copy.deepcopy}


def mlp(optimizer="adam", bn=False):
    L = keras.layers
    layers = [keras.Input((5,)), L.Dense(8, activation="relu")]
    layers += [L.BatchNormalization()] if bn else []
    model = keras.Sequential(layers + [L.Dense(1)])
    if optimizer is not None:
        model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    return model


def opt_state(model):
    return state.optimizer_variables(model.optimizer)


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for u, v in zip(wa, wb):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("how", ROUND_TRIPS)
@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum", "rmsprop"])
def test_trained_model_round_trip_predicts_and_continues_identically(how, optimizer):
    keras.utils.set_random_seed(1)
    model = mlp(keras.optimizers.SGD(0.05, momentum=0.9) if optimizer == "sgd_momentum" else optimizer, bn=True)
    model.fit(X, Y, epochs=3, batch_size=16, verbose=0)
    twin = ROUND_TRIPS[how](model)
    assert type(twin) is keras.Sequential and twin.compiled and twin is not model
    np.testing.assert_array_equal(twin.predict(X, verbose=0), model.predict(X, verbose=0))
    assert [layer.name for layer in twin.layers] == [layer.name for layer in model.layers]
    assert twin.optimizer.get_config() == {**model.optimizer.get_config(), "name": twin.optimizer.name}
    before = opt_state(model)
    assert int(before[0][1]) == 3 * 6  # iterations: 3 epochs of 6 batches
    for (n1, v1), (n2, v2) in zip(before, opt_state(twin)):
        np.testing.assert_array_equal(v1, v2, err_msg=n1)
    # Continued training (no shuffling, deterministic layers) gives the same weights and logs.
    h1 = model.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    h2 = twin.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert h1.history == h2.history
    assert_same_weights(model, twin)


@pytest.mark.parametrize("how", ROUND_TRIPS)
def test_copy_trains_independently_of_the_original(how):
    keras.utils.set_random_seed(2)
    model = mlp()
    model.fit(X, Y, epochs=1, verbose=0)
    reference = model.predict(X, verbose=0)
    twin = ROUND_TRIPS[how](model)
    own_ids = {id(v) for v in model.weights}
    assert not own_ids & {id(v) for v in twin.weights}
    twin.fit(X, Y, epochs=3, verbose=0)
    np.testing.assert_array_equal(model.predict(X, verbose=0), reference)  # the original did not move
    assert np.abs(twin.predict(X, verbose=0) - reference).max() > 1e-4
    model.fit(X, Y, epochs=1, verbose=0)  # and the original still trains on its own steps
    assert np.abs(model.predict(X, verbose=0) - reference).max() > 1e-4


def test_copies_with_dropout_train_identically_under_the_same_seed():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(X, Y, epochs=1, verbose=0)
    a, b = copy.deepcopy(model), pickle.loads(pickle.dumps(model))
    keras.utils.set_random_seed(4)
    a.fit(X, Y, epochs=2, verbose=0)
    keras.utils.set_random_seed(4)
    b.fit(X, Y, epochs=2, verbose=0)
    assert_same_weights(a, b)


@pytest.mark.parametrize("how", ROUND_TRIPS)
def test_unbuilt_and_uncompiled_models(how):
    unbuilt = keras.Sequential([keras.layers.Dense(4, activation="relu", name="hidden"), keras.layers.Dense(1)])
    twin = ROUND_TRIPS[how](unbuilt)
    assert not twin.built and not twin.compiled
    assert [layer.name for layer in twin.layers] == ["hidden", unbuilt.layers[1].name]
    assert twin.layers[0].get_config() == unbuilt.layers[0].get_config()
    assert twin.predict(X, verbose=0).shape == (96, 1)  # builds on first use

    built = mlp(optimizer=None)
    twin = ROUND_TRIPS[how](built)
    assert twin.built and not twin.compiled
    np.testing.assert_array_equal(twin.predict(X, verbose=0), built.predict(X, verbose=0))

    compiled_unbuilt = keras.Sequential([keras.layers.Dense(1)])
    compiled_unbuilt.compile(keras.optimizers.SGD(0.01), "mse")
    twin = ROUND_TRIPS[how](compiled_unbuilt)
    assert twin.compiled and not twin.built
    assert twin.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)
    assert np.isfinite(twin.fit(X, Y, epochs=1, verbose=0).history["loss"][0])


@keras.saving.register_keras_serializable(package="test_pickle")
class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_registered_custom_layer_and_containers_round_trip():
    model = keras.Sequential([keras.Input((5,)), Scale(3.0), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    bundle = {"models": [model, model], "note": "x"}
    back = pickle.loads(pickle.dumps(bundle))
    first, second = back["models"]
    assert first is second  # pickle's memo keeps shared references shared
    assert isinstance(first.layers[0], Scale) and first.layers[0].factor == 3.0
    np.testing.assert_array_equal(first.predict(X, verbose=0), model.predict(X, verbose=0))


def test_unregistered_custom_layer_fails_with_a_clear_message():
    class Local(keras.layers.Layer):
        def call(self, x):
            return x

    data = pickle.dumps(keras.Sequential([keras.Input((5,)), Local(), keras.layers.Dense(1)]))
    with pytest.raises(TypeError, match="Could not locate class 'Local'"):
        pickle.loads(data)
