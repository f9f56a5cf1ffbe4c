"""The flat parameter buffer (DESIGN §3).

At compile (or first fit) a model's trainable variables become views into one
contiguous float32 vector ``params``, their gradients views into a second ``grads``.
An optimizer step is then a few whole-buffer array operations, a gradient check
perturbs one vector, and data-parallel training averages ``grads`` in one call.
"""

from __future__ import annotations

from fcnet import backend


class FlatParameters:
    """Packs ``variables`` into ``params`` / ``grads``; ``slices[i]`` is variable i's range."""

    def __init__(self, variables, previous: FlatParameters | None = None):
        xp = backend.xp
        self.variables = list(variables)
        self.signature = signature(self.variables)
        sizes = [int(v.value.size) for v in self.variables]
        total = sum(sizes)
        dtype = self.variables[0].value.dtype if self.variables else backend.floatx()
        self.params = xp.empty(total, dtype=dtype)
        self.grads = xp.zeros(total, dtype=dtype)
        self.slices = []
        start = 0
        for variable, size in zip(self.variables, sizes):
            stop = start + size
            shape = variable.value.shape
            self.params[start:stop] = variable.value.reshape(-1)
            variable._bind(self.params[start:stop].reshape(shape),
                           self.grads[start:stop].reshape(shape))
            self.slices.append((start, stop))
            start = stop
        if previous is not None:  # a variable no longer trained keeps no view of old slots
            kept = {id(v) for v in self.variables}
            for variable in previous.variables:
                if id(variable) not in kept and variable._grad is not None:
                    variable._bind(variable.value, None)

    def holds(self, variables) -> bool:
        """Whether ``variables`` are the packed ones, in order (their values may have been
        moved since into another model's buffer: see ``rebind``)."""
        return signature(variables) == self.signature

    def rebind(self) -> None:
        """Brings variables that another model packed since (a layer two models share)
        back into this buffer, values and all; the optimizer's state stays as it is."""
        for variable, (start, stop) in zip(self.variables, self.slices):
            if variable.value.base is not self.params:
                shape = variable.value.shape
                self.params[start:stop] = variable.value.reshape(-1)
                variable._bind(self.params[start:stop].reshape(shape),
                               self.grads[start:stop].reshape(shape))


def signature(variables) -> tuple:
    return tuple(id(v) for v in variables)
