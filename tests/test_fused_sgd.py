"""Plain SGD is fused into the weight-gradient GEMM during fit (W += -lr * x^T g, cpp/train/loop.cpp).

The fused path must give the same weights as the unfused one. `clipvalue=1e30` clips nothing but turns
fusion off, so it is the reference; the difference allowed is float rounding of one GEMM (alpha = -lr).
"""
import numpy as np
import pytest

import xkeras as keras


def make_model(seed, shared=False, constraint=None):
    keras.utils.set_random_seed(seed)
    if shared:  # one Dense applied twice: its kernel has two consumers, so it must not be fused
        class Twice(keras.layers.Layer):
            def build(self, input_shape):
                self.inner = keras.layers.Dense(input_shape[-1], activation="relu")
                self.inner.build(input_shape)

            def call(self, x):
                return self.inner(self.inner(x))

        layers = [keras.Input((20,)), Twice(), keras.layers.Dense(3, activation="softmax")]
    else:
        layers = [keras.Input((20,)), keras.layers.Dense(16, activation="relu", kernel_constraint=constraint),
                  keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3, activation="softmax")]
    return keras.Sequential(layers)


def train(model, data, **sgd):
    x, y = data
    model.compile(optimizer=keras.optimizers.SGD(**sgd), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    return [w.copy() for w in model.get_weights()], history.history["loss"]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(200, 20)).astype(np.float32), rng.integers(0, 3, 200)


@pytest.mark.parametrize("case", ["plain", "schedule", "shared_kernel", "max_norm"])
def test_fused_sgd_matches_unfused(data, case):
    shared = case == "shared_kernel"
    constraint = keras.constraints.MaxNorm(0.5) if case == "max_norm" else None
    lr = keras.optimizers.schedules.ExponentialDecay(0.2, 5, 0.5) if case == "schedule" else 0.1
    fused, fused_loss = train(make_model(1, shared, constraint), data, learning_rate=lr)
    ref, ref_loss = train(make_model(1, shared, constraint), data, learning_rate=lr, clipvalue=1e30)
    for a, b in zip(fused, ref):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(fused_loss, ref_loss, rtol=1e-5)
    assert not np.allclose(fused[0], make_model(1, shared, constraint).get_weights()[0])  # it trained
    if constraint is not None:
        assert np.linalg.norm(fused[0], axis=0).max() <= 0.5 + 1e-5


def test_fused_sgd_leaves_no_state_behind(data):
    """After fit, GradientTape and apply_gradients on the same variables work as usual."""
    model = make_model(2)
    train(model, data, learning_rate=0.1)
    x, y = data
    before = [w.copy() for w in model.get_weights()]
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with keras.GradientTape() as tape:
        loss = loss_fn(y[:16], model(x[:16], training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
    after = model.get_weights()
    lr = float(np.asarray(model.optimizer.learning_rate))
    for w0, w1, g in zip(before, after, grads):
        np.testing.assert_allclose(w1, w0 - lr * np.asarray(g), rtol=1e-5, atol=1e-7)


def test_callbacks_that_read_gradients_turn_fusion_off(data, tmp_path):
    """TensorBoard's gradient histograms read the native gradient buffers after an epoch: with plain SGD
    (which would fuse and leave none), every kernel must still have one."""
    from tests.test_tensorboard import _read

    model = make_model(3)
    x, y = data
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[keras.callbacks.TensorBoard(tmp_path, histogram_freq=1, write_graph=False)])
    tags = set(_read(tmp_path / "train").Tags()["histograms"])
    assert {f"{w.path}/gradient_histogram" for w in model.trainable_weights} <= tags
