"""Merge layers: combine a list of tensors into one (``Add``, ``Concatenate``, …; Keras 3's).

A merge layer takes a list of inputs. ``build`` and ``compute_output_shape`` take a list of
shapes; ``forward(inputs)`` returns ``(y, ctx)`` and ``backward(ctx, dy)`` returns a tuple
with one gradient per input, each of exactly its input's shape. None has weights.

Element-wise merges (Add, Subtract, Multiply, Average, Maximum, Minimum) broadcast as
Keras 3 does: batch sizes must be equal (None: unknown); the other axes are aligned from
the right (a lower-rank input gets axes of size 1 inserted after the batch axis) and a size
1 broadcasts against any size. The gradient of a broadcast input is summed over the axes it
was broadcast along. No two returned gradients share memory (the first may be ``dy``).
``Dot`` lives in ``fcnet.layers.dot``.
"""

from __future__ import annotations

import functools
import operator

from fcnet import backend
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula, Term


def shapes_text(input_shape) -> str:
    """A list of shapes as error messages show it: ``[(None, 3), (None, 4)]``."""
    try:
        return str([tuple(shape) for shape in input_shape])
    except TypeError:
        return str(input_shape)


def check_shape_list(layer: Layer, input_shape, exactly: int | None = None) -> list[tuple]:
    """``input_shape`` as a list of tuples; ValueError naming ``layer`` unless it is a list of
    at least 2 shapes (``exactly`` shapes where given)."""
    is_list = (isinstance(input_shape, (list, tuple)) and len(input_shape) > 0
               and all(isinstance(shape, (list, tuple)) for shape in input_shape))
    wanted = f"exactly {exactly}" if exactly else "at least 2"
    if not is_list or len(input_shape) < 2 or (exactly and len(input_shape) != exactly):
        raise ValueError(f'Layer "{layer.name}" should be called on a list of {wanted} inputs. '
                         f"Received: input_shape={shapes_text(input_shape)}")
    return [tuple(shape) for shape in input_shape]


def merge_batch_size(layer: Layer, shapes: list[tuple]):
    """The common batch size (None where all are unknown); ValueError if two differ."""
    sizes = {shape[0] for shape in shapes if len(shape) > 0} - {None}
    if len(sizes) > 1 or any(len(shape) == 0 for shape in shapes):
        raise ValueError(f'Layer "{layer.name}" expects inputs with a batch axis and equal batch '
                         f"sizes. Received: input_shape={shapes_text(shapes)}")
    return sizes.pop() if sizes else None


