"""The user's own classes and functions, by name: ``register_keras_serializable`` and
``custom_object_scope`` (Keras's names).

A file names a class; loading finds it among fcnet's classes, the ``custom_objects``
passed in, the open scopes and the registered objects, and nowhere else.
"""

from __future__ import annotations

import inspect

from fcnet import _registry


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Registers a class or function under ``"package>name"`` so files naming it load.

    Example:
        >>> @fcnet.saving.register_keras_serializable(package="my_package")
        ... class Scale(fcnet.layers.Layer): ...
    """
    def decorator(obj):
        registered = f"{package}>{name or obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() "
                             f"method. Received: {obj!r}")
        _registry.REGISTERED[registered] = obj
        return obj
    return decorator


def get_registered_name(obj) -> str:
    """``"package>name"`` for a registered object, else its ``__name__``."""
    return _registry.registered_name(obj) or getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name: str, custom_objects: dict | None = None, module_objects=None):
    """The object registered (or in ``custom_objects`` / an open scope) as ``name``, or None."""
    for table in (custom_objects, module_objects):
        if table and name in table:
            return table[name]
    return _registry.custom_object(name)


def get_custom_objects() -> dict:
    """The registered objects, by ``"package>name"`` (mutable, as in Keras)."""
    return _registry.REGISTERED


class CustomObjectScope:
    """``with custom_object_scope({"Scale": Scale}):`` makes those names resolvable."""

    def __init__(self, *custom_objects):
        self.custom_objects = {}
        for objects in custom_objects:
            self.custom_objects.update(objects or {})

    def __enter__(self):
        _registry.SCOPES.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _registry.SCOPES.remove(self.custom_objects)


custom_object_scope = CustomObjectScope
