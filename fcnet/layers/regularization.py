"""Weight-regularization penalties and their gradients, shared by training and the
gradient checker so both minimise the same objective.

    L_total = L_data + Σ_w R_w(w) + Σ_layers A(y_layer) / batch
    dL_total/dw += R_w'(w)        (activity terms enter through dy: dy += A'(y) / batch)
"""

from __future__ import annotations


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
        if variable.grad is None:
            variable.zero_grad()
        variable.grad += variable.regularizer.gradient(variable.value)
    return total


def activity_penalty(regularizer, y):
    """``(A(y) / batch, dA/dy / batch)``: Keras divides an activity penalty by the batch size."""
    batch = y.shape[0] if y.ndim > 0 else 1
    scale = 1.0 / batch if batch else 0.0
    return float(regularizer(y)) * scale, regularizer.gradient(y) * y.dtype.type(scale)
