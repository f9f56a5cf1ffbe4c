"""Floor 7: Keras files (``fcnet.saving`` mirrors ``keras.saving``).

``.keras`` zips and ``.weights.h5`` files that Keras 3 reads and writes, legacy
tf.keras ``.h5`` files, and the (de)serialisation of every fcnet object. Loading
never imports, evaluates or unpickles anything named in a file. h5py is imported
only when a file is read or written, and this package's modules on first use of one
of their names, so that ``import fcnet`` does not pay for them.
"""

from __future__ import annotations

import importlib

# name -> the module (under fcnet.saving, or fcnet.backend.files) that defines it
_LAZY = {
    "atomic_write": "fcnet.backend.files",
    "build_optimizer": "fcnet.saving.keras_file",
    "load_model": "fcnet.saving.saving_api", "load_weights": "fcnet.saving.saving_api",
    "save_model": "fcnet.saving.saving_api", "save_weights": "fcnet.saving.saving_api",
    "deserialize_keras_object": "fcnet.saving.serialization",
    "serialize_keras_object": "fcnet.saving.serialization",
}
_LAZY.update(dict.fromkeys(
    ("CustomObjectScope", "custom_object_scope", "get_custom_objects", "get_registered_name",
     "get_registered_object", "register_keras_serializable"),
    "fcnet.saving.object_registration"))


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = sorted(_LAZY)
