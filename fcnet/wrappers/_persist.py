"""Models inside estimators: a fresh copy for each fit, and pickling through the
model's ``.keras`` bytes (the archive fcnet writes and reads without running code)."""

from __future__ import annotations

import io
import os
import tempfile


class KerasBytes:
    """A model held as the bytes of its ``.keras`` file while an estimator is pickled."""

    def __init__(self, data: bytes):
        self.data = data

    def __reduce__(self):
        return KerasBytes, (self.data,)


def to_bytes(model) -> bytes:
    """The ``.keras`` file of ``model`` (config, weights and optimizer state) as bytes."""
    from fcnet.saving import keras_file

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        keras_file.save(model, path)
        with open(path, "rb") as f:
            return f.read()


def from_bytes(data: bytes):
    """The model of a ``.keras`` file's bytes, compiled as it was saved."""
    from fcnet.saving import keras_file

    return keras_file.load(io.BytesIO(data))


def fresh_copy(model):
    """The same architecture with new weights, compiled with the same arguments."""
    from fcnet.saving import keras_file
    from fcnet.saving.serialization import deserialize_keras_object, serialize_keras_object

    copy = deserialize_keras_object(serialize_keras_object(model))
    config = keras_file.compile_config(model)
    if config:
        keras_file.compile_from_config(copy, config, None, type(model).__name__)
    return copy


def encode_state(state: dict) -> dict:
    """An estimator's ``__dict__`` with each model replaced by its ``.keras`` bytes."""
    from fcnet.layers import Layer

    return {k: KerasBytes(to_bytes(v)) if isinstance(v, Layer) else v
            for k, v in state.items()}


def decode_state(state: dict) -> dict:
    return {k: from_bytes(v.data) if isinstance(v, KerasBytes) else v
            for k, v in state.items()}
