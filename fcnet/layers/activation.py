"""``Activation``: applies an activation function as a layer of its own."""

from __future__ import annotations

from fcnet import activations
from fcnet.layers.base import Layer
from fcnet.layers.explain import activation_name, elementwise_formula


class Activation(Layer):
    """``y = activation(x)``, elementwise (softmax: over the last axis).

    Args:
        activation: an activation name or function.

    Input shape / Output shape: any, unchanged.

    Math: dx = f'(x) ⊙ dy (for softmax the Jacobian-vector product over the last axis).
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x, training=False):
        y = self.activation(x)
        return y, (x, y)

    def backward(self, ctx, dy):
        x, y = ctx
        gradient = activations.gradient_of(self.activation)
        if gradient is None:
            raise NotImplementedError(
                f"Layer '{self.name}': activation {self.activation!r} has no `gradient`.")
        return gradient(dy, x, y)

    @property
    def output_activation(self):
        return self.activation

    def backward_step(self, ctx, dy, step, need_dx=True, from_z=False):
        """``from_z``: the loss already gave dL/dx through the activation (fused)."""
        ctx, dy = self._activity_backward(ctx, dy)
        return dy if from_z else self.backward(ctx, dy)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config

    def _explain(self, e):
        """``y = activation(x)``, value by value."""
        return elementwise_formula(e, activation_name(self.activation))
