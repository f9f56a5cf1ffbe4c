"""Recording the layer calls a subclassed model's ``call`` makes, to replay them backwards.

While a model trains, its ``call(inputs)`` runs under a ``Recorder``: each layer call
on arrays runs the layer's ``forward_step`` and is written down as an op (layer,
input slots, output slots, ctx). Arrays are told apart by identity, so every array a
layer receives must be a model input or a layer's output: an array made by a NumPy
operation inside ``call`` has no backward pass, and the recorder says so at once,
before any weight changes.
"""

from __future__ import annotations

import threading

from fcnet.backend import tree

_local = threading.local()


def current():
    """The recorder of the innermost model being recorded in this thread, or None."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


class recording:
    """``with recording(recorder):`` makes ``recorder`` current (``None`` pauses recording)."""

    def __init__(self, recorder):
        self.recorder = recorder

    def __enter__(self):
        if not hasattr(_local, "stack"):
            _local.stack = []
        _local.stack.append(self.recorder)
        return self.recorder

    def __exit__(self, *exc):
        _local.stack.pop()


class Recorder:
    """Writes down the layer calls of one ``call``; ``slots`` numbers the arrays seen.

    Args:
        model: the model whose ``call`` runs (named in errors).
        inputs: the model's input structure (its arrays are slots 0 … n-1).
        training: the mode layers called with ``training=None`` run in.
        step: the pass's ``Step`` (penalties, gradient writes).
    Arrays no layer made are refused when a backward pass follows (``step.backward``).
    """

    def __init__(self, model, inputs, training, step):
        self.model = model
        self.training = training
        self.step = step
        self.strict = step.backward
        self.ops = []  # (layer, input slot structure, output slots, one output?, ctx)
        self.arrays = []  # keeps every recorded array alive, so ids stay unique
        self.slots: dict[int, int] = {}
        self.input_slots = tree.map_structure(self._slot_of_new, inputs)

    def _slot_of_new(self, array) -> int:
        self.slots[id(array)] = len(self.arrays)
        self.arrays.append(array)
        return len(self.arrays) - 1

    def slot(self, array, layer) -> int:
        """The slot of an array a layer receives (or the model returns)."""
        slot = self.slots.get(id(array))
        if slot is not None:
            return slot
        if self.strict:
            where = f"layer '{layer.name}' received" if layer else "the model returned"
            raise ValueError(
                f"In `{type(self.model).__name__}.call()`, {where} an array that no layer "
                "produced (shape "
                f"{getattr(array, 'shape', '?')}): a NumPy operation on a layer output has no "
                "backward pass, so the model cannot be trained. Use a merge layer (Add, "
                "Subtract, Multiply, Concatenate, ...), an Activation layer, or a custom layer "
                "with `backward` instead.")
        return self._slot_of_new(array)

    def run(self, layer, inputs, training):
        """Runs ``layer.forward_step`` on ``inputs`` and writes the call down."""
        in_slots = tree.map_structure(lambda a: self.slot(a, layer), inputs)
        with recording(None):  # a layer's own sublayer calls belong to its forward
            y, ctx = layer.forward_step(inputs, training, self.step)
        out_slots = [self._slot_of_new(a) for a in tree.flatten(y)]
        if self.strict:  # an in-place NumPy operation on an output would go unseen
            for array in tree.flatten(y):
                if array is not None and hasattr(array, "flags") and array.base is None:
                    array.flags.writeable = False
        self.ops.append((layer, in_slots, out_slots, not tree.is_nested(y), ctx))
        return y