class _Merge(Layer):
    """Element-wise merges: ``y = x_0 ∘ x_1 ∘ … ∘ x_{n-1}`` with broadcasting (module doc)."""

    _exactly: int | None = None  # Subtract: 2

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape) -> None:
        self.compute_output_shape(input_shape)  # validation only: merges have no weights
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = check_shape_list(self, input_shape, self._exactly)
        batch = merge_batch_size(self, shapes)
        rank = max(len(shape) for shape in shapes) - 1
        rest = [(1,) * (rank + 1 - len(shape)) + shape[1:] for shape in shapes]
        output = []
        for sizes in zip(*rest):
            known = {d for d in sizes if d is not None and d != 1}
            if len(known) > 1:
                raise ValueError(f'Layer "{self.name}" expects inputs with compatible shapes. '
                                 f"Received: input_shape={shapes_text(shapes)}")
            # a None must equal the one known size > 1, or broadcast to it (Keras says None)
            output.append(known.pop() if known else (None if None in sizes else 1))
        return (batch,) + tuple(output)

    def forward(self, inputs, training=False):
        shapes = [tuple(x.shape) for x in inputs]
        self.compute_output_shape(shapes)
        rank = max(len(shape) for shape in shapes)
        # Keras 3: a lower-rank input gets axes inserted after the batch axis
        x = [xi.reshape(xi.shape[:1] + (1,) * (rank - xi.ndim) + xi.shape[1:]) for xi in inputs]
        y, saved = self._merge(x)
        return y, (shapes, saved)

    def backward(self, ctx, dy):
        shapes, saved = ctx
        dx = self._merge_backward(saved, dy)
        return tuple(_unbroadcast(dxi, shape) for dxi, shape in zip(dx, shapes))

    def _merge(self, x: list):
        """``(y, saved)`` from the inputs aligned to one rank."""
        raise NotImplementedError

    def _merge_backward(self, saved, dy) -> list:
        """The gradients in the broadcast shape, none sharing memory with another."""
        raise NotImplementedError

    def _explain(self, e):
        """``y = x1 ∘ x2 ∘ …`` value by value; each dx_i from dy."""
        n, xs, kind = len(e.inputs), e.xs, type(self).__name__
        joined = {"Add": " + ", "Subtract": " − ", "Multiply": " ⊙ "}.get(kind, ", ")
        y = {"Average": f"({' + '.join(xs)}) / {n}", "Maximum": f"max({joined.join(xs)})",
             "Minimum": f"min({joined.join(xs)})"}.get(kind, joined.join(xs))
        dx = {"Add": "dy", "Average": f"dy / {n}", "Multiply": "dy ⊙ (the other inputs' product)",
              "Maximum": "dy where x_i is the largest, else 0",
              "Minimum": "dy where x_i is the smallest, else 0"}.get(kind)
        backward = ([f"d{xs[0]} = dy", f"d{xs[1]} = −dy"] if kind == "Subtract"
                    else [f"dx_i = {dx}   (for each input x_i)"])
        if len({tuple(s) for s in e.inputs}) > 1:
            backward.append("an input broadcast to y's shape gets its dx summed over the "
                            "broadcast axes")
        count = n if kind == "Average" else n - 1
        return Formula(f"combines its {n} inputs value by value ({kind.lower()})",
                       [f"{e.y} = {y}"], backward,
                       [Term(f"{count} per output value", count, *e.y_shape[1:])])


def _unbroadcast(dx, shape: tuple):
    """Sums ``dx`` over the axes its input (of ``shape``) was broadcast along."""
    rank = len(shape)
    aligned = shape[:1] + (1,) * (dx.ndim - rank) + shape[1:]
    axes = tuple(i for i, (a, b) in enumerate(zip(aligned, dx.shape)) if a == 1 and b != 1)
    if axes:
        dx = dx.sum(axis=axes, keepdims=True)
    return dx.reshape(shape)


def _copies(g, n: int) -> list:
    """``n`` gradients equal to ``g``: ``g`` itself, then copies (none may alias another)."""
    return [g] + [g.copy() for _ in range(n - 1)]


class Add(_Merge):
    """Adds a list of inputs element-wise: ``y = x_0 + x_1 + … + x_{n-1}``.

    Input shape: a list of at least 2 tensors ``(batch, ...)`` of compatible shapes
        (equal, or broadcastable: size 1 against any size; see the module docstring).
    Output shape: the broadcast shape ``(batch, ...)``.

    Math: dx_i = dy (summed over the axes along which x_i was broadcast).

    Example:
        >>> y, _ = Add().forward([numpy.ones((2, 3)), numpy.ones((2, 3))])
        >>> y[0]
        array([2., 2., 2.])
    """

    def _merge(self, x):
        y = functools.reduce(operator.add, x)  # not +=: a later input may widen the shape
        return y, len(x)

    def _merge_backward(self, n, dy):
        return _copies(dy, n)


