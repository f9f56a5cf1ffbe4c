"""fcnet: Keras's API on NumPy, built around the Dense layer.

``import fcnet as keras`` and tf.keras code runs: ``keras.layers.Dense``,
``keras.Sequential``, ``keras.optimizers.Adam``, ``model.fit`` …

Code written as ``import tensorflow as tf`` runs after ``import fcnet as tf`` where it
uses Keras's names: ``tf.keras`` (also ``from fcnet import keras``) is fcnet itself, so
``tf.keras.layers.Dense`` is ``fcnet.layers.Dense``, and ``tf.random.normal`` is
``fcnet.random.normal``. TensorFlow's own tensor ops (``tf.matmul``, ``tf.GradientTape``,
...) are not part of fcnet.
"""

import sys as _sys

from fcnet import (
    activations,
    backend,
    callbacks,
    constraints,
    datasets,
    distribution,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    random,
    regularizers,
    saving,
    testing,
    utils,
    wrappers,
)
from fcnet.layers import Input, InputLayer, Layer
from fcnet.models import Model, Sequential
from fcnet.variables import Variable

__version__ = "0.1.0"

# ``tf.keras`` for ``import fcnet as tf``: the package itself, importable as
# ``fcnet.keras`` and ``fcnet.keras.<namespace>`` too (the same module objects, so a
# class has one identity whichever way it was reached).
keras = _sys.modules[__name__]
_sys.modules.setdefault(__name__ + ".keras", keras)
for _name in ("activations", "backend", "callbacks", "constraints", "datasets",
              "distribution", "initializers", "layers", "losses", "metrics", "models",
              "optimizers", "random", "regularizers", "saving", "utils", "wrappers"):
    _sys.modules.setdefault(f"{__name__}.keras.{_name}", getattr(keras, _name))
del _name

__all__ = [
    "Input", "InputLayer", "Layer", "Model", "Sequential", "Variable", "activations", "backend",
    "callbacks", "constraints", "datasets", "distribution", "initializers", "keras", "layers",
    "losses", "metrics", "models", "optimizers", "random", "regularizers", "saving", "testing",
    "utils", "wrappers", "__version__",
]
