"""A student's mistakes get a clear exception, never a crash or a silently wrong number.

Each case asserts the exception type and that the message names the argument or layer, what was expected
and what was received (Keras' "Received: ..." style). Inputs that Keras accepts (ints, float64, Fortran-
ordered or strided arrays, Python lists, pandas) must give the same numbers as float32 arrays.
"""
import os
import re
import warnings

import numpy as np
import pytest

import xkeras as keras

L = keras.layers
X = np.random.default_rng(0).random((10, 4)).astype(np.float32)
Y = np.arange(10) % 3


def small(compiled=True, loss="sparse_categorical_crossentropy", units=3):
    model = keras.Sequential([keras.Input((4,)), L.Dense(units, activation="softmax", name="probs")])
    if compiled:
        model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    return model


def raises(exc, call, *fragments):
    """Runs call(), which must raise `exc` whose message contains every fragment; returns the message."""
    with pytest.raises(exc) as err:
        call()
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in the message:\n{message}"
    return message


# ---- data shape and size ------------------------------------------------------------------------------

def test_x_and_y_of_different_lengths():
    m = small()
    raises(ValueError, lambda: m.fit(X, Y[:9], verbose=0), "Data cardinality is ambiguous", "'x' sizes: 10",
           "'y' sizes: 9")
    raises(ValueError, lambda: m.evaluate(X[:8], Y, verbose=0), "'x' sizes: 8", "'y' sizes: 10")
    raises(ValueError, lambda: m.fit(X, Y, sample_weight=np.ones(3), verbose=0), "sample_weight", "3", "(10)")


def test_wrong_feature_size_for_a_built_model():
    m = small()
    for call in (lambda: m.fit(np.ones((10, 5)), Y, verbose=0), lambda: m.predict(np.ones((10, 5)), verbose=0),
                 lambda: m.evaluate(np.ones((10, 5)), Y, verbose=0), lambda: m(np.ones((2, 5)))):
        raises(ValueError, call, "layer 'probs'", "expected axis -1 of input shape to have value 4",
               "received input with shape (", ", 5)")
    built_by_data = keras.Sequential([L.Dense(3, name="head")])  # no Input: built by its first call
    built_by_data.predict(X, verbose=0)
    raises(ValueError, lambda: built_by_data.predict(np.ones((3, 6)), verbose=0), "layer 'head'", "value 4",
           "shape (3, 6)")


def test_wrong_rank():
    m = small()
    raises(ValueError, lambda: m.fit(np.ones((10, 4, 2)), Y, verbose=0), "Invalid input shape",
           f"model '{m.name}'", "Expected shape (None, 4)", "incompatible shape (None, 4, 2)")
    raises(ValueError, lambda: m.predict(np.ones(4), verbose=0), "Expected shape (None, 4)",
           "incompatible shape (None,)")
    dense = L.Dense(2, name="lone")
    dense.build((None, 4))
    raises(ValueError, lambda: dense(np.ones(4, np.float32)), "layer 'lone'", "expected min_ndim=2",
           "found ndim=1", "Full shape received: (4,)")
    raises(ValueError, lambda: m.fit(np.float32(3.0), Y, verbose=0), "batch axis", "scalar")


def test_empty_arrays():
    m = small()
    for call in (lambda: m.fit(np.zeros((0, 4)), np.zeros(0), verbose=0),
                 lambda: m.evaluate(np.zeros((0, 4)), np.zeros(0), verbose=0),
                 lambda: m.predict(np.zeros((0, 4)), verbose=0)):
        raises(ValueError, call, "at least one sample", "(0, 4)")


def test_zero_sized_axes_compute_instead_of_crashing():
    """Found by the loader fuzzer: a config with Input((0,)) crashed the process (integer division by zero in
    the Dense/matmul row count, a read past an empty softmax axis). Empty axes now compute as NumPy does."""
    m = keras.Sequential([keras.Input((0,)), L.Dense(3, bias_initializer="ones")])
    np.testing.assert_array_equal(m.predict(np.zeros((2, 0)), verbose=0), np.ones((2, 3)))
    np.testing.assert_array_equal(keras.ops.matmul(np.ones((2, 0), np.float32), np.ones((0, 3), np.float32)),
                                  np.zeros((2, 3)))
    empty = keras.ops.convert_to_tensor(np.zeros((2, 0), np.float32))
    assert np.asarray(keras.activations.softmax(empty)).shape == (2, 0)


def test_ragged_python_list():
    raises(ValueError, lambda: small().fit([[1, 2, 3, 4], [1, 2]], [0, 1], verbose=0), "`x`", "rectangular",
           "Received: x of type list")


# ---- labels ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad,received", [(3, "label value of 3 "), (7, "label value of 7 "),
                                          (-1, "label value of -1 ")])
