"""SKLearnClassifier, SKLearnRegressor and SKLearnTransformer (keras/src/wrappers/sklearn_wrapper.py).

`model` is a compiled xkeras Model (cloned with clone_model before each fit unless warm_start) or a
callable `model(X=X, y=y, **model_kwargs)` returning one; X and y are the validated arrays (a classifier's
y one-hot encoded, a regressor's y as a column), so the callable can size the input and output layers.
The estimators pickle with their fitted model (models/pickling.py), so joblib's process backends
(GridSearchCV(n_jobs=2), Dask) can ship them.
"""
import numpy as np

try:
    import sklearn
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.validation import check_is_fitted
except ImportError as e:  # pragma: no cover - scikit-learn is an optional dependency
    raise ImportError("keras.wrappers (SKLearnClassifier, SKLearnRegressor, SKLearnTransformer) requires "
                      "scikit-learn: pip install xkeras[sklearn]") from e

from xkeras.models.cloning import clone_model
from xkeras.models.sequential import Model


def _validate_data(estimator, *args, **kwargs):
    """sklearn.utils.validation.validate_data (scikit-learn >= 1.6) or the older estimator method."""
    try:
        from sklearn.utils.validation import validate_data
    except ImportError:  # scikit-learn < 1.6
        return estimator._validate_data(*args, **kwargs)
    return validate_data(estimator, *args, **kwargs)


def _check_model(model):
    if not getattr(model, "compiled", False) or not model.loss or not model.optimizer:
        raise RuntimeError("Given model needs to be compiled, and have a loss and an optimizer.")


def _target_type(y):
    kind = type_of_target(y)
    if kind == "unknown":
        raise ValueError(f"Unknown label type for data: {y!r}")
    return kind


class TargetReshaper(TransformerMixin, BaseEstimator):
    """1-D targets become one column for the model; predictions of such targets are squeezed back."""

    def fit(self, y):
        self.ndim_ = y.ndim
        return self

    def transform(self, y):
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def inverse_transform(self, y):
        check_is_fitted(self)
        return np.squeeze(y, axis=1) if self.ndim_ == 1 and y.ndim == 2 else y


class SKLBase(BaseEstimator):
    """Shared by the three wrappers. Fitted attributes: `model_` (the trained model) and `history_`
    (the dict of per-epoch logs of the last fit)."""

    def __init__(self, model, warm_start=False, model_kwargs=None, fit_kwargs=None):
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    def _more_tags(self):  # scikit-learn < 1.6
        return {"non_deterministic": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        return tags

    @property
    def epoch_(self):
        """Epochs run by the last fit."""
        history = getattr(self, "history_", None) or {}
        return len(next(iter(history.values()), []))

    def _get_model(self, X, y):
        if self.warm_start and hasattr(self, "model_"):  # continue training the fitted model
            return self.model_
        if isinstance(self.model, Model):
            return self.model if self.warm_start else clone_model(self.model)
        if not callable(self.model):
            raise TypeError("`model` must be a compiled keras Model or a callable returning one. "
                            f"Received: model={self.model!r} (of type {type(self.model).__name__})")
        return self.model(X=X, y=y, **(self.model_kwargs or {}))

    def fit(self, X, y, **kwargs):
        """Builds (or clones) the model and fits it; `kwargs` go to `model.fit` over `fit_kwargs`."""
        X, y = _validate_data(self, X, y)
        y = self._process_target(y, reset=True)
        model = self._get_model(X, y)
        _check_model(model)
        history = model.fit(X, y, **{**(self.fit_kwargs or {}), **kwargs})
        self.history_ = dict(history.history) if history is not None else {}
        self.model_ = model
        return self

    def predict(self, X):
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        return self._reverse_process_target(self.model_.predict(X))

    def _process_target(self, y, reset=False):
        _target_type(y)
        if reset:
            self._target_encoder = TargetReshaper().fit(y)
        return self._target_encoder.transform(y)

    def _reverse_process_target(self, y):
        return self._target_encoder.inverse_transform(y)


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """A classifier: labels are one-hot encoded for the model (one output unit per class, softmax),
    `predict` maps the most probable output back to its label; `classes_` lists the labels."""

    def _process_target(self, y, reset=False):
        kind = _target_type(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"Only binary and multiclass target types are supported. Target type: {kind}")
        if reset:
            self._target_encoder = make_pipeline(TargetReshaper(), OneHotEncoder(sparse_output=False)).fit(y)
            self.classes_ = np.unique(y)
            if len(self.classes_) == 1:
                raise ValueError("Classifier can't train when only one class is present.")
        return self._target_encoder.transform(y)

    def decision_function(self, X):
        """The model's raw outputs."""
        check_is_fitted(self)
        return self.model_.predict(_validate_data(self, X, reset=False))

    def predict_proba(self, X):
        """The model's outputs, one column per class of `classes_` (not in Keras 3.15, which has no
        predict_proba; scorers such as "roc_auc" and "neg_log_loss" need it)."""
        return self.decision_function(X)

    def _more_tags(self):
        return {"poor_score": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        return tags


class SKLearnRegressor(RegressorMixin, SKLBase):
    """A regressor: `predict` returns one value per sample for a 1-D target, else the model's outputs."""

    def _more_tags(self):
        return {"poor_score": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags


class SKLearnTransformer(TransformerMixin, SKLBase):
    """A transformer (in scikit-learn's sense): `transform` returns the model's outputs, e.g. embeddings."""

    def transform(self, X):
        check_is_fitted(self)
        return self.model_.predict(_validate_data(self, X, reset=False))

    def _more_tags(self):
        return {"preserves_dtype": []}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags
