"""``compile()`` arguments from a legacy HDF5 file's ``training_config``.

tf.keras 2 and Keras 3 write ``{"loss", "metrics", "weighted_metrics", "loss_weights",
"optimizer_config": {"class_name", "config"}, ...}``; losses and metrics are names or
``{class_name, config}`` dicts, possibly nested per output (lists or dicts). Keras 2's
spellings are read as Keras 3 reads them: optimizer ``lr`` is ``learning_rate``,
``decay=0`` and the ``is_legacy_optimizer``/``jit_compile`` flags are dropped, TF 2.11's
``Custom>Adam`` is ``Adam``, and a loss ``reduction`` of ``"auto"`` is
``"sum_over_batch_size"``. Names resolve to fcnet's classes, registered classes and
``custom_objects`` only.
"""

from __future__ import annotations

from fcnet.saving.legacy_h5_weights import CONFIG_ERRORS

_KERAS2_OPTIMIZER_KEYS = ("is_legacy_optimizer", "jit_compile")


def compile_model(model, training_config, custom_objects, filepath) -> None:
    """Compiles ``model`` as ``training_config`` says; a config that cannot be read raises
    ValueError naming the file."""
    if not isinstance(training_config, dict) or "optimizer_config" not in training_config:
        raise ValueError(f"The file {filepath} is not a valid legacy Keras HDF5 file: "
                         "`training_config` has no `optimizer_config`.")
    try:
        model.compile(**{
            "optimizer": _optimizer(training_config["optimizer_config"], custom_objects),
            "loss": _nested(training_config.get("loss"), "losses", custom_objects),
            "metrics": _nested(training_config.get("metrics"), "metrics", custom_objects),
            "weighted_metrics": _nested(training_config.get("weighted_metrics"), "metrics",
                                        custom_objects),
            "loss_weights": training_config.get("loss_weights"),
        })
    except CONFIG_ERRORS as error:
        raise ValueError(f"Cannot compile the model saved in {filepath} from its training "
                         f"config: {error}") from error


def _registered(name, custom_objects) -> dict:
    """``custom_objects`` plus the registered class called ``name``, if any."""
    from fcnet.saving import get_registered_object

    objects = dict(custom_objects or {})
    if isinstance(name, str) and name not in objects:
        found = get_registered_object(name, custom_objects)
        if found is not None:
            objects[name] = found
    return objects


def _optimizer(config, custom_objects):
    from fcnet import optimizers

    if isinstance(config, str):
        return optimizers.get(config)
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"`optimizer_config` must be a {{'class_name', 'config'}} dict. "
                         f"Received: {config!r}")
    name = config["class_name"]
    objects = _registered(name, custom_objects)
    if name not in objects and name.startswith("Custom>"):
        name = name[len("Custom>"):]  # how TF 2.11+ named its built-in optimizers
    arguments = dict(config.get("config") or {})
    if "lr" in arguments:
        arguments.setdefault("learning_rate", arguments["lr"])
        del arguments["lr"]
    if not arguments.get("decay"):
        arguments.pop("decay", None)
    for key in _KERAS2_OPTIMIZER_KEYS:
        arguments.pop(key, None)
    return optimizers.deserialize({"class_name": name, "config": arguments},
                                  custom_objects=objects)


def _nested(config, kind: str, custom_objects):
    """Names as they are, ``{class_name, config}`` dicts as objects, per-output lists and
    dicts item by item."""
    if config is None or isinstance(config, str):
        return config
    if isinstance(config, dict) and "class_name" in config:
        return _object(config, kind, custom_objects)
    if isinstance(config, dict):
        return {key: _nested(item, kind, custom_objects) for key, item in config.items()}
    if isinstance(config, (list, tuple)):
        return [_nested(item, kind, custom_objects) for item in config]
    raise ValueError("Saved configuration not understood. Configuration should be a "
                     f"dictionary, string, tuple or list. Received: config={config!r}.")


def _object(config: dict, kind: str, custom_objects):
    from fcnet import losses, metrics

    name = config["class_name"]
    arguments = dict(config.get("config") or {})
    if kind == "losses" and arguments.get("reduction") == "auto":
        arguments["reduction"] = "sum_over_batch_size"  # what tf.keras 2's "auto" meant
    if kind == "metrics" and name == "MeanMetricWrapper" and isinstance(
            arguments.get("fn"), str):
        return arguments["fn"]  # a wrapped built-in metric function: its name
    module = losses if kind == "losses" else metrics
    return module.deserialize({"class_name": name, "config": arguments},
                              custom_objects=_registered(name, custom_objects))
