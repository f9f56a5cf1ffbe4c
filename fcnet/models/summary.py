"""``model.summary()``: the classic text table of tf.keras 2.

Every table line is exactly ``line_length`` characters. Column ``i`` ends at
``int(line_length * positions[i])``; a cell longer than its column is cut, as
tf.keras cuts it (``max_pooling2d_1 (MaxPooling2``). A graph that is not a chain gets
tf.keras 2's wider table (98 columns) with a fourth column, ``Connected to``: each
tensor a layer reads, as ``layer[node_index][tensor_index]``, one per line.
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
    """The lines of the summary table of ``model``."""
    connections = model._summary_connections()
    headers = ["Layer (type)", "Output Shape", "Param #"]
    if connections is None:
        line_length = line_length or 65
        positions = positions or [0.45, 0.85, 1.0]
    else:
        line_length = line_length or 98
        positions = positions or [0.33, 0.55, 0.67, 1.0]
        headers.append("Connected to")
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    lines = [f'Model: "{model.name}"', "_" * line_length, format_row(headers, positions),
             "=" * line_length]
    layers = model.layers
    for i, layer in enumerate(layers):
        shape = model._layer_output_shape(i)
        params = layer.count_params() if layer.built else "0 (unused)"
        fields = [f"{layer.name} ({type(layer).__name__})", "?" if shape is None else shape,
                  params]
        if connections is not None:
            fields.append(connections[i][0] if connections[i] else "")
        lines.append(format_row(fields, positions))
        for more in (connections[i][1:] if connections is not None else []):
            lines.append(format_row(["", "", "", more], positions))
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
