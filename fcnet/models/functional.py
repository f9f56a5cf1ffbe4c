"""``Functional``: a model made of the layer calls between its inputs and outputs.

``Model(inputs, outputs)`` follows each output's history back to the inputs, orders
the nodes as Keras does (by depth from the outputs, deepest first; within a depth, in
the order a depth-first walk from the outputs met their layers), and compiles them
into a ``Tape``: one op per node, one slot per tensor. Shared layers appear once in
``layers`` and once per call in the tape; their gradients add up.
"""

from __future__ import annotations

from fcnet.backend import tree
from fcnet.layers import InputLayer, KerasTensor, Layer
from fcnet.layers.calling import output_shape_of
from fcnet.layers.step import Step
from fcnet.models.model import Model
from fcnet.models.tape import Op, Tape


class Functional(Model):
    """A model defined by ``inputs`` and ``outputs`` tensors (see ``fcnet.Model``).

    Args:
        inputs: a KerasTensor from ``fcnet.Input``, or a list or dict of them.
        outputs: a KerasTensor made by calling layers on the inputs, or a list or dict.
        name: the model name (``functional``, ``functional_1``, …).

    Example:
        >>> x = fcnet.Input(shape=(8,))
        >>> h = fcnet.layers.Dense(16, activation="relu")(x)
        >>> y = fcnet.layers.Add()([h, fcnet.layers.Dense(16)(h)])
        >>> model = fcnet.Model(x, fcnet.layers.Dense(1)(y))
    """

    _keras_module = "keras.src.models.functional"  # the module Keras's files name

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
            outputs = outputs[0]  # one output, even in a list, gives arrays (as in Keras)
        if isinstance(outputs, tuple):
            outputs = list(outputs)
        for tensor in tree.flatten(inputs):
            if not isinstance(tensor, KerasTensor):
                raise ValueError("All `inputs` of a Functional model must be KerasTensors "
                                 f"(from `fcnet.Input`). Received: {tensor!r}")
        for tensor in tree.flatten(outputs):
            if not isinstance(tensor, KerasTensor) or tensor._keras_history is None:
                raise ValueError("All `outputs` of a Functional model must be outputs of "
                                 f"layers called on the model's inputs. Received: {tensor!r}")
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        nodes, layers = _map_graph(tree.flatten(inputs), tree.flatten(outputs))
        self._nodes = nodes
        self._layers = layers
        self._tape = _tape(nodes, tree.flatten(inputs), outputs)
        self.built = True

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list[Layer]:
        """Every layer, input layers first, in Keras's order (deepest first)."""
        return list(self._layers)

    def _sublayers(self) -> list[Layer]:
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    @property
    def inputs(self) -> list[KerasTensor]:
        return tree.flatten(self._inputs_struct)

    @property
    def outputs(self) -> list[KerasTensor]:
        return tree.flatten(self._outputs_struct)

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        return _one_or_list([t.shape for t in self.inputs])

    @property
    def output_shape(self):
        return _one_or_list([t.shape for t in self.outputs])

    @property
    def input_names(self) -> list[str]:
        return [t._keras_history[0].name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        """The names of the layers making the outputs (in ``outputs`` order)."""
        return [t._keras_history[0].name for t in self.outputs]

    def _output_keys(self) -> list[str]:
        """What compile arguments and targets are keyed by: a dict of outputs' keys, else
        the output layers' names (Keras's rule)."""
        if isinstance(self._outputs_struct, dict):
            return sorted(self._outputs_struct)
        return self.output_names

    def compute_output_shape(self, input_shape):
        shapes = [None] * self._tape.n_slots
        one = isinstance(input_shape, tuple) and all(
            d is None or isinstance(d, int) for d in input_shape)
        given = [input_shape] if one else self._flat_inputs(input_shape)
        for slot, shape in zip(self._tape.flat_inputs, given):
            shapes[slot] = tuple(shape)
        for op in self._tape.ops:
            x = shapes[op.in_slots] if op.single_in else [shapes[s] for s in
                                                          tree.flatten(op.in_slots)]
            out = output_shape_of(op.layer, x)
            for slot, shape in zip(op.out_slots, [out] if op.single_out else out):
                shapes[slot] = tuple(shape)
        out = [shapes[s] for s in self._tape.flat_outputs]
        return out[0] if not tree.is_nested(self._outputs_struct) else out

    # ------------------------------------------------------------------ computing
    def _flat_inputs(self, x) -> list:
        """The model's input arrays in input order, from an array, a list or a dict."""
        inputs = self.inputs
        if isinstance(x, dict):
            keys = sorted(self._inputs_struct) if isinstance(self._inputs_struct, dict) \
                else self.input_names
            missing = [k for k in keys if k not in x]
            if missing:
                raise ValueError(f"Model '{self.name}' expects inputs {keys}; the data lack "
                                 f"{missing}. Received keys: {sorted(x)}")
            return [x[k] for k in keys]
        flat = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(flat) != len(inputs):
            raise ValueError(f"Model '{self.name}' expects {len(inputs)} input(s), but it "
                             f"received {len(flat)} input array(s).")
        return flat

    def call(self, inputs, training=None):
        return self.forward_step(inputs, bool(training), Step(backward=False))[0]

    def forward_step(self, x, training, step):
        y, ctxs = self._tape.forward(self._flat_inputs(x), training, step)
        return y, (self._tape, ctxs)

    def backward_step(self, ctx, dy, step, need_dx=True, from_z=False):
        dx = super().backward_step(ctx, dy, step, need_dx, from_z)
        if dx is None or tree.is_nested(self._inputs_struct):
            return dx
        return dx[0]

    def _build_from_data(self, x) -> None:
        """Checks that the data fit the inputs (the model is built from its graph)."""
        for tensor, array in zip(self.inputs, self._flat_inputs(x)):
            shape = tuple(getattr(array, "shape", ()))
            if len(shape) != len(tensor.shape) or any(
                    d is not None and d != s for d, s in zip(tensor.shape[1:], shape[1:])):
                raise ValueError(
                    f'Input "{tensor._keras_history[0].name}" of model "{self.name}" is '
                    f"incompatible with the data: expected shape {tensor.shape}, received "
                    f"shape {shape}.")

    @property
    def output_activation(self):
        if tree.is_nested(self._outputs_struct):
            return None
        return self._tape.output_activation(0)

    records_calls = False

    def _output_activations(self, ctx=None) -> list:
        ctxs = None if ctx is None else ctx[1]
        return [self._tape.output_activation(k, ctxs) for k in range(len(self.outputs))]

    def _layer_output_shape(self, index: int):
        """The layer's output shape; ``[(None, 4)]`` for an input (tf.keras 2 prints a
        list); ``multiple`` for a layer called more than once."""
        layer = self._layers[index]
        nodes = [node for node in layer._inbound_nodes if node in self._nodes]
        if len(nodes) != 1:
            return "multiple"
        shapes = [t.shape for t in nodes[0].outputs]
        if isinstance(layer, InputLayer) or nodes[0].nested_outputs:
            return shapes
        return shapes[0]

    def _summary_connections(self) -> list[list[str]] | None:
        if self._is_chain():
            return None
        connections = []
        for layer in self._layers:
            names = []
            for node in layer._inbound_nodes:
                if node not in self._nodes:
                    continue
                for tensor in node.inputs:
                    source, node_index, tensor_index = tensor._keras_history
                    names.append(f"{source.name}[{node_index}][{tensor_index}]")
            connections.append(names)
        return connections

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        """Keras 3's functional config: layers with their calls, inputs and outputs.
        A subclass with a constructor of its own keeps `Model`'s config (its own)."""
        if not _functional_like(type(self)):
            return Model.get_config(self)
        from fcnet.models.config import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        if not _functional_like(cls):
            return Model.from_config.__func__(cls, config, custom_objects)
        from fcnet.models.config import functional_from_config

        return functional_from_config(cls, config, custom_objects)

    def _is_chain(self) -> bool:
        """One input, one output, and every node reads one tensor no other node reads."""
        read = [id(t) for node in self._nodes for t in node.inputs]
        return (len(self.inputs) == 1 and len(self.outputs) == 1
                and all(len(node.inputs) <= 1 for node in self._nodes)
                and len(read) == len(set(read)))


def _functional_like(cls) -> bool:
    """Whether ``cls`` is built from ``(inputs, outputs)`` alone (Keras's rule): its
    constructor takes Functional's arguments, or ``*args, **kwargs``."""
    import inspect

    spec = inspect.getfullargspec(cls.__init__)
    if spec.args[1:] == inspect.getfullargspec(Functional.__init__).args[1:]:
        return True
    return spec.varargs is not None and spec.varkw is not None


def _one_or_list(shapes):
    return shapes[0] if len(shapes) == 1 else shapes


def _map_graph(inputs, outputs):
    """``(nodes, layers)`` in Keras's order; a tensor that does not lead back to the
    inputs raises, naming the layer that needs it."""
    input_ids = {id(t) for t in inputs}
    finished, in_progress, order, layer_index = set(), set(), [], {}

    def visit(tensor, consumer):
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        if node in finished:
            return
        if node in in_progress:
            raise ValueError(f"The graph of layer '{layer.name}' has a cycle.")
        layer_index.setdefault(layer, len(layer_index))
        in_progress.add(node)
        if id(tensor) not in input_ids:
            if isinstance(layer, InputLayer):
                raise ValueError(
                    f"Graph disconnected: cannot obtain the value of tensor {tensor!r} (from "
                    f"input layer '{layer.name}') that layer '{consumer}' needs. It is not "
                    "one of the model's `inputs`.")
            for parent in node.inputs:
                visit(parent, layer.name)
        in_progress.discard(node)
        finished.add(node)
        order.append(node)

    for tensor in outputs:
        visit(tensor, "the output")
    depth = {}
    layer_depth = {}
    for node in reversed(order):  # outputs first: a node lies deeper than its consumers
        d = max(depth.setdefault(node, 0), layer_depth.get(node.layer, 0))
        depth[node] = layer_depth[node.layer] = d
        if not any(id(t) in input_ids for t in node.outputs):
            for parent in node.parent_nodes:
                depth[parent] = max(depth.get(parent, 0), d + 1)
    nodes = sorted(order, key=lambda n: (-depth[n], layer_index[n.layer]))
    layers = []
    for node in nodes:
        if node.layer not in layers:
            layers.append(node.layer)
    for tensor in inputs:  # an input no output depends on is still a model input
        if tensor._keras_history and tensor._keras_history[0] not in layers:
            layers.insert(0, tensor._keras_history[0])
    return nodes, layers


def _tape(nodes, inputs, outputs) -> Tape:
    """One op per node that is not an input; one slot per tensor."""
    slots: dict[int, int] = {id(t): i for i, t in enumerate(inputs)}

    def slot(tensor):
        return slots.setdefault(id(tensor), len(slots))

    ops = []
    for node in nodes:
        if isinstance(node.layer, InputLayer) or all(id(t) in slots and slots[id(t)] < len(
                inputs) for t in node.outputs):
            continue
        args = node.call_args
        in_slots = tree.map_structure(slot, list(args) if isinstance(args, tuple) else args)
        out_slots = [slot(t) for t in node.outputs]
        ops.append(Op(node.layer, in_slots, out_slots,
                      single_out=not node.nested_outputs))
    output_slots = tree.map_structure(slot, outputs)
    return Tape(ops, list(range(len(inputs))), output_slots, len(slots))
