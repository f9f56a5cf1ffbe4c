"""``fcnet.utils``: seeding, sessions, progress bars, datasets of batches, labels, plots,
downloads.

The plotting, diagram and download functions load their modules on first use, so that
``import fcnet`` does not pay for them.
"""

from __future__ import annotations

import importlib

import numpy

from fcnet.backend import clear_session, set_random_seed
from fcnet.callbacks.progbar import Progbar
from fcnet.models.data_adapter import PyDataset

# name -> the module (under fcnet.utils) that defines it, imported on first access
_LAZY = {"model_to_dot": "vis_utils", "plot_model": "vis_utils",
         "plot_decision_boundary": "plotting", "plot_history": "plotting",
         "plot_surface": "plotting", "get_file": "file_utils"}
_SUBMODULES = ("diagram_raster", "diagram_svg", "dot", "file_utils", "plotting",
               "svg_layout", "vis_utils")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))

Sequence = PyDataset  # the tf.keras 2 name


def to_categorical(x, num_classes=None):
    """One-hot float32 rows for integer labels ``x``."""
    labels = numpy.asarray(x, dtype="int64")
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    labels = labels.reshape(-1)
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    out = numpy.zeros((labels.size, num_classes), dtype="float32")
    out[numpy.arange(labels.size), labels] = 1
    return out.reshape(shape + (num_classes,))


__all__ = ["Progbar", "PyDataset", "Sequence", "clear_session", "model_to_dot", "plot_model",
           "set_random_seed", "to_categorical"]
__all__ += ["get_file", "plot_decision_boundary", "plot_history", "plot_surface"]
