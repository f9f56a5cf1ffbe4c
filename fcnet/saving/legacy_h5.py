"""Whole models in legacy HDF5 files: tf.keras 2's ``model.save("m.h5")``, which Keras 3
still reads and writes.

File layout (root attributes are UTF-8 JSON text)::

    /                  attrs keras_version, backend,
                             model_config    {"class_name": "Sequential", "config": {...}}
                             training_config {"loss", "metrics", "weighted_metrics",
                                              "loss_weights",
                                              "optimizer_config": {"class_name", "config"}}
    /model_weights     one group per layer, named by layer name (legacy_h5_weights)
    /optimizer_weights the optimizer's variables (Keras 3: iterations, learning_rate, slots)

tf.keras 2 wrote layer dicts without ``module`` (``{"class_name", "config"}``), the first
layer's input as ``batch_input_shape``, a BatchNormalization ``axis`` as a one-item list,
optimizer arguments such as ``lr`` and ``decay``, losses with ``reduction="auto"``; these
are read as Keras 3 reads them. Classes resolve only to fcnet's own, registered ones and
``custom_objects``: a ``Lambda`` layer (whose config holds Python bytecode) is refused.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy

from fcnet.saving.legacy_h5_weights import (
    CONFIG_ERRORS,
    KERAS_VERSION,
    child,
    load_weights_from_group,
    load_weights_legacy_h5,
    malformed,
    naming_file,
    open_h5,
    read_optimizer_weights,
    read_text,
    save_optimizer_weights,
    save_weights_to_group,
)

__all__ = ["save_legacy_h5", "load_legacy_h5", "load_weights_legacy_h5"]

# Loss names Keras 3's legacy reader cannot resolve (it raises on "mse"): written in full.
_LOSS_ALIASES = {
    "mse": "mean_squared_error", "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error", "msle": "mean_squared_logarithmic_error",
    "kld": "kl_divergence",
}


# ---------------------------------------------------------------------------- saving
def save_legacy_h5(model, filepath, include_optimizer: bool = True) -> None:
    """Writes ``model`` (config, weights and, if compiled, training config and optimizer
    state) as a legacy HDF5 file that Keras 3's and tf.keras's ``load_model`` read.

    Args:
        model: the model.
        filepath: the ``.h5``/``.hdf5`` path; the file is written beside it and renamed
            over it when complete.
        include_optimizer: also write the training config and the optimizer state (when
            the model is compiled).
    """
    import h5py

    from fcnet import backend
    from fcnet.backend.files import atomic_write

    filepath = os.fspath(filepath)
    model_config = _json(_model_config(model))
    compiled = include_optimizer and _is_compiled(model)
    training_config = _json(_training_config(model)) if compiled else None
    with atomic_write(filepath) as tmp, h5py.File(tmp, "w") as h5file:
        h5file.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
        h5file.attrs["backend"] = backend.backend().encode("utf8")
        h5file.attrs["model_config"] = model_config.encode("utf8")
        if training_config is not None:
            h5file.attrs["training_config"] = training_config.encode("utf8")
        save_weights_to_group(h5file.create_group("model_weights"), model)
        if training_config is not None:
            save_optimizer_weights(h5file, model.optimizer)


def _is_compiled(model) -> bool:
    return bool(getattr(model, "compiled", False)) and model.optimizer is not None


def _model_config(model) -> dict:
    """``{class_name, config}`` in the portable form that every Keras 3 release reads."""
    from fcnet.saving import serialize_keras_object
    from fcnet.saving.keras_file import portable

    serialized = portable(serialize_keras_object(model))
    return {"class_name": serialized["class_name"],
            "config": _tensor_lists(serialized["config"], _listed)}


def _is_tensor(value) -> bool:
    """A ``[layer name, node index, tensor index]`` reference."""
    return isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)


def _listed(value):
    return [value] if _is_tensor(value) else value


def _single(value):
    return value[0] if isinstance(value, list) and len(value) == 1 and _is_tensor(
        value[0]) else value


def _tensor_lists(config, change):
    """``config`` with its (and its nested models') ``input_layers``/``output_layers``
    passed through ``change``: tf.keras 2 and Keras 3.0 write and read lists of
    references, ``[["dense", 0, 0]]``, even for one tensor."""
    if not isinstance(config, dict):
        return config
    config = dict(config)
    for key in ("input_layers", "output_layers"):
        if key in config:
            config[key] = change(config[key])
    if isinstance(config.get("layers"), list):
        config["layers"] = [
            dict(layer, config=_tensor_lists(layer["config"], change))
            if isinstance(layer, dict) and isinstance(layer.get("config"), dict) else layer
            for layer in config["layers"]]
    return config


def _training_config(model) -> dict:
    """Keras 3's legacy training config: the compile arguments, objects as
    ``{class_name, config}``, the optimizer as ``optimizer_config``."""
    args = dict(getattr(model, "_compile_args", None) or {})
    args.pop("optimizer", None)
    config = {key: _legacy_object(value) for key, value in args.items()}
    config["loss"] = _full_loss_names(config.get("loss"))
    from fcnet.saving.keras_file import portable

    config["optimizer_config"] = {"class_name": type(model.optimizer).__name__,
                                  "config": portable(model.optimizer.get_config())}
    return config


def _legacy_object(value):
    """Strings and numbers as they are, containers item by item, objects as
    ``{class_name, config}`` (or their name, for plain functions)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {key: _legacy_object(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_legacy_object(item) for item in value]
    if hasattr(value, "get_config"):
        from fcnet.saving import get_registered_name

        return {"class_name": get_registered_name(type(value)), "config": value.get_config()}
    return getattr(value, "__name__", str(value))


def _full_loss_names(loss):
    if isinstance(loss, str):
        return _LOSS_ALIASES.get(loss.lower(), loss)
    if isinstance(loss, list):
        return [_full_loss_names(item) for item in loss]
    if isinstance(loss, dict) and "class_name" not in loss:
        return {key: _full_loss_names(item) for key, item in loss.items()}
    return loss


def _json(config) -> str:
    return json.dumps(config, default=_json_default)


def _json_default(value):
    if isinstance(value, numpy.generic):
        return value.item()
    if isinstance(value, numpy.ndarray):
        return value.tolist()
    raise TypeError(f"Cannot save a {type(value).__name__} in a legacy HDF5 file's config. "
                    f"Received: {value!r}")


# ---------------------------------------------------------------------------- loading
def load_legacy_h5(filepath, custom_objects=None, compile: bool = True,
                   safe_mode: bool = True):
    """Rebuilds a model from a legacy HDF5 file (tf.keras 2's or Keras 3's ``.h5``).

    Args:
        filepath: the ``.h5``/``.hdf5`` file.
        custom_objects: ``{name: class or function}`` for the file's custom classes.
        compile: compile the model from the file's training config (and restore the
            optimizer state when it matches the model's variables).
        safe_mode: refuse configs that would run code (``Lambda`` layers).

    Returns:
        The model, with its weights loaded.

    Raises:
        ValueError: the file has no model config, malformed JSON or weights that do not
            fit the model it describes (the message names the file).
        OSError: the file is missing or not HDF5.
    """
    filepath = os.fspath(filepath)
    with naming_file(filepath), open_h5(filepath) as h5file:
        text = read_text(h5file.attrs, "model_config", filepath)
        if text is None:
            raise ValueError(f"No model config found in the file at {filepath}.")
        model = _rebuild(_decode(text, "model_config", filepath), custom_objects, safe_mode,
                         filepath)
        weights = child(h5file, "model_weights", "group", filepath)
        load_weights_from_group(weights, model, False, filepath)
        if not compile:
            return model
        text = read_text(h5file.attrs, "training_config", filepath)
        if text is None:
            warnings.warn("No training configuration found in the save file, so the model "
                          "was *not* compiled. Compile it manually.", stacklevel=2)
            return model
        from fcnet.saving.legacy_h5_compile import compile_model

        compile_model(model, _decode(text, "training_config", filepath), custom_objects,
                      filepath)
        optimizer_values = read_optimizer_weights(h5file, filepath)
    if optimizer_values is not None:
        _restore_optimizer(model, optimizer_values)
    return model


def _decode(text: str, name: str, filepath):
    try:
        return json.loads(text, object_hook=_decode_hook)
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        raise malformed(filepath, f"`{name}` is not valid JSON ({error}).") from error


def _decode_hook(obj: dict):
    """tf.keras 2's JSON encodings of shapes and tuples, as plain lists and tuples."""
    if obj.get("class_name") == "TensorShape" and "items" in obj and len(obj) == 2:
        return None if obj["items"] is None else list(obj["items"])
    if obj.get("class_name") == "__tuple__" and "items" in obj and len(obj) == 2:
        return tuple(obj["items"])
    return obj


def _upgrade_layer(config: dict) -> dict:
    """A layer (or model) dict as Keras 3 reads a legacy one: a one-item ``axis`` list
    becomes its item; nested layers are upgraded too. (``deserialize_keras_object``
    refuses Lambda layers and serialized functions.)"""
    config = dict(config)
    inner = config.get("config")
    if not isinstance(inner, dict):
        return config
    inner = dict(inner)
    if "module" not in config and isinstance(inner.get("axis"), list) and len(
            inner["axis"]) == 1:
        inner["axis"] = inner["axis"][0]
    if isinstance(inner.get("layers"), list):
        inner["layers"] = [
            _upgrade_layer(layer) if isinstance(layer, dict) else layer
            for layer in inner["layers"]]
    config["config"] = inner
    return config


def _rebuild(config, custom_objects, safe_mode: bool, filepath):
    from fcnet.models import Model
    from fcnet.saving import deserialize_keras_object

    if not (isinstance(config, dict) and isinstance(config.get("class_name"), str)
            and isinstance(config.get("config"), dict)):
        raise malformed(filepath, "`model_config` is not a {'class_name', 'config'} dict.")
    try:
        config = dict(config, config=_tensor_lists(config["config"], _single))
        model = deserialize_keras_object(_upgrade_layer(config),
                                         custom_objects=custom_objects, safe_mode=safe_mode)
    except CONFIG_ERRORS as error:
        raise ValueError(f"Cannot rebuild the model saved in {filepath}: {error}") from error
    if not isinstance(model, Model):
        raise malformed(filepath, f"`model_config` describes a {type(model).__name__}, not "
                                  "a model.")
    return model


def _restore_optimizer(model, values: list) -> None:
    """Sets the optimizer's variables from the file when they fit the model's (built
    without data); otherwise training starts from a fresh optimizer, as in Keras."""
    optimizer = model.optimizer
    try:
        model._pack_parameters()
        current = optimizer.variables
        fits = len(current) == len(values) and all(
            numpy.shape(a) == numpy.shape(b) for a, b in zip(current, values, strict=True))
        if fits:
            optimizer.set_variables(values)
            return
    except (ValueError, TypeError, AttributeError, NotImplementedError):
        pass
    warnings.warn("Error in loading the saved optimizer state. As a result, your model is "
                  "starting with a freshly initialized optimizer.", stacklevel=3)
