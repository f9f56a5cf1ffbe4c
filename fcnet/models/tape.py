"""``Tape``: the one forward/backward path every model runs (DESIGN §2).

A tape is a list of ops in topological order; op ``i`` calls ``layer_i`` on the
values in its input slots and writes its outputs to its output slots:

    forward:   values[out_i], ctx_i = layer_i.forward_step(values[in_i])     i = 1 … n
    backward:  d[in_i] += layer_i.backward_step(ctx_i, d[out_i])             i = n … 1

``d`` is summed where a value fans out to several ops. A functional model's tape
comes from its graph of nodes, a Sequential's from its stack (one slot after
another), a subclassed model's from the calls its ``call`` made (a ``Recorder``).

Backward is pruned: an op runs backward only if it or something upstream of it has
trainable weights (or the caller wants the input gradient), and it is asked for
``dx`` only if something upstream needs it; so a model's first layer never computes
the gradient of its input, and a frozen branch costs nothing. The plan is made once
and made anew whenever any layer's trainability or weights change.
"""

from __future__ import annotations

from fcnet.backend import tree
from fcnet.variables import generation


class Op:
    __slots__ = ("layer", "in_slots", "out_slots", "single_in", "single_out")

    def __init__(self, layer, in_slots, out_slots, single_out=True):
        self.layer = layer
        self.in_slots = in_slots  # an int, or a list/dict structure of ints
        self.out_slots = list(out_slots)
        self.single_in = isinstance(in_slots, int)
        self.single_out = single_out


