"""Weight-regularization penalties and their gradients, shared by training and the
gradient checker so both minimise the same objective.

    L_total = L_data + Σ_w R_w(w) + Σ_layers A(y_layer)
    dL_total/dw += R_w'(w)        (activity terms enter through dy: dy += A'(y))
"""

from __future__ import annotations


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
