"""Floor 1: the array namespace, the default float type, seeding and object names.

Everything above imports ``from fcnet import backend`` and reads ``backend.xp``
at call time, so switching to CuPy (``set_backend("cupy")`` or
``FCNET_BACKEND=cupy``) needs no other change.
"""

from __future__ import annotations

import os

import numpy

from fcnet.backend.naming import clear_names, current_scope, get_uid, name_scope, snake_case
from fcnet.backend.random import SeedGenerator, generator, set_random_seed

xp = numpy
_FLOATX = "float32"


def set_backend(name: str) -> None:
    """Selects the array library: ``"numpy"`` (default) or ``"cupy"``."""
    global xp
    if name == "numpy":
        xp = numpy
    elif name == "cupy":
        import cupy  # imported only on request: no GPU cost for CPU users

        xp = cupy
    else:
        raise ValueError(
            f"Unknown backend. Expected one of 'numpy', 'cupy'. Received: name={name!r}"
        )


def backend() -> str:
    """The name of the active array library (``"numpy"`` or ``"cupy"``)."""
    return xp.__name__


def floatx() -> str:
    """The default float type, ``"float32"``, as in Keras."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Sets the default float type (``"float16"``, ``"float32"`` or ``"float64"``)."""
    global _FLOATX
    if value not in ("float16", "float32", "float64"):
        raise ValueError(
            "Unknown floatx type. Expected one of 'float16', 'float32', 'float64'. "
            f"Received: value={value!r}"
        )
    _FLOATX = value


def epsilon() -> float:
    """The fuzz factor Keras uses in losses and metrics: 1e-7."""
    return 1e-7


def to_numpy(x):
    """Brings an array back to NumPy (a no-op on the NumPy backend)."""
    if xp is numpy or isinstance(x, numpy.ndarray):
        return numpy.asarray(x)
    return xp.asnumpy(x)


def clear_session() -> None:
    """Resets the per-class name counters: the next Dense is ``dense`` again."""
    clear_names()


if os.environ.get("FCNET_BACKEND"):
    set_backend(os.environ["FCNET_BACKEND"])

__all__ = [
    "xp", "set_backend", "backend", "floatx", "set_floatx", "epsilon", "to_numpy",
    "clear_session", "get_uid", "name_scope", "current_scope", "snake_case",
    "SeedGenerator", "generator", "set_random_seed",
]
