"""`keras.saving`: the .keras zip and legacy .h5 formats, weights files, and the object envelope."""
from xkeras.saving.saving_api import load_model, load_weights, save_model, save_weights  # noqa: F401
from xkeras.saving.serialization import (CustomObjectScope, custom_object_scope, deserialize_keras_object,  # noqa: F401
                                         get_custom_objects, get_registered_name, get_registered_object,
                                         register_keras_serializable, serialize_keras_object)
