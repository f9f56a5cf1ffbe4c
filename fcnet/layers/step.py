"""``Step``: what one forward/backward pass through a model shares, and nothing global.

The engine makes one per pass and hands it down through ``forward_step`` and
``backward_step`` (DESIGN §2), nested models included:

- ``penalties``: the activity-regularization terms the layers' forward passes added;
- ``first_write(layer)``: True the first time ``layer`` writes its weight gradients in
  this pass (it overwrites its gradient slots), False after (it adds: a shared layer);
- ``fold``: None, or a training step's ``fcnet.ops.fold.Fold``, where plain SGD
  takes its step inside Dense's kernel-gradient products.
"""

from __future__ import annotations


class Step:
    """Args: backward: whether a backward pass follows (a subclassed model's ``call`` is
    then held to layer calls only); fold: see the module's docstring."""

    __slots__ = ("penalties", "written", "backward", "fold")

    def __init__(self, backward: bool = True, fold=None):
        self.penalties: list[float] = []
        self.written: set = set()
        self.backward = backward
        self.fold = fold

    def first_write(self, layer) -> bool:
        """Whether ``layer`` writes its weight gradients for the first time in this pass."""
        if layer in self.written:
            return False
        self.written.add(layer)
        return True
