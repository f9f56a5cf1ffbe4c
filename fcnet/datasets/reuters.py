"""Reuters newswires: 11,228 sequences of word indices labelled with 46 topics, as
``keras.datasets.reuters`` (indices as in ``imdb``)."""

from __future__ import annotations

import numpy

from fcnet.datasets import _cache, _sequences
from fcnet.datasets.imdb import _objects

LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead")


def load_data(path: str = "reuters.npz", num_words=None, skip_top: int = 0, maxlen=None,
              test_split: float = 0.2, seed: int = 113, start_char: int = 1,
              oov_char: int = 2, index_from: int = 3):
    """Loads Reuters from Keras's cache (``datasets/reuters.npz``), downloading it when
    missing. The arguments are ``imdb.load_data``'s, plus ``test_split``: the fraction
    of the shuffled newswires kept for testing.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` object arrays of lists of ints,
        ``y`` int64 topic indices 0–45.
    """
    path = _cache.fetch(path, origin_name="reuters.npz")
    xs, labels = _cache.require(_cache.load_npz(path), ("x", "y"), path)
    xs, labels = _cache.shuffle(seed, xs, labels)
    xs = _sequences.shift(xs, start_char, index_from)
    if maxlen:
        xs, labels = _sequences.remove_long_seq(maxlen, xs, labels)
    xs = _sequences.clip_vocabulary(xs, num_words, skip_top, oov_char)
    cut = int(len(xs) * (1 - test_split))
    return ((_objects(xs[:cut]), numpy.array(labels[:cut])),
            (_objects(xs[cut:]), numpy.array(labels[cut:])))


def get_word_index(path: str = "reuters_word_index.json") -> dict:
    """The word → index dict, from Keras's cache."""
    return _sequences.read_word_index(
        _cache.fetch(path, origin_name="reuters_word_index.json"))


def get_label_names():
    """The 46 topic names, by label index."""
    return LABEL_NAMES
