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

    def zero_grad(self) -> None:
        self.grads.fill(0)

    def is_current(self, variables) -> bool:
        """Whether ``variables`` are still the packed ones (a rebuilt layer needs a repack)."""
        return signature(variables) == self.signature and all(
            v.value.base is self.params for v in self.variables)


def signature(variables) -> tuple:
    return tuple(id(v) for v in variables)
