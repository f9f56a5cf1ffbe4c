"""Random tensors with Keras 3's names: ``fcnet.random.normal([4, 784])``."""

from __future__ import annotations

from fcnet import backend
from fcnet.backend import SeedGenerator


def _draw(fill, shape, dtype):
    return backend.xp.asarray(fill(tuple(shape)), dtype=dtype or backend.floatx())


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples from N(mean, stddev²)."""
    rng = backend.generator(seed)
    return _draw(lambda s: rng.normal(mean, stddev, s), shape, dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples from U[minval, maxval)."""
    rng = backend.generator(seed)
    return _draw(lambda s: rng.uniform(minval, maxval, s), shape, dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """N(mean, stddev²) with values beyond two standard deviations drawn again."""
    rng = backend.generator(seed)

    def fill(s):
        values = rng.normal(0.0, 1.0, s)
        while True:
            bad = abs(values) > 2
            if not bad.any():
                return mean + stddev * values
            values[bad] = rng.normal(0.0, 1.0, int(bad.sum()))

    return _draw(fill, shape, dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers in [minval, maxval)."""
    rng = backend.generator(seed)
    return backend.xp.asarray(rng.integers(minval, maxval, tuple(shape)), dtype=dtype)


def shuffle(x, axis=0, seed=None):
    """A copy of ``x`` permuted along ``axis``."""
    rng = backend.generator(seed)
    return backend.xp.asarray(rng.permutation(backend.to_numpy(x), axis=axis))


__all__ = ["SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "shuffle"]
