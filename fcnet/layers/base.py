"""``Layer``: the contract every fcnet layer follows (DESIGN §2).

    build(input_shape)             create weights with add_weight()
    call(x, training=False) -> y   the forward pass, as in Keras
    forward(x, training) -> (y, ctx)   y plus what backward needs
    backward(ctx, dy) -> dx        add dL/dw into each trainable variable's .grad
                                   (in place: ``w.grad += ...``); return dL/dx

``ctx`` is returned, never stored on the layer, so one layer can be called many
times in one graph. A user's layer writes ``build``/``call``; to be trained it also
writes ``backward`` (the default ``forward`` hands it the input ``x`` as ``ctx``).
A layer with several inputs receives a list (or dict) ``x`` and returns one dx per input.

The engine calls ``forward_step`` / ``backward_step``, which wrap the contract with
what a training pass shares (``Step``): the layer's activity penalty is added on the
way forward and its gradient on the way back, at any depth; on its first gradient
write of a pass a layer's slots are cleared, so ``backward`` may add into them.
Built-in layers override ``backward_step`` to write with ``out=`` instead, to skip
``dx`` where nothing upstream needs it, and (``from_z``) to start from dL/dz when the
loss fuses with their output activation.
"""

from __future__ import annotations

import numpy

from fcnet import backend, constraints, initializers, regularizers
from fcnet.backend import tree
from fcnet.layers import recording
from fcnet.layers.calling import (
    as_float_array,
    batch_input_shape,
    call_with_training,
    check_shapes,
    is_shape,
    output_shape_of,
    shapes_of,
    tuple_shapes,
)
from fcnet.layers.explain import explain_layer
from fcnet.layers.input_spec import InputSpec, KerasTensor
from fcnet.layers.layer_variables import LayerVariables
from fcnet.layers.node import Node
from fcnet.layers.regularization import activity_gradient, activity_value
from fcnet.layers.step import Step
from fcnet.variables import Variable, bump_generation

_BASE_KWARGS = ("input_shape", "input_dim", "batch_input_shape", "batch_size")


