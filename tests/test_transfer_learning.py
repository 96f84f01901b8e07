"""Transfer learning as the course writes it (Géron ch. 11), on Fashion-MNIST split in two tasks:
A = the 8 classes other than sandals (5) and shirts (6); B = shirt vs sandal with only 200 training images.

model_A is trained, saved, reloaded; model_B_on_A reuses its layers (shared objects, as Keras), freezes them,
trains the new head, unfreezes, recompiles with a small learning rate and trains on. Sizes are reduced to keep
the test fast. Run: python -m pytest tests/test_transfer_learning.py -q -s   (prints the accuracies)
"""
import numpy as np
import pytest

import xkeras as keras


def split_dataset(X, y):
    y_5_or_6 = (y == 5) | (y == 6)  # sandals or shirts
    y_A = y[~y_5_or_6].copy()
    y_A[y_A > 6] -= 2  # class indices 7, 8, 9 move to 5, 6, 7
    y_B = (y[y_5_or_6] == 6).astype(np.float32)  # is it a shirt?
    return (X[~y_5_or_6], y_A), (X[y_5_or_6], y_B)


@pytest.fixture(scope="module")
def data():
    (X_train, y_train), (X_test, y_test) = keras.datasets.fashion_mnist.load_data()
    X_train, X_test = X_train / 255.0, X_test / 255.0
    (X_train_A, y_train_A), (X_train_B, y_train_B) = split_dataset(X_train, y_train)
    (X_test_A, y_test_A), (X_test_B, y_test_B) = split_dataset(X_test, y_test)
    return dict(A=(X_train_A[:8000], y_train_A[:8000]), B=(X_train_B[:200], y_train_B[:200]),
                valid_B=(X_train_B[-1000:], y_train_B[-1000:]), test_A=(X_test_A, y_test_A),
                test_B=(X_test_B, y_test_B))


def snapshot(layers):
    return [w.copy() for layer in layers for w in layer.get_weights()]


def summary_counts(model):
    lines = []
    model.summary(print_fn=lambda s, **kw: lines.append(s))
    text = "\n".join(lines)
    grab = lambda label: int(text.split(label)[1].split("(")[0].strip().replace(",", ""))  # noqa: E731
    return grab("Trainable params:"), grab("Non-trainable params:")


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_transfer_learning_sequence(data, tmp_path, ext):
    keras.utils.set_random_seed(42)
    model_A = keras.Sequential([keras.layers.Flatten(input_shape=[28, 28])] +
                               [keras.layers.Dense(n, activation="selu") for n in (100, 50, 50)] +
                               [keras.layers.Dense(8, activation="softmax")])
    model_A.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=1e-2),
                    metrics=["accuracy"])
    model_A.fit(*data["A"], epochs=2, verbose=0)
    path = str(tmp_path / f"my_model_A{ext}")
    model_A.save(path)

    model_A = keras.models.load_model(path)
    acc_A = model_A.evaluate(*data["test_A"], verbose=0)[1]
    model_B_on_A = keras.Sequential(model_A.layers[:-1])
    model_B_on_A.add(keras.layers.Dense(1, activation="sigmoid"))
    assert all(a is b for a, b in zip(model_B_on_A.layers[:-1], model_A.layers[:-1]))  # shared, as in Keras

    model_A_clone = keras.models.clone_model(model_A)
    model_A_clone.set_weights(model_A.get_weights())
    clone_before = snapshot(model_A_clone.layers)

    for layer in model_B_on_A.layers[:-1]:
        layer.trainable = False
    model_B_on_A.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=1e-2),
                         metrics=["accuracy"])
    frozen = snapshot(model_B_on_A.layers[:-1])
    assert not model_B_on_A.built  # as in Keras: A's loaded layers carry no input shape; built by fit
    h1 = model_B_on_A.fit(*data["B"], epochs=4, validation_data=data["valid_B"], verbose=0)
    assert summary_counts(model_B_on_A) == (51, 784 * 100 + 100 + 100 * 50 + 50 + 50 * 50 + 50)
    for a, b in zip(frozen, snapshot(model_B_on_A.layers[:-1])):
        assert np.array_equal(a, b)  # bit-identical
    assert h1.history["loss"][-1] < h1.history["loss"][0]  # the new head trains

    for layer in model_B_on_A.layers[:-1]:
        layer.trainable = True
    model_B_on_A.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=1e-3),
                         metrics=["accuracy"])
    history = model_B_on_A.fit(*data["B"], epochs=16, validation_data=data["valid_B"], verbose=0)
    assert summary_counts(model_B_on_A) == (784 * 100 + 100 + 100 * 50 + 50 + 50 * 50 + 50 + 51, 0)
    unfrozen = snapshot(model_B_on_A.layers[:-1])
    assert all(not np.array_equal(a, b) for a, b in zip(frozen, unfrozen))  # recompiling took effect
    # Training B changed A's (shared) layers; the clone kept A's weights.
    assert all(np.array_equal(a, b) for a, b in zip(snapshot(model_A.layers[:-1]), unfrozen))
    assert all(np.array_equal(a, b) for a, b in zip(clone_before, snapshot(model_A_clone.layers)))

    loss_B, acc_B = model_B_on_A.evaluate(*data["test_B"], verbose=0)
    print(f"\n[{ext}] task A test accuracy {acc_A:.4f}; B on A: test accuracy {acc_B:.4f}, "
          f"final val_accuracy {history.history['val_accuracy'][-1]:.4f}")
    assert acc_A > 0.7
    assert acc_B > 0.85
