"""Name lookup and Keras 3 serialisation shared by initializers, regularizers and constraints.

Each family keeps one ``Registry``: its classes under their class names and snake_case
names (``GlorotUniform`` and ``glorot_uniform``), plus the family's own aliases. ``get``
and ``serialize`` then behave as Keras 3's module-level functions of the same names.
"""

from __future__ import annotations

import inspect

from fcnet import backend


class Registry:
    """The named objects of one family (``kind`` as it appears in error messages).

    Args:
        kind: e.g. ``"initializer"``; unknown identifiers raise
            ``ValueError("Could not interpret initializer identifier: ...")``.
        module: the Keras module written into serialised dicts (``"keras.initializers"``).
        base: the family's base class; instances of other subclasses serialise with
            their own module and class name as ``registered_name``.
        classes: the built-in classes.
        aliases: further names, mapped to a class or to a factory returning an instance.
    """

    def __init__(self, kind: str, module: str, base: type, classes, aliases=None):
        self.kind, self.module, self.base = kind, module, base
        self.by_name = {cls.__name__: cls for cls in classes}
        self.by_name.update({backend.snake_case(cls.__name__): cls for cls in classes})
        self.by_name.update(aliases or {})

    def unknown(self, identifier) -> ValueError:
        return ValueError(f"Could not interpret {self.kind} identifier: {identifier}. "
                          f"Known: {', '.join(sorted(self.by_name))}")

    def get(self, identifier):
        """None, a name, a config dict, a class, an instance or a callable -> an object.

        Dicts may be Keras 3's ``{"module", "class_name", "config", "registered_name"}``
        or tf.keras 2's ``{"class_name", "config"}``; a name or a class gives an instance
        with default arguments.
        """
        if identifier is None:
            return None
        if isinstance(identifier, dict):
            cls = self.by_name.get(identifier.get("class_name"))
            if not inspect.isclass(cls):
                raise self.unknown(identifier)
            return cls.from_config(dict(identifier.get("config") or {}))
        if isinstance(identifier, str):
            if identifier not in self.by_name:
                raise self.unknown(identifier)
            return self.by_name[identifier]()
        if inspect.isclass(identifier):
            return identifier()
        if callable(identifier):
            return identifier
        raise self.unknown(identifier)

    def serialize(self, obj):
        """Keras 3's dict ``{"module", "class_name", "config", "registered_name"}``.

        Built-ins get the family's module and ``registered_name: None``; a user subclass
        its own module and class name; a plain function Keras's function record. None
        serialises to None.
        """
        if obj is None:
            return None
        cls = type(obj)
        if isinstance(obj, self.base):
            builtin = self.by_name.get(cls.__name__) is cls
            return {"module": self.module if builtin else cls.__module__,
                    "class_name": cls.__name__, "config": obj.get_config(),
                    "registered_name": None if builtin else cls.__name__}
        return {"module": "builtins", "class_name": "function",
                "config": getattr(obj, "__name__", cls.__name__), "registered_name": "function"}
