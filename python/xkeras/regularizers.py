"""`keras.regularizers` (penalties added to the training loss)."""
from xkeras import _core


class Regularizer:
    def __call__(self, x):
        return 0.0

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        out = None
        if self.l1:
            out = _core.multiply(self.l1, _core.sum(_core.absolute(x)))
        if self.l2:
            t = _core.multiply(self.l2, _core.sum(_core.square(x)))
            out = t if out is None else _core.add(out, t)
        return out if out is not None else _core.constant(0.0)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}


def serialize(r):
    if r is None:
        return None
    from xkeras.saving import serialize_keras_object
    return serialize_keras_object(r)


def get(identifier):
    if identifier is None or isinstance(identifier, Regularizer) or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Could not interpret regularizer identifier: {identifier}. Valid: {sorted(_BY_NAME)}")
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict):
        from xkeras.saving import deserialize_keras_object
        return deserialize_keras_object(identifier)
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}")
