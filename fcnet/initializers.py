"""Weight initializers with Keras 3 names, arguments, defaults and configs.

``init(shape, dtype=None)`` returns a ``backend.xp`` array of ``dtype or
backend.floatx()``. Random draws come from NumPy generators (``backend.generator``)
and cross to the array library once:

* ``seed=None``: each call draws fresh values from the global generator, so
  ``backend.set_random_seed(s)`` makes a whole run reproducible;
* an int ``seed``: every call returns the same values (Keras 3 behaviour);
* a ``backend.SeedGenerator``: successive calls continue its stream.

Fan computation is Keras's ``compute_fans``: rank 1 -> (n, n); rank 2 -> (rows, cols);
higher ranks are conv kernels ``(*receptive_field, in, out)`` with both fans multiplied by
the receptive field size. ``glorot_uniform`` on a Dense kernel ``(fan_in, units)`` draws
``U(-limit, limit)``, ``limit = sqrt(6 / (fan_in + units))``.
"""

from __future__ import annotations

import math

import numpy

from fcnet import backend
from fcnet._registry import Registry

_TRUNCATED_STDDEV = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape, as Keras computes them."""
    shape = tuple(int(d) for d in shape)
    if input_axes is not None and output_axes is not None:
        return (int(numpy.prod([shape[a] for a in input_axes])),
                int(numpy.prod([shape[a] for a in output_axes])))
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = int(numpy.prod(shape[:-2]))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _shape(shape) -> tuple[int, ...]:
    if isinstance(shape, (int, numpy.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def _dtype(dtype) -> numpy.dtype:
    return numpy.dtype(dtype or backend.floatx())


def _to_xp(a, dtype):
    return backend.xp.asarray(a, dtype=dtype)


class Initializer:
    """Base class: a callable ``(shape, dtype=None) -> array`` with a config."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__()")

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def clone(self):
        return type(self).from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        return backend.xp.zeros(_shape(shape), dtype=_dtype(dtype))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return backend.xp.ones(_shape(shape), dtype=_dtype(dtype))


