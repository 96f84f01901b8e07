"""NaN must propagate as in TensorFlow, so a diverged model shows `loss: nan` (found by notebook 03).

relu used to map NaN to 0: a network whose hidden weights had blown up to NaN then reported a finite
loss of ~2.3 and kept "training" at chance level where Keras prints nan.
"""
import numpy as np
import pytest

import xkeras as keras


def test_relu_passes_nan_through_like_maximum():
    x = np.array([np.nan, -1.0, -0.0, 0.0, 2.5], dtype="float32")
    got = np.asarray(keras.activations.relu(keras.ops.convert_to_tensor(x)))
    np.testing.assert_array_equal(got, np.maximum(x, 0.0))  # NaN stays NaN (assert_array_equal matches NaNs)
    assert np.isnan(got[0])


def test_relu_gradient_at_nan_is_zero():
    x = keras.ops.convert_to_tensor(np.array([np.nan, -1.0, 3.0], dtype="float32"))
    with keras.GradientTape() as tape:
        tape.watch(x)
        total = keras.ops.sum(keras.activations.relu(x))
    np.testing.assert_array_equal(np.asarray(tape.gradient(total, x)), [0.0, 0.0, 1.0])  # TF: g * (x > 0)


@pytest.mark.filterwarnings("ignore::UserWarning")  # fit warns that the loss is nan: that is the point here
def test_model_with_nan_weights_reports_nan_loss():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    kernel, bias = model.layers[0].get_weights()
    kernel[0, 0] = np.nan
    model.layers[0].set_weights([kernel, bias])
    x, y = np.ones((16, 4), dtype="float32"), np.zeros(16, dtype="int64")
    loss, _ = model.evaluate(x, y, verbose=0)
    assert np.isnan(loss), f"expected loss nan, as Keras reports. Received: loss={loss}"
    history = model.fit(x, y, epochs=1, verbose=0)
    assert np.isnan(history.history["loss"][0])
