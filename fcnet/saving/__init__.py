"""Floor 7: Keras files (``fcnet.saving`` mirrors ``keras.saving``).

``.keras`` zips and ``.weights.h5`` files that Keras 3 reads and writes, legacy
tf.keras ``.h5`` files, and the (de)serialisation of every fcnet object. Loading
never imports, evaluates or unpickles anything named in a file. h5py is imported
only when a file is read or written.
"""

from fcnet.backend.files import atomic_write
from fcnet.saving.keras_file import build_optimizer
from fcnet.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from fcnet.saving.saving_api import load_model, load_weights, save_model, save_weights
from fcnet.saving.serialization import deserialize_keras_object, serialize_keras_object

__all__ = [
    "CustomObjectScope", "atomic_write", "build_optimizer", "custom_object_scope",
    "deserialize_keras_object", "get_custom_objects", "get_registered_name",
    "get_registered_object", "load_model", "load_weights", "register_keras_serializable",
    "save_model", "save_weights", "serialize_keras_object"]
