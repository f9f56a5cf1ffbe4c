"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from fcnet.optimizers.base import Optimizer
from fcnet.optimizers.state import _pow32


class Adamax(Optimizer):
    """Adam's variant on the infinity norm (Kingma & Ba, 2014, section 7.1).

    At step ``t`` (1-based)::

        m ← m + (g − m)·(1 − β1)
        u ← max(β2·u, |g|)
        θ ← θ − lr·m / ((1 − β1^t)·(u + ε))

    Args:
        learning_rate: defaults to 0.001.
        beta_1: decay of the first moment, 0.9.
        beta_2: decay of the infinity norm, 0.999.
        epsilon: 1e-7.
        **kwargs: the base keyword arguments (``Optimizer``).

    Slots, in Keras's order: ``momentum`` and ``norm`` interleaved per variable.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _slot_groups(self):
        return [("momentum", "norm")]

    def _update(self, g, lr, t):
        xp, p, t1, t2 = self._xp, self._p, self._t1, self._t2
        m, u = self._slots["momentum"], self._slots["norm"]
        b1 = self.beta_1
        k1, k_b2, k_eps, k_lr = self._coefs(1.0 - b1, self.beta_2, self.epsilon, lr)
        xp.subtract(g, m, out=t1)
        t1 *= k1
        m += t1
        u *= k_b2
        xp.abs(g, out=t1)
        xp.maximum(u, t1, out=u)  # max(β2·u, |g|)
        xp.add(u, k_eps, out=t1)
        t1 *= 1.0 - _pow32(b1, t)
        xp.multiply(m, k_lr, out=t2)
        xp.divide(t2, t1, out=t2)
        p -= t2

    def _own_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
