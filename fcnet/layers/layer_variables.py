"""``LayerVariables``: which variables a layer has, in Keras's orders, and how a file's
store reads and writes them (``save_own_variables`` / ``load_own_variables``)."""

from __future__ import annotations

from fcnet.variables import Variable


class LayerVariables:
    """The variable lists of `Layer` (its own, then its sublayers')."""

    @property
    def weights(self) -> list[Variable]:
        """Every variable, layer by layer (Keras 3's order): the layer's own in the order
        they were made (those made trainable first), then each sublayer's; each once.

        Freezing changes which list a variable is in, never this order, so
        ``get_weights``/``set_weights`` lists stay valid across ``trainable`` changes."""
        order, seen = [], set()
        for v in (self._trainable_weights + self._non_trainable_weights
                  + [v for layer in self._sublayers() for v in layer.weights]):
            if id(v) not in seen:
                seen.add(id(v))
                order.append(v)
        return order

    @property
    def trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return []
        own = [v for v in self._trainable_weights if v.trainable]
        return own + [v for layer in self._sublayers() for v in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        own = list(self._non_trainable_weights)
        if not self.trainable:
            own = self._trainable_weights + own
        else:
            own += [v for v in self._trainable_weights if not v.trainable]
        return own + [v for layer in self._sublayers() for v in layer.non_trainable_weights]

    @property
    def trainable_variables(self) -> list[Variable]:
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list[Variable]:
        return self.non_trainable_weights

    @property
    def variables(self) -> list[Variable]:
        return self.weights

    def save_own_variables(self, store) -> None:
        """Writes this layer's own variables into ``store`` as ``"0"``, ``"1"``, … in
        Keras's order: those made trainable first, each list in creation order."""
        for i, variable in enumerate(self._trainable_weights + self._non_trainable_weights):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store) -> None:
        """Reads `save_own_variables`'s store, assigning in place (the flat parameter
        buffer keeps its views); the count and every shape must match, as in Keras."""
        own = self._trainable_weights + self._non_trainable_weights
        if len(store.keys()) != len(own):
            if not own and not self.built:
                raise ValueError(
                    f"Layer '{self.name}' was never built and thus it doesn't have any "
                    f"variables. However the weights file lists {len(store.keys())} "
                    "variables for this layer.")
            raise ValueError(
                f"Layer '{self.name}' expected {len(own)} variables, but received "
                f"{len(store.keys())} variables during loading. Expected: "
                f"{[v._short_name for v in own]}")
        values = [store[str(i)] for i in range(len(own))]
        for variable, value in zip(own, values):
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    "The shape of the target variable and the shape of the target value in "
                    "`variable.assign(value)` must match. "
                    f"variable.shape={variable.shape}, Received: value.shape={value.shape}. "
                    f"Target variable: {variable.path}")
        for variable, value in zip(own, values):
            variable.assign(value)
