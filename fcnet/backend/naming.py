"""Object names as Keras gives them: ``dense``, ``dense_1``, … per class prefix.

A name scope stack records which layers and models are building right now, so a
variable knows its tf.keras 2 name (``dense_1/kernel:0``) and its Keras 3 path
(``sequential/dense_1/kernel``).
"""

from __future__ import annotations

import contextlib
import re

_counters: dict[str, int] = {}
_scope: list[str] = []


def snake_case(name: str) -> str:
    """``MaxPooling2D`` -> ``max_pooling2d``, ``InputLayer`` -> ``input_layer``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def get_uid(prefix: str) -> str:
    """The next free auto name for ``prefix``: the bare prefix first, then ``_1``, ``_2``."""
    count = _counters.get(prefix, 0)
    _counters[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_names() -> None:
    _counters.clear()


@contextlib.contextmanager
def name_scope(name: str):
    """Pushes ``name`` on the scope stack while a layer or model builds."""
    _scope.append(name)
    try:
        yield
    finally:
        _scope.pop()


def current_scope() -> tuple[str, ...]:
    return tuple(_scope)
