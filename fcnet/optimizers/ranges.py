"""Stepping disjoint ranges of the flat buffer at once, so a team of threads shares a step.

A mixin of ``Optimizer``: ``split(ranges)`` gives one view of the optimizer per range,
whose parameters, slots and scratch buffers are slices of the whole ones. Each view runs
the optimizer's own ``_clip_decay_update`` on its range, so the result is the one
``apply`` gives, bit for bit, for rules that treat every entry on its own.
"""

from __future__ import annotations

import copy

import numpy


class RangeSteps:
    # Whether ``_update`` touches each entry on its own and keeps no running scalar, so
    # disjoint ranges of the buffer may be stepped separately.
    _elementwise_rule = False

    def split(self, ranges):
        """Views of this optimizer, one per ``(start, stop)`` range of the flat buffer.

        Threads may step disjoint ranges at the same time: between ``begin_split_step``
        and ``end_split_step``, each calls ``view.step_range(grads, lr, step)``; the result
        is the one ``apply`` gives. The views are made once per build and ranges. Returns
        None when a step needs the whole buffer at once: norm clipping, loss scaling,
        gradient accumulation, EMA, or a rule with a running scalar (Nadam).
        """
        if (not self._elementwise_rule or self._pad or self.clipnorm or self.global_clipnorm
                or self.loss_scale_factor is not None or self.gradient_accumulation_steps
                or self.use_ema):
            return None
        key = tuple((int(start), int(stop)) for start, stop in ranges)
        if key not in self._views:
            self._views[key] = [self._range_view(start, stop) for start, stop in key]
        return self._views[key]

    def _range_view(self, start: int, stop: int):
        view = copy.copy(self)
        view._p = self._p[start:stop]
        view._slots = {name: slot[start:stop] for name, slot in self._slots.items()}
        view._t1, view._t2 = self._t1[start:stop], self._t2[start:stop]
        if self._ks is not None:  # coefficients of its own: views step concurrently
            view._ks = tuple(numpy.zeros((), dtype=k.dtype) for k in self._ks)
        decayed = [(0, self._size)] if self._decay_ranges is None else self._decay_ranges
        decayed = [(max(a, start) - start, min(b, stop) - start) for a, b in decayed
                   if a < stop and b > start]
        view._decay_ranges = None if decayed == [(0, stop - start)] else decayed
        view._span = (start, stop)
        return view

    def begin_split_step(self) -> tuple[float, int]:
        """``(lr, step)`` for this step's ``step_range`` calls."""
        return self._current_lr(), self._iterations

    def step_range(self, grads, lr: float, step: int) -> None:
        """On a view from ``split``: the update of its range from the whole ``grads``."""
        start, stop = self._span
        self._clip_decay_update(grads[start:stop], lr, step)

    def end_split_step(self) -> None:
        self._iterations += 1
