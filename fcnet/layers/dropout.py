"""``Dropout``: zeroes a random fraction of inputs while training."""

from __future__ import annotations

from fcnet import backend
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula


class Dropout(Layer):
    """Inverted dropout: ``y = x ⊙ mask / (1 - rate)`` in training, ``y = x`` otherwise.

    Args:
        rate: the fraction of inputs to drop, in [0, 1).
        noise_shape: the mask's shape (None = the input's); size-1 axes broadcast.
        seed: an int for a reproducible mask stream.

    Math: dx = dy ⊙ mask / (1 - rate).
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError("Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate}")
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed
        self._generator = backend.SeedGenerator(seed)

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            return x, None
        shape = x.shape if self.noise_shape is None else tuple(
            x.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
        rng = self._generator.rng
        if self.noise_shape is None or self.noise_shape[0] is None:
            # One draw per sample of the global batch, whatever the data-parallel split.
            keep = backend.random.batch_draw(rng.random, shape) >= self.rate
        else:  # a mask shared by every sample
            keep = rng.random(shape) >= self.rate
        scale = backend.xp.asarray(keep, dtype=x.dtype) / x.dtype.type(1 - self.rate)
        return x * scale, scale

    def backward(self, ctx, dy):
        return dy if ctx is None else dy * ctx

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed})
        return config

    def _explain(self, e):
        """Training: ``y = x ⊙ mask / (1 − rate)``; inference: ``y = x``."""
        keep = f"1 − {self.rate}" if self.rate else "1"
        shared = "" if self.noise_shape is None else (
            f", one draw shared along the axes of size 1 in {tuple(self.noise_shape)}")
        return Formula(f"in training, sets each value to 0 with probability {self.rate} and "
                       f"scales the rest by 1 / ({keep}); at inference passes x through",
                       [f"training:  {e.y} = {e.x} ⊙ mask / ({keep}),  mask ~ Bernoulli({keep})"
                        + shared, f"inference: {e.y} = {e.x}"],
                       [f"training:  d{e.x} = dy ⊙ mask / ({keep})   (the same mask)",
                        f"inference: d{e.x} = dy"])
