"""``CategoryEncoding`` and what the preprocessing layers share: the encoding of integer
categories as one-hot / multi-hot / count vectors, reading ``adapt`` data, and the
backward pass of a layer with no gradient."""

from __future__ import annotations

import numbers

import numpy

from fcnet import backend
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula

ENCODING_MODES = ("one_hot", "multi_hot", "count")


def encode_categories(indices, output_mode: str, depth: int, dtype, count_weights=None,
                      skip=None, layer_name: str = "?"):
    """Integer categories as float vectors of length ``depth``.

    ``one_hot``: one vector per index (a trailing axis of size 1 is replaced);
    ``multi_hot`` / ``count``: one vector per row, 1 (or the number of times, or the sum
    of ``count_weights``) where a category occurs in the row's last axis; a rank-1
    input is one row. ``skip``: a boolean mask of positions left out (masked tokens).
    Out-of-range categories raise a ValueError naming the layer and the value.
    """
    xp = backend.xp
    indices = xp.asarray(indices)
    if indices.dtype.kind not in "iu":
        indices = indices.astype("int64")
    if indices.ndim == 0:
        indices = indices.reshape(1)
        skip = None if skip is None else xp.asarray(skip).reshape(1)
    valid = indices if skip is None else indices[~skip]
    if valid.size and (int(valid.min()) < 0 or int(valid.max()) >= depth):
        bad = int(valid.min()) if int(valid.min()) < 0 else int(valid.max())
        raise ValueError(f"Layer '{layer_name}': input values must be in the range "
                         f"0 <= values < num_tokens with num_tokens={depth}. Received: "
                         f"{bad}.")
    if output_mode == "one_hot":
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices = indices[..., 0]
            skip = None if skip is None else skip[..., 0]
        out = (indices[..., None] == xp.arange(depth)).astype(dtype)
        if skip is not None:
            out[skip] = 0
        return out
    rows = indices.reshape(-1, indices.shape[-1]) if indices.ndim > 1 else indices[None]
    n, width = rows.shape
    flat = (xp.arange(n)[:, None] * depth + rows).reshape(-1)
    weights = None
    if count_weights is not None:
        weights = xp.broadcast_to(xp.asarray(count_weights, "float64"),
                                  indices.shape).reshape(-1)
    if skip is not None:
        keep = ~xp.asarray(skip).reshape(-1)
        flat = flat[keep]
        weights = None if weights is None else weights[keep]
    counts = xp.bincount(flat, weights=weights, minlength=n * depth)
    if output_mode == "multi_hot":
        counts = counts > 0
    out = counts.reshape(n, depth).astype(dtype)
    return out.reshape(indices.shape[:-1] + (depth,)) if indices.ndim > 1 else out[0]


def encoded_shape(input_shape, output_mode: str, depth) -> tuple:
    """The output shape of ``encode_categories`` for an input shape."""
    input_shape = tuple(input_shape)
    if not input_shape:
        return (depth,)
    if output_mode == "one_hot":
        if len(input_shape) > 1 and input_shape[-1] == 1:
            return input_shape[:-1] + (depth,)
        return input_shape + (depth,)
    return input_shape[:-1] + (depth,)


def check_output_mode(layer: str, output_mode, allowed) -> None:
    if output_mode not in allowed:
        raise ValueError(f"Unknown value for `output_mode` of {layer}. Expected one of "
                         f"{list(allowed)}. Received: output_mode={output_mode}")


