"""``Optimizer``: Keras 3's optimizer base, working on one flat parameter buffer.

A model's trainable variables are views into one contiguous float32 array
``params`` and their gradients views into a second, ``grads`` (DESIGN §3). The
optimizer keeps a reference to ``params`` and updates it in place; its slot
variables (momenta, velocities, …) are flat buffers of the same size. One step is
a handful of whole-buffer ufunc calls with ``out=``, whatever the number of layers.

Per step, in Keras 3's order (``BaseOptimizer.apply``):

1. the learning rate is read (a schedule is evaluated at ``iterations``);
2. ``grads /= loss_scale_factor``; gradient accumulation (every
   ``gradient_accumulation_steps`` calls an update with the mean gradient);
3. clipping: ``clipnorm`` per variable (``g * c / max(||g||, c)``), else
   ``global_clipnorm`` over all of them, else ``clipvalue`` element-wise;
4. weight decay ``θ ← θ − θ · weight_decay · lr`` on the variables not excluded;
5. the optimizer's own rule (``_update``); where a compiled kernel exists
   (``fused.py``), steps 4 and 5 are one pass of it, with the same arithmetic;
6. the moving average of the weights when ``use_ema``;
7. ``iterations += 1``.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy

from fcnet import backend
from fcnet.optimizers import fused
from fcnet.optimizers.state import OptimizerState


class Optimizer(OptimizerState):
    """Base class of fcnet's optimizers (the Keras 3 keyword arguments).

    Args:
        learning_rate: a float, a ``LearningRateSchedule``, or a callable taking no
            argument that returns the rate.
        weight_decay: if set, ``θ ← θ − θ · weight_decay · lr`` before each update.
        clipnorm: if set, each variable's gradient is rescaled to norm ≤ clipnorm.
        clipvalue: if set, each gradient element is clipped to [−clipvalue, clipvalue].
        global_clipnorm: if set, all gradients are rescaled to global norm ≤ this.
        use_ema: keep an exponential moving average of the weights.
        ema_momentum: the average's momentum.
        ema_overwrite_frequency: every this many steps the weights are replaced by
            their average (None: only by ``finalize_variable_values()``).
        loss_scale_factor: gradients are divided by it before anything else.
        gradient_accumulation_steps: update every this many calls with the mean gradient.
        name: defaults to the snake-cased class name, made unique (``adam``, ``adam_1``).

    The flat-buffer API the models use: ``build(params, slices)``, ``apply(grads)``.
    ``apply_gradients(zip(grads, variables))`` serves standalone variables.

    Example:
        >>> params = numpy.zeros(3, dtype="float32")   # a kernel (2,) and a bias (1,)
        >>> opt = fcnet.optimizers.SGD(learning_rate=0.1)
        >>> opt.build(params, [(0, 2), (2, 3)])
        >>> opt.apply(numpy.ones(3, dtype="float32"))
        >>> params                                       # [-0.1, -0.1, -0.1]
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.get("lr") is not None:  # tf.keras 2 spelling, as the seeds' era wrote it
            warnings.warn("Argument `lr` is deprecated, use `learning_rate`.", stacklevel=3)
            learning_rate = kwargs.pop("lr")
        kwargs.pop("lr", None)
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.",
                          stacklevel=3)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if gradient_accumulation_steps and not gradient_accumulation_steps >= 2:
            raise ValueError(
                "`gradient_accumulation_steps` must be an integer >= 2. "
                f"Received: gradient_accumulation_steps={gradient_accumulation_steps}"
            )
        if use_ema:
            if ema_momentum > 1 or ema_momentum < 0:
                raise ValueError(
                    "`ema_momentum` must be in the range [0, 1]. "
                    f"Received: ema_momentum={ema_momentum}"
                )
            if ema_overwrite_frequency and (
                not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1
            ):
                raise ValueError(
                    "`ema_overwrite_frequency` must be an integer >= 1 or None. "
                    f"Received: ema_overwrite_frequency={ema_overwrite_frequency}"
                )
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        self.name = name if name is not None else backend.get_uid(
            backend.snake_case(type(self).__name__))
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.global_clipnorm = global_clipnorm
        self.clipvalue = clipvalue
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._iterations = 0
        self._lr = 0.0
        self._schedule = None  # a LearningRateSchedule or a callable, else None
        self.learning_rate = learning_rate
        self._exclude_names: list[str] = []
        self._exclude_vars: list = []
        self._params = None
        self._slices: list[tuple[int, int]] = []
        self._names: list[str] = []
        self._shapes: list[tuple] = []
        self._slots: dict = {}
        self._kernels = None  # fcnet._fused where build finds it usable (fused.py)
        self._external = None  # apply_gradients: (its variables, its flat grads buffer)
        self.built = False

    # ---- build --------------------------------------------------------------------------

    def _slot_groups(self) -> list[tuple[str, ...]]:
        """Slot names in Keras's creation order; names in one tuple interleave per variable."""
        return []

    def _all_slot_groups(self) -> list[tuple[str, ...]]:
        groups = [("average",)] if self.use_ema else []
        if self.gradient_accumulation_steps:
            groups.append(("gradient_accumulator",))
        return groups + self._slot_groups()

    def _slot_initial_value(self, name: str) -> float:
        return 0.0

    def build(self, params, slices, names=None, shapes=None) -> None:
        """Creates the slot buffers for a flat parameter buffer (again on each call).

        Args:
            params: the flat float array holding every trainable variable; updated in place.
            slices: ``(start, stop)`` per variable, in ``trainable_variables`` order.
            names: optional variable paths (weight-decay exclusion, ``variable_paths``).
            shapes: optional variable shapes, so ``variables`` has Keras's shapes.

        Rebuilding (after the model repacked) zeroes the slots; ``iterations`` is kept.
        """
        xp = backend.xp
        if getattr(params, "ndim", None) != 1:
            raise ValueError(
                "Optimizer.build expects a 1-D parameter buffer. Received: "
                f"params with shape {getattr(params, 'shape', None)}"
            )
        size = params.shape[0]
        slices = [(int(a), int(b)) for a, b in slices]
        for start, stop in slices:
            if not 0 <= start <= stop <= size:
                raise ValueError(
                    f"Slice ({start}, {stop}) is outside the parameter buffer of size {size}."
                )
        self._xp = xp
        self._external = None  # a model's buffer replaces apply_gradients' packing
        self._params = params
        self._size = size
        self._slices = slices
        self._names = list(names) if names is not None else [
            "variable" if i == 0 else f"variable_{i}" for i in range(len(slices))]
        self._shapes = [tuple(s) for s in shapes] if shapes is not None else [
            (b - a,) for a, b in slices]
        # NumPy runs an in-place ufunc on a 1-element array ~3x slower than on a
        # 2-element one (its overlap check), so a 1-parameter model steps on padded
        # working copies: p, g and the slots get a zero tail that stays zero.
        self._pad = size == 1 and xp is numpy
        work = size + 1 if self._pad else size
        self._p = xp.zeros(work, dtype=params.dtype) if self._pad else params
        self._g = xp.zeros(work, dtype=params.dtype) if self._pad else None
        self._heads = (self._p[:1], self._g[:1]) if self._pad else None
        self._slots = {}
        for group in self._all_slot_groups():
            for slot in group:
                self._slots[slot] = xp.full(work, self._slot_initial_value(slot),
                                            dtype=params.dtype)
        self._t1 = xp.empty(work, dtype=params.dtype)
        self._t2 = xp.empty(work, dtype=params.dtype)
        # float32 0-d coefficients: a ufunc takes them ~2x faster than Python floats
        self._ks = (tuple(numpy.zeros((), dtype=params.dtype) for _ in range(8))
                    if xp is numpy else None)
        # The compiled kernel, where this class's rule has one (None: the NumPy rule).
        self._kernels = fused.kernels_for(self, params)
        self._build_segments()
        self._build_decay_ranges()
        self._build_extra()
        self.built = True

    def _build_extra(self) -> None:
        """Hook for state that is not a per-variable slot (Nadam's ``u_product``)."""

    def _build_segments(self) -> None:
        # Per-variable norms in one reduceat when the slices tile the buffer in order.
        live = [(a, b) for a, b in self._slices if b > a]
        tiled = bool(live) and live[0][0] == 0 and live[-1][1] == self._size and all(
            live[i][1] == live[i + 1][0] for i in range(len(live) - 1))
        self._segments = None
        if tiled and self._xp is numpy:
            sizes = [b - a for a, b in live]
            sizes[-1] += self._p.shape[0] - self._size  # the zero pad, if any
            self._segments = (numpy.array([a for a, _ in live], dtype=numpy.intp),
                              numpy.array(sizes, dtype=numpy.intp))

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Excludes variables from weight decay.

        Args:
            var_list: variables (their ``path``/``name`` is matched against the build names).
            var_names: strings; a variable whose name contains any of them is excluded
                (``var_names=["bias"]`` excludes every bias).
        """
        self._exclude_vars = list(var_list or [])
        self._exclude_names = list(var_names or [])
        if self.built:
            self._build_decay_ranges()

    def _decayed(self, index: int) -> bool:
        name = self._names[index]
        for var in self._exclude_vars:
            if name in (getattr(var, "path", None), getattr(var, "name", None)):
                return False
        ext = self._external  # apply_gradients' variables, matched by identity
        if ext is not None and any(v is ext[0][index] for v in self._exclude_vars):
            return False
        pattern = "|".join(self._exclude_names)
        return not (pattern and re.search(pattern, name))

    def _build_decay_ranges(self) -> None:
        # None means "the whole buffer" (the fast path); else merged (start, stop) ranges.
        ranges: list[tuple[int, int]] = []
        for i, (start, stop) in enumerate(self._slices):
            if stop > start and self._decayed(i):
                if ranges and ranges[-1][1] == start:
                    ranges[-1] = (ranges[-1][0], stop)
                else:
                    ranges.append((start, stop))
        self._decay_ranges = None if ranges == [(0, self._size)] else ranges

    # ---- one step -------------------------------------------------------------------------

    def apply(self, grads) -> None:
        """One update of the flat ``params`` from the flat ``grads`` (scratch afterwards).

        ``grads`` must be a float array of the parameter buffer's size; clipping,
        loss scaling and gradient accumulation modify it in place.
        """
        params = self._params
        if params is None:
            raise ValueError(
                f"Optimizer '{self.name}' is not built: call "
                "`optimizer.build(params, slices)` before `apply(grads)`."
            )
        if grads.shape[0] != self._size:
            raise ValueError(
                f"Expected a gradient buffer of size {self._size}. "
                f"Received: grads with shape {grads.shape}"
            )
        if self._pad:  # step on the padded working copies (see build)
            p_head, g_head = self._heads
            p_head[...] = params
            g_head[...] = grads
            grads = self._g
        it = self._iterations
        lr = self._current_lr()
        if self.loss_scale_factor is not None:
            self._xp.divide(grads, self.loss_scale_factor, out=grads)
        n_acc = self.gradient_accumulation_steps
        if n_acc:
            step = it // n_acc
            acc = self._slots["gradient_accumulator"]
            if (it + 1) % n_acc:
                acc += grads
            else:
                grads += acc
                grads /= n_acc
                acc[...] = 0
                self._clip_decay_update(grads, lr, step)
        else:
            step = it
            self._clip_decay_update(grads, lr, step)
        if self.use_ema:
            self._update_average(step)
        if self._pad:
            params[...] = self._heads[0]
        self._iterations = it + 1

    def fold_rate(self):
        """This step's learning rate where its whole update may be taken inside the Dense
        kernels' gradient products (plain SGD: ``fcnet.ops.fold``), else None."""
        return None

    def _current_lr(self) -> float:
        return self._lr if self._schedule is None else self._scheduled_lr()

    def _coefs(self, *values):
        """The step's scalar coefficients (at most 8), as float32 0-d arrays on NumPy.

        A ufunc takes a 0-d array about twice as fast as a Python float. The arrays
        are shared: the next call overwrites them.
        """
        ks = self._ks
        if ks is None:
            return values
        i = 0
        for value in values:
            ks[i][()] = value
            i += 1
        return ks[:i]

    def _clip_decay_update(self, grads, lr: float, step: int) -> None:
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            self._clip(grads)
        if (self._kernels is not None and grads.dtype == self._p.dtype
                and grads.flags.c_contiguous):
            decay = None if self.weight_decay is None else self.weight_decay * lr
            self._fused_update(self._kernels, grads, lr, step + 1, decay)
            return
        if self.weight_decay is not None:
            self._apply_weight_decay(lr)
        self._update(grads, lr, step + 1)

    def _update(self, g, lr: float, t: int) -> None:
        """The optimizer's rule on the whole buffer; ``t`` is the 1-based step."""
        raise NotImplementedError

    # ``_fused_update(kernels, g, lr, t, decay)``: weight decay ``θ ← θ − θ·decay`` on
    # ``_decay_ranges`` (decay None: none) and ``_update``'s rule, in one compiled pass.
    # Hyperparameters are read from the optimizer on every call, as ``_update`` does.
    _fused_update = None

    def _clip(self, g) -> None:
        xp = self._xp
        if self.clipnorm and self.clipnorm > 0:
            c = self.clipnorm
            if self._segments is not None:  # every norm at once; g *= c / max(norm, c)
                starts, sizes = self._segments
                t = self._t1
                numpy.multiply(g, g, out=t)
                norms = numpy.sqrt(numpy.add.reduceat(t, starts))
                scale = c / numpy.maximum(norms, numpy.float32(c))
                g *= numpy.repeat(scale, sizes)
            else:
                for start, stop in self._slices:
                    part = g[start:stop]
                    norm = math.sqrt(float(xp.dot(part, part)))
                    if norm > c:
                        part *= c / norm
        elif self.global_clipnorm and self.global_clipnorm > 0:
            norm = math.sqrt(float(xp.dot(g, g)))
            if not math.isfinite(norm):
                g[...] = math.nan  # Keras's scale turns NaN when the norm is not finite
            elif norm > self.global_clipnorm:
                g *= self.global_clipnorm / norm
        elif self.clipvalue and self.clipvalue > 0:
            xp.clip(g, -self.clipvalue, self.clipvalue, out=g)

    def _apply_weight_decay(self, lr: float) -> None:
        p, t, factor = self._p, self._t1, self.weight_decay * lr
        if self._decay_ranges is None:
            self._xp.multiply(p, factor, out=t)
            p -= t
        else:
            for start, stop in self._decay_ranges:
                part = p[start:stop]
                part -= part * factor

    def _update_average(self, step: int) -> None:
        p, avg = self._p, self._slots["average"]
        if step == 0:
            avg[...] = p
        else:
            m = self.ema_momentum
            avg *= m
            self._xp.multiply(p, 1.0 - m, out=self._t1)
            avg += self._t1
        freq = self.ema_overwrite_frequency
        if freq and (step + 1) % freq == 0:
            p[...] = avg

    def finalize_variable_values(self, var_list=None) -> None:
        """With ``use_ema``, replaces the weights by their moving average (end of ``fit``)."""
        if self.use_ema and self.built:
            self._params[...] = self._slots["average"][:self._size]
            self._write_back()

    def scale_loss(self, loss):
        """``loss * loss_scale_factor`` (unchanged when no factor is set)."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor
