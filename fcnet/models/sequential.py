"""``Sequential``: a plain stack of layers, each feeding the next."""

from __future__ import annotations

from fcnet import backend
from fcnet import layers as layers_module
from fcnet.layers import InputLayer, KerasTensor, Layer
from fcnet.layers.calling import output_shape_of
from fcnet.models.functional import Functional
from fcnet.models.model import Model
from fcnet.models.tape import Op, Tape


class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: the layers to add, in order; the first may be ``Input(shape)`` or an
            ``InputLayer``.
        trainable: whether training updates the weights.
        name: the model name (``sequential``, ``sequential_1``, …).

    The model is built (its weights exist) as soon as its input shape is known: from
    an ``Input``, an ``input_shape=`` on the first layer, ``build(input_shape)``, or the
    first call on data.

    Math: forward ``h_0 = x, h_i = layer_i(h_{i-1})``; backward runs the layers in
    reverse, ``dh_{i-1} = layer_i.backward(ctx_i, dh_i)``.

    Example:
        >>> model = Sequential([Dense(2, activation="relu"), Dense(2)])
        >>> model.build(input_shape=[None, 3])
        >>> model.count_params()
        12
    """

    _keras_module = "keras"  # the module Keras's files name for this class

    def __init__(self, layers=None, trainable: bool = True, name: str | None = None, **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self._stack: list[Layer] = []
        self._input_layer: InputLayer | None = None
        self._output_shapes: list[tuple] = []
        self._build_input_shape = None
        self._stack_tape = None
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list[Layer]:
        """The layers in order (the InputLayer is not listed)."""
        return list(self._stack)

    @layers.setter
    def layers(self, value):
        raise AttributeError("`Sequential.layers` attribute is reserved and should not be used. "
                             "Use `add()` and `pop()` to change the layers in this model.")

    def _sublayers(self) -> list[Layer]:
        return self._stack

    def add(self, layer) -> None:
        """Appends a layer; builds it at once when the model's input shape is known."""
        if isinstance(layer, KerasTensor) and isinstance(layer.source, InputLayer):
            layer = layer.source
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `keras.Layer` can be added to a Sequential "
                             f"model. Received: {layer} (of type {type(layer)})")
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._stack:
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured to use input "
                    f"shape {self._input_shape_or_none()}. You cannot add a different Input "
                    "layer to it.")
            self._input_layer = layer
            self.build(layer.batch_shape)
            return
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(
                "All layers added to a Sequential model should have unique names. Name "
                f"'{layer.name}' is already the name of a layer in this model. Update the "
                "`name` argument to pass a unique name.")
        if not self._stack and self._input_layer is None:
            # The input shape of a first layer that declares one, or of a functional model
            # with one input (Keras builds from it at once).
            shape = layer._batch_input_shape or (
                layer.inputs[0].shape if isinstance(layer, Functional)
                and len(layer.inputs) == 1 else None)
            if shape:
                self._input_layer = InputLayer(batch_shape=shape, name=f"{layer.name}_input")
        self._stack.append(layer)
        self._stack_tape = None
        shape = self._input_shape_or_none()
        if shape is not None:
            self.build(shape)

    def pop(self) -> Layer:
        """Removes and returns the last layer; an emptied model is unbuilt again."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        self._stack_tape = None
        self._output_shapes = self._output_shapes[: len(self._stack)]
        if not self._stack:
            self.built = False
        return layer

    def _input_shape_or_none(self):
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        return self._build_input_shape

    # ------------------------------------------------------------------ building
    def build(self, input_shape=None) -> None:
        """Builds every layer in turn from ``input_shape`` (batch axis first, may be None)."""
        if input_shape is None:
            input_shape = self._input_shape_or_none()
        if input_shape is None:
            raise ValueError("You must provide an `input_shape` argument.")
        input_shape = tuple(input_shape)
        if self._input_layer is not None and not _compatible(input_shape,
                                                             self._input_layer.batch_shape):
            raise ValueError(
                f"Sequential model '{self.name}' has already been configured to use input shape "
                f"{self._input_layer.batch_shape}. You cannot build it with input_shape "
                f"{input_shape}")
        self._build_input_shape = input_shape
        shapes, shape = [], input_shape
        with backend.name_scope(self.name):
            for layer in self._stack:
                if not layer.built:
                    layer._build_in_scope(shape)
                layers_module.input_spec.check_input(layer, shape)
                shape = tuple(output_shape_of(layer, shape))
                shapes.append(shape)
        self._output_shapes = shapes
        self.built = bool(self._stack) or self._input_layer is not None

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._stack:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    @property
    def input_shape(self):
        shape = self._input_shape_or_none()
        if shape is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined input shape "
                                 "yet.")
        return shape

    @property
    def output_shape(self):
        if not self._output_shapes or len(self._output_shapes) != len(self._stack):
            raise AttributeError(f"Sequential model '{self.name}' has no defined output shape "
                                 "yet.")
        return self._output_shapes[-1]

    @property
    def inputs(self):
        return [KerasTensor(self.input_shape, source=self._input_layer)]

    @property
    def outputs(self):
        return [KerasTensor(self.output_shape, source=self._stack[-1])]

    def _layer_output_shape(self, index: int):
        """The output shape of layer ``index`` in this model, or None when unknown."""
        return self._output_shapes[index] if index < len(self._output_shapes) else None

    # ------------------------------------------------------------------ computing
    def _ensure_built(self, shape) -> None:
        if not self._stack:
            raise ValueError(f"Sequential model '{self.name}' has no layers. Add layers with "
                             "`add()` before calling it.")
        if not self.built or len(self._output_shapes) != len(self._stack):
            layers_module.input_spec.check_input(self._stack[0], shape)
            known = self._input_shape_or_none()
            self.build(known if known is not None else (None,) + tuple(shape[1:]))

    def _build_in_scope(self, input_shape) -> None:
        self._ensure_built(tuple(input_shape))

    def call(self, x, training: bool = False):
        self._ensure_built(x.shape)
        for layer in self._stack:
            x = layer(x, training=training)
        return x

    _eager_call = Layer._eager_call  # layer by layer, each call checking its input

    @property
    def _tape(self) -> Tape:
        """The stack as a tape: layer i reads slot i and writes slot i + 1."""
        if self._stack_tape is None or len(self._stack_tape.ops) != len(self._stack):
            ops = [Op(layer, i, [i + 1]) for i, layer in enumerate(self._stack)]
            self._stack_tape = Tape(ops, 0, len(ops), len(ops) + 1)
        return self._stack_tape

    def forward_step(self, x, training, step):
        """``(y, (tape, ctxs))``: every layer's ``forward_step`` in turn."""
        tape = self._tape
        y, ctxs = tape.forward(x, training, step)
        return y, (tape, ctxs)

    @property
    def output_activation(self):
        return self._tape.output_activation(0) if self._stack else None

    @property
    def output_names(self) -> list[str]:
        return [self._stack[-1].name] if self._stack else []

    def _output_keys(self) -> list[str]:
        return self.output_names

    records_calls = False

    def _output_activations(self, ctx=None) -> list:
        if not self._stack:
            return [None]
        return [self._tape.output_activation(0, None if ctx is None else ctx[1])]

    def _build_from_data(self, x) -> None:
        if isinstance(x, (list, tuple, dict)):
            raise TypeError(f"Sequential model '{self.name}' takes one input array. "
                            f"Received: a {type(x).__name__} of inputs")
        self._ensure_built(x.shape)
        layers_module.input_spec.check_input(self._stack[0], (None,) + tuple(x.shape[1:]))

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        items = []
        if self._input_layer is not None or self._build_input_shape is not None:
            input_layer = self._input_layer or InputLayer(
                batch_shape=self._build_input_shape, name=f"{self._stack[0].name}_input"
                if self._stack else None)
            items.append(layers_module.serialize(input_layer))
        items += [layers_module.serialize(layer) for layer in self._stack]
        config = super().get_config()
        config["layers"] = items
        if self._build_input_shape is not None:
            config["build_input_shape"] = list(self._build_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        from fcnet.models.config import deserialize_layer

        config = {"layers": config} if isinstance(config, list) else dict(config)  # Keras 1
        items = config.pop("layers", [])
        build_input_shape = config.pop("build_input_shape", None)
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for item in items:
            model.add(deserialize_layer(item, custom_objects))
        if not model.built and build_input_shape is not None and model._stack:
            model.build(build_input_shape)
        return model


def _compatible(shape, declared) -> bool:
    """Same rank, and every size equal where both are known."""
    return len(shape) == len(declared) and all(
        a is None or b is None or a == b for a, b in zip(shape, declared))
