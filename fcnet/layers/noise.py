"""Noise layers, active in training only: ``GaussianNoise``, ``GaussianDropout``,
``SpatialDropout1D``, ``SpatialDropout2D``.

Each draws from its own ``SeedGenerator`` (a ``seed`` makes the stream reproducible)
and is the identity in inference. Backward multiplies by the same noise that forward
drew (additive noise passes the gradient through unchanged).
"""

from __future__ import annotations

import math

from fcnet import backend
from fcnet.layers.base import Layer
from fcnet.layers.dropout import Dropout
from fcnet.layers.explain import Formula
from fcnet.layers.input_spec import InputSpec


def _check_fraction(layer, argument, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(f"{layer}: invalid value received for argument `{argument}`. Expected "
                         f"a float value in [0, 1). Received: {argument}={value}")


def _normal(generator, shape, dtype, mean, stddev):
    """``N(mean, stddev²)`` samples of ``dtype`` (float32 drawn as float32)."""
    xp = backend.xp
    dtype = xp.dtype(dtype)
    drawn = dtype if dtype.kind == "f" and dtype.itemsize in (4, 8) else "float64"
    draw = backend.random.batch_draw(
        lambda size: generator.rng.standard_normal(size, dtype=drawn), shape)
    noise = xp.asarray(draw, dtype=dtype)
    noise *= dtype.type(stddev)
    if mean:
        noise += dtype.type(mean)
    return noise


class GaussianNoise(Layer):
    """Adds zero-centred Gaussian noise in training: ``y = x + n``, ``n ~ N(0, stddev²)``.

    Args:
        stddev: the standard deviation of the noise, in [0, 1] (Keras's bound).
        seed: an int for a reproducible noise stream.

    Input shape / Output shape: any, unchanged.

    Math: dx = dy.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(stddev, (int, float)) or isinstance(stddev, bool) \
                or not 0 <= stddev <= 1:
            raise ValueError("Invalid value received for argument `stddev`. Expected a float "
                             f"value between 0 and 1. Received: stddev={stddev}")
        self.stddev = stddev
        self.seed = seed
        self.supports_masking = True
        self._generator = backend.SeedGenerator(seed)

    def forward(self, x, training=False):
        if not training or self.stddev == 0:
            return x, None
        return x + _normal(self._generator, x.shape, x.dtype, 0.0, self.stddev), None

    def backward(self, ctx, dy):
        return dy

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"stddev": self.stddev, "seed": self.seed})
        return config

    def _explain(self, e):
        """Training: ``y = x + noise``; inference: ``y = x``."""
        return Formula(f"in training, adds Gaussian noise of standard deviation {self.stddev}; "
                       "at inference passes x through",
                       [f"training:  {e.y} = {e.x} + noise,  noise ~ N(0, {self.stddev}²)",
                        f"inference: {e.y} = {e.x}"], [f"d{e.x} = dy"])


class GaussianDropout(Layer):
    """Multiplies by Gaussian noise of mean 1 in training: ``y = x ⊙ n``,
    ``n ~ N(1, rate / (1 - rate))``.

    Args:
        rate: the drop probability of the equivalent dropout, in [0, 1).
        seed: an int for a reproducible noise stream.

    Input shape / Output shape: any, unchanged.

    Math: dx = dy ⊙ n.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        _check_fraction("GaussianDropout", "rate", rate)
        self.rate = rate
        self.seed = seed
        self.supports_masking = True
        self._generator = backend.SeedGenerator(seed)

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            return x, None
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = _normal(self._generator, x.shape, x.dtype, 1.0, stddev)
        return x * noise, noise

    def backward(self, ctx, dy):
        return dy if ctx is None else dy * ctx

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config

    def _explain(self, e):
        """Training: ``y = x ⊙ m``, m ~ N(1, rate / (1 − rate)); inference: ``y = x``."""
        var = f"{self.rate} / (1 − {self.rate})"
        return Formula("in training, multiplies each value by Gaussian noise of mean 1; at "
                       "inference passes x through",
                       [f"training:  {e.y} = {e.x} ⊙ m,  m ~ N(1, {var})",
                        f"inference: {e.y} = {e.x}"],
                       [f"training:  d{e.x} = dy ⊙ m   (the same m)", f"inference: d{e.x} = dy"])


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one keep/drop draw per sample and channel."""

    _rank = None

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        _check_fraction(type(self).__name__, "rate", rate)
        super().__init__(rate, noise_shape=None, seed=seed, name=name, dtype=dtype, **kwargs)
        self.input_spec = InputSpec(ndim=self._rank)

    def get_config(self) -> dict:
        # Keras 3's spatial dropouts serialise these keys only (no `trainable`).
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of a sequence in training, scaling the rest by 1 / (1 - rate).

    ``y = x ⊙ m / (1 - rate)``, ``m`` of shape ``(batch, 1, channels)``, each entry
    kept with probability ``1 - rate``.

    Args:
        rate: the fraction of channels to drop, in [0, 1).
        seed: an int for a reproducible mask stream.

    Input shape / Output shape: ``(batch, steps, channels)``.

    Math: dx = dy ⊙ m / (1 - rate).
    """

    _rank = 3

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.noise_shape = (None, 1, None)


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of an image in training, scaling the rest by 1 / (1 - rate).

    ``y = x ⊙ m / (1 - rate)``, ``m`` of shape ``(batch, 1, 1, channels)``
    (``(batch, channels, 1, 1)`` for ``data_format="channels_first"``).

    Args:
        rate: the fraction of feature maps to drop, in [0, 1).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: an int for a reproducible mask stream.

    Input shape / Output shape: ``(batch, rows, cols, channels)`` (channels last).

    Math: dx = dy ⊙ m / (1 - rate).
    """

    _rank = 4

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        data_format = "channels_last" if data_format is None else str(data_format).lower()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError("The `data_format` argument must be one of {'channels_first', "
                             f"'channels_last'}}. Received: data_format={data_format}")
        self.data_format = data_format
        self.noise_shape = ((None, 1, 1, None) if data_format == "channels_last"
                            else (None, None, 1, 1))

    def get_config(self) -> dict:
        config = super().get_config()
        config["data_format"] = self.data_format
        return config
