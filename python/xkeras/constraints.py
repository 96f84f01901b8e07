"""`keras.constraints` (applied after each optimizer step; the full set lands with the regularization issue)."""


class Constraint:
    def __call__(self, w):
        return w

    def get_config(self):
        return {}


def serialize(c):
    if c is None:
        return None
    from xkeras.saving import serialize_keras_object
    return serialize_keras_object(c)


def get(identifier):
    if identifier is None or isinstance(identifier, Constraint) or callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret constraint identifier: {identifier!r}")
