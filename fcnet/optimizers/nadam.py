"""Nadam: Adam with Nesterov momentum, on Keras 3's momentum-cache schedule."""

from __future__ import annotations

import numpy

from fcnet.optimizers.base import Optimizer
from fcnet.optimizers.state import _f32, _pow32


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat, 2016), as Keras 3 computes it.

    The momentum coefficient follows a warm-up schedule,
    ``u_t = β1·(1 − 0.5·0.96^t)``, and ``u_product`` is the running product
    ``u_1·…·u_t`` (one float32 scalar of state). At step ``t``::

        u_product ← u_product · u_t
        m ← m + (g − m)·(1 − β1)
        v ← v + (g² − v)·(1 − β2)
        m̂ = u_{t+1}·m / (1 − u_product·u_{t+1}) + (1 − u_t)·g / (1 − u_product)
        v̂ = v / (1 − β2^t)
        θ ← θ − lr·m̂ / (sqrt(v̂) + ε)

    Args:
        learning_rate: defaults to 0.001.
        beta_1: 0.9.
        beta_2: 0.999.
        epsilon: 1e-7.
        **kwargs: the base keyword arguments (``Optimizer``).

    Slots, in Keras's order: ``momentum`` and ``velocity`` interleaved per variable,
    then the scalar ``u_product``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self._u_product = 1.0

    def _slot_groups(self):
        return [("momentum", "velocity")]

    def _build_extra(self):
        self._u_product = 1.0

    def _extra_variables(self):
        return [numpy.array(self._u_product, dtype=numpy.float32)]

    def _extra_names(self):
        return ["u_product"]

    def _set_extra_variables(self, values):
        self._u_product = _f32(numpy.asarray(values[0]))

    def _update(self, g, lr, t):
        xp, p, t1, t2 = self._xp, self._p, self._t1, self._t2
        m, v = self._slots["momentum"], self._slots["velocity"]
        # Keras casts β1, β2 and 0.96 to float32 here, and its (1 − β2) and β2^t then
        # differ from the exact values by ~1e-5 relative: follow it for parity.
        b1, b2 = _f32(self.beta_1), _f32(self.beta_2)
        u_t = b1 * (1.0 - 0.5 * _pow32(0.96, t))
        u_next = b1 * (1.0 - 0.5 * _pow32(0.96, t + 1))
        u_product = _f32(self._u_product * u_t)  # a float32 variable in Keras
        self._u_product = u_product
        k1, k2, k_m, k_g, k_v, k_eps, k_lr = self._coefs(
            1.0 - b1, 1.0 - b2, u_next / (1.0 - u_product * u_next),
            (1.0 - u_t) / (1.0 - u_product), 1.0 / (1.0 - _pow32(b2, t)), self.epsilon, lr)
        xp.subtract(g, m, out=t1)
        t1 *= k1
        m += t1
        xp.multiply(g, g, out=t1)
        t1 -= v
        t1 *= k2
        v += t1
        xp.multiply(m, k_m, out=t1)
        xp.multiply(g, k_g, out=t2)
        t1 += t2  # m̂
        xp.multiply(v, k_v, out=t2)
        xp.sqrt(t2, out=t2)  # sqrt(v̂)
        t2 += k_eps
        xp.divide(t1, t2, out=t1)
        t1 *= k_lr
        p -= t1

    def _own_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
