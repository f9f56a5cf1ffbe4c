"""``StringLookup`` and ``IntegerLookup``: map tokens to indices in a vocabulary.

Index layout (Keras's): ``[mask] [oov × num_oov_indices] [tokens…]``: with a
``mask_token`` (and ``output_mode="int"``) index 0 is the mask, then come the
out-of-vocabulary indices, then the vocabulary, most frequent token first after
``adapt`` (ties: the greater token first, as Keras sorts them).
"""

from __future__ import annotations

import collections

import numpy

from fcnet import backend
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula
from fcnet.layers.preprocessing_encoding import (
    ENCODING_MODES,
    NoGradient,
    check_output_mode,
    data_batches,
    encode_categories,
    encoded_shape,
)


class _IndexLookup(NoGradient, Layer):
    """What ``StringLookup`` and ``IntegerLookup`` share (see their docstrings).

    The lookup is vectorised: the vocabulary is kept sorted, and ``searchsorted`` finds
    every input token at once.
    """

    _token_kind = "string"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=None,
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, **kwargs):
        kind = type(self).__name__
        self._frozen_vocab_size = kwargs.pop("vocabulary_size", None)
        for key in ("oov_method", "salt", "encoding", "vocabulary_dtype", "trainable"):
            kwargs.pop(key, None)
        kwargs.pop("has_input_vocabulary", None)
        super().__init__(**kwargs)
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"If set, `max_tokens` must be greater than 1. Received: "
                             f"max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError("If pad_to_max_tokens is True, must set `max_tokens`. Received: "
                             f"max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError("`num_oov_indices` must be greater than or equal to 0. Received: "
                             f"num_oov_indices={num_oov_indices}")
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode in ("tf_idf", "tf-idf") or idf_weights is not None:
            raise ValueError(f"{kind}: `output_mode='tf_idf'` is not supported by fcnet yet. "
                             f"Received: output_mode={output_mode}")
        check_output_mode(kind, output_mode, ("int",) + ENCODING_MODES)
        if invert and output_mode != "int":
            raise ValueError("`output_mode` must be `'int'` when `invert` is true. Received: "
                             f"output_mode={output_mode}")
        if sparse:
            raise ValueError(f"{kind}: `sparse=True` is not supported by fcnet. Received: "
                             "sparse=True")
        if num_oov_indices > 1 and self._token_kind == "string":
            raise ValueError(f"{kind}: `num_oov_indices` > 1 hashes strings with "
                             "TensorFlow's fingerprint, which fcnet does not reproduce. "
                             f"Received: num_oov_indices={num_oov_indices}")
        self.max_tokens, self.num_oov_indices = max_tokens, int(num_oov_indices)
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.output_mode = bool(invert), output_mode
        self.pad_to_max_tokens, self.sparse = bool(pad_to_max_tokens), False
        self.input_vocabulary = None if isinstance(vocabulary, str) else vocabulary
        self._tokens = None  # the vocabulary without its special tokens
        self._has_input_vocabulary = False
        if isinstance(vocabulary, str):
            raise ValueError(f"{kind}: vocabulary files are not supported; pass the "
                             f"vocabulary as a list. Received: vocabulary={vocabulary!r}")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # ------------------------------------------------------------------ vocabulary
    def _as_tokens(self, values):
        values = numpy.asarray(backend.to_numpy(values))
        if self._token_kind == "string":
            if values.dtype.kind == "S":
                return numpy.char.decode(values, "utf-8")
            return values.astype(str)
        if values.dtype.kind not in "iuf":
            raise TypeError(f"Layer '{self.name}' (IntegerLookup) expects integer tokens. "
                            f"Received: an array of dtype {values.dtype}.")
        return values.astype("int64")

    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Sets the vocabulary (special tokens at its start are recognised and kept)."""
        vocabulary = self._as_tokens(vocabulary).reshape(-1)
        if vocabulary.size == 0:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        start = self._token_start()
        found = len(vocabulary) >= start and [t for t in vocabulary[:start].tolist()] == special
        tokens = vocabulary[start:] if found else vocabulary
        repeated = [t for t, c in collections.Counter(tokens.tolist()).items() if c > 1]
        if repeated:
            raise ValueError("The passed vocabulary has at least one repeated term. Please "
                             f"uniquify your dataset. The repeated terms are: {repeated}")
        for token, name in ((self.mask_token, "mask_token"),
                            (self.oov_token if self.invert else None, "oov_token")):
            if token is not None and token in tokens.tolist():
                raise ValueError(
                    "Found reserved token at unexpected location in `vocabulary`. Note that "
                    "passed `vocabulary` does not need to include the OOV and mask tokens. "
                    "Either remove all mask and OOV tokens, or include them only at the start "
                    f"of the vocabulary in precisely this order: {special}. Received: "
                    f"{name}={token}")
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ValueError("Attempted to set a vocabulary larger than the maximum vocab size. "
                             f"Received vocabulary size is {start + len(tokens)}; "
                             f"`max_tokens` is {self.max_tokens}.")
        self._set_tokens(tokens)
        self._has_input_vocabulary = True

    def _set_tokens(self, tokens) -> None:
        self._tokens = numpy.asarray(tokens)
        self._order = numpy.argsort(self._tokens, kind="stable")
        self._sorted = self._tokens[self._order]

    def adapt(self, data, steps=None) -> None:
        """Builds the vocabulary from the data's tokens, most frequent first (at most
        ``max_tokens`` entries with the special ones); mask and OOV tokens are left out."""
        if getattr(self, "_has_input_vocabulary", False):
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static "
                             "vocabulary via `vocabulary` argument or `set_vocabulary()` "
                             "method.")
        values = numpy.concatenate([self._as_tokens(b).reshape(-1)
                                    for b in data_batches(data, steps)])
        tokens, counts = numpy.unique(values, return_counts=True)
        keep = numpy.ones(len(tokens), bool)
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                keep &= tokens != self._as_tokens([special])[0]
        tokens, counts = tokens[keep], counts[keep]
        order = numpy.lexsort((tokens, counts))[::-1]  # count, then token, both descending
        if self.max_tokens:
            order = order[:self.max_tokens - self._token_start()]
        self._set_tokens(tokens[order])

    def load_assets(self, dir_path) -> None:
        """Reads an adapted vocabulary from ``vocabulary.txt`` in ``dir_path`` (where Keras
        keeps it in a ``.keras`` file), unless the config already gave one."""
        import os

        path = os.path.join(dir_path, "vocabulary.txt")
        if self._tokens is not None or not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        if lines:
            self.set_vocabulary(lines if self._token_kind == "string" else [int(v) for v in lines])

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary, index by index (special tokens first unless left out)."""
        tokens = [] if self._tokens is None else self._tokens.tolist()
        if not include_special_tokens:
            return tokens
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        return special + tokens

    def vocabulary_size(self) -> int:
        """The number of indices: special tokens plus the vocabulary."""
        return self._token_start() + (0 if self._tokens is None else len(self._tokens))

    # ------------------------------------------------------------------ lookup
    def call(self, inputs):
        if self.invert:
            return self._invert(inputs)
        x = self._as_tokens(inputs)
        index, found = self._find(x)
        oov = self._oov_indices(x, found)
        indices = numpy.where(found, index + self._token_start(), oov)
        mask = None
        if self.mask_token is not None:
            mask = x == self._as_tokens([self.mask_token])[0]
            indices = numpy.where(mask, 0, indices)
        if self.output_mode == "int":
            return backend.xp.asarray(indices)
        if mask is not None:
            indices = numpy.where(mask, -1, indices)
        return encode_categories(indices, self.output_mode, self._depth(), backend.floatx(),
                                 skip=mask, layer_name=self.name)

    def _find(self, x):
        """``(position in the vocabulary, found)`` for every token of ``x``."""
        if self._tokens is None or len(self._tokens) == 0:
            return numpy.zeros(x.shape, "int64"), numpy.zeros(x.shape, bool)
        at = numpy.searchsorted(self._sorted, x).clip(0, len(self._sorted) - 1)
        found = self._sorted[at] == x
        return self._order[at].astype("int64"), found

    def _oov_indices(self, x, found):
        if self.num_oov_indices == 0:
            if not found.all():
                bad = numpy.unique(x[~found])[:10].tolist()
                raise ValueError("When `num_oov_indices=0` all inputs should be in vocabulary, "
                                 f"found OOV values {bad}, consider setting "
                                 "`num_oov_indices=1`.")
            return numpy.zeros(x.shape, "int64")
        if self.num_oov_indices == 1:
            return numpy.full(x.shape, self._oov_start(), "int64")
        return numpy.mod(x, self.num_oov_indices) + self._oov_start()  # integer tokens

    def _invert(self, inputs):
        """Indices back to tokens: unknown and OOV indices give ``oov_token``."""
        indices = numpy.asarray(backend.to_numpy(inputs)).astype("int64")
        table = numpy.asarray(self.get_vocabulary(), dtype=object)
        inside = (indices >= 0) & (indices < len(table))
        tokens = numpy.where(inside, table[indices.clip(0, max(len(table) - 1, 0))],
                             self.oov_token)
        if self.mask_token is not None:
            tokens = numpy.where(indices == 0, self.mask_token, tokens)
        return tokens.astype(str) if self._token_kind == "string" else tokens.astype("int64")

    def _depth(self) -> int:
        if self.pad_to_max_tokens:
            return self.max_tokens
        if self._tokens is None and self._frozen_vocab_size is None:
            raise RuntimeError(
                f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, "
                "you must set the layer's vocabulary before calling it. Either pass a "
                "`vocabulary` argument to the layer, or call `adapt` with some sample data.")
        return self.vocabulary_size()

    def forward(self, x, training=False):
        return self.call(x), tuple(numpy.shape(x))

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self.max_tokens if self.pad_to_max_tokens else (
            self.vocabulary_size() if self._tokens is not None else self._frozen_vocab_size)
        return encoded_shape(input_shape, self.output_mode, depth)

    def get_config(self) -> dict:
        """Keras's keys; an adapted vocabulary is written as ``vocabulary`` (Keras keeps
        it in a separate asset file), so the config alone rebuilds the layer."""
        vocabulary = self.input_vocabulary
        if vocabulary is None and self._tokens is not None:
            vocabulary = self._tokens.tolist()
        elif vocabulary is not None:
            vocabulary = numpy.asarray(vocabulary).tolist()
        config = super().get_config()
        config.update({
            "invert": self.invert, "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
            "mask_token": self.mask_token, "output_mode": self.output_mode,
            "sparse": False, "pad_to_max_tokens": self.pad_to_max_tokens,
            "idf_weights": None, "vocabulary": vocabulary,
            "vocabulary_size": None if self._tokens is None else self.vocabulary_size(),
        })
        return config

    def _explain(self, e):
        """``y`` = the index of each token in the vocabulary (or the inverse)."""
        what = "token of each index" if self.invert else "index of each token"
        return Formula(f"looks up the {what} in a vocabulary of {self.vocabulary_size()}"
                       f" (output_mode={self.output_mode!r})",
                       [f"{e.y} = {what} of {e.x}   (out-of-vocabulary → the OOV entry)"],
                       ["no gradient: the layer prepares data and is not trained through"])


