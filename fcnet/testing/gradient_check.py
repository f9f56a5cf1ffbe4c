"""Checks every backward pass against central finite differences in float64.

    numeric dL/dθ_i = (L(θ + ε e_i) − L(θ − ε e_i)) / 2ε

For a layer (or a model with no targets) the objective is ``L = Σ r ⊙ y`` with a
fixed random ``r`` per output (so ``dy = r``), plus the layer's activity and weight
penalties; for a compiled model with targets it is the training loss, through the very
code that ``fit`` runs (fused softmax/sigmoid cross-entropy included). The analytic
weight gradients are read from the flat gradient buffer the optimizer reads.

With ``training=True`` (Dropout masks, and batch statistics where a layer has them)
every evaluation starts from the same random state and the same non-trainable
variables, so the objective is one fixed function of the inputs and weights.
"""

from __future__ import annotations

import numpy

from fcnet import backend
from fcnet.backend import SeedGenerator, tree
from fcnet.backend import random as backend_random
from fcnet.layers import Layer, Step, weight_penalty


def check_gradients(model_or_layer: Layer, x, y=None, sample_weight=None, training=False,
                    epsilon=1e-6, rtol=1e-5, atol=1e-7, max_checks=64, seed=0) -> dict:
    """Compares the analytic input and weight gradients with finite differences.

    Args:
        model_or_layer: a layer, or a model (compiled, when ``y`` is given).
        x: an input batch: an array, or a list or dict of arrays for several inputs;
            integer arrays (an Embedding's indices) are passed as they are and their
            gradient is not checked.
        y, sample_weight: targets (as ``fit`` takes them) for a compiled model.
        training: run the forward pass in training mode (Dropout on, …).
        epsilon: the finite-difference step (in float64).
        rtol, atol: a gradient entry passes when ``|a - n| <= atol + rtol * max(|a|, |n|)``.
        max_checks: entries checked per array (a random subset when larger).

    Returns:
        ``{name: worst relative error}`` for each input (``input``, or ``input_0`` …, or
        the dict's keys) and each trainable variable (by path).

    Raises:
        AssertionError naming the worst offender (array, index, analytic and numeric values).
    """
    from fcnet.models.parameters import FlatParameters

    target = model_or_layer
    x64 = tree.map_structure(_as_float64, x)
    if not target.built:
        target(tree.map_structure(
            lambda a: a.astype("float32") if a.dtype.kind == "f" else a, x64))
    variables = target.trainable_variables
    frozen = [v for v in target.non_trainable_variables]
    saved = [(v, v.value, v._grad) for v in variables + frozen]
    state = _State(target, frozen)
    try:
        for v in variables + frozen:
            v._bind(backend.xp.array(v.value, dtype=backend.xp.float64), None)
        parameters = FlatParameters(variables)
        state.save()
        objective = _objective(target, x64, y, sample_weight, parameters, training, seed, state)
        analytic_dx, analytic = objective.gradients(x64)
        flat_x = target._flat_inputs(x64)  # the order of the model's inputs, as dx's
        arrays = [(name, array, grad) for name, array, grad in
                  zip(_input_names(x64, flat_x), flat_x, tree.flatten(analytic_dx))
                  if array.dtype.kind == "f"]  # integer inputs (indices) have no gradient
        arrays += [(v.path, v.value, a) for v, a in zip(variables, analytic)]
        rng = numpy.random.default_rng(seed)
        report, worst = {}, None
        for name, array, grad in arrays:
            error, detail = _compare(name, array, grad, objective, x64, epsilon, rtol, atol,
                                     max_checks, rng)
            report[name] = error
            if detail and (worst is None or detail[0] > worst[0]):
                worst = detail
    finally:
        state.restore()
        for v, value, grad in saved:
            v._bind(value, grad)
    if worst is not None:
        raise AssertionError(worst[1])
    return report


class _State:
    """The random state and non-trainable variables every evaluation starts from."""

    def __init__(self, target, frozen):
        self.generators = [g for layer in target._flatten_layers()
                           for g in vars(layer).values() if isinstance(g, SeedGenerator)]
        self.frozen = frozen

    def save(self):
        self.rng_states = [g.rng.bit_generator.state for g in self.generators]
        self.global_state = backend_random.generator().bit_generator.state
        self.values = [v.value.copy() for v in self.frozen]

    def restore(self):
        if not hasattr(self, "rng_states"):
            return
        for g, s in zip(self.generators, self.rng_states):
            g.rng.bit_generator.state = s
        backend_random.generator().bit_generator.state = self.global_state
        for v, value in zip(self.frozen, self.values):
            v.value[...] = value


