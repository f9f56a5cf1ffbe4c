"""IMDB movie reviews, 25,000 for training and 25,000 for testing, labelled by
sentiment (1 positive, 0 negative), each a sequence of word indices, as
``keras.datasets.imdb``. Index ``i`` is the i-th most frequent word (from
``index_from`` on); 0 is padding, ``start_char`` opens a review, ``oov_char`` marks
words cut from the vocabulary."""

from __future__ import annotations

import numpy

from fcnet.datasets import _cache, _sequences


def load_data(path: str = "imdb.npz", num_words=None, skip_top: int = 0, maxlen=None,
              seed: int = 113, start_char: int = 1, oov_char: int = 2, index_from: int = 3,
              **kwargs):
    """Loads IMDB from Keras's cache (``datasets/imdb.npz``), downloading it when missing.

    Args:
        path: the file's name in the cache folder.
        num_words: keep the ``num_words`` most frequent words (indices below it); others
            become ``oov_char``. None keeps all.
        skip_top: also replace the ``skip_top`` most frequent words by ``oov_char``.
        maxlen: drop reviews of ``maxlen`` words or more.
        seed: the shuffle's seed (train and test are shuffled separately).
        start_char: the index that opens each review (None: none).
        oov_char: the index of a removed word (None: remove it).
        index_from: the offset added to every word index.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` object arrays of ``n`` lists of
        ints, ``y`` int64 labels of shape ``(n,)``.
    """
    _sequences.check_kwargs(kwargs)
    path = _cache.fetch(path, origin_name="imdb.npz")
    arrays = _cache.load_npz(path)
    x_train, labels_train, x_test, labels_test = _cache.require(
        arrays, ("x_train", "y_train", "x_test", "y_test"), path)
    rng = numpy.random.RandomState(seed)  # one generator, drawn twice, as Keras
    order = numpy.arange(len(x_train))
    rng.shuffle(order)
    x_train, labels_train = x_train[order], labels_train[order]
    order = numpy.arange(len(x_test))
    rng.shuffle(order)
    x_test, labels_test = x_test[order], labels_test[order]
    x_train = _sequences.shift(x_train, start_char, index_from)
    x_test = _sequences.shift(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = _sequences.remove_long_seq(maxlen, x_train, labels_train)
        x_test, labels_test = _sequences.remove_long_seq(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, "
                             "no sequence was kept. Increase maxlen.")
    xs = _sequences.clip_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = numpy.concatenate([numpy.asarray(labels_train), numpy.asarray(labels_test)])
    cut = len(x_train)
    return ((_objects(xs[:cut]), labels[:cut]), (_objects(xs[cut:]), labels[cut:]))


def _objects(lists):
    """``numpy.array(lists, dtype=object)``, as Keras: a 1-D array of lists, or a 2-D
    object array when every sequence has the same length."""
    return numpy.array(lists, dtype="object")


def get_word_index(path: str = "imdb_word_index.json") -> dict:
    """The word → index dict (the most frequent word is 1), from Keras's cache."""
    return _sequences.read_word_index(_cache.fetch(path, origin_name="imdb_word_index.json"))
