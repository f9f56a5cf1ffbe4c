"""An optimizer's outside interfaces: its state as Keras 3 lists it, its config, and
``apply_gradients`` on standalone variables.

``OptimizerState`` is a mixin of ``Optimizer`` (``base.py``, which holds the maths);
it reads the flat buffers that ``Optimizer.build`` creates.
"""

from __future__ import annotations

import struct
import warnings

import numpy

from fcnet import backend
from fcnet.optimizers import schedules as _schedules

_FLOAT32 = struct.Struct("f")


def _f32(value) -> float:
    """The float32 rounding of ``value`` as a Python float (Keras keeps rates in float32)."""
    try:
        return _FLOAT32.unpack(_FLOAT32.pack(value))[0]  # 3x faster than numpy.float32
    except (OverflowError, TypeError, struct.error):
        return float(numpy.float32(value))


def _pow32(base: float, t: int) -> float:
    """``base ** t`` as Keras computes bias corrections: base cast to float32 first.

    This matters: ``1 - float32(0.999) ** 1`` is 0.00099998713, not 0.001, and Keras's
    Adam step carries that 1.3e-5 relative difference; parity needs the same.
    """
    pack, unpack = _FLOAT32.pack, _FLOAT32.unpack
    return unpack(pack(unpack(pack(base))[0] ** t))[0]