def test_sparse_labels_out_of_range(bad, received):
    m = small()
    w_before = m.get_weights()
    y = Y.copy()
    y[2] = bad
    raises(ValueError, lambda: m.fit(X, y, shuffle=False, verbose=0), "[sparse_categorical_crossentropy]", received,
           "outside the valid range of [0, 3)")
    raises(ValueError, lambda: m.evaluate(X, y, verbose=0), received)
    for a, b in zip(w_before, m.get_weights()):  # the bad batch was the only one: nothing was applied
        np.testing.assert_array_equal(a, b)


def test_float_and_nan_labels_where_integers_are_needed():
    m = small()
    raises(ValueError, lambda: m.fit(X, Y + 0.5, shuffle=False, verbose=0), "label value of 0.5",
           "not an integer", "[0, 3)")
    y = Y.astype(np.float64)
    y[0] = np.nan
    with pytest.warns(UserWarning, match="`y` contains NaN"):
        raises(ValueError, lambda: m.fit(X, y, shuffle=False, verbose=0), "label value of nan")
    assert np.isfinite(m.fit(X, Y.astype(np.float64), verbose=0).history["loss"][0])  # whole floats are labels


def test_label_shape_does_not_match_the_output():
    raises(ValueError, lambda: small(loss="categorical_crossentropy").fit(X, np.eye(5)[Y], verbose=0),
           "[categorical_crossentropy]", "y_true.shape=(10, 5)", "y_pred.shape=(10, 3)")
    raises(ValueError, lambda: small(loss="categorical_crossentropy").fit(X, Y, verbose=0),
           "y_true.shape=(10,)", "y_pred.shape=(10, 3)")
    raises(ValueError, lambda: small().fit(X, np.eye(3)[Y], verbose=0), "[sparse_categorical_crossentropy]",
           "one integer label per sample", "y_true.shape=(10, 3)")
    raises(ValueError, lambda: small(loss="mse").fit(X, np.ones((10, 5)), verbose=0), "[mean_squared_error]",
           "y_true.shape=(10, 5)", "y_pred.shape=(10, 3)")


# ---- NaN and inf -----------------------------------------------------------------------------------------

