"""Learning-rate schedules: ``lr = schedule(step)``, as ``keras.optimizers.schedules``.

An optimizer given a schedule as its ``learning_rate`` evaluates it at its
``iterations`` count *before* the step is taken (Keras 3), so the first update
uses ``schedule(0)``.

The maths runs on Python floats and the result is rounded to float32, the dtype
Keras computes in; a schedule called on an array of steps returns a float32
array of the same shape.
"""

from __future__ import annotations

import math

import numpy

__all__ = [
    "LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay",
    "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts", "serialize", "deserialize",
]


def _check_steps(name: str, value) -> None:
    if value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


class LearningRateSchedule:
    """Base class: a callable ``step -> learning rate``, serialisable by its config.

    A subclass writes ``_value(step: float) -> float`` (or overrides ``__call__``)
    and ``get_config()``; ``from_config`` calls the constructor with the config.
    The built-ins name their config's attributes in ``_config`` instead.
    """

    _config: tuple[str, ...] = ()

    def __call__(self, step):
        if isinstance(step, (int, float)):
            return float(numpy.float32(self._value(float(step))))
        steps = numpy.asarray(step)
        if steps.ndim == 0:
            return float(numpy.float32(self._value(float(steps))))
        values = [self._value(float(s)) for s in steps.ravel()]
        return numpy.asarray(values, dtype=numpy.float32).reshape(steps.shape)

    def _value(self, step: float) -> float:
        raise NotImplementedError(
            f"Learning rate schedule '{self.__class__.__name__}' "
            "must override `__call__(self, step)`."
        )

    def get_config(self) -> dict:
        if not self._config:
            raise NotImplementedError(
                f"Learning rate schedule '{self.__class__.__name__}' "
                "must override `get_config()` in order to be serializable."
            )
        return {key: getattr(self, key) for key in self._config}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class _TimeDecay(LearningRateSchedule):
    """ExponentialDecay and InverseTimeDecay: the rate is their ``_decayed(p)`` of
    ``p = step / decay_steps``, floored with ``staircase``."""

    _config = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name")

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        _check_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def _value(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self._decayed(p)


class ExponentialDecay(_TimeDecay):
    """``lr = initial_learning_rate * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is ``floor(step / decay_steps)``, so the
    rate drops in steps every ``decay_steps`` steps.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive; the step count over which the rate is multiplied by
            ``decay_rate`` once.
        decay_rate: the multiplier per ``decay_steps``.
        staircase: decay at whole multiples of ``decay_steps`` only.
        name: the schedule's name (kept in the config).
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _decayed(self, p):
        return self.initial_learning_rate * self.decay_rate ** p


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant rate per interval of steps.

    ``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary.

    Args:
        boundaries: increasing step counts, one fewer than ``values``.
        values: the rate in each interval.
        name: the schedule's name.
    """

    _config = ("boundaries", "values", "name")

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of "
                f"values. Received: boundaries={boundaries} of length "
                f"{len(boundaries)}, and values={values} of length {len(values)}."
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def _value(self, step):
        for boundary, value in zip(self.boundaries, self.values[:-1], strict=True):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])


class PolynomialDecay(LearningRateSchedule):
    """``lr = (initial - end) * (1 - step / decay_steps) ** power + end``.

    Without ``cycle`` the step is capped at ``decay_steps`` (the rate then stays at
    ``end_learning_rate``); with ``cycle`` the horizon grows to the next multiple of
    ``decay_steps`` above the step (1 × ``decay_steps`` at step 0).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive; the length of the decay.
        end_learning_rate: the final rate.
        power: the polynomial's power (1.0 is linear).
        cycle: restart above ``decay_steps`` instead of holding.
        name: the schedule's name.
    """

    _config = ("initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle",
               "name")

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        _check_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def _value(self, step):
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        span = self.initial_learning_rate - self.end_learning_rate
        return span * (1.0 - p) ** self.power + self.end_learning_rate


class InverseTimeDecay(_TimeDecay):
    """``lr = initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    ``staircase=True`` uses ``floor(step / decay_steps)``.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive; how often the decay is applied.
        decay_rate: the decay's slope.
        staircase: decay in discrete steps.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _decayed(self, p):
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)


def _cosine(step: float, decay_steps: float, start: float, alpha: float) -> float:
    # cosine from `start` down to `alpha * start` over `decay_steps` steps
    decayed = 0.5 * (1.0 + math.cos(math.pi * step / decay_steps))
    return start * ((1.0 - alpha) * decayed + alpha)


class CosineDecay(LearningRateSchedule):
    """Cosine decay, with an optional linear warmup first (Keras 3).

    Without warmup (``warmup_target=None``)::

        step = min(step, decay_steps)
        cosine = 0.5 * (1 + cos(pi * step / decay_steps))
        lr = initial_learning_rate * ((1 - alpha) * cosine + alpha)

    With ``warmup_target``: for ``step < warmup_steps`` the rate rises linearly from
    ``initial_learning_rate`` to ``warmup_target``; then it follows the cosine from
    ``warmup_target`` over the next ``decay_steps`` steps (and holds at its end).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive; the length of the cosine part.
        alpha: the final rate as a fraction of the cosine's starting rate.
        name: the schedule's name.
        warmup_target: the rate reached at the end of the warmup, or None (no warmup).
        warmup_steps: the length of the warmup.
    """

    _config = ("initial_learning_rate", "decay_steps", "alpha", "name", "warmup_target",
               "warmup_steps")

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _check_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _value(self, step):
        if self.warmup_target is None:
            step = min(step, self.decay_steps)
            return _cosine(step, self.decay_steps, self.initial_learning_rate, self.alpha)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (step / self.warmup_steps) + self.initial_learning_rate
        return _cosine(step - self.warmup_steps, self.decay_steps, self.warmup_target, self.alpha)


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017).

    The first period lasts ``first_decay_steps``; each next one is ``t_mul`` times
    longer and starts from ``m_mul`` times the previous peak.

    Args:
        initial_learning_rate: the first peak.
        first_decay_steps: positive; the first period's length.
        t_mul: period growth factor.
        m_mul: peak decay factor per restart.
        alpha: the floor as a fraction of ``initial_learning_rate``.
        name: the schedule's name.
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        _check_steps("first_decay_steps", first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def _value(self, step):
        fraction = step / self.first_decay_steps
        t_mul = self._t_mul
        if t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            # periods 1, t, t², …: restart i begins at (1 - t^i) / (1 - t) periods
            restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul**restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul**restart
        peak = self._m_mul**restart
        cosine = 0.5 * peak * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_CLASSES = {
    cls.__name__: cls
    for cls in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay,
                CosineDecay, CosineDecayRestarts)
}


def serialize(schedule: LearningRateSchedule) -> dict:
    """The Keras 3 dict: ``{"module", "class_name", "config", "registered_name"}``."""
    return {
        "module": "keras.optimizers.schedules",
        "class_name": schedule.__class__.__name__,
        "config": schedule.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict, custom_objects: dict | None = None) -> LearningRateSchedule:
    """Rebuilds a schedule from ``serialize``'s dict (or a Keras 2 ``{class_name, config}``)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Could not interpret learning rate schedule config: expected a dict with "
            f"'class_name' and 'config'. Received: config={config!r}"
        )
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(
            f"Unknown learning rate schedule: {name!r}. Known: {', '.join(sorted(_CLASSES))}"
        )
    return cls.from_config(dict(config.get("config", {})))
