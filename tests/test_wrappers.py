"""keras.wrappers (SKLearnClassifier, SKLearnRegressor, SKLearnTransformer) with scikit-learn.

Wrapper outputs equal the underlying model's; estimators clone, pickle and run in GridSearchCV with two
worker processes (loky pickles them), picking the known best candidate of a constructed problem.
Run: python -m pytest tests/test_wrappers.py -q
"""
import pickle

import numpy as np
import pytest

import xkeras as keras

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is the optional dependency under test")
from sklearn.base import clone  # noqa: E402
from sklearn.metrics import accuracy_score, r2_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_validate  # noqa: E402

from xkeras.wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.uniform(-1, 1, size=(240, 2)).astype(np.float32)
Y_XOR = (X[:, 0] * X[:, 1] > 0).astype(int)  # not linearly separable: needs a hidden layer
Y_REG = (2 * X[:, 0] - X[:, 1] + 0.5).astype(np.float32)
QUIET = {"verbose": 0}


def classifier(X, y, hidden=16, lr=0.03):
    """The callable the wrappers call: sized from the data, compiled; seeded so every fit (in this
    process or a worker) starts from the same weights and shuffles the same way."""
    keras.utils.set_random_seed(7)
    L = keras.layers
    layers = [keras.Input((X.shape[1],))] + ([L.Dense(hidden, activation="relu")] if hidden else [])
    model = keras.Sequential(layers + [L.Dense(y.shape[1], activation="softmax")])
    model.compile(keras.optimizers.Adam(lr), "categorical_crossentropy")
    return model


def regressor(X, y):
    model = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(y.shape[1])])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


def test_namespaces():
    assert keras.wrappers.SKLearnClassifier is SKLearnClassifier
    import xkeras as tf
    assert tf.keras.wrappers.SKLearnRegressor is SKLearnRegressor
    assert sorted(SKLearnClassifier(classifier).get_params()) == ["fit_kwargs", "model", "model_kwargs",
                                                                   "warm_start"]


def test_classifier_outputs_are_the_models():
    keras.utils.set_random_seed(0)
    labels = np.array(["cat", "dog"])[Y_XOR]
    est = SKLearnClassifier(classifier, model_kwargs={"hidden": 8}, fit_kwargs={"epochs": 5, **QUIET})
    assert est.fit(X, labels) is est
    assert list(est.classes_) == ["cat", "dog"] and est.n_features_in_ == 2
    assert est.model_.layers[0].units == 8 and len(est.history_["loss"]) == 5 == est.epoch_
    raw = est.model_.predict(X, verbose=0)
    np.testing.assert_array_equal(est.predict_proba(X), raw)
    np.testing.assert_array_equal(est.decision_function(X), raw)
    np.testing.assert_array_equal(est.predict(X), est.classes_[raw.argmax(1)])
    assert est.score(X, labels) == pytest.approx(accuracy_score(labels, est.predict(X)))
    with pytest.raises(ValueError, match="X has 3 features, but SKLearnClassifier is expecting 2"):
        est.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="Only binary and multiclass target types are supported"):
        SKLearnClassifier(classifier).fit(X, Y_REG)


def test_regressor_and_transformer_outputs_are_the_models():
    keras.utils.set_random_seed(0)
    reg = SKLearnRegressor(regressor, fit_kwargs={"epochs": 20, **QUIET}).fit(X, Y_REG)
    raw = reg.model_.predict(X, verbose=0)
    assert raw.shape == (240, 1)
    np.testing.assert_array_equal(reg.predict(X), raw[:, 0])
    assert reg.score(X, Y_REG) == pytest.approx(r2_score(Y_REG, raw[:, 0]), rel=1e-6) and reg.score(X, Y_REG) > 0.95
    with pytest.raises(ValueError, match="y should be a 1d array"):  # as Keras: one target column only
        SKLearnRegressor(regressor).fit(X, np.stack([Y_REG, -Y_REG], 1))

    tr = SKLearnTransformer(regressor, fit_kwargs={"epochs": 2, **QUIET}).fit(X, Y_REG)
    np.testing.assert_array_equal(tr.transform(X), tr.model_.predict(X, verbose=0))
    assert tr.transform(X).shape == (240, 1)


