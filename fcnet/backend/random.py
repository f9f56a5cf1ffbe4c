"""Seeding and random generators.

One process-wide ``numpy.random.Generator`` serves every unseeded draw;
``set_random_seed(s)`` re-creates it (and seeds Python's and NumPy's legacy
generators, as Keras does), so two runs with the same seed give the same
weights, shuffles and dropout masks.

In a data-parallel job each process holds some rows of the global batch;
``batch_draw`` draws for the whole global batch and keeps those rows, so every
process's generator stays in step and a mask does not depend on the split.
"""

from __future__ import annotations

import random as _pyrandom

import numpy

from fcnet.backend import parallel

_global = None  # made at the first draw: ``import fcnet`` need not import numpy.random


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
    global _global
    if seed is None:
        if _global is None:
            _global = numpy.random.default_rng()
        return _global
    if isinstance(seed, SeedGenerator):
        return seed.rng
    return numpy.random.default_rng(seed)


class SeedGenerator:
    """A stateful seed, as ``keras.random.SeedGenerator``: successive draws differ."""

    def __init__(self, seed=None):
        self.seed = seed
        self.rng = (numpy.random.default_rng(seed) if seed is not None
                    else generator().spawn(1)[0])


def batch_draw(draw, shape):
    """``draw(shape)``: random values for a batch whose axis 0 holds samples.

    During a data-parallel step (``parallel.rows()`` is ``(start, stop, total)`` and
    ``shape[0] == stop - start``) it draws ``(total, *shape[1:])`` values, the global
    batch's, and returns rows ``[start:stop]``; otherwise exactly ``draw(shape)``.

    Args:
        draw: a function of a shape returning an array of that shape.
        shape: the local batch's shape.
    """
    window = parallel.rows()
    if window is None or not shape or shape[0] != window[1] - window[0]:
        return draw(shape)
    start, stop, total = window
    return draw((total,) + tuple(shape[1:]))[start:stop]
