"""``fcnet.utils``: seeding, sessions, progress bars, datasets of batches, labels, plots."""

from __future__ import annotations

import numpy

from fcnet.backend import clear_session, set_random_seed
from fcnet.callbacks.progbar import Progbar
from fcnet.models.data_adapter import PyDataset
from fcnet.utils.plotting import plot_decision_boundary, plot_history, plot_surface
from fcnet.utils.vis_utils import model_to_dot, plot_model

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
__all__ += ["plot_decision_boundary", "plot_history", "plot_surface"]
