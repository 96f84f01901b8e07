"""The lecture's first model: a Fashion-MNIST MLP trained with `import xkeras as keras`.

Run: python3 -m xkeras.examples.lecture_mlp [--epochs N]
"""
import argparse
import time

import numpy as np

import xkeras as keras

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


def main(epochs=10):
    keras.utils.set_random_seed(42)
    (X_train_full, t_train_full), (X_test, t_test) = keras.datasets.fashion_mnist.load_data()
    X_valid, X_train = X_train_full[:5000] / 255.0, X_train_full[5000:] / 255.0
    t_valid, t_train = t_train_full[:5000], t_train_full[5000:]
    X_test = X_test / 255.0

    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.summary()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.01),
                  metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(X_train, t_train, epochs=epochs, validation_data=(X_valid, t_valid))
    seconds = time.perf_counter() - start
    print(f"history keys: {list(history.history)}; {seconds:.1f} s for {epochs} epochs "
          f"of {len(X_train)} samples")
    loss, accuracy = model.evaluate(X_test, t_test)
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    proba = model.predict(X_test[:3])
    print(proba.round(2))
    print("predicted:", [CLASS_NAMES[i] for i in np.argmax(proba, axis=1)],
          "true:", [CLASS_NAMES[i] for i in t_test[:3]])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    main(parser.parse_args().epochs)
