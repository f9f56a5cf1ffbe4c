"""RMSprop, plain, centered, and with momentum (Keras 3's formulation)."""

from __future__ import annotations

from fcnet.optimizers.base import Optimizer


class RMSprop(Optimizer):
    """Divides the gradient by a running root mean square of recent gradients.

    ::

        s ← ρ·s + (1 − ρ)·g²
        ḡ ← ρ·ḡ + (1 − ρ)·g                    (centered only)
        Δ = lr·g / sqrt(s + ε)                  (centered: sqrt(s − ḡ² + ε))
        mom ← μ·mom + Δ,  θ ← θ − mom           (momentum μ > 0)
        θ ← θ − Δ                               (otherwise)

    ε sits **inside** the square root, as in Keras.

    Args:
        learning_rate: defaults to 0.001.
        rho: the average's discount factor.
        momentum: momentum of the increments; 0 disables it.
        epsilon: added to the mean square before the root.
        centered: normalise by the estimated variance instead of the raw moment.
        **kwargs: the base keyword arguments (``Optimizer``).

    Slots, in Keras's order: every ``velocity``, then every ``momentum`` (momentum > 0),
    then every ``average_gradient`` (centered).

    On NumPy the step (with weight decay) is one compiled pass where ``fcnet._fused``
    is built (``fused.py``), else the ufunc calls below; the two agree bit for bit.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _slot_groups(self):
        groups = [("velocity",)]
        if self.momentum > 0:
            groups.append(("momentum",))
        if self.centered:
            groups.append(("average_gradient",))
        return groups

    def _fused_update(self, kernels, g, lr, t, decay):
        slots, rho = self._slots, self.rho
        kernels.rmsprop(self._p, g, slots["velocity"],
                        slots["momentum"] if self.momentum > 0 else None,
                        slots["average_gradient"] if self.centered else None,
                        rho, 1 - rho, self.epsilon, lr, self.momentum, decay,
                        self._decay_ranges)

    def _update(self, g, lr, t):
        xp, p, t1, t2 = self._xp, self._p, self._t1, self._t2
        rho = self.rho
        k_rho, k_1mrho, k_eps, k_lr = self._coefs(rho, 1 - rho, self.epsilon, lr)
        s = self._slots["velocity"]
        s *= k_rho
        xp.multiply(g, g, out=t1)
        t1 *= k_1mrho
        s += t1
        if self.centered:
            a = self._slots["average_gradient"]
            a *= k_rho
            xp.multiply(g, k_1mrho, out=t1)
            a += t1
            xp.multiply(a, a, out=t1)
            xp.subtract(s, t1, out=t1)
            t1 += k_eps
        else:
            xp.add(s, k_eps, out=t1)
        xp.sqrt(t1, out=t1)
        xp.multiply(g, k_lr, out=t2)
        xp.divide(t2, t1, out=t2)  # Δ
        if self.momentum > 0:
            mom = self._slots["momentum"]
            mom *= self.momentum
            mom += t2
            p -= mom
        else:
            p -= t2

    def _own_config(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