class Constant(Initializer):
    """Every entry ``value`` (a scalar, or an array broadcast to ``shape``)."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        value = numpy.broadcast_to(backend.to_numpy(self.value), _shape(shape))
        return backend.xp.array(value, dtype=_dtype(dtype))  # a copy, never the broadcast view

    def get_config(self):
        value = self.value
        return {"value": backend.to_numpy(value).tolist() if hasattr(value, "shape") else value}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only; rectangular allowed).

    Keras 3.15 writes an empty config (dropping ``gain``); we write ``{"gain": g}`` only
    when ``g != 1``, so the default config matches Keras and a non-default one survives.
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        return _to_xp(self.gain * numpy.eye(*shape), _dtype(dtype))

    def get_config(self):
        return {} if self.gain == 1.0 else {"gain": self.gain}


class RandomInitializer(Initializer):
    """Base of the random initializers: holds and serialises the seed."""

    def __init__(self, seed=None):
        if isinstance(seed, dict):  # a serialised keras.random.SeedGenerator
            seed = backend.SeedGenerator(seed.get("config", seed).get("seed"))
        elif seed is not None and (isinstance(seed, bool)
                                   or not isinstance(seed, (int, backend.SeedGenerator))):
            raise ValueError("`seed` argument should be an instance of "
                             "`keras.random.SeedGenerator()` or an integer. "
                             f"Received: seed={seed}")
        self.seed = seed

    def _rng(self) -> numpy.random.Generator:
        return backend.generator(self.seed)

    def _seed_config(self):
        if isinstance(self.seed, backend.SeedGenerator):
            return {"module": "keras.random", "class_name": "SeedGenerator",
                    "config": {"seed": self.seed.seed}, "registered_name": None}
        return self.seed

    def get_config(self):
        return {"seed": self._seed_config()}

    @staticmethod
    def _draw_dtype(dtype) -> str:
        # NumPy draws float32 or float64 natively; float16 is drawn in float32, then cast
        if dtype.kind != "f":
            raise ValueError(f"Random initializers need a float dtype. Received: dtype={dtype}")
        return "float64" if dtype == numpy.float64 else "float32"

    def _normal(self, shape, dtype, mean, stddev):
        z = self._rng().standard_normal(shape, dtype=self._draw_dtype(dtype))
        return _to_xp(z * stddev + mean, dtype)

    def _uniform(self, shape, dtype, minval, maxval):
        u = self._rng().random(shape, dtype=self._draw_dtype(dtype))
        return _to_xp(u * (maxval - minval) + minval, dtype)

    def _truncated(self, shape, dtype, mean, stddev):
        # A unit normal redrawn wherever |z| > 2, then scaled: values lie in mean +- 2 stddev
        rng, draw = self._rng(), self._draw_dtype(dtype)
        z = rng.standard_normal(shape, dtype=draw)
        bad = numpy.abs(z) > 2.0
        while bad.any():
            z[bad] = rng.standard_normal(int(bad.sum()), dtype=draw)
            bad = numpy.abs(z) > 2.0
        return _to_xp(z * stddev + mean, dtype)


class _MeanStddev(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomNormal(_MeanStddev):
    """Normal draws with ``mean`` and ``stddev``."""

    def __call__(self, shape, dtype=None):
        return self._normal(_shape(shape), _dtype(dtype), self.mean, self.stddev)


class TruncatedNormal(_MeanStddev):
    """Normal draws with ``mean`` and ``stddev``, redrawn beyond two standard deviations."""

    def __call__(self, shape, dtype=None):
        return self._truncated(_shape(shape), _dtype(dtype), self.mean, self.stddev)


class RandomUniform(RandomInitializer):
    """Uniform draws in ``[minval, maxval)``."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._uniform(_shape(shape), _dtype(dtype), self.minval, self.maxval)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(RandomInitializer):
    """Draws with variance ``scale / n``, n the fan chosen by ``mode``.

    ``n`` is fan_in, fan_out or their mean (at least 1). ``distribution``:
    ``"truncated_normal"`` (stddev ``sqrt(scale/n) / 0.8796...``, cut at 2 stddev),
    ``"untruncated_normal"`` (stddev ``sqrt(scale/n)``) or ``"uniform"`` (limit
    ``sqrt(3 scale/n)``). ``"normal"`` means ``"truncated_normal"``, as in Keras.
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        modes = ("fan_in", "fan_out", "fan_avg")
        if mode not in modes:
            raise ValueError(f"Invalid `mode` argument: {mode}. Please use one of {modes}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        distributions = ("uniform", "truncated_normal", "untruncated_normal")
        if distribution not in distributions:
            raise ValueError(f"Invalid `distribution` argument: {distribution}. "
                             f"Please use one of {distributions}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.input_axes, self.output_axes = input_axes, output_axes
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _shape(shape), _dtype(dtype)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            return self._truncated(shape, dtype, 0.0, math.sqrt(scale) / _TRUNCATED_STDDEV)
        if self.distribution == "untruncated_normal":
            return self._normal(shape, dtype, 0.0, math.sqrt(scale))
        limit = math.sqrt(3.0 * scale)
        return self._uniform(shape, dtype, -limit, limit)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


def _preset(name, scale, mode, distribution, doc):
    """A named VarianceScaling whose config is only the seed and the axes (Keras 3.15)."""
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self._seed_config(), "input_axes": self.input_axes,
                "output_axes": self.output_axes}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                            "__doc__": doc, "__module__": __name__})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Glorot/Xavier uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Glorot normal: truncated normal, stddev sqrt(2 / (fan_in + fan_out)).")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "He normal: truncated normal, stddev sqrt(2 / fan_in).")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform",
                    "He uniform: U(-l, l), l = sqrt(6 / fan_in).")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "LeCun normal: truncated normal, stddev sqrt(1 / fan_in).")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform",
                       "LeCun uniform: U(-l, l), l = sqrt(3 / fan_in).")


class Orthogonal(RandomInitializer):
    """A random orthogonal matrix times ``gain`` (shape flattened to ``(prod(shape[:-1]), n)``).

    Keras's recipe: QR of a normal ``(max(r, c), min(r, c))`` draw, columns signed by
    ``diag(R)``, transposed when ``r < c``. Tall results have ``W^T W = I``, wide ones
    ``W W^T = I`` (times ``gain^2``).
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _shape(shape), _dtype(dtype)
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        self._draw_dtype(dtype)
        rows, cols = int(numpy.prod(shape[:-1])), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = numpy.linalg.qr(a)
        q *= numpy.sign(numpy.diag(r))
        if rows < cols:
            q = q.T
        return _to_xp(self.gain * q.reshape(shape), dtype)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


_CLASSES = (Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform, TruncatedNormal,
            VarianceScaling, GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal,
            LecunUniform, Orthogonal)
_REGISTRY = Registry("initializer", "keras.initializers", Initializer, _CLASSES, {
    "normal": RandomNormal, "uniform": RandomUniform, "one": Ones, "zero": Zeros,
    "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal})
# Keras's lowercase aliases: initializers.glorot_uniform is GlorotUniform, and so on
globals().update({backend.snake_case(cls.__name__): cls for cls in _CLASSES})


def _from_array(array):
    def initialize_fn(shape, dtype=None):
        if _shape(shape) != tuple(array.shape):
            raise ValueError(f"Expected `shape` to be {tuple(array.shape)} for direct tensor "
                             f"as initializer. Received shape={shape}")
        return backend.xp.array(array, dtype=_dtype(dtype))
    return initialize_fn


def get(identifier):
    """Resolves None, a name, a config dict, a class, an instance, a callable
    ``(shape, dtype=None)`` or an array (returned when called with its own shape).

    Dicts may be Keras 3's ``{"module", "class_name", "config", "registered_name"}`` or
    tf.keras 2's ``{"class_name", "config"}``. Unknown names raise a ValueError that lists
    the known ones.
    """
    if isinstance(identifier, numpy.ndarray) or type(identifier).__module__.startswith("cupy"):
        return _from_array(identifier)
    return _REGISTRY.get(identifier)


def deserialize(config):
    """Same as ``get``, for a config dict or a name."""
    return get(config)


def serialize(initializer):
    """Keras 3's dict: ``{"module": "keras.initializers", "class_name", "config",
    "registered_name": None}``; None for None."""
    return _REGISTRY.serialize(initializer)


__all__ = [cls.__name__ for cls in _CLASSES] + [
    "Initializer", "RandomInitializer", "compute_fans", "get", "serialize", "deserialize"]
