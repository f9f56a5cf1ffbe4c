"""Checks every backward pass against central finite differences in float64.

    numeric dL/dθ_i = (L(θ + ε e_i) − L(θ − ε e_i)) / 2ε

For a layer (or a model with no targets) the objective is ``L = Σ r ⊙ y`` with a
fixed random ``r`` (so ``dy = r``), plus the layer's regularization penalties; for a
compiled model with targets it is the training loss, through the very code that
``fit`` runs (fused softmax/sigmoid cross-entropy included).
"""

from __future__ import annotations

import numpy

from fcnet.layers import Layer, activity_penalty, penalties_and_gradients, weight_penalty


def check_gradients(model_or_layer: Layer, x, y=None, sample_weight=None, epsilon=1e-6,
                    rtol=1e-5, atol=1e-7, max_checks=64, seed=0) -> dict:
    """Compares the analytic input and weight gradients with finite differences.

    Args:
        model_or_layer: a layer, or a Sequential model (compiled, when ``y`` is given).
        x: an input batch; ``y`` and ``sample_weight``: targets for a compiled model.
        epsilon: the finite-difference step (in float64).
        rtol, atol: a gradient entry passes when ``|a - n| <= atol + rtol * max(|a|, |n|)``.
        max_checks: entries checked per array (a random subset when larger).

    Returns:
        ``{name: worst relative error}`` for ``input`` and each trainable variable.

    Raises:
        AssertionError naming the worst offender (array, index, analytic and numeric values).
    """
    target = model_or_layer
    if not target.built:
        target(numpy.asarray(x, dtype="float32"))
    variables = target.trainable_variables
    saved = [(v, v.value, v.grad) for v in variables]
    x64 = numpy.array(x, dtype=numpy.float64)
    try:
        for v in variables:
            v.value = numpy.array(v.value, dtype=numpy.float64)
        objective = _objective(target, x64, y, sample_weight, variables, seed)
        analytic_dx, analytic = objective.gradients(x64)
        arrays = [("input", x64, analytic_dx)] + [
            (v.path, v.value, a) for v, a in zip(variables, analytic)]
        rng = numpy.random.default_rng(seed)
        report, worst = {}, None
        for name, array, grad in arrays:
            error, detail = _compare(name, array, grad, objective, x64, epsilon, rtol, atol,
                                     max_checks, rng)
            report[name] = error
            if detail and (worst is None or detail[0] > worst[0]):
                worst = detail
    finally:
        for v, value, grad in saved:
            v.value, v.grad = value, grad
    if worst is not None:
        raise AssertionError(worst[1])
    return report


class _Objective:
    def __init__(self, value_fn, grad_fn):
        self.value = value_fn
        self.gradients = grad_fn


def _objective(target, x, y, sample_weight, variables, seed):
    from fcnet.models.parameters import FlatParameters
    from fcnet.models.step import TrainStep

    if y is not None and getattr(target, "compiled", False):
        y = numpy.asarray(y)
        y = y.astype(numpy.float64) if y.dtype.kind == "f" else y
        step = TrainStep(target, FlatParameters(variables))

        def value(inputs):
            return step.gradients(inputs, y, sample_weight, need_dx=True, training=False)[0]

        def gradients(inputs):
            _, dx, _ = step.gradients(inputs, y, sample_weight, need_dx=True, training=False)
            return dx, [v.grad.copy() for v in variables]

        return _Objective(value, gradients)

    r = None
    activity = getattr(target, "activity_regularizer", None)

    def value(inputs):
        nonlocal r
        out = target.forward(inputs, False)[0]
        if r is None:
            r = numpy.random.default_rng(seed + 1).normal(size=out.shape)
        total = float((r * out).sum())
        if activity is not None:
            total += activity_penalty(activity, out)[0]
        return total + weight_penalty(variables)

    def gradients(inputs):
        value(inputs)
        for v in variables:
            v.grad = numpy.zeros_like(v.value)
        out, ctx = target.forward(inputs, False)
        dy = r.copy()
        if activity is not None:
            dy = dy + activity_penalty(activity, out)[1]
        dx = target.backward(ctx, dy)
        penalties_and_gradients(variables)
        return dx, [v.grad.copy() for v in variables]

    return _Objective(value, gradients)


def _compare(name, array, grad, objective, x, epsilon, rtol, atol, max_checks, rng):
    if grad is None:
        raise AssertionError(f"Gradient check failed for {name}: backward returned None.")
    grad = numpy.asarray(grad)
    if grad.shape != array.shape:
        raise AssertionError(f"Gradient check failed for {name}: gradient shape {grad.shape} "
                             f"differs from the array's shape {array.shape}.")
    flat = array.reshape(-1)
    indices = numpy.arange(flat.size)
    if flat.size > max_checks:
        indices = rng.choice(flat.size, max_checks, replace=False)
    worst_error, failure = 0.0, None
    for i in indices:
        original = flat[i]
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
