"""Checks of the constructor arguments the layers share, with Keras's messages:
tuples of sizes (``kernel_size``, ``strides``, ``pool_size`` …), ``padding``,
``data_format``, positive counts; and the config form of an optional object."""

from __future__ import annotations

import numbers


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def standardize_tuple(value, n: int, name: str, allow_zero: bool = False) -> tuple:
    """``value`` (an int or ``n`` ints) as a tuple of ``n`` ints, each > 0 (>= 0 with
    ``allow_zero``)."""
    message = f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}"
    if _is_int(value):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(message) from None
        if len(values) != n:
            raise ValueError(message)
        for v in values:
            if not _is_int(v):
                raise ValueError(f"{message} including element {v} of type {type(v)}")
        values = tuple(int(v) for v in values)
    bad = {v for v in values if (v < 0 if allow_zero else v <= 0)}
    if bad:
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{message}, including values {bad} that do not satisfy `value {rule}`")
    return values


def standardize_padding(value, allow_causal: bool = False) -> str:
    """``"valid"`` / ``"same"`` (and ``"causal"`` for Conv1D), case-insensitive."""
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        raise ValueError(f"The `padding` argument must be one of {list(allowed)}. "
                         f"Received: padding={value}")
    return padding


def standardize_data_format(data_format, layer: str) -> str:
    """``"channels_last"`` for None; channels-first layouts are refused (not supported)."""
    if data_format is None:
        return "channels_last"
    data_format = str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of "
                         "{'channels_first', 'channels_last'}. "
                         f"Received: data_format={data_format}")
    if data_format == "channels_first":
        raise ValueError(f"{layer} supports only data_format='channels_last' (inputs of shape "
                         "(batch, ..., channels)); transpose channels-first data first, e.g. "
                         "with `Permute`. Received: data_format=channels_first")
    return data_format


def positive_int(value, name: str) -> int:
    """``value`` as an int > 0."""
    if not _is_int(value) or value <= 0:
        raise ValueError(f"Invalid value for argument `{name}`. Expected a strictly positive "
                         f"value. Received {name}={value}.")
    return int(value)


def serialize_or_none(module, obj):
    """``module.serialize(obj)``, or None for no object (no regularizer, constraint …)."""
    return None if obj is None else module.serialize(obj)