class Subtract(_Merge):
    """Subtracts two inputs element-wise: ``y = x_0 - x_1``.

    Input shape: a list of exactly 2 tensors ``(batch, ...)`` of compatible shapes.
    Output shape: the broadcast shape ``(batch, ...)``.

    Math: dx_0 = dy;  dx_1 = -dy (each summed over its broadcast axes).

    Example:
        >>> y, _ = Subtract().forward([numpy.ones((2, 3)), numpy.ones((2, 3))])
        >>> float(y.sum())
        0.0
    """

    _exactly = 2

    def _merge(self, x):
        return x[0] - x[1], None

    def _merge_backward(self, saved, dy):
        return [dy, -dy]


class Multiply(_Merge):
    """Multiplies a list of inputs element-wise: ``y = x_0 ⊙ x_1 ⊙ … ⊙ x_{n-1}``.

    Input shape: a list of at least 2 tensors ``(batch, ...)`` of compatible shapes.
    Output shape: the broadcast shape ``(batch, ...)``.

    Math: dx_i = dy ⊙ Π_{j≠i} x_j, computed from prefix and suffix products (no division,
    so exact where an input is zero); each summed over its broadcast axes.

    Example:
        >>> y, _ = Multiply().forward([numpy.full((2, 3), 2.0), numpy.full((2, 3), 3.0)])
        >>> y[0]
        array([6., 6., 6.])
    """

    def _merge(self, x):
        return functools.reduce(operator.mul, x), x

    def _merge_backward(self, x, dy):
        n = len(x)
        if n == 2:
            return [dy * x[1], dy * x[0]]
        prefix = [dy]  # prefix[i] = dy ⊙ x_0 ⊙ … ⊙ x_{i-1}
        for xi in x[:-1]:
            prefix.append(prefix[-1] * xi)
        dx = [None] * n
        suffix = None  # x_{i+1} ⊙ … ⊙ x_{n-1}
        for i in range(n - 1, -1, -1):
            dx[i] = prefix[i] if suffix is None else prefix[i] * suffix
            suffix = x[i] if suffix is None else suffix * x[i]
        return dx


class Average(_Merge):
    """Averages a list of inputs element-wise: ``y = (x_0 + … + x_{n-1}) / n``.

    Input shape: a list of at least 2 tensors ``(batch, ...)`` of compatible shapes.
    Output shape: the broadcast shape ``(batch, ...)``.

    Math: dx_i = dy / n (summed over the axes along which x_i was broadcast).

    Example:
        >>> y, _ = Average().forward([numpy.zeros((2, 3)), numpy.ones((2, 3))])
        >>> y[0]
        array([0.5, 0.5, 0.5])
    """

    def _merge(self, x):
        y = functools.reduce(operator.add, x)
        y *= 1.0 / len(x)
        return y, len(x)

    def _merge_backward(self, n, dy):
        return _copies(dy * (1.0 / n), n)


class _Extremum(_Merge):
    """Maximum/Minimum: the gradient goes to the input that holds the extremum.

    Tie rule: where several inputs hold the extremum, the whole of dy goes to the first
    (lowest index) of them and none to the others, so the gradients sum to dy exactly as
    a sub-gradient of max/min. A NaN propagates through max/min, so the first NaN input
    holds it.
    """

    _pick = None  # a function name of the array module: "maximum" or "minimum"

    def _merge(self, x):
        pick = getattr(backend.xp, self._pick)
        y = functools.reduce(pick, x)
        return y, (x, y)

    def _merge_backward(self, saved, dy):
        x, y = saved
        xp = backend.xp
        free = xp.ones(y.shape, dtype=bool)  # not yet given to an earlier input
        dx = []
        for xi in x:
            holds = ((xi == y) | (xi != xi)) & free  # xi != xi: NaN
            free &= ~holds
            dx.append(xp.where(holds, dy, xp.zeros((), dtype=dy.dtype)))
        return dx


