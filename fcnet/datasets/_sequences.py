"""What IMDB and Reuters share: word-index sequences shifted, filtered and clipped to
a vocabulary exactly as Keras's loaders do, and the JSON word index."""

from __future__ import annotations

import json


def shift(xs, start_char, index_from):
    """Each sequence as a list, indices raised by ``index_from``, ``start_char`` first."""
    if start_char is not None:
        return [[start_char] + [int(w) + index_from for w in x] for x in xs]
    if index_from:
        return [[int(w) + index_from for w in x] for x in xs]
    return [[int(w) for w in x] for x in xs]


def remove_long_seq(maxlen, seq, label):
    """The sequences shorter than ``maxlen`` (strictly, as Keras) with their labels."""
    kept = [(x, y) for x, y in zip(seq, label) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def clip_vocabulary(xs, num_words, skip_top, oov_char):
    """Words outside ``[skip_top, num_words)`` become ``oov_char`` (or are dropped)."""
    if not num_words:
        num_words = max(max(x) for x in xs if x) if any(xs) else 0
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def check_kwargs(kwargs) -> None:
    if kwargs:
        raise TypeError(f"Unrecognized keyword arguments: {sorted(kwargs)}. Received: "
                        f"{kwargs}")


def read_word_index(path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path} is not a JSON word index ({error}).") from None
    if not isinstance(index, dict):
        raise ValueError(f"{path} must hold a JSON object. Received: {type(index).__name__}")
    return index
