"""Weight-regularization penalties and their gradients, shared by training and the
gradient checker so both minimise the same objective.

    L_total = L_data + Σ_w R_w(w) + Σ_layers A(y_layer) / batch
    dL_total/dw += R_w'(w)        (activity terms enter through dy: dy += A'(y) / batch)
"""

from __future__ import annotations

from fcnet.backend import parallel


def weight_penalty(variables) -> float:
    """``Σ R(w)`` over the regularized variables (no gradients: for evaluation)."""
    return sum(float(v.regularizer(v.value)) for v in variables if v.regularizer is not None)


def penalties_and_gradients(variables) -> float:
    """Adds ``R'(w)`` into ``w.grad`` for each regularized variable; returns ``Σ R(w)``."""
    total = 0.0
    for variable in variables:
        if variable.regularizer is None:
            continue
        total += float(variable.regularizer(variable.value))
        variable.grad += variable.regularizer.gradient(variable.value)
    return total


def _batch_scale(y) -> float:
    """``1 / batch``; in a data-parallel step, the global batch's size (the processes'
    penalties then add up to the global batch's)."""
    batch = y.shape[0] if y.ndim > 0 else 1
    window = parallel.rows()
    if window is not None and batch == window[1] - window[0]:
        batch = window[2]
    return 1.0 / batch if batch else 0.0


def activity_value(regularizer, y) -> float:
    """``A(y) / batch``: Keras divides an activity penalty by the batch size."""
    return float(regularizer(y)) * _batch_scale(y)


def activity_gradient(regularizer, y):
    """``dA/dy / batch``, the penalty's contribution to dL/dy."""
    return regularizer.gradient(y) * y.dtype.type(_batch_scale(y))
