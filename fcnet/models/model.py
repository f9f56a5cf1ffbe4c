"""``Model``: a layer that can be trained, summarised and saved."""

from __future__ import annotations

from fcnet.layers import Layer
from fcnet.models.summary import print_summary
from fcnet.models.trainer import Trainer


class Model(Trainer, Layer):
    """The base of fcnet's models: a ``Layer`` with the training API of Keras.

    ``Sequential`` is the model fcnet builds today; subclass ``Model`` (or
    ``Sequential``) to group layers with ``call``, and write ``backward`` to train it.
    """

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise NotImplementedError(
                "The functional `Model(inputs, outputs)` API is not available yet; "
                "use `Sequential`.")
        super().__init__(**kwargs)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None) -> None:
        """Prints the classic table: layer, output shape, parameter count, totals."""
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn)

    @property
    def layers(self) -> list[Layer]:
        return []

    def _ensure_built(self, shape) -> None:
        if not self.built:
            self.build((None,) + tuple(shape[1:]))

    def _layer_output_shape(self, index: int):
        return None
