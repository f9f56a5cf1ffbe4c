"""Optimizers over the flat parameter buffer, with Keras 3's names, defaults and rules.

``get("adam")`` gives a fresh default-configured ``Adam``; ``get`` also takes a
``serialize`` dict, an optimizer (returned as is) or None. Unknown strings raise
``ValueError: Could not interpret optimizer identifier: …``, listing the known names.
"""

from __future__ import annotations

from fcnet.optimizers import schedules
from fcnet.optimizers.adagrad import Adagrad
from fcnet.optimizers.adam import Adam
from fcnet.optimizers.adamax import Adamax
from fcnet.optimizers.adamw import AdamW
from fcnet.optimizers.base import Optimizer
from fcnet.optimizers.nadam import Nadam
from fcnet.optimizers.rmsprop import RMSprop
from fcnet.optimizers.sgd import SGD

__all__ = [
    "Optimizer", "SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "Adamax", "Nadam",
    "schedules", "get", "serialize", "deserialize",
]

# Keras resolves built-in names case-insensitively: "adam", "Adam", "RMSprop", "rmsprop".
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls
                    for cls in (SGD, RMSprop, Adagrad, Adam, AdamW, Adamax, Nadam)}


def _unknown(identifier) -> ValueError:
    return ValueError(
        f"Could not interpret optimizer identifier: {identifier}. "
        f"Known: {', '.join(sorted(ALL_OBJECTS_DICT))}"
    )


def serialize(optimizer: Optimizer) -> dict:
    """Keras 3's dict: ``{"module", "class_name", "config", "registered_name"}``."""
    return {
        "module": "keras.optimizers",
        "class_name": type(optimizer).__name__,
        "config": optimizer.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    """Builds an optimizer from ``serialize``'s dict (Keras 2's ``{class_name, config}`` too)."""
    name = config.get("class_name") if isinstance(config, dict) else None
    if not isinstance(name, str):
        raise ValueError(
            "Could not interpret optimizer config: expected a dict with 'class_name' and "
            f"'config'. Received: config={config!r}"
        )
    cls = (custom_objects or {}).get(name) or ALL_OBJECTS_DICT.get(name.lower())
    if cls is None:
        raise _unknown(name)
    return cls.from_config(dict(config.get("config") or {}), custom_objects=custom_objects)


def get(identifier) -> Optimizer | None:
    """An optimizer from a name, a config dict, a class or an instance (None → None)."""
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = ALL_OBJECTS_DICT.get(identifier.lower())
        if cls is None:
            raise _unknown(identifier)
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise _unknown(identifier)
