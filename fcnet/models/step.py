"""One training step through the model's tape, for every kind of model.

    y, ctx = model.forward_step(x)                      every layer, in order
    L = Σ_k w_k L_k(y_k) + Σ activity penalties + Σ R(w)
    dL/dy_k = w_k L_k'(y_k)      (or dL/dz_k, fused with a softmax/sigmoid output)
    model.backward_step(ctx, dL/dy)                     the weight gradients land in
                                                        the flat gradient buffer
    optimizer.apply(grads);  w ← constraint(w)

(Plain SGD on one process may instead take the Dense kernels' steps inside their
gradient products: ``fcnet.ops.fold``.)

What can be decided before the first step is decided in ``__init__`` (which outputs
fuse, which variables carry regularizers or constraints); ``fit`` makes a new step
each time it is called, so a change to a layer between two fits is seen.
"""

from __future__ import annotations

from fcnet import activations
from fcnet.backend import tree, workspace
from fcnet.layers import Step, penalties_and_gradients
from fcnet.models.data_adapter import to_device
from fcnet.ops.fold import Fold

_FUSABLE = {activations.softmax: "softmax", activations.sigmoid: "sigmoid"}


class TrainStep:
    """``run(x, ys, sample_weights) -> (loss, per-output losses, outputs)``."""

    updates_metrics = False  # the caller updates the metrics from the outputs

    def __init__(self, model, parameters, compiled):
        self.model = model
        self.parameters = parameters
        self.optimizer = model.optimizer
        self.losses = compiled.losses
        self.weights = [None if w == 1.0 else w for w in compiled.weights]
        variables = parameters.variables
        self.regularized = [v for v in variables if v.regularizer is not None]
        self.constrained = [v for v in variables if v.constraint is not None]
        self.owners = owners(model, variables)
        self.slices = {id(v): s for v, s in zip(variables, parameters.slices)}
        # Where an output ends in softmax/sigmoid, a crossentropy loss hands over dL/dz.
        # Where a subclassed model is inside, its outputs are known only once its call has
        # run: then it is decided each step, from the pass's ctx.
        per_step = any(layer.records_calls for layer in model._flatten_layers())
        self.fused = None if per_step else [
            _FUSABLE.get(a) for a in model._output_activations()]

    def run(self, x, ys, sample_weights):
        """One step on a batch; returns the loss (regularization included), the
        per-output losses and the outputs."""
        x, ys, sample_weights = to_device(x, ys, sample_weights)
        fold = self.fold()
        value, parts, _, outputs = self.gradients(x, ys, sample_weights, fold=fold)
        if fold is not None and fold.stepped:
            self.optimizer.apply_folded(self.parameters.grads,
                                        sorted(self.slices[id(v)] for v in fold.stepped))
        else:
            self.optimizer.apply(self.parameters.grads)
        for variable in self.constrained:
            variable.assign(variable.constraint(variable.value))
        return value, parts, outputs

    def fold(self):
        """A ``Fold`` where this step's optimizer may take its step inside the Dense
        kernels' gradient products (``fcnet.ops.fold``), else None."""
        rate = self.optimizer.fold_rate()
        return None if rate is None else Fold(rate, self.parameters.params)

    def gradients(self, x, ys, sample_weights, need_dx=False, training=True, fold=None):
        """``(loss, per-output losses, dL/dx or None, outputs)``; dL/dw lands in the
        flat ``grads`` buffer, every slot written (zeros where no gradient reached),
        except for the kernels that ``fold`` (a ``Fold``, or None) stepped instead."""
        step, ctx, nested, outputs, parts, dys, from_z = self.forward_losses(
            x, ys, sample_weights, training, fold)
        value = 0.0
        for k, (dy, weight) in enumerate(zip(dys, self.weights)):
            if dy is None:
                continue
            if weight is None:
                value += parts[k]
            else:
                value += parts[k] * weight
                dys[k] = dy * dy.dtype.type(weight)
        value += sum(step.penalties)
        dx = self.model.backward_step(ctx, dys if nested else dys[0], step,
                                      need_dx=need_dx, from_z=from_z)
        value += finish_gradients(step, self.owners, self.regularized)
        return float(value), parts, dx, outputs

    def forward_losses(self, x, ys, sample_weights, training, fold=None):
        """The forward pass and each output's loss and ``dL/dy`` (``dL/dz`` where a
        crossentropy fuses with the output's softmax or sigmoid), unweighted:
        ``(step, ctx, nested, outputs, parts, dys, from_z)``."""
        step = Step(fold=fold)
        y, ctx = self.model.forward_step(x, training, step)
        nested = tree.is_nested(y)
        # the metrics may keep them past the step, whose products the next one overwrites
        outputs = [workspace.kept(o) for o in (tree.flatten(y) if nested else [y])]
        parts, dys, from_z = [], [], []
        fusable = self.fused or [_FUSABLE.get(a) for a in self.model._output_activations(ctx)]
        for k, loss in enumerate(self.losses):
            part, dy, fused = None, None, False
            if loss is not None:
                sw = None if sample_weights is None else sample_weights[k]
                fused = fusable[k] and loss.fused_gradient(fusable[k], ys[k], outputs[k], sw)
                part, dy = fused or loss.value_and_gradient(ys[k], outputs[k], sw)
            parts.append(part)  # Keras logs each output's loss unweighted
            dys.append(dy)
            from_z.append(bool(fused))
        return step, ctx, nested, outputs, parts, dys, from_z


def owners(model, variables) -> list:
    """``[(layer, its variables among variables)]`` for every layer that owns some."""
    packed = {id(v) for v in variables}
    found = []
    for layer in model._flatten_layers():
        own = [v for v in layer._trainable_weights if id(v) in packed]
        if own:
            found.append((layer, own))
    return found


def finish_gradients(step, owners, regularized) -> float:
    """After the backward pass: zeros in the slots of layers that wrote no gradient (no
    loss reached them), then ``R'(w)`` added for each regularized variable; returns
    ``Σ R(w)``."""
    for layer, variables in owners:
        if layer not in step.written:
            for variable in variables:
                variable.grad.fill(0)
    return penalties_and_gradients(regularized) if regularized else 0.0
