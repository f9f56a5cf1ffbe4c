"""What a layer accepts (``InputSpec``), the check that names the layer, the
expected and the received shape, and ``KerasTensor``: a symbolic input that
carries only a shape, for ``Input(...)`` and shape inference."""

from __future__ import annotations


class InputSpec:
    """Rank and axis constraints of a layer's input.

    Args:
        ndim: the exact rank, or None.
        min_ndim: the least rank, or None.
        axes: ``{axis: size}``, e.g. ``{-1: 784}`` for a built Dense.
    """

    def __init__(self, ndim=None, min_ndim=None, axes=None):
        self.ndim = ndim
        self.min_ndim = min_ndim
        self.axes = dict(axes or {})


def check_input(layer, shape) -> None:
    """Raises ValueError when ``shape`` does not fit ``layer.input_spec``."""
    spec = layer.input_spec
    if spec is None:
        return
    prefix = f'Input 0 of layer "{layer.name}" is incompatible with the layer: '
    shape = tuple(shape)
    if spec.ndim is not None and len(shape) != spec.ndim:
        raise ValueError(f"{prefix}expected ndim={spec.ndim}, found ndim={len(shape)}. "
                         f"Full shape received: {shape}")
    if spec.min_ndim is not None and len(shape) < spec.min_ndim:
        raise ValueError(f"{prefix}expected min_ndim={spec.min_ndim}, found ndim={len(shape)}. "
                         f"Full shape received: {shape}")
    for axis, size in spec.axes.items():
        if size is None or -len(shape) > axis or axis >= len(shape):
            continue
        if shape[axis] is not None and shape[axis] != size:
            raise ValueError(f"{prefix}expected axis {axis} of input shape to have value "
                             f"{size}, but received input with shape {shape}")


class KerasTensor:
    """A symbolic tensor: a shape (``None`` for unknown sizes), a dtype and its history.

    ``keras.Input(shape=(3,))`` returns one; calling a layer on it builds the layer
    and returns the output's KerasTensor without computing anything. The history
    ``(layer, node_index, tensor_index)`` names the call that made it: output
    ``tensor_index`` of ``layer._inbound_nodes[node_index]``; a functional model
    follows these links back from its outputs to its inputs.
    """

    def __init__(self, shape, dtype="float32", source=None, name=None, history=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.source = source
        self.name = name
        self._keras_history = history

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def _raw_operation(self, *args, **kwargs):
        raise TypeError(
            "A symbolic tensor (the output of `Input` or of a layer called on one) only flows "
            "through layers: an arithmetic or NumPy operation on it has no backward pass. Use "
            "a merge layer (Add, Subtract, Multiply, Concatenate, ...), an Activation layer, "
            f"or a custom layer with `backward`. Received: an operation on {self!r}")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _raw_operation
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __pow__ = _raw_operation
    __neg__ = __abs__ = __getitem__ = _raw_operation

    def __array__(self, *args, **kwargs):
        self._raw_operation()