def test_nan_and_inf_inputs_warn():
    m = small()
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.warns(UserWarning, match="`x` contains NaN or inf"):
        m.predict(bad, verbose=0)
    bad[3, 1] = np.inf
    with pytest.warns(UserWarning, match="`x` contains NaN or inf"):
        m.evaluate(bad, Y, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean array warns nothing
        m.predict(X, verbose=0)


def test_nan_loss_warns_and_terminate_on_nan_stops_at_the_first_bad_batch(capsys):
    def diverging():
        m = keras.Sequential([keras.Input((4,)), L.Dense(3)])
        m.compile(optimizer=keras.optimizers.SGD(1e30), loss="mse")  # overflows within a few steps
        return m

    x = np.random.default_rng(1).normal(size=(256, 4)).astype(np.float32) * 100
    y = np.ones((256, 3), np.float32)
    with pytest.warns(UserWarning, match=r"Epoch 1: the loss is (nan|inf).*TerminateOnNaN"):
        diverging().fit(x, y, epochs=1, batch_size=8, verbose=0)
    seen = []
    record = keras.callbacks.LambdaCallback(on_batch_end=lambda batch, logs: seen.append(batch))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = diverging().fit(x, y, epochs=5, batch_size=8, verbose=0,
                            callbacks=[keras.callbacks.TerminateOnNaN(), record])
    assert "Invalid loss, terminating training" in capsys.readouterr().out
    assert h.epoch == [0] and len(seen) < 256 // 8, (h.epoch, seen)  # stopped mid-epoch, not after 5 epochs


# ---- fit / evaluate / predict arguments ----------------------------------------------------------------------

def test_bad_batch_size_epochs_and_steps():
    m = small()
    raises(ValueError, lambda: m.fit(X, Y, batch_size=0, verbose=0), "`batch_size` must be a positive integer",
           "Received: batch_size=0")
    raises(ValueError, lambda: m.predict(X, batch_size=-3, verbose=0), "Received: batch_size=-3")
    raises(ValueError, lambda: m.evaluate(X, Y, batch_size=2.5, verbose=0), "Received: batch_size=2.5")
    raises(ValueError, lambda: m.fit(X, Y, epochs=-1, verbose=0), "`epochs`", "Received: epochs=-1")
    raises(TypeError, lambda: m.fit(X, Y, epochs=1.5, verbose=0), "`epochs` must be an integer",
           "Received: epochs=1.5")
    raises(ValueError, lambda: m.fit(X, Y, steps_per_epoch=0, verbose=0), "Received: steps_per_epoch=0")
    raises(ValueError, lambda: m.fit(X, Y, validation_split=0.2, validation_freq=0, verbose=0),
           "Received: validation_freq=0")
    assert m.fit(X, Y, epochs=0, verbose=0).epoch == []  # zero epochs is allowed, as Keras


@pytest.mark.parametrize("split", [1.0, 1.5, -0.1])
def test_validation_split_outside_0_1(split):
    raises(ValueError, lambda: small().fit(X, Y, validation_split=split, verbose=0),
           "`validation_split` must be in [0, 1)", f"Received: validation_split={split}")


def test_bad_validation_data():
    m = small()
    raises(ValueError, lambda: m.fit(X, Y, validation_data=(np.ones((5, 7)), Y[:5]), verbose=0), "layer 'probs'",
           "value 4", "(5, 7)")
    raises(ValueError, lambda: m.fit(X, Y, validation_data=(np.ones((5, 4)), Y[:4]), verbose=0),
           "'x' sizes: 5", "'y' sizes: 4")
    raises(ValueError, lambda: m.fit(X, Y, validation_data=(X,), verbose=0), "`validation_data` should be a tuple",
           "Received: validation_data=tuple of length 1")
    raises(ValueError, lambda: m.fit(X, Y, validation_data=X, verbose=0),
           "Received: validation_data=ndarray of shape (10, 4)")


def test_fit_before_compile_and_compile_without_loss():
    for call in (lambda m: m.fit(X, Y, verbose=0), lambda m: m.evaluate(X, Y, verbose=0),
                 lambda m: m.train_on_batch(X, Y), lambda m: m.test_on_batch(X, Y)):
        raises(ValueError, lambda: call(small(compiled=False)), "You must call `compile()` before using the model.")
    m = small(compiled=False)
    m.compile(optimizer="sgd")
    raises(ValueError, lambda: m.fit(X, Y, verbose=0), "No loss to compute. Provide a `loss` argument in `compile()`")
    raises(ValueError, lambda: small().fit(None, Y, verbose=0), "`x`", "Received: None")
    raises(ValueError, lambda: small().fit(X, None, verbose=0), "`y`", "Received: None")


# ---- names that do not exist ------------------------------------------------------------------------------------

@pytest.mark.parametrize("make,kind,bad,valid", [
    (lambda: L.Dense(3, activation="relux"), "activation function", "relux", "'relu'"),
    (lambda: L.Dense(3, kernel_initializer="glorotx"), "initializer", "glorotx", "'glorot_uniform'"),
    (lambda: small(loss="sparse_crossentropy"), "loss", "sparse_crossentropy", "'sparse_categorical_crossentropy'"),
    (lambda: small().compile(optimizer="adamx", loss="mse"), "optimizer", "adamx", "'adam'"),
    (lambda: _fit_with_metric("accurracy"), "metric", "accurracy", "'accuracy'"),
])
def test_unknown_names_list_the_valid_ones(make, kind, bad, valid):
    raises(ValueError, make, f"Could not interpret {kind} identifier: {bad}", "Valid", valid)


def _fit_with_metric(name):
    m = small(compiled=False)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=[name])
    m.fit(X, Y, verbose=0)


# ---- set_weights ------------------------------------------------------------------------------------------

def test_set_weights_with_wrong_count_shapes_or_dtype():
    m = small()
    before = m.get_weights()
    raises(ValueError, lambda: m.set_weights([np.ones((4, 3))]), f"layer '{m.name}'", "length 1",
           "expecting 2 weights")
    raises(ValueError, lambda: m.set_weights([np.ones((4, 3)), np.ones(4)]), "weight shape (3,)",
           "provided weight shape (4,)")
    raises(ValueError, lambda: m.set_weights([np.array([[None] * 3] * 4), np.zeros(3)]), "probs/kernel",
           "numeric", "dtype object")
    raises(ValueError, lambda: m.set_weights([np.full((4, 3), "a"), np.zeros(3)]), "numeric", "dtype <U1")
    for a, b in zip(before, m.get_weights()):  # a rejected set_weights changes nothing
        np.testing.assert_array_equal(a, b)
    m.set_weights([[[1, 2, 3]] * 4, [0, 0, 0]])  # nested lists are fine
    np.testing.assert_array_equal(m.get_weights()[0], [[1, 2, 3]] * 4)


# ---- dtypes ------------------------------------------------------------------------------------------------

def test_object_string_and_complex_arrays():
    m = small()
    raises(TypeError, lambda: m.fit(np.array([[1, 2, 3, None]] * 10, dtype=object), Y, verbose=0), "`x`",
           "dtype object")
    raises(TypeError, lambda: m.fit(X, np.array(["cat"] * 10), verbose=0), "`y`", "dtype <U3")
    raises(TypeError, lambda: m.predict("abc", verbose=0), "`x`", "dtype <U3")
    raises(TypeError, lambda: m.predict(X.astype(np.complex64), verbose=0), "dtype complex64")


