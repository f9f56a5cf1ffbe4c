"""``Dot``: the batch-wise dot product of two tensors along one axis of each (Keras 3's)."""

from __future__ import annotations

import math
import numbers

from fcnet import backend
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula, Term
from fcnet.layers.merging import check_shape_list, merge_batch_size, shapes_text

# tf.keras 2's ``tf.linalg.l2_normalize``: x / sqrt(max(Σx², 1e-12)). Keras 3 differs only
# where ‖x‖ < 1e-6: x / max(‖x‖, 1e-7) (TF/JAX/torch backends), x / ‖x‖ with 0/0 -> 0
# (NumPy backend).
_EPSILON = 1e-12


class Dot(Layer):
    """The dot product of two samples along one axis of each, batch by batch.

    ``y[b, p…, q…] = Σ_k x1[b, p…, k, …] · x2[b, q…, k, …]``, with ``k`` running along axis
    ``axes[0]`` of ``x1`` and ``axes[1]`` of ``x2``. With ``normalize=True`` each input is
    first L2-normalised along its dot axis, ``x̂ = x / sqrt(max(Σ_k x², 1e-12))``, so ``y`` is
    the cosine proximity of the samples.

    Args:
        axes: an integer (the same axis of both inputs) or a pair ``(axis1, axis2)``; negative
            axes count from the end of each input. The batch axis 0 cannot be one.
        normalize: whether to L2-normalise each input along its dot axis first.

    Input shape: a list of exactly 2 tensors of rank ≥ 2 with equal batch sizes and equal
        sizes along their dot axes (None: unknown).
    Output shape: ``x1``'s shape less its dot axis, then ``x2``'s less its batch and dot
        axes: ``[(batch, d), (batch, d)] -> (batch, 1)`` (rank 1 gets an axis of size 1),
        ``[(batch, n, d), (batch, m, d)]`` with ``axes=2`` ``-> (batch, n, m)``.

    Math: with the dot axes moved so that ``X1`` is ``(batch, P, d)`` and ``X2`` is
    ``(batch, d, Q)``, ``Y = X1 @ X2`` and

        dX1 = dY @ X2ᵀ;   dX2 = X1ᵀ @ dY   (per batch row);

    through the normalisation, with ``n = sqrt(max(Σ_k x², ε))`` and ``x̂ = x / n``:

        dx = (dx̂ - x̂ · Σ_k(x̂ ⊙ dx̂)) / n   where Σ_k x² > ε;   dx = dx̂ / n elsewhere.

    Example:
        >>> x1 = numpy.arange(10.0).reshape(1, 5, 2)
        >>> x2 = numpy.arange(10.0, 20.0).reshape(1, 2, 5)
        >>> Dot(axes=(1, 2)).forward([x1, x2])[0].shape
        (1, 2, 2)
    """

    def __init__(self, axes, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, numbers.Integral):
            axes = int(axes)
        elif not isinstance(axes, (list, tuple)):
            raise TypeError("Invalid type for argument `axes`: it should be a list or an int. "
                            f"Received: axes={axes}")
        elif len(axes) != 2:
            raise ValueError("Invalid format for argument `axes`: it should contain two "
                             f"elements. Received: axes={axes}")
        elif not all(isinstance(a, numbers.Integral) for a in axes):
            raise ValueError("Invalid format for argument `axes`: list elements should be "
                             f"integers. Received: axes={axes}")
        else:
            axes = type(axes)(int(a) for a in axes)
        self.axes = axes
        self.normalize = normalize
        self.supports_masking = True

    def _dot_axes(self, shapes: list[tuple]) -> tuple[int, int]:
        """The two dot axes as non-negative indices; ValueError naming the layer if invalid."""
        pair = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        if all(len(shape) >= 2 and -len(shape) < a < len(shape) and a % len(shape) != 0
               for a, shape in zip(pair, shapes)):
            return pair[0] % len(shapes[0]), pair[1] % len(shapes[1])
        raise ValueError(
            f'Layer "{self.name}" expects inputs of rank >= 2 and axes={self.axes} naming a '
            f"non-batch axis of each. Received: input_shape={shapes_text(shapes)}")

    def build(self, input_shape) -> None:
        self.compute_output_shape(input_shape)  # validation only: Dot has no weights
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = check_shape_list(self, input_shape, exactly=2)
        batch = merge_batch_size(self, shapes)
        a1, a2 = self._dot_axes(shapes)
        d1, d2 = shapes[0][a1], shapes[1][a2]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(
                f'Layer "{self.name}" expects equal sizes along the dot axes ({a1}, {a2}). '
                f"Received: input_shape={shapes_text(shapes)} ({d1} != {d2})")
        rest1 = [d for i, d in enumerate(shapes[0]) if i not in (0, a1)]
        rest2 = [d for i, d in enumerate(shapes[1]) if i not in (0, a2)]
        return (batch,) + tuple(rest1 + rest2 or [1])

    def forward(self, inputs, training=False):
        x1, x2 = inputs
        shape = self.compute_output_shape([tuple(x1.shape), tuple(x2.shape)])
        a1, a2 = self._dot_axes([x1.shape, x2.shape])
        n1 = n2 = None
        if self.normalize:
            x1, n1 = _l2_normalize(x1, a1)
            x2, n2 = _l2_normalize(x2, a2)
        xp = backend.xp
        # (batch, P, d) @ (batch, d, Q): the dot axis last in x1, after the batch axis in x2
        x1 = xp.moveaxis(x1, a1, -1)
        x2 = xp.moveaxis(x2, a2, 1)
        moved = (x1.shape, x2.shape)
        batch, d = x1.shape[0], x1.shape[-1]
        x1 = x1.reshape(batch, math.prod(x1.shape[1:-1]), d)
        x2 = x2.reshape(batch, d, math.prod(x2.shape[2:]))
        y = xp.matmul(x1, x2).reshape(shape)
        return y, (x1, x2, moved, (a1, a2), (n1, n2))

    def backward(self, ctx, dy):
        x1, x2, moved, (a1, a2), (n1, n2) = ctx
        xp = backend.xp
        dy = dy.reshape(x1.shape[0], x1.shape[1], x2.shape[2])
        dx1 = xp.moveaxis(xp.matmul(dy, x2.swapaxes(1, 2)).reshape(moved[0]), -1, a1)
        dx2 = xp.moveaxis(xp.matmul(x1.swapaxes(1, 2), dy).reshape(moved[1]), 1, a2)
        if self.normalize:
            dx1 = _l2_normalize_backward(n1, dx1, a1)
            dx2 = _l2_normalize_backward(n2, dx2, a2)
        return dx1, dx2

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"axes": self.axes, "normalize": self.normalize})
        return config

    def _explain(self, e):
        """``y = Σ_k x1[…, k] · x2[…, k]`` per sample, along the dot axes."""
        axes = self.axes if isinstance(self.axes, (list, tuple)) else (self.axes,) * 2
        x1 = e.inputs[0]
        d = x1[axes[0] % len(x1)]
        forward = [f"{e.y} = Σ_k x1[…, k, …] · x2[…, k, …]   with {e.xs[0]}, {e.xs[1]}; k "
                   f"along axes {tuple(axes)}, sample by sample"]
        terms = [Term("multiply-adds", 2, d, *e.y_shape[1:])]
        if self.normalize:
            forward.insert(0, "each input first divided by its L2 norm along k: "
                              "x̂ = x / sqrt(Σ_k x²)")
            terms.append(Term("normalising", 3, e.size(x1) + e.size(e.inputs[1])
                              if None not in (e.size(x1), e.size(e.inputs[1])) else None))
        return Formula(f"dot products of the two inputs along an axis of {d} values",
                       forward, ["dx1 = dy · x2ᵀ,  dx2 = x1ᵀ · dy   (per sample)"]
                       + (["then back through the normalisation"] if self.normalize else []),
                       terms)


def _l2_normalize(x, axis: int):
    """``(x̂, saved)``: ``x̂ = x / n`` with ``n = sqrt(max(Σ_axis x², ε))``."""
    xp = backend.xp
    squares = (x * x).sum(axis=axis, keepdims=True)
    n = xp.sqrt(xp.maximum(squares, _EPSILON))
    x_hat = x / n
    return x_hat, (x_hat, n, squares > _EPSILON)


def _l2_normalize_backward(saved, dx_hat, axis: int):
    """dx from dx̂. d(x/‖x‖) = (dx - x̂ (x̂·dx)) / ‖x‖; where n is clamped it is a constant."""
    x_hat, n, unclamped = saved
    return (dx_hat - x_hat * ((x_hat * dx_hat).sum(axis=axis, keepdims=True) * unclamped)) / n
