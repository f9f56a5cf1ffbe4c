"""``model.explain()``: every layer call explained in graph order, then the totals.

A Sequential's layers come in their order, a functional model's in the order its
graph runs them (a shared layer once per call), a nested model's layers inside it,
indented. A subclassed model has no graph before it runs: its layers are explained
with the input shapes they were built with. The totals count each weight once and
each call's FLOPs and output.
"""

from __future__ import annotations

import numpy

from fcnet.backend import tree
from fcnet.layers.calling import is_shape, output_shape_of
from fcnet.layers.explain import CONVENTIONS, check_arguments, emit, layer_section


def _with_batch(shape, batch_size):
    shape = tuple(shape)
    return shape if batch_size is None else (batch_size,) + shape[1:]


def _input_shapes(model, input_shape):
    """The model's input shapes as a list (None for a model with no graph)."""
    if input_shape is not None:
        return [tuple(input_shape)] if is_shape(input_shape) else [
            tuple(s) for s in (input_shape.values() if isinstance(input_shape, dict)
                               else input_shape)]
    if hasattr(model, "_input_shape_or_none"):  # Sequential
        shape = model._input_shape_or_none()
        return None if shape is None else [tuple(shape)]
    if hasattr(model, "_nodes"):  # functional
        return [tuple(t.shape) for t in model.inputs]
    return None


def _is_model(layer) -> bool:
    return hasattr(layer, "_tape") or hasattr(layer, "records_calls") and layer.records_calls


def model_sections(model, input_shape, batch_size, indent: str = "") -> list:
    """One ``Section`` per layer call, in the order the model runs them."""
    shapes = _input_shapes(model, input_shape)
    calls = []
    if shapes is None or not hasattr(model, "_tape"):  # subclassed: the build shapes
        calls = [(layer, layer._build_shapes) for layer in model.layers if layer.built]
    else:
        tape = model._tape
        values = [None] * tape.n_slots
        for slot, shape in zip(tape.flat_inputs, shapes):
            values[slot] = _with_batch(shape, batch_size)
        for op in tape.ops:
            x = values[op.in_slots] if op.single_in else tree.map_structure(
                lambda s: values[s], op.in_slots)
            out = output_shape_of(op.layer, x)
            for slot, shape in zip(op.out_slots, [out] if op.single_out else out):
                values[slot] = tuple(shape)
            calls.append((op.layer, x))
    sections = []
    for layer, x in calls:
        if _is_model(layer):
            inner = model_sections(layer, x, batch_size, indent + "    ")
            sections.append(_nested_header(layer, inner, indent))
            sections += inner
        else:
            sections.append(layer_section(layer, x, batch_size, indent))
    return sections


class _Header:
    """The line that opens a nested model (its layers follow, indented)."""

    def __init__(self, layer, lines):
        self.layer, self.lines, self.flops, self.act_bytes = layer, lines, 0, 0


def _nested_header(layer, inner, indent):
    return _Header(layer, [f"{indent}{layer.name} ({type(layer).__name__}): a model inside "
                           f"this one, {layer.count_params():,} parameters; its "
                           f"{len(inner)} layer calls:"])


def _sum_line(values) -> str:
    """``a + b + c = total``; ``?`` where a value is unknown."""
    known = [v for v in values if v is not None]
    parts = " + ".join("?" if v is None else f"{v:,}" for v in values)
    total = sum(known)
    if len(values) == 1 and known:
        return f"{total:,}"
    if len(known) < len(values):
        return f"{parts} = at least {total:,} (some layers not counted)"
    return f"{parts} = {total:,}"


def explain_model(model, input_shape=None, batch_size=None, print_fn=None) -> str:
    """``model.explain(...)``: see the module docstring."""
    check_arguments(model, input_shape, batch_size, print_fn)
    sections = model_sections(model, input_shape, batch_size)
    leaves = [s for s in sections if not isinstance(s, _Header)]
    batch = "not fixed (shown as `batch`)" if batch_size is None else batch_size
    lines = [f'Model "{model.name}" ({type(model).__name__}): {len(leaves)} layer calls in '
             f"the order they run; batch size: {batch}", "=" * 80]
    for i, section in enumerate(sections):
        lines += section.lines
        if i < len(sections) - 1 and not isinstance(section, _Header):
            lines.append("-" * 80)
    seen, params = set(), []
    for section in leaves:
        if id(section.layer) not in seen and section.params:
            seen.add(id(section.layer))
            params.append(section.params)
    total = model.count_params()
    p_line = _sum_line(params) if params and sum(params) == total else f"{total:,}"
    trainable = sum(int(numpy.prod(v.shape, dtype=numpy.int64)) for v in model.trainable_weights)
    lines += ["=" * 80, "Totals (each weight counted once, each layer call's FLOPs and output):",
              f"  Parameters: {p_line} ({trainable:,} trainable, {total - trainable:,} not)",
              "  FLOPs per sample: " + _sum_line([s.flops for s in leaves if s.flops != 0]),
              "  Activations per sample: " + _sum_line([s.act_bytes for s in leaves])
              + " bytes"]
    lines += ["  " + line for line in CONVENTIONS]
    return emit(lines, print_fn)
