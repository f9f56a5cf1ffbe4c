"""AdamW: Adam with decoupled weight decay (weight_decay=0.004 by default)."""

from __future__ import annotations

from fcnet.optimizers.adam import Adam


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Each step first shrinks the decayed variables, ``θ ← θ − θ·weight_decay·lr``
    (the base class's weight decay, applied before the Adam update), then takes the
    Adam step on the gradient alone. Exclude variables (biases, say) with
    ``exclude_from_weight_decay(var_names=["bias"])``.

    Args:
        learning_rate: defaults to 0.001.
        weight_decay: defaults to 0.004; must be a float.
        beta_1, beta_2, epsilon, amsgrad: as ``Adam``.
        **kwargs: the other base keyword arguments (``Optimizer``).
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, name=name,
                         weight_decay=weight_decay, **kwargs)
        if self.weight_decay is None:
            raise ValueError(
                "Argument `weight_decay` must be a float. Received: weight_decay=None"
            )
