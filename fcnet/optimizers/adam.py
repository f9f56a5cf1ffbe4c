"""Adam, with the AMSGrad variant (Keras 3's formulation, ε on the uncorrected root)."""

from __future__ import annotations

import functools
import math

from fcnet.optimizers.base import Optimizer
from fcnet.optimizers.state import _pow32

# On a GPU the whole update is one kernel (DESIGN §3): the same three lines, fused.
_ADAM_LINES = """
m = m + (g - m) * k1;
v = v + (g * g - v) * k2;
p = p - k_alpha * m / (sqrt(v) + k_eps);
"""


@functools.cache
def _fused_kernel(xp):
    return xp.ElementwiseKernel("T g, T k1, T k2, T k_eps, T k_alpha", "T p, T m, T v",
                                _ADAM_LINES, "fcnet_adam")


class Adam(Optimizer):
    """Adaptive moment estimation (Kingma & Ba, 2014).

    At step ``t`` (1-based)::

        m ← m + (g − m)·(1 − β1)
        v ← v + (g² − v)·(1 − β2)
        v̂ ← max(v̂, v), and v̂ replaces v below       (amsgrad only)
        α = lr · sqrt(1 − β2^t) / (1 − β1^t)
        θ ← θ − α · m / (sqrt(v) + ε)

    ε is added to the square root of the *uncorrected* v (the paper's "ε̂"), so
    Keras's ε = 1e-7 equals the paper's ε·sqrt(1 − β2^t).

    Args:
        learning_rate: defaults to 0.001.
        beta_1: decay of the first moment, 0.9.
        beta_2: decay of the second moment, 0.999.
        epsilon: 1e-7 (Keras's default; the paper uses 1e-8).
        amsgrad: use the running maximum of v (Reddi et al., 2018).
        **kwargs: the base keyword arguments (``Optimizer``).

    Slots, in Keras's order: ``momentum`` and ``velocity`` interleaved per variable,
    then ``velocity_hat`` per variable (amsgrad).

    On NumPy the step (with weight decay) is one compiled pass where ``fcnet._fused``
    is built (``fused.py``), else the ufunc calls below; the two agree bit for bit.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _slot_groups(self):
        groups = [("momentum", "velocity")]
        if self.amsgrad:
            groups.append(("velocity_hat",))
        return groups

    def _alpha(self, lr, t):
        """α = lr · sqrt(1 − β2^t) / (1 − β1^t), the bias-corrected step size."""
        return lr * math.sqrt(1.0 - _pow32(self.beta_2, t)) / (1.0 - _pow32(self.beta_1, t))

    def _fused_update(self, kernels, g, lr, t, decay):
        slots = self._slots
        kernels.adam(self._p, g, slots["momentum"], slots["velocity"],
                     slots["velocity_hat"] if self.amsgrad else None,
                     1.0 - self.beta_1, 1.0 - self.beta_2, self.epsilon, self._alpha(lr, t),
                     decay, self._decay_ranges)

    def _update(self, g, lr, t):
        xp, p, t1 = self._xp, self._p, self._t1
        slots = self._slots
        m, v = slots["momentum"], slots["velocity"]
        k1, k2, k_eps, k_alpha = self._coefs(1.0 - self.beta_1, 1.0 - self.beta_2,
                                             self.epsilon, self._alpha(lr, t))
        if not self.amsgrad and hasattr(xp, "ElementwiseKernel"):  # CuPy
            dtype = p.dtype.type
            _fused_kernel(xp)(g, dtype(k1), dtype(k2), dtype(k_eps), dtype(k_alpha), p, m, v)
            return
        xp.subtract(g, m, out=t1)
        t1 *= k1
        m += t1  # m + (g − m)(1 − β1)
        xp.multiply(g, g, out=t1)
        t1 -= v
        t1 *= k2
        v += t1  # v + (g² − v)(1 − β2)
        if self.amsgrad:
            v_hat = slots["velocity_hat"]
            xp.maximum(v_hat, v, out=v_hat)
            v = v_hat
        xp.sqrt(v, out=t1)
        t1 += k_eps
        xp.divide(m, t1, out=t1)
        t1 *= k_alpha
        p -= t1

    def _own_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}
