"""fcnet: Keras's API on NumPy, built around the Dense layer.

``import fcnet as keras`` and tf.keras code runs: ``keras.layers.Dense``,
``keras.Sequential``, ``keras.optimizers.Adam``, ``model.fit`` …
"""

from fcnet import (
    activations,
    backend,
    callbacks,
    constraints,
    datasets,
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
)
from fcnet.layers import Input, InputLayer, Layer
from fcnet.models import Model, Sequential
from fcnet.variables import Variable

__version__ = "0.1.0"

__all__ = [
    "Input", "InputLayer", "Layer", "Model", "Sequential", "Variable", "activations", "backend",
    "callbacks", "constraints", "datasets", "initializers", "layers", "losses", "metrics",
    "models", "optimizers", "random", "regularizers", "saving", "testing", "utils", "__version__",
]
