"""Data-parallel training, evaluation and prediction (DESIGN §7).

Every process holds the whole model and takes rows ``[start:stop]`` of each global
batch (``shard``). For output ``k`` with loss ``L_k = S_k / D_k`` (``S_k`` the weighted
sum of the per-sample losses, ``D_k`` the reduction's divisor: the number of loss
elements, of valid ones with ``ignore_class``, or the weight sum), process ``r`` holds
``S_kr`` and ``D_kr``. One small Allreduce gives ``S_k = Σ_r S_kr`` and ``D_k = Σ_r D_kr``
(with the metric states' changes and the activity penalties), so the loss is the global
batch's; process ``r`` then scales its ``dL/dy_k`` by ``D_kr / D_k`` and

    grads = Σ_r dL_r/dw                       one in-place Allreduce of the flat buffer
    grads += R'(w)                            once, after the sum

is the global batch's gradient: the weights stay identical on every process with no
other exchange. The distribution object comes from ``fcnet.distribution`` through
``fcnet.backend.parallel``:

    rank, world_size        this process's place
    allreduce(array)        sums ``array`` across processes, in place
    broadcast(obj)          rank 0's ``obj`` on every process
    allgather(obj)          ``[obj of rank 0, obj of rank 1, …]``
    abort(error)            ends the whole job, naming this process
"""

from __future__ import annotations

import math

import numpy

from fcnet import backend
from fcnet.backend import random as backend_random
from fcnet.backend import tree
from fcnet.callbacks._training_state import _layer_generators
from fcnet.layers import Step, penalties_and_gradients, weight_penalty
from fcnet.models.data_adapter import to_device
from fcnet.models.step import TrainStep, finish_gradients


