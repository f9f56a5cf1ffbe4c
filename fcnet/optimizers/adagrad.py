"""Adagrad: per-parameter rates scaled by the accumulated squared gradients."""

from __future__ import annotations

from fcnet.optimizers.base import Optimizer


class Adagrad(Optimizer):
    """Adapts each parameter's rate to how often and how much it was updated.

    ::

        acc ← acc + g²
        θ ← θ − lr·g / sqrt(acc + ε)

    Args:
        learning_rate: defaults to 0.001.
        initial_accumulator_value: the accumulators' starting value (≥ 0), 0.1.
        epsilon: added inside the square root, 1e-7.
        **kwargs: the base keyword arguments (``Optimizer``).

    Slots: ``accumulator`` per variable, initialised to ``initial_accumulator_value``.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_groups(self):
        return [("accumulator",)]

    def _slot_initial_value(self, name):
        return self.initial_accumulator_value if name == "accumulator" else 0.0

    def _update(self, g, lr, t):
        xp, p, t1, t2 = self._xp, self._p, self._t1, self._t2
        k_eps, k_lr = self._coefs(self.epsilon, lr)
        acc = self._slots["accumulator"]
        xp.multiply(g, g, out=t1)
        acc += t1
        xp.add(acc, k_eps, out=t1)
        xp.sqrt(t1, out=t1)
        xp.multiply(g, k_lr, out=t2)
        xp.divide(t2, t1, out=t2)
        p -= t2

    def _own_config(self):
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
