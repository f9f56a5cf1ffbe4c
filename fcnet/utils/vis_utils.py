"""``model_to_dot`` and ``plot_model``: a model's diagram, with or without Graphviz.

The diagram is Keras 3's: one box per layer (the layer's name and class; optionally
its activation, input and output shapes, dtype and whether it trains), one arrow per
connection, nested models as single boxes or, with ``expand_nested``, as dashed
frames around their own layers. A Sequential model's input layer is not drawn (its
first box shows the input shape); a functional model's inputs are.

Graphviz is used when its ``dot`` program is on the PATH; without it fcnet lays the
diagram out itself (SVG; PNG and PDF through matplotlib), so neither pydot nor
Graphviz is needed.
"""

from __future__ import annotations

import os

from fcnet.activations import serialize as activation_name
from fcnet.layers import InputLayer, Layer
from fcnet.models.functional import Functional
from fcnet.models.sequential import Sequential
from fcnet.utils.dot import HEADER_SIZE, Cell, Cluster, Dot, Edge, Node

RANKDIRS = ("TB", "LR", "BT", "RL")
FILE_FORMATS = ("png", "svg", "pdf", "dot")


def model_to_dot(model, show_shapes: bool = False, show_dtype: bool = False,
                 show_layer_names: bool = True, rankdir: str = "TB",
                 expand_nested: bool = False, dpi: float = 200, subgraph: bool = False,
                 show_layer_activations: bool = False, show_trainable: bool = False,
                 splines: str = "ortho", **kwargs) -> Dot:
    """Converts a model to a diagram in the DOT language.

    Args:
        model: a built model (Sequential, functional or subclassed).
        show_shapes: show each layer's input and output shapes.
        show_dtype: show each layer's output dtype.
        show_layer_names: show layer names (else only class names).
        rankdir: ``"TB"`` draws top to bottom, ``"LR"`` left to right (also
            ``"BT"``, ``"RL"``).
        expand_nested: draw nested models as frames around their layers.
        dpi: resolution of raster images, in dots per inch.
        subgraph: return a ``Cluster`` (a nested model's frame) instead of a ``Dot``.
        show_layer_activations: show the activation of layers that have one.
        show_trainable: mark layers with weights as trainable or not.
        splines: Graphviz's edge style (``"ortho"``, ``"spline"``, ``"line"``, ...).

    Returns:
        A ``Dot`` with ``to_string()``, ``create(prog, format)`` and ``write(path)``
        (a ``Cluster`` when ``subgraph``).

    Example:
        >>> dot = fcnet.utils.model_to_dot(model, show_shapes=True)
        >>> svg_bytes = dot.create(prog="dot", format="svg")
    """
    _check_model(model)
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"Argument `rankdir` must be one of {list(RANKDIRS)}. "
                         f"Received: rankdir={rankdir!r}")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not dpi > 0:
        raise ValueError(f"Argument `dpi` must be a positive number. Received: dpi={dpi!r}")
    show = {"show_shapes": show_shapes, "show_dtype": show_dtype,
            "show_layer_names": show_layer_names,
            "show_layer_activations": show_layer_activations,
            "show_trainable": show_trainable}
    if subgraph:
        dot = Cluster(model.name)
    else:
        dot = Dot(rankdir=rankdir, concentrate=True, dpi=dpi, splines=splines)
        dot.set_node_defaults(shape="record")
    if not isinstance(model, (Sequential, Functional)):  # a subclassed model: one box
        dot.add_node(make_node(model, {}, **show))
        return dot
    contexts = layer_contexts(model)
    for layer in model.layers:
        if expand_nested and isinstance(layer, (Sequential, Functional)):
            dot.add_subgraph(model_to_dot(layer, show_shapes, show_dtype, show_layer_names,
                                          rankdir, expand_nested, dpi, subgraph=True,
                                          show_layer_activations=show_layer_activations,
                                          show_trainable=show_trainable))
        else:
            dot.add_node(make_node(layer, contexts.get(id(layer), {}), **show))
    for src, dst, out_index, in_index in connections(model):
        if expand_nested:
            src, dst = first_layer_of_output(src, out_index), input_layer_of(dst, in_index)
        if not dot.get_edge(id(src), id(dst)):
            dot.add_edge(Edge(id(src), id(dst), penwidth="2"))
    return dot


def plot_model(model, to_file="model.png", show_shapes: bool = False,
               show_dtype: bool = False, show_layer_names: bool = False, rankdir: str = "TB",
               expand_nested: bool = False, dpi: float = 200,
               show_layer_activations: bool = False, show_trainable: bool = False,
               splines: str = "ortho", **kwargs):
    """Draws a model and saves the picture to ``to_file``.

    The format follows the file's extension: ``.png`` (the default when there is
    none), ``.svg``, ``.pdf`` or ``.dot`` (the DOT text). Graphviz draws it when its
    ``dot`` program is on the PATH; otherwise fcnet's own layout does (PNG and PDF
    then need matplotlib: ``pip install matplotlib``).

    Args:
        model: a built model.
        to_file: the file to write.
        show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi,
        show_layer_activations, show_trainable, splines: as in ``model_to_dot``.

    Returns:
        An image that Jupyter shows inline (``IPython.display.Image`` or ``SVG`` when
        IPython is installed, else an object with ``_repr_png_`` / ``_repr_svg_``);
        None for PDF and DOT files.

    Example:
        >>> fcnet.utils.plot_model(model, to_file="model.png", show_shapes=True)
    """
    _check_model(model)
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable, splines=splines, **kwargs)
    if not isinstance(to_file, (str, os.PathLike)):
        raise TypeError(f"Argument `to_file` must be a file path. Received: to_file={to_file!r}")
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    data = dot.create(prog="dot", format="raw" if extension == "dot" else extension)
    with open(to_file, "wb") as f:
        f.write(data)
    if extension in ("png", "svg"):
        return _image(data, extension, to_file)
    return None


