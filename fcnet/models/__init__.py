"""Floor 6: models and the training loop (``fcnet.models`` mirrors ``keras.models``)."""

from fcnet.models.model import Model
from fcnet.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model saved in a ``.keras`` (or legacy ``.h5``) file: see ``fcnet.saving``."""
    from fcnet.saving import load_model as load

    return load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, **kwargs):
    """``model.save(filepath)``."""
    model.save(filepath, overwrite=overwrite, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """A model (new weights) from ``model.to_json()``'s string."""
    import json

    from fcnet.saving import deserialize_keras_object
    from fcnet.saving.object_registration import custom_object_scope

    try:
        config = json.loads(json_string)
    except ValueError as error:
        raise ValueError(f"model_from_json expects a JSON string. Received: {error}") from None
    with custom_object_scope(custom_objects or {}):
        return deserialize_keras_object(config, custom_objects=custom_objects)


__all__ = ["Model", "Sequential", "load_model", "model_from_json", "save_model"]