def shard(total: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(start, stop)``: process ``rank``'s rows of a batch of ``total`` rows; the
    shares differ by at most one row and lie in rank order."""
    return total * rank // world_size, total * (rank + 1) // world_size


def loss_divisor(loss, y_true, y_pred, sample_weight=None):
    """The divisor ``D`` of ``loss``'s reduction on this batch (``loss = S / D``); None
    for ``reduction="sum"`` (nothing to divide: the processes' sums add up).

    ``sum_over_batch_size`` / ``mean``: the number of per-sample loss values (``y_pred``'s
    shape without its last axis), or of the valid ones where the loss masks some
    (``ignore_class``); ``mean_with_sample_weight``: the sum of the weights (times the
    mask)."""
    reduction = getattr(loss, "reduction", "sum_over_batch_size")
    if reduction == "sum":
        return None
    xp = backend.xp
    t, p = loss._prepare(y_true, y_pred)
    mask = loss._mask(t, p)
    shape = tuple(p.shape[:-1]) if p.ndim > 1 else tuple(p.shape)
    if reduction == "mean_with_sample_weight" and (sample_weight is not None or mask is not None):
        w = xp.ones(shape, dtype="float64")
        if mask is not None:
            w = w * mask.reshape(shape)
        if sample_weight is not None:
            sw = xp.asarray(sample_weight, dtype="float64")
            w = w * sw.reshape(sw.shape + (1,) * (len(shape) - sw.ndim))
        return float(w.sum())
    if mask is not None:
        return float(mask.sum())
    return float(math.prod(shape))


def exchange(dist, model, losses, ys, outputs, sample_weights, parts, penalties):
    """Updates the metrics and sums everything per-batch across processes, in one
    Allreduce of a small float64 buffer.

    Returns ``(global parts, scales, global penalties)``: ``scales[k] = D_kr / D_k``
    multiplies this process's ``dL/dy_k`` (1.0 for a summed loss, None for no loss)."""
    before = {id(m): m.state() for m in model.metrics}
    model._update_metrics(ys, outputs, sample_weights)
    metrics = model.metrics
    starts = [before.get(id(m)) or [numpy.zeros_like(s) for s in m.state()] for m in metrics]
    deltas = [a - b for m, start in zip(metrics, starts) for a, b in zip(m.state(), start)]
    local = []
    divisors = []
    for k, loss in enumerate(losses):
        if loss is None:
            divisors.append(None)
            local += [0.0, 0.0]
            continue
        sw = None if sample_weights is None else sample_weights[k]
        d = loss_divisor(loss, ys[k], outputs[k], sw)
        divisors.append(d)
        local += [float(parts[k]) * (1.0 if d is None else d), 1.0 if d is None else d]
    local.append(float(sum(penalties)))
    buffer = numpy.concatenate([numpy.asarray(local, dtype=numpy.float64)]
                               + [numpy.ravel(d).astype(numpy.float64) for d in deltas])
    dist.allreduce(buffer)
    position = len(local)
    for metric, start in zip(metrics, starts):
        state = []
        for a in start:
            state.append(a + buffer[position:position + a.size].reshape(a.shape))
            position += a.size
        metric.set_state(state)
    global_parts, scales = [], []
    for k, d in enumerate(divisors):
        if losses[k] is None:
            global_parts.append(None)
            scales.append(None)
        elif d is None:  # reduction="sum": the sums add up
            global_parts.append(buffer[2 * k])
            scales.append(1.0)
        else:
            total = buffer[2 * k + 1]
            global_parts.append(buffer[2 * k] / total if total else 0.0)
            scales.append(d / total if total else 0.0)
    return global_parts, scales, float(buffer[len(local) - 1])


class ShardedTrainStep(TrainStep):
    """``TrainStep`` on this process's rows of each global batch: the loss, the metrics
    and the gradient are the global batch's (see the module's docstring)."""

    updates_metrics = True  # `exchange` updates them, merged across processes

    def __init__(self, model, parameters, compiled, dist):
        super().__init__(model, parameters, compiled)
        self.dist = dist

    def fold(self):
        """None: the gradient is averaged over the processes before any step."""
        return None

    def gradients(self, x, ys, sample_weights, need_dx=False, training=True, fold=None):
        step, ctx, nested, outputs, parts, dys, from_z = self.forward_losses(
            x, ys, sample_weights, training)
        parts, scales, penalties = exchange(self.dist, self.model, self.losses, ys, outputs,
                                            sample_weights, parts, step.penalties)
        value = penalties
        for k, dy in enumerate(dys):
            if dy is None:
                continue
            weight = self.weights[k]
            value += parts[k] if weight is None else parts[k] * weight
            dys[k] = dy * dy.dtype.type(scales[k] * (1.0 if weight is None else weight))
        dx = self.model.backward_step(ctx, dys if nested else dys[0], step,
                                      need_dx=need_dx, from_z=from_z)
        finish_gradients(step, self.owners, [])
        self.dist.allreduce(self.parameters.grads)
        if self.regularized:  # R'(w) once, not once per process
            value += penalties_and_gradients(self.regularized)
        return float(value), parts, dx, outputs


def test_step(model, dist, x, ys, sample_weights):
    """``(loss, per-output losses)`` of the global batch, from this process's rows; the
    metrics are updated with the global batch."""
    x, ys, sample_weights = to_device(x, ys, sample_weights)
    step = Step(backward=False)
    y = model.forward_step(x, False, step)[0]
    outputs = tree.flatten(y) if tree.is_nested(y) else [y]
    losses = model._compiled.losses
    parts = [None if loss is None else float(loss(
        ys[k], outputs[k], sample_weight=None if sample_weights is None else sample_weights[k]))
        for k, loss in enumerate(losses)]
    parts, _, value = exchange(dist, model, losses, ys, outputs, sample_weights, parts,
                               step.penalties)
    for k, part in enumerate(parts):
        if part is not None:
            weight = model._compiled.weights[k]
            value += part if weight is None else part * weight
    return value + weight_penalty(model.trainable_variables), parts


def broadcast_state(model, dist) -> None:
    """Rank 0's weights, optimizer state and random generators on every process, so all
    start as one model (and shuffle and draw masks alike)."""
    generators = [rng for _, _, _, rng in _layer_generators(model)]
    state = None
    if dist.rank == 0:
        state = {"weights": model.get_weights(),
                 "optimizer": [numpy.asarray(backend.to_numpy(v))
                               for v in model.optimizer.variables],
                 "rng": backend_random.generator().bit_generator.state,
                 "layer_rngs": [rng.bit_generator.state for rng in generators]}
    state = dist.broadcast(state)
    if dist.rank == 0:
        return
    model.set_weights(state["weights"])
    model.optimizer.set_variables(state["optimizer"])
    backend_random.generator().bit_generator.state = state["rng"]
    if len(generators) != len(state["layer_rngs"]):
        raise ValueError(f"Process {dist.rank}'s model has {len(generators)} random "
                         f"generators; rank 0's has {len(state['layer_rngs'])}. Every "
                         "process must build the same model.")
    for rng, saved in zip(generators, state["layer_rngs"]):
        rng.bit_generator.state = saved


def average_non_trainable(model, dist) -> None:
    """Averages the non-trainable float weights (BatchNormalization's moving statistics,
    which each process updated from its own rows) so every process holds one model."""
    variables = [v for v in model.non_trainable_weights
                 if numpy.dtype(v.dtype).kind == "f"]
    if not variables:
        return
    values = [numpy.asarray(backend.to_numpy(v.value), dtype=numpy.float64) for v in variables]
    buffer = numpy.concatenate([a.ravel() for a in values])
    dist.allreduce(buffer)
    buffer /= dist.world_size
    position = 0
    for variable, a in zip(variables, values):
        variable.assign(buffer[position:position + a.size].reshape(a.shape).astype(
            variable.dtype))
        position += a.size


def predict(model, dist, x, local_predict):
    """``local_predict`` on this process's contiguous block of ``x``'s rows, the blocks
    gathered in rank order on every process: one process's result."""
    n = len(tree.flatten(x)[0])
    start, stop = shard(n, dist.rank, dist.world_size)
    part = None
    if stop > start:
        part = local_predict(tree.map_structure(lambda a: a[start:stop], x))
    pieces = [p for p in dist.allgather(part) if p is not None]
    if not tree.is_nested(pieces[0]):
        return numpy.concatenate(pieces)
    return tree.pack_sequence_as(pieces[0], [
        numpy.concatenate(group) for group in zip(*[tree.flatten(p) for p in pieces])])


__all__ = ["shard", "loss_divisor", "exchange", "ShardedTrainStep", "test_step",
           "broadcast_state", "average_non_trainable", "predict"]