def dtype_policy_config(dtype: str = "float32") -> dict:
    """The Keras 3 serialisation of a layer's dtype policy."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


class Layer(LayerVariables):
    """The base class of all layers.

    Args:
        trainable: whether the layer's weights are updated by training.
        name: the layer name; by default the snake_case class name made unique
            (``dense``, ``dense_1``, …).
        dtype: the variable dtype (a string or a Keras DTypePolicy config); float32.
        input_shape / input_dim / batch_input_shape / batch_size: declare the model
            input on the first layer of a Sequential (``input_dim=n`` ≡ ``input_shape=(n,)``).
    """

    def __init__(self, trainable: bool = True, name: str | None = None, dtype=None, **kwargs):
        unknown = {k: v for k, v in kwargs.items() if k not in _BASE_KWARGS}
        if unknown:
            raise ValueError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {unknown}")
        if name is None:
            name = backend.get_uid(backend.snake_case(type(self).__name__))
        elif not isinstance(name, str) or "/" in name:
            raise ValueError("Argument `name` must be a string and cannot contain character "
                             f"`/`. Received: name={name} (of type {type(name)})")
        self.name = name
        self._trainable = bool(trainable)
        if isinstance(dtype, dict):  # a DTypePolicy config from a file
            dtype = dtype.get("config", {}).get("name", backend.floatx())
        self.dtype = dtype or backend.floatx()
        self.built = False
        self.input_spec: InputSpec | None = None
        self.activity_regularizer = None
        self._trainable_weights: list[Variable] = []
        self._non_trainable_weights: list[Variable] = []
        self._activity_losses: list[float] = []
        self._build_shapes = None
        self._inbound_nodes: list[Node] = []
        self._tracked: list[Layer] = []
        self._batch_input_shape = batch_input_shape(kwargs)

    # ------------------------------------------------------------------ weights
    def add_weight(self, name: str, shape, initializer="glorot_uniform", dtype=None,
                   trainable: bool = True, regularizer=None, constraint=None) -> Variable:
        """Creates a variable owned by this layer.

        A second ``add_weight`` with the same name (a layer built again with another
        shape, tf.keras 2 style) replaces the old variable in place in the weight lists.
        """
        initializer = initializers.get(initializer)
        dtype = dtype or self.dtype
        value = initializer(tuple(shape), dtype=dtype)
        scope = backend.current_scope()
        in_own_scope = bool(scope) and scope[-1] == self.name
        outer = scope[:-1] if in_own_scope else scope
        variable = Variable(
            value, name=name, trainable=trainable, dtype=dtype,
            regularizer=regularizers.get(regularizer), constraint=constraints.get(constraint),
            scope=self.name if in_own_scope else None,
            path="/".join(outer + (self.name, name)),
        )
        bump_generation()
        target = self._trainable_weights if trainable else self._non_trainable_weights
        for i, old in enumerate(target):
            if old._short_name == name:
                target[i] = variable
                break
        else:
            target.append(variable)
        return variable

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """Freezing (or unfreezing) a layer does the same to every layer inside it."""
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value
        bump_generation()

    def __setattr__(self, name, value):
        # Layers set as public attributes (alone, or in a list) belong to this layer: their
        # weights are its weights, as in Keras.
        if not name.startswith("_"):
            found = [value] if isinstance(value, Layer) else (
                [v for v in value if isinstance(v, Layer)]
                if isinstance(value, (list, tuple)) else [])
            tracked = self.__dict__.get("_tracked")
            if found and tracked is not None:
                tracked.extend(layer for layer in found if layer not in tracked)
        super().__setattr__(name, value)

    def _sublayers(self) -> list[Layer]:
        return list(self._tracked)

    def get_weights(self) -> list[numpy.ndarray]:
        """The weights as NumPy arrays, in ``weights`` order."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights) -> None:
        """Assigns a list of arrays to ``weights`` (same length and shapes)."""
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list "
                f"of length {len(weights)}, but the layer was expecting {len(own)} weights.")
        for variable, value in zip(own, weights):
            shape = tuple(numpy.shape(value))
            if shape != variable.shape:
                raise ValueError(f"Layer {self.name} weight shape {variable.shape} is not "
                                 f"compatible with provided weight shape {shape}.")
        for variable, value in zip(own, weights):
            variable.assign(value)

    def count_params(self) -> int:
        """The number of scalars in ``weights``; the layer must be built."""
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                "built. You can build it manually via: `layer.build(input_shape)`.")
        return int(sum(numpy.prod(v.shape, dtype=int) for v in self.weights))

    def explain(self, input_shape=None, batch_size=None, print_fn=None) -> str:
        """Prints and returns what the built layer computes, with its actual shapes: the
        forward formula, the backward equations, the parameter count as the product it
        is, FLOPs and activation bytes per sample (conventions in ``fcnet.layers.explain``).

        Args:
            input_shape: the input shape, batch axis first (default: the shape the layer
                was built with).
            batch_size: the batch size to show (default: the input shape's, else ``batch``).
            print_fn: called with each line (default ``print``).
        """
        return explain_layer(self, input_shape, batch_size, print_fn)

    @property
    def losses(self) -> list[float]:
        """Regularization penalties: one per regularized weight, then the activity ones."""
        penalties = [float(v.regularizer(v.value)) for v in self.weights if v.regularizer]
        own = penalties + list(self._activity_losses)
        return own + [loss for layer in self._sublayers() for loss in layer.losses]

    def _flatten_layers(self) -> list[Layer]:
        """This layer and every layer inside it, each once, depth first."""
        seen, order = set(), []

        def visit(layer):
            if id(layer) not in seen:
                seen.add(id(layer))
                order.append(layer)
                for sub in layer._sublayers():
                    visit(sub)

        visit(self)
        return order

    # ------------------------------------------------------------------ the contract
    def build(self, input_shape) -> None:
        """Creates the weights; the base layer has none."""
        self.built = True

    def call(self, x, training: bool = False):
        """The forward pass. Built-in layers define ``forward`` and get this for free."""
        if type(self).forward is Layer.forward:
            raise NotImplementedError(f"Layer {type(self).__name__} does not define `call()`.")
        return self.forward(x, training)[0]

    def forward(self, x, training: bool = False):
        """``(y, ctx)``: the output and what ``backward`` needs (by default the input)."""
        return call_with_training(self, x, training), x

    def backward(self, ctx, dy):
        """Adds dL/dw into each trainable variable's ``.grad`` and returns dL/dx."""
        raise NotImplementedError(
            f"Layer '{self.name}' ({type(self).__name__}) has no `backward()`, so it cannot be "
            "trained. Define `backward(self, ctx, dy)` returning the input gradient.")

    def compute_output_shape(self, input_shape):
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not implement `compute_output_shape()`.")

    # ------------------------------------------------------------------ the engine's entry points
    # Whether ``backward_step`` of a several-output layer accepts None for an output no
    # loss reaches (a model does: its tape skips it).
    takes_partial_gradients = False

    @property
    def output_activation(self):
        """The activation the forward pass ends with, where ``backward_step`` can start
        from dL/dz (``from_z``) instead; None for layers that cannot."""
        return None

    # Whether the layer's ops are known only once it has run (a subclassed model).
    records_calls = False

    def output_activation_in(self, ctx):
        """``output_activation`` as a pass with this ``ctx`` ran (a recorded model's
        depends on what its ``call`` did)."""
        return self.output_activation

    def forward_step(self, x, training, step: Step):
        """``forward``, plus the activity penalty ``A(y) / batch`` added to ``step``."""
        y, ctx = self.forward(x, training)
        if self.activity_regularizer is not None:
            step.penalties.append(activity_value(self.activity_regularizer, y))
            ctx = _WithActivity(ctx, y)
        return y, ctx

    def backward_step(self, ctx, dy, step: Step, need_dx: bool = True, from_z: bool = False):
        """``backward`` within a pass: ``dy += A'(y) / batch`` for an activity penalty;
        the layer's gradient slots are cleared before its first write of the pass."""
        ctx, dy = self._activity_backward(ctx, dy)
        if from_z:
            raise ValueError(f"Layer '{self.name}' has no output activation to fuse with.")
        for layer in self._flatten_layers():  # its own slots and those of layers inside it
            if layer.trainable and step.first_write(layer):
                for variable in layer._trainable_weights:
                    if variable.trainable:
                        variable.grad.fill(0)
        return self.backward(ctx, dy)

    def _flat_inputs(self, x) -> list:
        """The input arrays in the order ``backward`` returns their gradients."""
        return tree.flatten(x)

    def _activity_backward(self, ctx, dy):
        """``(ctx, dy)`` with the activity penalty's gradient added to dy where there is one."""
        if isinstance(ctx, _WithActivity):
            dy = dy + activity_gradient(self.activity_regularizer, ctx.y)
            ctx = ctx.ctx
        return ctx, dy

    # ------------------------------------------------------------------ calling
    def _build_in_scope(self, input_shape) -> None:
        """Builds under this layer's name scope (tf.keras 2 names ``dense/kernel:0``)."""
        input_shape = tuple_shapes(input_shape)
        with backend.name_scope(self.name):
            self.build(input_shape)
        self.built = True
        self._build_shapes = input_shape

    def __call__(self, inputs, training=None, **kwargs):
        """Calls the layer on arrays (computing) or on KerasTensors (recording a node).

        Lists and dicts of inputs pass through as they are (merge layers take lists).
        """
        if any(isinstance(t, KerasTensor) for t in tree.flatten(inputs)):
            return self._symbolic_call(inputs)
        recorder = recording.current()
        if recorder is None:  # arrays from outside a model: float arrays of the layer's dtype
            inputs = tree.map_structure(lambda a: as_float_array(a, self.dtype, self), inputs)
        shapes = shapes_of(inputs)
        if not self.built:
            check_shapes(self, shapes)
            self._build_in_scope(shapes)
        check_shapes(self, shapes)
        if recorder is not None:  # inside a model's call being recorded: arrays as they come
            if kwargs and not recorder.strict:  # no backward follows: an ordinary call
                return self._eager_call(inputs, bool(training), **kwargs)
            if kwargs:
                raise TypeError(
                    f"Layer '{self.name}' was called with keyword arguments {sorted(kwargs)} "
                    "inside a model's `call`, which `fit` cannot train through: the engine runs "
                    "`forward(x, training)`, which takes none. Make them arguments of the "
                    "layer's constructor, or inputs.")
            return recorder.run(self, inputs, recorder.training if training is None
                                else bool(training))
        return self._eager_call(inputs, bool(training), **kwargs)

    def _eager_call(self, inputs, training: bool, **kwargs):
        """``call`` on arrays, outside any model being recorded."""
        y = call_with_training(self, inputs, training, **kwargs)
        if self.activity_regularizer is not None:
            self._activity_losses = [activity_value(self.activity_regularizer, y)]
        return y

    def _symbolic_call(self, inputs):
        """Builds the layer from the input shapes and records a ``Node``."""
        shapes = shapes_of(inputs)
        if not self.built:
            check_shapes(self, shapes)
            self._build_in_scope(shapes)
        check_shapes(self, shapes)
        out = output_shape_of(self, shapes)
        if is_shape(out):
            Node(self, inputs, [KerasTensor(out, dtype=self.dtype, source=self)])
            return self._inbound_nodes[-1].outputs[0]
        outputs = [KerasTensor(o, dtype=self.dtype, source=self) for o in out]
        Node(self, inputs, outputs, nested_outputs=True)
        return outputs

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable,
                "dtype": dtype_policy_config(self.dtype)}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def get_build_config(self) -> dict | None:
        return {"input_shape": self._build_shapes} if self._build_shapes else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class _WithActivity:
    """A ctx with the layer output its activity penalty's gradient needs."""

    __slots__ = ("ctx", "y")

    def __init__(self, ctx, y):
        self.ctx, self.y = ctx, y