def test_model_instance_is_cloned_unless_warm_start():
    keras.utils.set_random_seed(0)
    model = classifier(X, np.zeros((1, 2)))
    before = [w.copy() for w in model.get_weights()]
    est = SKLearnClassifier(model, fit_kwargs={"epochs": 2, **QUIET}).fit(X, Y_XOR)
    assert est.model_ is not model and est.model_.compiled
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # the given model is a template only

    warm = SKLearnClassifier(classifier, warm_start=True, fit_kwargs={"epochs": 2, **QUIET}).fit(X, Y_XOR)
    first = warm.model_
    iterations = int(first.optimizer.iterations.numpy())
    warm.fit(X, Y_XOR)
    assert warm.model_ is first and int(first.optimizer.iterations.numpy()) == 2 * iterations

    uncompiled = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    with pytest.raises(RuntimeError, match="needs to be compiled"):
        SKLearnClassifier(lambda X, y: uncompiled).fit(X, Y_XOR)


def test_clone_set_params_and_pickle_of_fitted_estimators():
    est = SKLearnClassifier(classifier, model_kwargs={"hidden": 4}, fit_kwargs={"epochs": 3, **QUIET})
    twin = clone(est)
    assert twin.get_params() == est.get_params()  # fit_kwargs survive clone (Keras 3.15 drops them)
    assert twin.set_params(model_kwargs={"hidden": 6}).model_kwargs == {"hidden": 6}
    keras.utils.set_random_seed(0)
    est.fit(X, Y_XOR, epochs=2)  # fit's kwargs take precedence over fit_kwargs, which are not modified
    assert len(est.history_["loss"]) == 2 and est.fit_kwargs["epochs"] == 3
    back = pickle.loads(pickle.dumps(est))
    assert back.model_ is not est.model_
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(back.classes_, est.classes_)
    with_instance = SKLearnRegressor(regressor(X, Y_REG[:, None]))
    copied = clone(with_instance)
    assert copied.model is not with_instance.model  # a Model parameter is deep-copied, as in Keras
    for a, b in zip(copied.model.get_weights(), with_instance.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_grid_search_with_two_processes_picks_the_known_best():
    # XOR: a linear model (hidden=0) cannot fit it, one step is too few; only hidden=16 with 40 epochs can.
    grid = {"model_kwargs": [{"hidden": 0}, {"hidden": 16}],
            "fit_kwargs": [{"epochs": 1, "batch_size": 128, **QUIET}, {"epochs": 40, "batch_size": 16, **QUIET}]}
    search = GridSearchCV(SKLearnClassifier(classifier), grid, cv=2, n_jobs=2)
    search.fit(X, Y_XOR)
    assert search.best_params_ == {"model_kwargs": {"hidden": 16},
                                   "fit_kwargs": {"epochs": 40, "batch_size": 16, **QUIET}}
    scores = dict(zip(map(str, search.cv_results_["params"]), search.cv_results_["mean_test_score"]))
    assert search.best_score_ > 0.9 and sorted(scores.values())[-2] < 0.8, scores
    assert search.best_estimator_.score(X, Y_XOR) > 0.9  # refit on all the data in this process


def test_fitted_estimators_come_back_from_worker_processes():
    # return_estimator=True: each fold's fitted estimator (with its trained model) is pickled in a loky
    # worker and unpickled here; its predictions must reproduce the score the worker computed.
    est = SKLearnClassifier(classifier, fit_kwargs={"epochs": 5, **QUIET})
    folds = [(np.arange(0, 120), np.arange(120, 240)), (np.arange(120, 240), np.arange(0, 120))]
    out = cross_validate(est, X, Y_XOR, cv=folds, n_jobs=2, return_estimator=True)
    for fitted, (_, test), score in zip(out["estimator"], folds, out["test_score"]):
        assert fitted.model_.optimizer.iterations.numpy() == 5 * 4  # 5 epochs of 120 rows in batches of 32
        assert accuracy_score(Y_XOR[test], fitted.predict(X[test])) == score
        fitted.fit(X, Y_XOR)  # and they train again here


def test_randomized_search_on_a_regressor():
    search = RandomizedSearchCV(SKLearnRegressor(regressor),
                                {"fit_kwargs": [{"epochs": e, **QUIET} for e in (1, 30)]},
                                n_iter=2, cv=2, random_state=0)
    search.fit(X, Y_REG)
    assert search.best_params_["fit_kwargs"]["epochs"] == 30


def test_import_xkeras_without_scikit_learn():
    """scikit-learn is optional: `import xkeras` works without it; a wrapper names the pip extra."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import xkeras as keras\n"
            "try:\n    keras.wrappers.SKLearnClassifier\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "requires scikit-learn: pip install xkeras[sklearn]" in out.stdout, out
