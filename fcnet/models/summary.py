"""``model.summary()``: the classic 65-column text table of tf.keras 2.

Every table line is exactly ``line_length`` characters. Column ``i`` ends at
``int(line_length * positions[i])``; a cell longer than its column is cut, as
tf.keras cuts it (``max_pooling2d_1 (MaxPooling2``).
"""

from __future__ import annotations


def format_row(fields, ends) -> str:
    """One table row: each field starts after the previous column, cut to its end."""
    line = ""
    for i, field in enumerate(fields):
        if i > 0:
            line = line[:-1] + " "
        line = (line + str(field))[: ends[i]]
        line += " " * (ends[i] - len(line))
    return line


def summary_lines(model, line_length=None, positions=None) -> list[str]:
    """The lines of the summary table of a Sequential-like ``model``."""
    line_length = line_length or 65
    positions = positions or [0.45, 0.85, 1.0]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    lines = [f'Model: "{model.name}"', "_" * line_length,
             format_row(["Layer (type)", "Output Shape", "Param #"], positions),
             "=" * line_length]
    layers = model.layers
    for i, layer in enumerate(layers):
        shape = model._layer_output_shape(i)
        params = layer.count_params() if layer.built else "0 (unused)"
        lines.append(format_row([f"{layer.name} ({type(layer).__name__})",
                                 "?" if shape is None else shape, params], positions))
        lines.append(("=" if i == len(layers) - 1 else "_") * line_length)
    if not layers:
        lines.append("=" * line_length)
    trainable = _count(model.trainable_weights)
    total = _count(model.weights)
    lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "_" * line_length]
    return lines


def print_summary(model, line_length=None, positions=None, print_fn=None, **kwargs) -> None:
    """Prints the table line by line through ``print_fn`` (default ``print``)."""
    print_fn = print_fn or print
    for line in summary_lines(model, line_length, positions):
        print_fn(line)


def _count(variables) -> int:
    total = 0
    for variable in variables:
        size = 1
        for d in variable.shape:
            size *= d
        total += size
    return total
