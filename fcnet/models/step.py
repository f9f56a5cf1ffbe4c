"""One training step over a stack of layers, with everything decided up front.

Which loss gradient to use (fused with a softmax/sigmoid output or not), which
variables carry regularizers or constraints, and whether the first layer may skip
its input gradient are settled once in ``__init__``; ``run`` is then a straight
line of array calls.
"""

from __future__ import annotations

import inspect

from fcnet import activations, backend
from fcnet.layers import activity_penalty, penalties_and_gradients
from fcnet.models.data_adapter import to_device

_FUSABLE = {activations.softmax: "softmax", activations.sigmoid: "sigmoid"}


class TrainStep:
    """``run(x, y, sample_weight) -> loss``: forward, loss, backward, optimizer update."""

    def __init__(self, model, parameters):
        self.model = model
        self.layers = list(model.layers)
        self.parameters = parameters
        self.optimizer = model.optimizer
        self.loss = model.loss
        self.loss_weight = model.loss_weights
        variables = parameters.variables
        self.regularized = [v for v in variables if v.regularizer is not None]
        self.constrained = [v for v in variables if v.constraint is not None]
        self.activity = {i: layer.activity_regularizer for i, layer in enumerate(self.layers)
                         if getattr(layer, "activity_regularizer", None) is not None}
        last = self.layers[-1]
        self.fused = None
        if hasattr(last, "backward_z") and hasattr(self.loss, "fused_gradient"):
            self.fused = _FUSABLE.get(getattr(last, "activation", None))
        if len(self.layers) - 1 in self.activity:
            self.fused = None  # the activity penalty needs dL/dy of the output, not dL/dz
        first = self.layers[0]
        self.first_skips_dx = "need_dx" in inspect.signature(first.backward).parameters

    def run(self, x, y, sample_weight=None) -> float:
        """One step on a batch; returns the batch loss (regularization included)."""
        x, y, sample_weight = to_device(x, y, sample_weight)
        value, _, h = self.gradients(x, y, sample_weight)
        self.model._update_metrics(y, h, sample_weight)
        self.optimizer.apply(self.parameters.grads)
        for variable in self.constrained:
            variable.assign(variable.constraint(variable.value))
        return value

    def gradients(self, x, y, sample_weight=None, need_dx: bool = False, training=True):
        """``(loss, dL/dx or None, output)``; dL/dw lands in the flat ``grads`` buffer."""
        layers = self.layers
        variables = self.parameters.variables
        for variable in variables:
            variable.clear_grad()
        h, ctxs, outputs = x, [], {}
        for i, layer in enumerate(layers):
            h, ctx = layer.forward(h, training)
            ctxs.append(ctx)
            if i in self.activity:
                outputs[i] = h
        last = len(layers) - 1
        fused = self.fused and self.loss.fused_gradient(self.fused, y, h, sample_weight)
        if fused:
            value, dh = fused
        else:
            value, dh = self.loss.value_and_gradient(y, h, sample_weight)
        if self.loss_weight is not None:
            value, dh = value * self.loss_weight, dh * dh.dtype.type(self.loss_weight)
        for i in range(last, -1, -1):
            layer = layers[i]
            if i in outputs:
                penalty, dpenalty = activity_penalty(self.activity[i], outputs[i])
                value += penalty
                dh = dh + dpenalty
            want_dx = i > 0 or need_dx
            if i == last and fused:
                dh = layer.backward_z(ctxs[i], dh, want_dx)
            elif not want_dx and self.first_skips_dx:
                dh = layer.backward(ctxs[i], dh, need_dx=False)
            else:
                dh = layer.backward(ctxs[i], dh)
        if self.regularized:
            value += penalties_and_gradients(self.regularized)
        for variable in variables:
            variable.settle_grad()  # a slot no layer wrote reads as zeros
        return float(value), dh, h

