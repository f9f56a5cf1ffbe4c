"""Objects to Keras 3's JSON records and back: ``serialize_keras_object`` and
``deserialize_keras_object``.

A record is ``{"module", "class_name", "config", "registered_name"}`` (Keras 2's
``{"class_name", "config"}`` is read too). Reading is safe by construction: a
``class_name`` is looked up among fcnet's own classes, the ``custom_objects`` given,
the open ``custom_object_scope``s and the registered objects, and nowhere else.
``module`` only chooses among fcnet's families; nothing named in a file is imported,
evaluated or unpickled, and a serialized lambda is refused.
"""

from __future__ import annotations

import inspect

import numpy

from fcnet import _registry
from fcnet.models.config import LAMBDA_LAYER_REFUSED

LAMBDA_REFUSED = (
    "Requested the deserialization of a Python lambda. This carries a potential risk of "
    "arbitrary code execution and thus it is disallowed: fcnet never runs code stored in "
    "a file. Rebuild the model in Python and load only its weights (`load_weights`).")
_NUMERIC = frozenset("bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 "
                     "float32 float64".split())


# ---------------------------------------------------------------- the families
def _families() -> dict[str, dict[str, type]]:
    """fcnet's classes by Keras module, each by class name."""
    from fcnet import (
        constraints,
        initializers,
        layers,
        losses,
        metrics,
        models,
        optimizers,
        regularizers,
    )
    from fcnet.models.functional import Functional
    from fcnet.optimizers import schedules

    def classes(module, base):
        return {name: obj for name, obj in vars(module).items()
                if inspect.isclass(obj) and issubclass(obj, base)}

    return {
        "keras.layers": dict(layers._CLASSES),
        "keras.models": {"Sequential": models.Sequential, "Functional": Functional,
                         "Model": models.Model},
        "keras.optimizers": classes(optimizers, optimizers.Optimizer),
        "keras.optimizers.schedules": classes(schedules, schedules.LearningRateSchedule),
        "keras.losses": classes(losses, losses.Loss),
        "keras.metrics": classes(metrics, metrics.Metric),
        "keras.initializers": classes(initializers, initializers.Initializer),
        "keras.regularizers": classes(regularizers, regularizers.Regularizer),
        "keras.constraints": classes(constraints, constraints.Constraint),
    }


_FAMILIES: dict | None = None


def _family_for(module) -> list[dict]:
    """The families a record's ``module`` may name, most likely first."""
    global _FAMILIES
    if _FAMILIES is None:
        _FAMILIES = _families()
    everything = list(_FAMILIES.values())
    if not isinstance(module, str):
        return everything
    if module in ("keras", "keras.models") or module.startswith("keras.src.models"):
        return [_FAMILIES["keras.models"], _FAMILIES["keras.layers"]]
    for prefix, family in _FAMILIES.items():
        if module == prefix or module.startswith(prefix.replace("keras.", "keras.src.")):
            return [family] + [f for f in everything if f is not family]
    return everything


def _trusted_module(module) -> bool:
    return module is None or (isinstance(module, str) and module.partition(".")[0] in (
        "keras", "tf_keras", "tensorflow", "fcnet"))


def _lookup(record: dict, custom_objects: dict | None):
    """The class (or function) a record names, from the allowed places only."""
    name = record.get("class_name")
    found = _registry.user_object(record, custom_objects)
    if found is not None:
        return found
    if name == "Lambda":
        raise ValueError(LAMBDA_LAYER_REFUSED)
    module = record.get("module")
    if _trusted_module(module):
        for family in _family_for(module):
            if name in family:
                return family[name]
    raise TypeError(
        f"Could not locate class '{name}'. fcnet loads only its own classes and those "
        "passed in `custom_objects` or registered with "
        f"`fcnet.saving.register_keras_serializable()`. Received: module={module!r}, "
        f"class_name={name!r}")


# ---------------------------------------------------------------- writing
def serialize_keras_object(obj):
    """``obj`` as Keras 3 writes it in JSON: plain values as they are, tuples as lists,
    arrays as ``__numpy__`` records, layers, models, optimizers, losses, metrics,
    initializers, regularizers, constraints and schedules as records, functions by name."""
    from fcnet import activations, layers, losses, metrics, optimizers
    from fcnet.optimizers import schedules

    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, numpy.generic):
        return obj.item()
    if isinstance(obj, numpy.ndarray):
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(),
                                                      "dtype": str(obj.dtype)}}
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, layers.Layer):
        return _user_record(obj) or layers.serialize(obj)
    if isinstance(obj, optimizers.Optimizer):
        return _user_record(obj) or optimizers.serialize(obj)
    if isinstance(obj, schedules.LearningRateSchedule):
        return _user_record(obj) or schedules.serialize(obj)
    if isinstance(obj, losses.Loss):
        return losses.serialize(obj)
    if isinstance(obj, metrics.Metric):
        return metrics.serialize(obj)
    for family in _registries():
        if isinstance(obj, family.base):
            return _user_record(obj) or family.serialize(obj)
    if inspect.isclass(obj):
        return _registry_name(obj)
    if callable(obj):
        name = activations.serialize(obj)
        if _is_builtin_activation(name) and activations.get(name) is obj:
            return name
        return {"module": getattr(obj, "__module__", None), "class_name": "function",
                "config": getattr(obj, "__name__", name),
                "registered_name": _registry_name(obj)}
    raise TypeError(f"Cannot serialize {obj!r} (of type {type(obj).__name__}) for a Keras "
                    f"file. Received: {obj!r}")


