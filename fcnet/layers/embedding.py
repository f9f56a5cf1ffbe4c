"""``Embedding``: turns integer indices into dense vectors, ``y = embeddings[x]``."""

from __future__ import annotations

import numbers
import warnings

from fcnet import backend, constraints, initializers, regularizers
from fcnet.layers.arguments import serialize_or_none
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula


class Embedding(Layer):
    """Turns non-negative integers (indices) into dense vectors of fixed size.

    ``y[..., :] = embeddings[x[...], :]``: each index picks one row of the table.

    Args:
        input_dim: the vocabulary size: indices lie in ``[0, input_dim)``.
        output_dim: the size of each vector.
        embeddings_initializer: the table's initializer (``"uniform"``: ``U(-0.05, 0.05)``).
        embeddings_regularizer: a penalty on the table, added to the loss.
        embeddings_constraint: a projection of the table after each optimizer step.
        mask_zero: masking is not supported yet: True raises a ValueError.
        input_length: accepted for tf.keras 2 code and ignored (Keras 3 warns too).

    Input shape:
        indices of any shape ``(batch_size, ...)``: integers, or floats holding integers
        (cast to integers as Keras casts them, by truncation).

    Output shape:
        ``(batch_size, ..., output_dim)``.

    Weights:
        embeddings ``(input_dim, output_dim)``, trainable.

    Math (dy = dL/dy):
        dembeddings[i] = Σ over positions p with x[p] == i of dy[p]  (rows of repeated
        indices add up); the indices have no gradient (dx = 0).

    Example:
        >>> layer = Embedding(1000, 64)
        >>> layer(numpy.array([[4, 20, 4]])).shape
        (1, 3, 64)
    """

    _accepts_any_dtype = True  # integer indices reach ``forward`` as they are

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, **kwargs):
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value} "
                                 f"(of type {type(value).__name__}).")
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.",
                          stacklevel=2)
        for key in ("quantization_config", "lora_rank", "lora_alpha"):
            if kwargs.pop(key, None) is not None:
                raise ValueError(f"Embedding: `{key}` is not supported by fcnet.")
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        super().__init__(**kwargs)
        if mask_zero:
            raise ValueError(
                "Embedding: `mask_zero=True` is not supported yet: fcnet has no masking. "
                "Received: mask_zero=True. Use mask_zero=False (index 0 is then an ordinary "
                "index).")
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.mask_zero = False
        if weights is not None:
            self.build(None)
            self.set_weights(weights if isinstance(weights, list) else [weights])

    def build(self, input_shape=None) -> None:
        self.embeddings = self.add_weight(
            "embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer,
            regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint)
        self.built = True

    def _indices(self, x):
        """The indices as integers, checked against ``[0, input_dim)``."""
        xp = backend.xp
        if not isinstance(x, xp.ndarray):
            x = xp.asarray(x)
        if x.dtype.kind not in "iu":
            if x.dtype.kind not in "fb":
                raise TypeError(f"Layer '{self.name}' (Embedding) expects integer indices. "
                                f"Received: an array of dtype {x.dtype}.")
            x = x.astype("int64")  # truncation, as Keras's cast to int32
        if x.size:
            low, high = int(x.min()), int(x.max())
            if low < 0 or high >= self.input_dim:
                bad = low if low < 0 else high
                raise ValueError(
                    f"Layer '{self.name}' (Embedding): indices must lie in [0, input_dim) "
                    f"with input_dim={self.input_dim}. Received: index {bad}.")
        return x

    def forward(self, x, training=False):
        indices = self._indices(x)
        y = backend.xp.take(self.embeddings.value, indices, axis=0)
        return y, (indices, x.shape)

    def backward(self, ctx, dy):
        """Adds the rows of ``dy`` into the rows of ``embeddings.grad`` they came from."""
        indices, shape = ctx
        if self.trainable and self.embeddings.trainable:
            add_rows(self.embeddings.grad, indices.reshape(-1),
                     dy.reshape(-1, self.output_dim))
        return backend.xp.zeros(shape, dy.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": serialize_or_none(regularizers,
                                                         self.embeddings_regularizer),
            "activity_regularizer": serialize_or_none(regularizers, self.activity_regularizer),
            "embeddings_constraint": serialize_or_none(constraints,
                                                        self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            "quantization_config": None,
        })
        return config

    def _explain(self, e):
        """``y[…, :] = embeddings[x[…], :]``: a table lookup."""
        table = e.w(self.embeddings)
        return Formula(f"looks up row x of a table of {self.input_dim} learned vectors of "
                       f"{self.output_dim} values (x holds integer indices)",
                       [f"{e.y} = {table}[{e.x}]   (y[…, :] = embeddings[x[…], :])"],
                       [f"d{table}: dy[…, :] added into row x[…] (rows not looked up get 0)",
                        "no dx: the input holds indices, not values to differentiate"])


def add_rows(table, indices, rows) -> None:
    """``table[indices[k]] += rows[k]`` for every k, repeated indices adding up.

    One ``bincount`` over ``index * width + column`` sums every entry (in float64); over
    the whole table where it is small next to the batch, else over the distinct indices
    only (a table far larger than the batch is never swept)."""
    xp = backend.xp
    if indices.size == 0:
        return
    width = table.shape[1]
    columns = xp.arange(width)
    if table.shape[0] <= 4 * indices.size:
        flat = (indices[:, None] * width + columns).reshape(-1)
        sums = xp.bincount(flat, weights=rows.reshape(-1), minlength=table.size)
        table += sums.reshape(table.shape).astype(table.dtype, copy=False)
        return
    unique, inverse = xp.unique(indices, return_inverse=True)
    flat = (inverse.reshape(-1)[:, None] * width + columns).reshape(-1)
    sums = xp.bincount(flat, weights=rows.reshape(-1), minlength=unique.size * width)
    table[unique] += sums.reshape(unique.size, width).astype(table.dtype, copy=False)