class StringLookup(_IndexLookup):
    """Maps strings to integer indices in a vocabulary (and back, with ``invert``).

    Args:
        max_tokens: the most indices (special ones included) ``adapt`` keeps, or None.
        num_oov_indices: indices for out-of-vocabulary tokens (0 or 1 in fcnet).
        mask_token: a token that maps to index 0 (``"int"`` mode), or None.
        oov_token: the token ``invert`` gives for OOV indices (``"[UNK]"``).
        vocabulary: a list of tokens, instead of ``adapt``.
        invert: map indices to tokens instead.
        output_mode: ``"int"`` (int64 indices), ``"one_hot"``, ``"multi_hot"``, ``"count"``
            (float32 vectors of length ``vocabulary_size()``).
        pad_to_max_tokens: encode to ``max_tokens`` wide vectors.
        encoding: the text encoding of bytes inputs (``"utf-8"``).

    Input shape: strings of any shape. Output shape: the same (int) or as
    ``CategoryEncoding``'s. Math: no gradient (dx = 0). No weights.

    Example:
        >>> layer = StringLookup(vocabulary=["a", "b", "c", "d"])
        >>> layer(numpy.array([["a", "c", "d"], ["d", "z", "b"]]))
        array([[1, 3, 4], [4, 0, 2]])
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", name=None, **kwargs):
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"oov_method": "floormod", "salt": None, "encoding": self.encoding})
        return config


class IntegerLookup(_IndexLookup):
    """Maps integers (ids, codes) to contiguous indices in a vocabulary.

    Args: as ``StringLookup``'s, with ``oov_token=-1`` and integer tokens;
    ``num_oov_indices > 1`` spreads OOV tokens over those indices by ``token mod n``.

    Math: ``y = index of x in the vocabulary`` (an OOV index where it is absent). Integer
    outputs have no gradient: nothing before a lookup trains through it.

    Example:
        >>> layer = IntegerLookup(vocabulary=[12, 36, 1138, 42])
        >>> layer(numpy.array([[12, 1138, 42], [42, 1000, 36]]))
        array([[1, 3, 4], [4, 0, 2]])
    """

    _token_kind = "int"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False, name=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError("Only `vocabulary_dtype='int64'` is supported at this time. "
                             f"Received: vocabulary_dtype={vocabulary_dtype}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices,
                         mask_token=mask_token, oov_token=oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"vocabulary_dtype": "int64", "oov_method": "floormod", "salt": None})
        if config["vocabulary"] is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config
