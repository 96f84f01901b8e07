"""`keras.wrappers`: scikit-learn estimators around an xkeras model (`pip install xkeras[sklearn]`).

scikit-learn is imported on first use of a wrapper class, not with `import xkeras`.
"""
_CLASSES = ("SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer")
__all__ = list(_CLASSES)


def __getattr__(name):
    if name in _CLASSES:
        from xkeras.wrappers import sklearn_wrapper
        return getattr(sklearn_wrapper, name)
    raise AttributeError(f"module 'xkeras.wrappers' has no attribute '{name}'")


def __dir__():
    return sorted(list(globals()) + list(_CLASSES))
