"""``fcnet.datasets``: the embedded ``digits`` (no download), and Keras's datasets read
from Keras's cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``), downloaded
there when missing: ``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100``, ``imdb``,
``reuters``, ``boston_housing``, ``california_housing``. Each is imported on first use.
"""

import importlib

from fcnet.datasets import digits

_LOADERS = ("boston_housing", "california_housing", "cifar10", "cifar100", "fashion_mnist",
            "imdb", "mnist", "reuters")

__all__ = ["digits", *_LOADERS]


def __getattr__(name):
    if name in _LOADERS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LOADERS))
