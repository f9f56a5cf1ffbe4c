"""SGD, with optional momentum and Nesterov momentum (Keras 3's formulation)."""

from __future__ import annotations

from fcnet.backend import blas
from fcnet.optimizers.base import Optimizer


class SGD(Optimizer):
    """Gradient descent, with momentum and Nesterov momentum.

    Plain: ``θ ← θ − lr·g``. With momentum ``μ``::

        m ← μ·m − lr·g
        θ ← θ + m                  (nesterov=False)
        θ ← θ + μ·m − lr·g         (nesterov=True, with the new m)

    Args:
        learning_rate: float, schedule or callable; defaults to 0.01.
        momentum: float in [0, 1]; 0 means no momentum slot is created.
        nesterov: use Nesterov momentum.
        **kwargs: the base keyword arguments (``Optimizer``).

    Slots: ``momentum`` per variable, only when ``momentum != 0``.

    On NumPy the step (with weight decay) is one compiled pass where ``fcnet._fused``
    is built (``fused.py``), else the ufunc calls below; the two agree bit for bit.
    Without momentum, a model's training step may fold the step of its Dense kernels
    into their gradient products (``fcnet.ops.fold``): ``fold_rate`` and ``apply_folded``.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not (
                0 <= momentum <= 1):
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = float(momentum)
        self.nesterov = nesterov
        self._folded_lr = None  # the rate fold_rate read for this step

    def _slot_groups(self):
        return [("momentum",)] if self.momentum != 0 else []

    def _fused_update(self, kernels, g, lr, t, decay):
        m = self._slots["momentum"] if self.momentum != 0 else None
        kernels.sgd(self._p, g, m, lr, self.momentum, self.nesterov, decay,
                    self._decay_ranges)

    def _update(self, g, lr, t):
        xp, p, t1 = self._xp, self._p, self._t1
        mu = self.momentum
        k_lr, k_mu = self._coefs(lr, mu)
        xp.multiply(g, k_lr, out=t1)  # lr·g
        if mu == 0:
            p -= t1
            return
        m = self._slots["momentum"]
        m *= k_mu
        m -= t1
        if self.nesterov:
            t2 = self._t2
            xp.multiply(m, k_mu, out=t2)
            t2 -= t1
            p += t2
        else:
            p += m

    def fold_rate(self):
        """This step's learning rate where its update may be folded into the kernel
        gradients' products (``θ ← θ − lr·g`` and nothing else: no momentum, weight
        decay, clipping, EMA, accumulation or loss scale; the compiled path on; BLAS's
        accumulating product at hand for the buffer's dtype), else None. The rate is
        read once: ``apply_folded`` steps the rest at the same rate."""
        if (self.momentum or self.weight_decay is not None or self.clipnorm
                or self.clipvalue or self.global_clipnorm or self.use_ema
                or self.gradient_accumulation_steps or self.loss_scale_factor is not None
                or self._kernels is None or self._pad or self._external is not None
                or not blas.available(self._p.dtype)):
            return None
        self._folded_lr = self._current_lr()
        return self._folded_lr

    def apply_folded(self, grads, stepped) -> None:
        """``apply(grads)`` after the products stepped the ``(start, stop)`` ranges
        ``stepped`` (sorted, apart) at ``fold_rate``'s rate: the rest of the buffer steps
        at that rate; ``iterations += 1``."""
        p, lr, start = self._p, self._folded_lr, 0
        for done_start, done_stop in list(stepped) + [(self._size, self._size)]:
            if done_start > start:  # the part before this stepped range
                self._kernels.sgd(p[start:done_start], grads[start:done_start], None, lr,
                                  0.0, False, None, None)
            start = done_stop
        self._iterations += 1

    def _own_config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}