def data_batches(data, steps=None):
    """``adapt`` data as a list of NumPy arrays: one array (a NumPy array, a list of
    values, a pandas DataFrame or Series), or the batches of an iterable (a generator,
    a ``PyDataset``, a list of arrays); ``(x, y)`` batches give their ``x``."""
    if hasattr(data, "to_numpy") and not isinstance(data, numpy.ndarray):
        data = data.to_numpy()
    if isinstance(data, (numpy.ndarray, str, numbers.Number)) or (
            isinstance(data, (list, tuple)) and not (data and hasattr(data[0], "shape"))):
        return [numpy.asarray(backend.to_numpy(data))]
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and hasattr(
            data, "on_epoch_end"):  # a PyDataset
        data = (data[i] for i in range(len(data)))
    batches = []
    for i, batch in enumerate(data):
        if steps is not None and i >= steps:
            break
        batch = batch[0] if isinstance(batch, tuple) else batch
        batches.append(numpy.asarray(backend.to_numpy(batch)))
    if not batches:
        raise ValueError("adapt() received an empty iterable (no batches). Expected at least "
                         "one batch.")
    return batches


class NoGradient:
    """A preprocessing layer's backward: its inputs (indices, tokens, raw values) get a
    zero gradient; it has no trainable weights, so a model never needs more."""

    _accepts_any_dtype = True

    def backward(self, ctx, dy):
        return backend.xp.zeros(ctx, backend.floatx())


class CategoryEncoding(NoGradient, Layer):
    """Encodes integer categories as one-hot, multi-hot or count vectors.

    ``one_hot``: ``y[..., j] = 1 if x[...] == j``; ``multi_hot``: ``y[b, j] = 1 if j occurs
    in x[b, :]``; ``count``: ``y[b, j] = #{k : x[b, k] == j}`` (or the sum of
    ``count_weights`` there).

    Args:
        num_tokens: the number of categories: inputs lie in ``[0, num_tokens)``.
        output_mode: ``"multi_hot"`` (the default, ``"binary"`` is its old name),
            ``"one_hot"`` or ``"count"``.
        sparse: must be False (no sparse arrays in fcnet).

    Input shape:
        integers ``(batch_size,)`` or ``(batch_size, k)`` (floats holding integers are
        cast); an index outside ``[0, num_tokens)`` raises a ValueError.

    Output shape:
        one_hot: ``(batch_size, num_tokens)`` for ``(batch_size,)`` or ``(batch_size, 1)``
        inputs, else ``(batch_size, k, num_tokens)``; multi_hot / count:
        ``(..., num_tokens)`` in place of the last axis. float32.

    Math: the output is constant in the input: dx = 0. No weights.

    Example:
        >>> CategoryEncoding(4, output_mode="count")(numpy.array([[0, 1, 1]]))
        array([[1., 2., 0., 0.]], dtype=float32)
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        check_output_mode("CategoryEncoding", output_mode, ENCODING_MODES)
        if num_tokens is None:
            raise ValueError("num_tokens must be set to use this layer. If the number of "
                             "tokens is not known beforehand, use the IntegerLookup layer "
                             "instead.")
        if not isinstance(num_tokens, numbers.Integral) or num_tokens < 1:
            raise ValueError(f"`num_tokens` must be >= 1. Received: num_tokens={num_tokens}.")
        if sparse:
            raise ValueError("CategoryEncoding: `sparse=True` is not supported by fcnet. "
                             "Received: sparse=True")
        self.num_tokens = int(num_tokens)
        self.output_mode = output_mode
        self.sparse = False

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError("`count_weights` is not used when `output_mode` is not "
                             f"`'count'`. Received `count_weights={count_weights}`.")
        return encode_categories(inputs, self.output_mode, self.num_tokens, self.dtype,
                                 count_weights=count_weights, layer_name=self.name)

    def forward(self, x, training=False):
        return self.call(x), tuple(x.shape)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"num_tokens": self.num_tokens, "output_mode": self.output_mode})
        return config

    def _explain(self, e):
        """``y`` counts (or marks) each of the ``num_tokens`` integer categories."""
        return Formula(f"encodes integer categories below {self.num_tokens} as "
                       f"{self.output_mode} vectors",
                       [f"{e.y} = {self.output_mode}({e.x}, depth={self.num_tokens})"],
                       ["no gradient: the layer prepares data and is not trained through"])
