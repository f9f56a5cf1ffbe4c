"""Seeding and random generators.

One process-wide ``numpy.random.Generator`` serves every unseeded draw;
``set_random_seed(s)`` re-creates it (and seeds Python's and NumPy's legacy
generators, as Keras does), so two runs with the same seed give the same
weights, shuffles and dropout masks.
"""

from __future__ import annotations

import random as _pyrandom

import numpy

_global = numpy.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seeds every random draw fcnet makes (and ``random``, ``numpy.random``)."""
    global _global
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"Expected `seed` to be an integer. Received: seed={seed!r}")
    _pyrandom.seed(seed)
    numpy.random.seed(seed % 2**32)
    _global = numpy.random.default_rng(seed)


def generator(seed=None) -> numpy.random.Generator:
    """The generator for one draw: the global one, or a fresh one for an int ``seed``."""
    if seed is None:
        return _global
    if isinstance(seed, SeedGenerator):
        return seed.rng
    return numpy.random.default_rng(seed)


class SeedGenerator:
    """A stateful seed, as ``keras.random.SeedGenerator``: successive draws differ."""

    def __init__(self, seed=None):
        self.seed = seed
        self.rng = numpy.random.default_rng(seed) if seed is not None else _global.spawn(1)[0]