def _registries():
    from fcnet import constraints, initializers, regularizers
    return (initializers._REGISTRY, regularizers._REGISTRY, constraints._REGISTRY)


def _is_builtin_activation(name) -> bool:
    from fcnet import activations
    return isinstance(name, str) and name in activations._BY_NAME


def _registry_name(obj) -> str:
    from fcnet.saving.object_registration import get_registered_name
    return get_registered_name(obj)


def _user_record(obj) -> dict | None:
    """The record of an object of the user's own class (None for fcnet's classes)."""
    cls = type(obj)
    if cls.__module__.startswith("fcnet."):
        return None
    from fcnet import layers
    record = {"module": cls.__module__, "class_name": cls.__name__,
              "config": obj.get_config(), "registered_name": _registry_name(cls)}
    if isinstance(obj, layers.Layer):
        build = obj.get_build_config()
        if build is not None:
            record["build_config"] = serialize_keras_object(build)
    return record


# ---------------------------------------------------------------- reading
def deserialize_keras_object(config, custom_objects: dict | None = None,
                             safe_mode: bool = True, **kwargs):
    """The object a record describes (see the module docstring); plain values and
    containers come back as they are, records inside lists and dicts are resolved.

    Raises:
        ValueError: for a lambda or a Lambda layer (in every mode: fcnet never runs code
            from a file), or a malformed record.
        TypeError: for a class that is neither fcnet's nor the user's.
    """
    if config is None or isinstance(config, (bool, int, float, str)):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(v, custom_objects, safe_mode) for v in config]
    if not isinstance(config, dict):
        raise TypeError(f"Could not deserialize {config!r}: expected a dict, a list or a "
                        f"plain value. Received: {type(config).__name__}")
    if "class_name" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode)
                for k, v in config.items()}
    name = config["class_name"]
    inner = config.get("config")
    if name == "__lambda__" or (name == "function" and isinstance(inner, dict)
                                and "code" in inner):
        raise ValueError(LAMBDA_REFUSED)
    if name in ("__numpy__", "__tensor__"):
        return _array(inner)
    if name == "function":
        return _function(config, custom_objects)
    if not isinstance(name, str) or (inner is not None and not isinstance(inner, dict)):
        raise ValueError(f"Could not deserialize a malformed record: 'class_name' must be a "
                         f"string and 'config' a dict. Received: {_short(config)}")
    with _registry_scope(custom_objects):
        cls = _lookup(config, custom_objects)
        return _instantiate(cls, dict(inner or {}), config, custom_objects)


def _short(value, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class _registry_scope:
    """``custom_objects`` visible to every family while a record is read."""

    def __init__(self, custom_objects):
        self.objects = dict(custom_objects or {})

    def __enter__(self):
        _registry.SCOPES.append(self.objects)

    def __exit__(self, *exc):
        _registry.SCOPES.remove(self.objects)


def _array(inner):
    if not isinstance(inner, dict) or str(inner.get("dtype")) not in _NUMERIC:
        raise ValueError(f"Could not deserialize an array record: expected a numeric "
                         f"'dtype' and a 'value'. Received: {_short(inner)}")
    return numpy.asarray(inner.get("value"), dtype=inner["dtype"])


def _function(config: dict, custom_objects):
    from fcnet import activations, losses, metrics

    name = config.get("config")
    found = _registry.user_object(config, custom_objects)
    if found is not None:
        return found
    if isinstance(name, str):
        for family in (activations._BY_NAME, losses._FUNCTIONS):
            if name in family:
                return family[name]
        if name in metrics._REGISTRY.by_name:
            return metrics.get(name)
    raise TypeError(f"Could not locate function '{name}'. fcnet loads only its own "
                    "functions and those passed in `custom_objects` or registered with "
                    f"`fcnet.saving.register_keras_serializable()`. Received: {_short(config)}")


def _instantiate(cls, inner: dict, record: dict, custom_objects):
    from fcnet import layers, optimizers
    from fcnet.models.config import deserialize_layer, known_keys

    if not inspect.isclass(cls):
        return cls  # a registered function or instance
    if issubclass(cls, layers.Layer):
        return deserialize_layer(dict(record, config=inner), custom_objects, cls=cls)
    if issubclass(cls, optimizers.Optimizer):
        return cls.from_config(known_keys(cls, inner), custom_objects=custom_objects)
    if hasattr(cls, "from_config"):
        return cls.from_config(inner)
    return cls(**inner)