def test_inputs_keras_accepts_give_the_same_numbers():
    m = small()
    expected = m.predict(X, verbose=0)
    wide = np.zeros((10, 8), np.float64)
    wide[:, ::2] = X
    variants = {"float64": X.astype(np.float64), "fortran": np.asfortranarray(X), "strided": wide[:, ::2],
                "list": X.tolist(), "float16-exact": X.astype(np.float16).astype(np.float32)}
    for name, x in variants.items():
        want = m.predict(X.astype(np.float16).astype(np.float32), verbose=0) if name == "float16-exact" else expected
        np.testing.assert_allclose(m.predict(x, verbose=0), want, rtol=1e-6, atol=1e-7, err_msg=name)
    ints = np.arange(40).reshape(10, 4) % 5
    np.testing.assert_allclose(m.predict(ints, verbose=0), m.predict(ints.astype(np.float32), verbose=0), rtol=1e-6)
    # labels as int8/uint8/int64/float64/list/column all train to the same loss
    losses = []
    for y in (Y.astype(np.int8), Y.astype(np.uint8), Y.astype(np.int64), Y.astype(np.float64), Y.tolist(),
              Y.reshape(-1, 1)):
        model = small()
        model.set_weights(m.get_weights())
        losses.append(model.evaluate(X, y, verbose=0)[0])
    assert max(losses) - min(losses) < 1e-6, losses


def test_pandas_inputs():
    pd = pytest.importorskip("pandas", reason="pandas is in the `test` extras; `pip install pandas` to run this")
    m = small()
    df = pd.DataFrame(X.astype(np.float64), columns=list("abcd"))
    df["a"] = (X[:, 0] * 0 + 1).astype(np.int64)  # a mixed-dtype frame
    x = df.to_numpy(np.float32)
    np.testing.assert_allclose(m.predict(df, verbose=0), m.predict(x, verbose=0), rtol=1e-6)
    h = m.fit(df, pd.Series(Y), validation_data=(df, pd.Series(Y)), epochs=2, verbose=0)
    assert np.isfinite(h.history["val_loss"]).all()
    assert np.isfinite(m.evaluate(df, pd.Series(Y), verbose=0)[0])


# ---- files ---------------------------------------------------------------------------------------------------

def test_loading_missing_truncated_or_corrupt_files(tmp_path):
    m = small()
    m.fit(X, Y, verbose=0)
    raises(ValueError, lambda: keras.models.load_model(tmp_path / "nope.keras"), "File not found",
           "nope.keras")
    raises(ValueError, lambda: keras.models.load_model(tmp_path / "nope.h5"), "File not found", "nope.h5")
    raises(FileNotFoundError, lambda: m.load_weights(tmp_path / "nope.weights.h5"), "File not found",
           "nope.weights.h5")
    raises(ValueError, lambda: keras.models.load_model(tmp_path / "model.pkl"), "File format not supported")
    paths = {"keras": tmp_path / "m.keras", "h5": tmp_path / "m.h5", "weights": tmp_path / "m.weights.h5"}
    m.save(paths["keras"])
    m.save(paths["h5"])
    m.save_weights(paths["weights"])
    before = m.get_weights()
    for kind, path in paths.items():
        data = path.read_bytes()
        for damage, content in (("truncated", data[:len(data) // 2]), ("empty", b""),
                                ("garbage", os.urandom(len(data)))):
            bad = tmp_path / f"{damage}{path.name[1:]}"
            bad.write_bytes(content)
            load = (lambda: m.load_weights(bad)) if kind == "weights" else (lambda: keras.models.load_model(bad))
            message = raises(ValueError, load, str(bad))
            assert re.search(r"(?i)corrupt|truncated|not a valid", message), message
    for a, b in zip(before, m.get_weights()):  # failed loads left the model as it was
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(keras.models.load_model(paths["keras"]).get_weights()[0], before[0])


def test_the_model_stays_usable_after_every_mistake():
    m = small()
    for call in (lambda: m.fit(np.ones((10, 5)), Y, verbose=0), lambda: m.fit(X, Y + 7, verbose=0),
                 lambda: m.fit(X, Y, batch_size=0, verbose=0), lambda: m.predict(np.ones(4), verbose=0),
                 lambda: m.set_weights([np.ones(2)])):
        with pytest.raises(ValueError):
            call()
    h = m.fit(X, Y, epochs=3, verbose=0)
    assert np.all(np.isfinite(h.history["loss"])) and h.history["loss"][-1] < h.history["loss"][0]
