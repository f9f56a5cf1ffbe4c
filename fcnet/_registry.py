"""Name lookup and Keras 3 serialisation shared by the families of named objects.

Each family keeps one registry: its classes under their class names and snake_case
names (``GlorotUniform`` and ``glorot_uniform``), plus the family's own aliases. ``get``
and ``serialize`` then behave as Keras 3's module-level functions of the same names.
`Registry` serves initializers, regularizers and constraints; `WrappingRegistry` serves
losses and metrics, whose objects also wrap plain functions; activations, which are
plain functions, share only `unknown_identifier`.
"""

from __future__ import annotations

import inspect

from fcnet import backend

# The user's own objects: registered ones (``"Package>Name"``) and those of the
# ``custom_objects`` scopes open while a file is read. ``fcnet.saving`` fills them;
# every family looks names up here after its own, so a user's initializer or
# activation named inside a layer's config resolves too.
REGISTERED: dict[str, object] = {}
SCOPES: list[dict] = []


def custom_object(name):
    """The user's object called ``name`` (innermost scope first, then the registered
    ones by full or bare name), or None."""
    if not isinstance(name, str):
        return None
    for scope in reversed(SCOPES):
        if name in scope:
            return scope[name]
    if name in REGISTERED:
        return REGISTERED[name]
    for full, obj in REGISTERED.items():
        if full.rpartition(">")[2] == name:
            return obj
    return None


def user_object(record: dict, custom_objects: dict | None = None):
    """The user's object a serialised record names (by ``registered_name``, then
    ``class_name``; for a function record also by its ``config``), or None."""
    names = [record.get("registered_name"), record.get("class_name")]
    if record.get("class_name") == "function":
        names.append(record.get("config"))
    for key in names:
        if isinstance(key, str):
            found = (custom_objects or {}).get(key) or custom_object(key)
            if found is not None:
                return found
    return None


def registered_name(obj) -> str | None:
    """``"package>name"`` when ``obj`` is registered, else None."""
    for full, registered in REGISTERED.items():
        if registered is obj:
            return full
    return None


def unknown_identifier(kind: str, identifier, names) -> ValueError:
    """Keras's error for what a family cannot interpret, listing ``names`` as given."""
    return ValueError(f"Could not interpret {kind} identifier: {identifier}. "
                      f"Known: {', '.join(names)}")


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

    def known(self) -> list[str]:
        """The names listed in error messages, sorted."""
        return sorted(self.by_name)

    def unknown(self, identifier) -> ValueError:
        return unknown_identifier(self.kind, identifier, self.known())

    def get(self, identifier):
        """None, a name, a config dict, a class, an instance or a callable -> an object.

        Dicts may be Keras 3's ``{"module", "class_name", "config", "registered_name"}``
        or tf.keras 2's ``{"class_name", "config"}``; a name or a class gives an instance
        with default arguments.
        """
        if identifier is None:
            return None
        if isinstance(identifier, dict):
            name = identifier.get("class_name")
            cls = self.by_name.get(name) or custom_object(
                identifier.get("registered_name")) or custom_object(name)
            if not inspect.isclass(cls):
                raise self.unknown(identifier)
            return cls.from_config(dict(identifier.get("config") or {}))
        if isinstance(identifier, str):
            if identifier in self.by_name:
                return self.by_name[identifier]()
            found = custom_object(identifier)
            if found is None:
                raise self.unknown(identifier)
            return found() if inspect.isclass(found) else found
        if inspect.isclass(identifier):
            return identifier()
        if callable(identifier):
            return identifier
        raise self.unknown(identifier)

    def is_builtin(self, cls: type) -> bool:
        """Whether instances of ``cls`` serialise under the family's Keras module."""
        return self.by_name.get(cls.__name__) is cls

    def record(self, obj) -> dict:
        """Keras 3's dict for an instance of ``base``: built-ins get the family's module
        and ``registered_name: None``; a user subclass its own module and class name."""
        cls = type(obj)
        builtin = self.is_builtin(cls)
        return {"module": self.module if builtin else cls.__module__,
                "class_name": cls.__name__, "config": obj.get_config(),
                "registered_name": None if builtin else cls.__name__}

    def serialize(self, obj):
        """Keras 3's dict ``{"module", "class_name", "config", "registered_name"}``.

        Instances of ``base`` as `record`; a plain function Keras's function record.
        None serialises to None.
        """
        if obj is None:
            return None
        if isinstance(obj, self.base):
            return self.record(obj)
        return {"module": "builtins", "class_name": "function",
                "config": getattr(obj, "__name__", type(obj).__name__),
                "registered_name": "function"}