class _Objective:
    def __init__(self, value_fn, grad_fn, state):
        self._value, self._gradients, self.state = value_fn, grad_fn, state

    def value(self, inputs):
        self.state.restore()
        return self._value(inputs)

    def gradients(self, inputs):
        self.state.restore()
        return self._gradients(inputs)


def _objective(target, x, y, sample_weight, parameters, training, seed, state):
    from fcnet.models.step import TrainStep, finish_gradients, owners

    variables = parameters.variables
    slots = [parameters.grads[a:b].reshape(v.shape)
             for v, (a, b) in zip(variables, parameters.slices)]
    if y is not None and getattr(target, "compiled", False):
        _, ys, sws = target._data(x, y, sample_weight, check=False)
        ys = [t.astype(numpy.float64) if t is not None and t.dtype.kind == "f" else t
              for t in ys]
        step = TrainStep(target, parameters, target._compiled)

        def value(inputs):
            return step.gradients(inputs, ys, sws, need_dx=True, training=training)[0]

        def gradients(inputs):
            dx = step.gradients(inputs, ys, sws, need_dx=True, training=training)[2]
            return dx, [g.copy() for g in slots]

        return _Objective(value, gradients, state)

    layer_owners = owners(target, variables)
    regularized = [v for v in variables if v.regularizer is not None]
    rng = numpy.random.default_rng(seed + 1)
    r = []

    def value(inputs):
        step = Step(backward=False)
        out = tree.flatten(target.forward_step(inputs, training, step)[0])
        if not r:
            r.extend(backend.xp.asarray(rng.normal(size=o.shape)) for o in out)
        total = sum(float((rk * o).sum()) for rk, o in zip(r, out))
        return total + sum(step.penalties) + weight_penalty(regularized)

    def gradients(inputs):
        value(inputs)
        state.restore()
        step = Step()
        y_, ctx = target.forward_step(inputs, training, step)
        dy = tree.pack_sequence_as(y_, [rk.copy() for rk in r]) if tree.is_nested(y_) \
            else r[0].copy()
        dx = target.backward_step(ctx, dy, step, need_dx=True)
        finish_gradients(step, layer_owners, regularized)
        return dx, [g.copy() for g in slots]

    return _Objective(value, gradients, state)


def _as_float64(a):
    """Float (and bool) inputs in float64 on the backend's device; integer and string
    inputs (indices, tokens) as they are: they are not differentiated."""
    if not hasattr(a, "dtype"):
        a = numpy.asarray(a)
    if a.dtype.kind in "iuUSO":
        return a
    return backend.xp.array(a, dtype=backend.xp.float64)


def _input_names(x, flat_x) -> list[str]:
    if isinstance(x, dict):
        key_of = {id(array): str(key) for key, array in x.items()}
        return [key_of[id(array)] for array in flat_x]
    if tree.is_nested(x):
        return [f"input_{i}" for i in range(len(flat_x))]
    return ["input"]


def _compare(name, array, grad, objective, x, epsilon, rtol, atol, max_checks, rng):
    if grad is None:
        raise AssertionError(f"Gradient check failed for {name}: backward returned None.")
    grad = backend.to_numpy(grad)
    if grad.shape != array.shape:
        raise AssertionError(f"Gradient check failed for {name}: gradient shape {grad.shape} "
                             f"differs from the array's shape {array.shape}.")
    flat = array.reshape(-1)
    indices = numpy.arange(flat.size)
    if flat.size > max_checks:
        indices = rng.choice(flat.size, max_checks, replace=False)
    worst_error, failure = 0.0, None
    for i in indices:
        original = flat[i].copy()  # CuPy's flat[i] is a view of the entry
        flat[i] = original + epsilon
        plus = objective.value(x)
        flat[i] = original - epsilon
        minus = objective.value(x)
        flat[i] = original
        numeric = (plus - minus) / (2 * epsilon)
        analytic = float(grad.reshape(-1)[i])
        scale = max(abs(analytic), abs(numeric))
        error = abs(analytic - numeric) / scale if scale > 0 else 0.0
        worst_error = max(worst_error, error)
        if abs(analytic - numeric) > atol + rtol * scale and (
                failure is None or error > failure[0]):
            index = tuple(int(k) for k in numpy.unravel_index(i, array.shape))
            failure = (error, f"Gradient check failed for {name} at index {index}: analytic "
                              f"{analytic:.8g}, numeric {numeric:.8g} (relative error "
                              f"{error:.3g}).")
    return worst_error, failure