class OptimizerState:
    """``learning_rate``, ``iterations``, ``variables`` (Keras order) and their restore,
    ``get_config``/``from_config``, and ``apply_gradients``."""

    # ---- learning rate and step count -------------------------------------------------

    @property
    def learning_rate(self) -> float:
        """The current rate: the schedule's value at ``iterations``, or the stored float32."""
        if self._schedule is None:
            return self._lr
        return self._scheduled_lr()

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, _schedules.LearningRateSchedule) or callable(value):
            self._schedule = value
            return
        if isinstance(value, (str, bytes, bool)) or value is None:
            raise ValueError(
                "Argument `learning_rate` should be float, or an instance of "
                "LearningRateSchedule, or a callable (that takes in the current iteration "
                f"value and returns the corresponding learning rate value). Received instead: "
                f"learning_rate={value!r}"
            )
        if isinstance(self._schedule, _schedules.LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not "
                "settable. If you need the learning rate to be settable, you should "
                "instantiate the optimizer with a float `learning_rate` argument."
            )
        self._schedule = None
        self._lr = _f32(value)

    def _scheduled_lr(self) -> float:
        if isinstance(self._schedule, _schedules.LearningRateSchedule):
            return float(self._schedule(self._iterations))  # the raw count, as Keras
        return float(self._schedule())

    @property
    def iterations(self) -> int:
        """Steps taken (with gradient accumulation: updates made, ``calls // steps``)."""
        if self.gradient_accumulation_steps:
            return self._iterations // self.gradient_accumulation_steps
        return self._iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        self._iterations = int(value)

    # ---- standalone variables -------------------------------------------------------------

    def apply_gradients(self, grads_and_vars) -> int:
        """Keras's public step on standalone variables; returns ``iterations``.

        Each variable is an object whose ``.value`` is an array (a ``fcnet.Variable``)
        or an array updated in place. The variables are packed into a private flat
        buffer on the first call, and again whenever the set of variables changes
        (which recreates the optimizer state). ``None`` gradients are skipped.
        """
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        grads, variables = zip(*pairs, strict=True)
        ext = self._external
        if ext is None or len(ext[0]) != len(variables) or any(
                a is not b for a, b in zip(ext[0], variables, strict=True)):
            self._pack_external(variables)
            ext = self._external
        else:
            for (start, stop), var in zip(self._slices, variables, strict=True):
                self._params[start:stop] = backend.xp.asarray(_array_of(var)).ravel()
        flat_grads = ext[1]
        for (start, stop), g in zip(self._slices, grads, strict=True):
            flat_grads[start:stop] = backend.xp.asarray(g).ravel()
        self.apply(flat_grads)
        self._write_back()
        return self.iterations

    def _pack_external(self, variables) -> None:
        xp = backend.xp
        arrays = [xp.asarray(_array_of(v)) for v in variables]
        slices, start = [], 0
        for a in arrays:
            slices.append((start, start + a.size))
            start += a.size
        params = xp.empty(start, dtype=backend.floatx())
        for (a, b), array in zip(slices, arrays, strict=True):
            params[a:b] = array.ravel()
        names = [getattr(v, "path", None) or getattr(v, "name", None) or
                 ("variable" if i == 0 else f"variable_{i}") for i, v in enumerate(variables)]
        self.build(params, slices, names=names, shapes=[a.shape for a in arrays])
        self._external = (tuple(variables), xp.empty_like(params))
        self._build_decay_ranges()  # now var_list exclusions can match these objects

    def _write_back(self) -> None:
        if self._external is None:
            return
        for (start, stop), var in zip(self._slices, self._external[0], strict=True):
            target = _array_of(var)
            target[...] = self._params[start:stop].reshape(target.shape)
            constraint = getattr(var, "constraint", None)
            if constraint is not None:
                target[...] = constraint(target)

    # ---- state ----------------------------------------------------------------------------

    def _extra_variables(self) -> list:
        return []

    def _set_extra_variables(self, values) -> None:
        pass

    @property
    def variables(self) -> list:
        """Keras 3's optimizer variables, in its order (needed for saving).

        ``iterations`` (int32), ``learning_rate`` (float32; absent with a schedule),
        then the slots, group by group, variable by variable (views into the flat
        slot buffers), then extra state (Nadam's ``u_product``).
        """
        out = [numpy.array(self._iterations, dtype=numpy.int32)]
        if self._schedule is None:
            out.append(numpy.array(self._lr, dtype=numpy.float32))
        for group in self._all_slot_groups() if self.built else []:
            for (start, stop), shape in zip(self._slices, self._shapes, strict=True):
                for slot in group:
                    out.append(self._slots[slot][start:stop].reshape(shape))
        return out + (self._extra_variables() if self.built else [])

    @property
    def variable_paths(self) -> list[str]:
        """Keras-style paths of ``variables`` (``adam/dense_kernel_momentum``)."""
        paths = [f"{self.name}/iteration"]
        if self._schedule is None:
            paths.append(f"{self.name}/learning_rate")
        for group in self._all_slot_groups() if self.built else []:
            for var_name in self._names:
                base = var_name.replace("/", "_").replace(":", "_")
                paths.extend(f"{self.name}/{base}_{slot}" for slot in group)
        extra = self._extra_names() if self.built else []
        return paths + [f"{self.name}/{n}" for n in extra]

    def _extra_names(self) -> list[str]:
        return []

    def set_variables(self, values) -> None:
        """Restores ``variables`` from a list of arrays (same count and sizes)."""
        values = list(values)
        current = self.variables
        if len(values) != len(current):
            raise ValueError(
                f"Optimizer '{self.name}' has {len(current)} variables. "
                f"Received: {len(values)} values."
            )
        head = 1 if self._schedule is not None else 2  # iterations [, learning_rate]
        n_extra = len(self._extra_variables()) if self.built else 0
        slots = list(zip(current[head:len(current) - n_extra],
                         values[head:len(values) - n_extra], strict=True))
        for target, value in slots:  # check everything before changing anything
            if numpy.size(value) != target.size:
                raise ValueError(
                    f"Optimizer variable of shape {target.shape} cannot take a value of "
                    f"shape {numpy.shape(value)}."
                )
        self._iterations = int(numpy.asarray(values[0]))
        if head == 2:
            self._lr = float(numpy.float32(numpy.asarray(values[1])))
        for target, value in slots:
            target[...] = backend.xp.asarray(value, dtype=target.dtype).reshape(target.shape)
        if n_extra:
            self._set_extra_variables(values[len(values) - n_extra:])

    set_weights = set_variables

    def save_own_variables(self, store) -> None:
        """Writes ``variables`` into ``store`` under keys ``"0"``, ``"1"``, … (Keras)."""
        for i, value in enumerate(self.variables):
            store[str(i)] = numpy.array(backend.to_numpy(value))

    def load_own_variables(self, store) -> None:
        """Reads ``save_own_variables``'s store; a count mismatch warns and skips (Keras)."""
        count = len(self.variables)
        if len(store.keys()) != count:
            msg = (
                f"Skipping variable loading for optimizer '{self.name}', because it has "
                f"{count} variables whereas the saved optimizer has {len(store.keys())} "
                "variables. "
            )
            if not self.built:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        self.set_variables([store[str(i)] for i in range(count)])

    # ---- config ---------------------------------------------------------------------------

    def _own_config(self) -> dict:
        return {}

    def get_config(self) -> dict:
        """Keras 3's config: the base keys in Keras's order, then the optimizer's own."""
        if isinstance(self._schedule, _schedules.LearningRateSchedule):
            learning_rate = _schedules.serialize(self._schedule)
        elif self._schedule is not None:
            learning_rate = self._schedule  # a plain callable: kept as is
        else:
            learning_rate = self._lr
        config = {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }
        config.update(self._own_config())
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(
                config["learning_rate"], custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self.learning_rate}>"


def _array_of(var):
    """The array behind a standalone variable: its ``.value``, or the array itself."""
    value = getattr(var, "value", var)
    if not hasattr(value, "shape"):
        raise TypeError(
            "apply_gradients expects variables with a `.value` array, or arrays. "
            f"Received: {type(var).__name__}"
        )
    return value
