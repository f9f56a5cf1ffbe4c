"""``InputLayer`` and ``Input``: declare a model's input shape."""

from __future__ import annotations

from fcnet import backend
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula
from fcnet.layers.input_spec import KerasTensor
from fcnet.layers.node import Node


class InputLayer(Layer):
    """The entry point of a model: it holds the input shape and passes data through.

    Args:
        shape: the shape of one sample, without the batch axis (``(784,)``).
        batch_size: an optional fixed batch size.
        dtype: the input dtype (float32).
        batch_shape: the full shape, batch axis included (instead of ``shape``).
        name: the layer name (``input_layer``, ``input_layer_1``, …).

    Math: ``y = x`` and ``dx = dy``: the data pass through unchanged.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 name=None, input_tensor=None, optional=False, ragged=None, **kwargs):
        if "input_shape" in kwargs and shape is None:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs and batch_shape is None:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is None:
            if shape is None:
                raise ValueError("You must pass a `shape` argument to InputLayer.")
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size,) + shape
        self.batch_shape = tuple(batch_shape)
        self.built = True
        self.output = KerasTensor(self.batch_shape, dtype=self.dtype, source=self, name=self.name)
        Node(self, [], [self.output])

    def call(self, x, training=False):
        return x

    def forward(self, x, training=False):
        return x, None

    def backward(self, ctx, dy):
        return dy

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False,
                "ragged": False, "name": self.name, "optional": False}

    def _explain(self, e):
        """The model's input: ``y = x``."""
        return Formula("the model's input: the data enter here, unchanged",
                       [f"{e.y} = {e.x}"], ["dx = dy (the gradient with respect to the data)"])


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False) -> KerasTensor:
    """A symbolic input of ``shape`` (batch axis excluded) for a model's first entry.

    Example:
        >>> model = Sequential([Input(shape=(3,)), Dense(2)])
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype or backend.floatx(),
                       batch_shape=batch_shape, name=name)
    return layer.output