class DiagramImage:
    """A saved diagram that Jupyter shows inline (used when IPython is not installed).

    Attributes:
        data: the image bytes.
        format: ``"png"`` or ``"svg"``.
        filename: the file it was written to.
    """

    def __init__(self, data: bytes, format: str, filename: str):  # noqa: A002
        self.data, self.format, self.filename = data, format, filename

    def _repr_png_(self):
        return self.data if self.format == "png" else None

    def _repr_svg_(self):
        return self.data.decode("utf-8") if self.format == "svg" else None

    def __repr__(self) -> str:
        return f"<DiagramImage {self.format} {self.filename!r}>"


def _image(data: bytes, fmt: str, filename: str):
    try:
        from IPython import display
    except ImportError:
        return DiagramImage(data, fmt, filename)
    if fmt == "svg":
        return display.SVG(data=data)
    return display.Image(data=data, format="png")


# ---------------------------------------------------------------------------- the graph
def _check_model(model) -> None:
    if not isinstance(model, Layer):
        raise TypeError("Argument `model` must be a fcnet model. "
                        f"Received: model={model!r} (of type {type(model).__name__})")
    if not model.built:
        raise ValueError("This model has not yet been built. Build the model first by "
                         "calling `build()` or by calling the model on a batch of data.")


def connections(model):
    """``(source, destination, output index, input index)`` for every arrow of ``model``."""
    if isinstance(model, Sequential):
        layers = model.layers
        return [(a, b, 0, 0) for a, b in zip(layers, layers[1:])]
    found = []
    for layer in model.layers:
        for node in _model_nodes(model, layer):
            for in_index, tensor in enumerate(node.inputs):
                source, _, out_index = tensor._keras_history
                found.append((source, layer, out_index, in_index))
    return found


def first_layer_of_output(layer, index: int = 0):
    """The innermost layer that makes output ``index`` of ``layer`` (through nested models)."""
    while isinstance(layer, (Sequential, Functional)):
        if isinstance(layer, Sequential):
            layer, index = layer.layers[-1], 0
        else:
            layer, _, index = layer.outputs[index]._keras_history
    return layer


def input_layer_of(layer, index: int = 0):
    """The box an arrow into input ``index`` of ``layer`` points at, inside nested models."""
    while isinstance(layer, (Sequential, Functional)):
        if isinstance(layer, Sequential):
            layer, index = layer.layers[0], 0
        else:
            layer, index = layer.inputs[index]._keras_history[0], 0
    return layer


def _model_nodes(model, layer) -> list:
    return [node for node in layer._inbound_nodes if any(node is n for n in model._nodes)]


def layer_contexts(model) -> dict:
    """``id(layer) -> {"input": shape, "output": shape, "dtype": dtype}`` within ``model``."""
    contexts = {}
    if isinstance(model, Sequential):
        shape = model._input_shape_or_none()
        for i, layer in enumerate(model.layers):
            out = model._layer_output_shape(i)
            contexts[id(layer)] = {"input": shape, "output": out, "dtype": layer.dtype}
            shape = out
        return contexts
    for layer in model.layers:
        seen = []
        for node in _model_nodes(model, layer):
            inputs = [t.shape for t in node.inputs]
            outputs = [t.shape for t in node.outputs]
            seen.append({
                "input": inputs[0] if len(inputs) == 1 and not isinstance(
                    node.call_args, (list, tuple, dict)) else inputs,
                "output": outputs if node.nested_outputs else outputs[0],
                "dtype": node.outputs[0].dtype if node.outputs else layer.dtype})
        if len(seen) == 1 or (seen and all(s == seen[0] for s in seen)):
            contexts[id(layer)] = seen[0]
        elif seen:  # a layer called more than once, on tensors of different shapes
            contexts[id(layer)] = {"input": "multiple", "output": "multiple",
                                   "dtype": layer.dtype}
    return contexts


def make_node(layer, context: dict, show_shapes=False, show_dtype=False,
              show_layer_names=True, show_layer_activations=False,
              show_trainable=False) -> Node:
    """The box of one layer, as Keras 3 labels it."""
    class_name = type(layer).__name__
    head = [(layer.name, True), (f" ({class_name})", False)] if show_layer_names \
        else [(class_name, True)]
    rows = [[Cell(head, fill="black", color="white", size=HEADER_SIZE)]]
    activation = getattr(layer, "activation", None)
    if show_layer_activations and activation is not None:
        rows.append([Cell([("Activation: ", False), (activation_name(activation), True)])])
    cells = []
    if show_shapes:
        if not isinstance(layer, InputLayer):
            cells.append(Cell([("Input shape: ", False),
                               (_format_shape(context.get("input")), True)]))
        output = context.get("output")
        if isinstance(layer, InputLayer) and output is None:
            output = layer.batch_shape
        cells.append(Cell([("Output shape: ", False), (_format_shape(output), True)]))
    if show_dtype:
        cells.append(Cell([("Output dtype: ", False), (str(context.get("dtype") or "?"), True)]))
    if show_trainable and layer.weights:
        trainable = layer.trainable
        cells.append(Cell([("Trainable" if trainable else "Non-trainable", True)],
                          fill="forestgreen" if trainable else "firebrick", color="white"))
    if cells:
        rows.append(cells)
    return Node(str(id(layer)), rows)


def _format_shape(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list) and len(shape) > 0 and all(isinstance(s, tuple) for s in shape):
        return "[" + ", ".join(str(s) for s in shape) + "]"
    return str(shape)


__all__ = ["model_to_dot", "plot_model"]