class Maximum(_Extremum):
    """The element-wise maximum of a list of inputs: ``y = max(x_0, …, x_{n-1})``.

    Input shape: a list of at least 2 tensors ``(batch, ...)`` of compatible shapes.
    Output shape: the broadcast shape ``(batch, ...)``.

    Math: dx_i = dy ⊙ [x_i = y and x_j < y for all j < i] (summed over its broadcast axes).
    On ties the first input holding the maximum gets all of dy (the others get 0).

    Example:
        >>> y, _ = Maximum().forward([numpy.array([[1.0, 5.0]]), numpy.array([[3.0, 2.0]])])
        >>> y
        array([[3., 5.]])
    """

    _pick = "maximum"


class Minimum(_Extremum):
    """The element-wise minimum of a list of inputs: ``y = min(x_0, …, x_{n-1})``.

    Input shape: a list of at least 2 tensors ``(batch, ...)`` of compatible shapes.
    Output shape: the broadcast shape ``(batch, ...)``.

    Math: dx_i = dy ⊙ [x_i = y and x_j > y for all j < i] (summed over its broadcast axes).
    On ties the first input holding the minimum gets all of dy (the others get 0).

    Example:
        >>> y, _ = Minimum().forward([numpy.array([[1.0, 5.0]]), numpy.array([[3.0, 2.0]])])
        >>> y
        array([[1., 2.]])
    """

    _pick = "minimum"


class Concatenate(Layer):
    """Concatenates a list of inputs along ``axis``: ``y = [x_0, x_1, …]``.

    Args:
        axis: the axis to concatenate along (negative counts from the end); default -1.

    Input shape: a list of at least 2 tensors of one rank, with equal sizes on every axis
        but ``axis`` (None: unknown, matches any size).
    Output shape: the common shape with ``y.shape[axis] = Σ_i x_i.shape[axis]``.

    Math: dx_i = dy[..., o_i : o_i + x_i.shape[axis], ...] along ``axis``, with
    ``o_i = Σ_{j<i} x_j.shape[axis]`` (views of dy).

    Example:
        >>> y, _ = Concatenate().forward([numpy.ones((2, 3)), numpy.zeros((2, 4))])
        >>> y.shape
        (2, 7)
    """

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.supports_masking = True

    def build(self, input_shape) -> None:
        self.compute_output_shape(input_shape)  # validation only
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = check_shape_list(self, input_shape)
        rank = len(shapes[0])
        if any(len(shape) != rank for shape in shapes) or not -rank <= self.axis < rank:
            raise ValueError(
                f'Layer "{self.name}" expects inputs of one rank with axis={self.axis} among '
                f"their axes. Received: input_shape={shapes_text(shapes)}")
        axis = self.axis % rank
        output = []
        for i, sizes in enumerate(zip(*shapes)):
            if i == axis:
                output.append(None if None in sizes else sum(sizes))
                continue
            known = set(sizes) - {None}
            if len(known) > 1:
                raise ValueError(
                    f'Layer "{self.name}" expects inputs with matching shapes except for the '
                    f"concatenation axis {self.axis}. Received: input_shape="
                    f"{shapes_text(shapes)}")
            output.append(known.pop() if known else None)
        return tuple(output)

    def forward(self, inputs, training=False):
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        axis = self.axis % inputs[0].ndim
        ends = []  # where each input ends along the axis
        for x in inputs:
            ends.append((ends[-1] if ends else 0) + x.shape[axis])
        return backend.xp.concatenate(inputs, axis=axis), (axis, ends[:-1])

    def backward(self, ctx, dy):
        axis, splits = ctx
        return tuple(backend.xp.split(dy, splits, axis=axis))

    def get_config(self) -> dict:
        config = super().get_config()
        config["axis"] = self.axis
        return config

    def _explain(self, e):
        """``y = [x1, x2, …]`` along ``axis``; each dx_i is its slice of dy."""
        return Formula(f"joins its {len(e.inputs)} inputs along axis {self.axis}",
                       [f"{e.y} = concatenate([{', '.join(e.xs)}], axis={self.axis})"],
                       ["dx_i = the slice of dy where x_i was placed"])
