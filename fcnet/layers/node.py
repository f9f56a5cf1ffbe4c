"""``Node``: one call of a layer on symbolic tensors, the edge list of a graph model.

``y = layer(x)`` on KerasTensors appends a Node to ``layer._inbound_nodes`` and gives
each output tensor the history ``(layer, node_index, tensor_index)``. A functional
model walks these back from its outputs to find its layers and their order.
"""

from __future__ import annotations

from fcnet.backend import tree
from fcnet.layers.input_spec import KerasTensor


class Node:
    """``layer`` called on ``call_args`` (a structure of KerasTensors) gave ``outputs``.

    Attributes:
        layer: the layer called.
        call_args: the input structure as passed (a tensor, a list or a dict of them).
        inputs: the input tensors, flattened.
        outputs: the output tensors, flattened.
        nested_outputs: whether the layer returned a list (or dict), even of one tensor.
    """

    def __init__(self, layer, call_args, outputs, nested_outputs: bool = False):
        self.layer = layer
        self.nested_outputs = nested_outputs
        self.call_args = call_args
        self.inputs = [t for t in tree.flatten(call_args) if isinstance(t, KerasTensor)]
        self.outputs = list(outputs)
        index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for i, tensor in enumerate(self.outputs):
            tensor._keras_history = (layer, index, i)

    @property
    def parent_nodes(self) -> list[Node]:
        """The nodes that made this node's inputs."""
        parents = []
        for tensor in self.inputs:
            layer, index, _ = tensor._keras_history
            parents.append(layer._inbound_nodes[index])
        return parents