class Tape:
    """Ops over numbered value slots.

    Args:
        ops: the ``Op`` list, in an order where every op's inputs are made before it.
        input_slots: the model inputs' slots (an int, or a list/dict structure).
        output_slots: the model outputs' slots (an int, or a list/dict structure).
        n_slots: the number of slots.
    """

    def __init__(self, ops, input_slots, output_slots, n_slots: int):
        self.ops = ops
        self.input_slots = input_slots
        self.output_slots = output_slots
        self.flat_inputs = tree.flatten(input_slots)
        self.flat_outputs = tree.flatten(output_slots)
        self.n_slots = n_slots
        self._plans: dict = {}
        # A chain (a Sequential): op i reads slot i and writes slot i + 1; it runs as a
        # plain loop, with no slot bookkeeping.
        self.is_chain = input_slots == 0 and output_slots == len(ops) and all(
            op.in_slots == i and op.out_slots == [i + 1] and op.single_out
            for i, op in enumerate(ops))

    # ------------------------------------------------------------------ forward
    def forward(self, inputs, training, step):
        """``(outputs, ctxs)``: every op's ``forward_step`` in order."""
        ctxs = []
        if self.is_chain:
            for op in self.ops:
                inputs, ctx = op.layer.forward_step(inputs, training, step)
                ctxs.append(ctx)
            return inputs, ctxs
        values = [None] * self.n_slots
        for slot, x in zip(self.flat_inputs, tree.flatten(inputs)):
            values[slot] = x
        for op in self.ops:
            x = values[op.in_slots] if op.single_in else _gather(values, op.in_slots)
            y, ctx = op.layer.forward_step(x, training, step)
            if op.single_out:
                values[op.out_slots[0]] = y
            else:
                for slot, value in zip(op.out_slots, tree.flatten(y)):
                    values[slot] = value
            ctxs.append(ctx)
        return _gather(values, self.output_slots), ctxs

    # ------------------------------------------------------------------ backward
    def backward(self, ctxs, dy, step, need_dx=True, from_z=None):
        """dL/d(inputs) from dL/d(outputs) (``dy``, None where an output has no loss);
        the ops' weight gradients land in their slots.

        ``from_z``: one flag per output, True where ``dy`` is already dL/dz of the
        producing op's output activation (the loss fused with softmax/sigmoid).
        """
        runs, wants_dx = self.plan(need_dx)
        if self.is_chain:
            return self._chain_backward(ctxs, dy, step, runs, wants_dx,
                                        bool(from_z and from_z[0]))
        grads = [None] * self.n_slots
        for k, (slot, g) in enumerate(zip(self.flat_outputs, tree.flatten(dy))):
            if g is not None and from_z is not None and from_z[k]:
                grads[slot] = _FromZ(g)
            elif g is not None:
                _add(grads, slot, g)
        for i in range(len(self.ops) - 1, -1, -1):
            if not runs[i]:
                continue
            op = self.ops[i]
            if op.single_out:
                g = grads[op.out_slots[0]]
                if g is None:
                    continue
                fused = isinstance(g, _FromZ)
                g = g.dz if fused else g
            else:
                gs = [grads[s] for s in op.out_slots]
                if all(g is None for g in gs):
                    continue
                fused = False
                g = gs if op.layer.takes_partial_gradients else [_present(g, op) for g in gs]
            dx = op.layer.backward_step(ctxs[i], g, step, need_dx=wants_dx[i], from_z=fused)
            if not wants_dx[i]:
                continue
            if op.single_in:
                _add(grads, op.in_slots, dx)
            else:
                for slot, d in zip(tree.flatten(op.in_slots), tree.flatten(dx)):
                    _add(grads, slot, d)
        if not need_dx:
            return None
        return _gather(grads, self.input_slots)

    def _chain_backward(self, ctxs, dy, step, runs, wants_dx, fused):
        """The chain's backward: dy passed from op to op, in reverse."""
        if dy is None:
            return None
        for i in range(len(self.ops) - 1, -1, -1):
            if runs[i]:
                dy = self.ops[i].layer.backward_step(ctxs[i], dy, step, need_dx=wants_dx[i],
                                                     from_z=fused)
            if not wants_dx[i]:  # nothing upstream needs a gradient: no op there runs
                return None
            fused = False
        return dy

    def plan(self, need_dx: bool):
        """``(runs, wants_dx)`` per op, remade when layers change trainability."""
        plan = self._plans.get(need_dx)
        if plan is None or plan[0] != generation():
            plan = self._plans[need_dx] = (generation(), self._make_plan(need_dx))
        return plan[1]

    def _make_plan(self, need_dx):
        reaches = [False] * self.n_slots  # a gradient of this slot is of use upstream
        for slot in self.flat_inputs:
            reaches[slot] = need_dx
        runs, wants_dx = [], []
        for op in self.ops:
            upstream = any(reaches[s] for s in tree.flatten(op.in_slots))
            run = upstream or bool(op.layer.trainable_weights)
            runs.append(run)
            wants_dx.append(upstream)
            for slot in op.out_slots:
                reaches[slot] = reaches[slot] or run
        return runs, wants_dx

    # ------------------------------------------------------------------ structure
    def consumers(self, slot: int) -> int:
        """How many ops read ``slot``."""
        return sum(tree.flatten(op.in_slots).count(slot) for op in self.ops)

    def output_activation(self, k: int, ctxs=None):
        """The output activation of output ``k`` where the loss may hand its dL/dz
        straight to the producing op: the op has one output, no activity penalty, and
        no other op reads it. With a pass's ``ctxs``, a recorded model that produces it
        is asked how its own pass ended."""
        slot = self.flat_outputs[k]
        index = next((i for i, op in enumerate(self.ops) if slot in op.out_slots), None)
        if index is None:
            return None
        producer = self.ops[index]
        if (not producer.single_out or producer.layer.activity_regularizer is not None
                or self.consumers(slot) or self.flat_outputs.count(slot) > 1):
            return None
        if ctxs is None:
            return producer.layer.output_activation
        return producer.layer.output_activation_in(ctxs[index])


class _FromZ:
    """A gradient that is already dL/dz of the producing op's output activation."""

    __slots__ = ("dz",)

    def __init__(self, dz):
        self.dz = dz


def _gather(values, slots):
    if isinstance(slots, int):
        return values[slots]
    return tree.map_structure(values.__getitem__, slots)


def _add(grads, slot, g) -> None:
    """``grads[slot] += g``, never writing into an array a layer handed back (it may
    be another slot's gradient or a layer's own buffer)."""
    if g is None:
        return
    current = grads[slot]
    grads[slot] = g if current is None else current + g


def _present(g, op):
    """The gradient of one output of a several-output layer, which must have one."""
    if g is not None:
        return g
    raise ValueError(
        f"Layer '{op.layer.name}' has several outputs and only some of them reach the loss; "
        "fcnet needs a gradient for every output of such a layer.")