class WrappingRegistry(Registry):
    """A family whose objects also wrap plain functions ``f(y_true, y_pred)``.

    Unlike `Registry`: `get` returns instances of ``base`` as they are, instantiates
    only subclasses of ``base`` and wraps any other callable in ``wrapper``; dicts go
    through `deserialize`, which finds classes by class name only; the built-ins are
    the classes defined in ``base``'s package; error messages list the names
    case-insensitively (lowercase first among equals).

    Args:
        kind, module, base, classes, aliases: as for `Registry`.
        wrapper: the class around a plain function, called ``wrapper(fn, name=name)``.
        serialize_other: serialises what is not an instance of ``base``.
        deserializable: further classes that `deserialize` finds by class name.
        functions: built-in functions, each mapped to the class `get` makes of it.
        fallback: ``name -> object`` for names not registered; a ValueError from it
            means the name is unknown.
        also_known: names understood elsewhere, listed in error messages too.
    """

    def __init__(self, kind: str, module: str, base: type, classes, aliases=None, *,
                 wrapper: type, serialize_other, deserializable=(), functions=None,
                 fallback=None, also_known=()):
        super().__init__(kind, module, base, classes, aliases)
        self.wrapper, self.serialize_other = wrapper, serialize_other
        self.by_class_name = {cls.__name__: cls for cls in (*classes, *deserializable)}
        self.functions, self.fallback = functions or {}, fallback
        self.also_known = tuple(also_known)
        self.package = base.__module__.rpartition(".")[0]

    def known(self) -> list[str]:
        return sorted(set(self.by_name).union(self.also_known),
                      key=lambda name: (name.lower(), name.swapcase()))

    def get(self, identifier):
        """None, an instance, a name, a config dict, a class or a function -> an object.

        A name or a subclass of ``base`` gives an instance with default arguments; a
        built-in function its class's instance; any other callable is wrapped.
        """
        if identifier is None:
            return None
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, dict):
            return self.deserialize(identifier)
        if isinstance(identifier, str):
            return self._from_name(identifier)
        if inspect.isclass(identifier) and issubclass(identifier, self.base):
            return identifier()
        if callable(identifier):
            # only families with built-in functions look the callable up (it may be unhashable)
            cls = self.functions.get(identifier) if self.functions else None
            if cls is not None:
                return cls()
            return self.wrapper(identifier, name=getattr(identifier, "__name__", None))
        raise self.unknown(identifier)

    def _from_name(self, name: str):
        if name in self.by_name:
            return self.by_name[name]()
        found = custom_object(name)
        if found is not None and not isinstance(found, str):
            return self.get(found)
        if self.fallback is not None:
            try:
                return self.fallback(name)
            except ValueError:
                raise self.unknown(name) from None
        raise self.unknown(name)

    def is_builtin(self, cls: type) -> bool:
        return cls.__module__.startswith(self.package)

    def serialize(self, obj):
        """Keras 3's dict for an instance of ``base`` (see `record`); anything else
        goes to ``serialize_other``."""
        if isinstance(obj, self.base):
            return self.record(obj)
        return self.serialize_other(obj)

    def deserialize(self, config, custom_objects=None):
        """The inverse of `serialize`; also takes a name.

        ``custom_objects`` maps class names to the user's classes and function names
        (Keras's ``{"class_name": "function", "config": name}``) to the user's functions,
        which come back wrapped.
        """
        if isinstance(config, str):
            return self.get(config)
        custom_objects = custom_objects or {}
        class_name = config.get("class_name")
        if class_name == "function":
            name = config.get("config")
            fn = custom_objects.get(name) or custom_object(name)
            return self.wrapper(fn, name=name) if fn is not None else self.get(name)
        cls = (custom_objects.get(class_name) or self.by_class_name.get(class_name)
               or custom_object(config.get("registered_name")) or custom_object(class_name))
        if cls is None:
            raise self.unknown(class_name)
        return cls.from_config(dict(config.get("config") or {}))
