"""How a layer meets its inputs: the ``training`` argument, shapes, and conversion.

Inputs may be one array or a list or dict of arrays (merge layers take lists); a shape
structure mirrors them, a tuple for each array. Arrays from outside a model become
arrays of the layer's float dtype, as Keras converts them.
"""

from __future__ import annotations

import functools
import inspect

import numpy

from fcnet import backend
from fcnet.layers.input_spec import check_input
from fcnet.variables import Variable


@functools.cache
def _accepts_training(call) -> bool:
    try:
        parameters = inspect.signature(call).parameters
    except (TypeError, ValueError):
        return True
    return "training" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def call_with_training(layer, x, training, **kwargs):
    """``layer.call(x, training=...)``, or ``layer.call(x)`` where ``call`` takes no
    ``training`` (Keras lets a user's ``call`` leave it out)."""
    if _accepts_training(type(layer).call):
        return layer.call(x, training=training, **kwargs)
    return layer.call(x, **kwargs)


def is_shape(value) -> bool:
    """Whether ``value`` is one shape (a tuple of ints and Nones), not a list of shapes."""
    return isinstance(value, (tuple, list)) and all(
        d is None or isinstance(d, (int, numpy.integer)) for d in value)


def tuple_shapes(shapes):
    if is_shape(shapes):
        return tuple(None if d is None else int(d) for d in shapes)
    if isinstance(shapes, dict):
        return {k: tuple_shapes(v) for k, v in shapes.items()}
    return [tuple_shapes(s) for s in shapes]


def shapes_of(inputs):
    """The shape structure of an input structure (a tuple for one input, else a list/dict)."""
    if isinstance(inputs, dict):
        return {k: shapes_of(v) for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return [shapes_of(v) for v in inputs]
    return tuple(inputs.shape)


def check_shapes(layer, shapes) -> None:
    if is_shape(shapes):
        check_input(layer, shapes)


def output_shape_of(layer, shapes):
    """``layer.compute_output_shape(shapes)``, or the shapes found by running it on zeros."""
    try:
        return layer.compute_output_shape(shapes)
    except NotImplementedError:
        return _probe_output_shapes(layer, shapes)


def _probe_output_shapes(layer, shapes):
    """Output shapes found by running the layer on zeros (batch axis kept as given)."""
    xp = backend.xp

    def zeros(shape):
        return xp.zeros(tuple(1 if d is None else d for d in shape), layer.dtype)

    def batch_of(out):
        return (shapes[0] if is_shape(shapes) else None,) + tuple(out.shape[1:])

    def probe(shapes):
        if is_shape(shapes):
            return zeros(shapes)
        if isinstance(shapes, dict):
            return {key: probe(shape) for key, shape in shapes.items()}
        return [probe(shape) for shape in shapes]

    y = call_with_training(layer, probe(shapes), False)
    return batch_of(y) if not isinstance(y, (list, tuple)) else [batch_of(o) for o in y]


def as_float_array(x, dtype: str, layer=None):
    """Inputs become arrays of the layer's float dtype (ints and float64 are cast);
    a layer whose ``_accepts_any_dtype`` is True (lookups, Embedding) gets integer and
    string arrays as they are."""
    xp = backend.xp
    if isinstance(x, Variable):
        x = x.value
    if getattr(layer, "_accepts_any_dtype", False):
        if isinstance(x, xp.ndarray):
            return x
        x = numpy.asarray(x)
        return xp.asarray(x) if x.dtype.kind in "fiub" else x
    if not isinstance(x, xp.ndarray):
        x = xp.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"Layer '{getattr(layer, 'name', '?')}' expects numeric input. "
                        f"Received: an array of dtype {x.dtype}.")
    if x.dtype != dtype:
        x = x.astype(dtype)
    return x


def batch_input_shape(kwargs: dict):
    """``(batch_size,) + input_shape`` from the legacy keyword arguments, or None."""
    if kwargs.get("batch_input_shape") is not None:
        return tuple(kwargs["batch_input_shape"])
    shape = kwargs.get("input_shape")
    if shape is None and kwargs.get("input_dim") is not None:
        shape = (kwargs["input_dim"],)
    if shape is None:
        return None
    if isinstance(shape, int):
        shape = (shape,)
    return (kwargs.get("batch_size"),) + tuple(shape)
