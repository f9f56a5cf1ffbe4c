"""``Layer``: the contract every fcnet layer follows (DESIGN §2).

    build(input_shape)             create weights with add_weight()
    call(x, training=False) -> y   the forward pass, as in Keras
    forward(x, training) -> (y, ctx)   y plus what backward needs
    backward(ctx, dy) -> dx        add dL/dw into each trainable variable's .grad; return dL/dx

``ctx`` is returned, never stored on the layer, so one layer can be called many
times in one graph. A user's layer writes ``build``/``call``; to be trained it also
writes ``backward`` (the default ``forward`` hands it the input ``x`` as ``ctx``).
"""

from __future__ import annotations

import numpy

from fcnet import backend, constraints, initializers, regularizers
from fcnet.layers.input_spec import InputSpec, KerasTensor, check_input
from fcnet.layers.regularization import activity_penalty
from fcnet.variables import Variable

_BASE_KWARGS = ("input_shape", "input_dim", "batch_input_shape", "batch_size")


def dtype_policy_config(dtype: str = "float32") -> dict:
    """The Keras 3 serialisation of a layer's dtype policy."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


class Layer:
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
        self.trainable = trainable
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
        self._batch_input_shape = _batch_input_shape(kwargs)

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
            value, name=name, trainable=trainable and self.trainable, dtype=dtype,
            regularizer=regularizers.get(regularizer), constraint=constraints.get(constraint),
            scope=self.name if in_own_scope else None,
            path="/".join(outer + (self.name, name)),
        )
        target = self._trainable_weights if trainable else self._non_trainable_weights
        for i, old in enumerate(target):
            if old._short_name == name:
                target[i] = variable
                break
        else:
            target.append(variable)
        return variable

    @property
    def weights(self) -> list[Variable]:
        """Trainable weights first, then non-trainable ones (Keras's order)."""
        return self.trainable_weights + self.non_trainable_weights

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

    def _sublayers(self) -> list[Layer]:
        return []

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

    @property
    def losses(self) -> list[float]:
        """Regularization penalties: one per regularized weight, then the activity ones."""
        penalties = [float(v.regularizer(v.value)) for v in self.weights if v.regularizer]
        own = penalties + list(self._activity_losses)
        return own + [loss for layer in self._sublayers() for loss in layer.losses]

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
        return self.call(x, training=training), x

    def backward(self, ctx, dy):
        """Adds dL/dw into each trainable variable's ``.grad`` and returns dL/dx."""
        raise NotImplementedError(
            f"Layer '{self.name}' ({type(self).__name__}) has no `backward()`, so it cannot be "
            "trained. Define `backward(self, ctx, dy)` returning the input gradient.")

    def compute_output_shape(self, input_shape):
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not implement `compute_output_shape()`.")

    # ------------------------------------------------------------------ calling
    def _build_in_scope(self, input_shape) -> None:
        """Builds under this layer's name scope (tf.keras 2 names ``dense/kernel:0``)."""
        with backend.name_scope(self.name):
            self.build(tuple(input_shape))
        self.built = True
        self._build_shapes = tuple(input_shape)

    def __call__(self, x, training: bool = False, **kwargs):
        if isinstance(x, KerasTensor):
            if not self.built:
                self._build_in_scope(x.shape)
            check_input(self, x.shape)
            return KerasTensor(self.compute_output_shape(x.shape), source=self)
        x = _as_float_array(x, self.dtype)
        if not self.built:
            check_input(self, x.shape)
            self._build_in_scope(x.shape)
        check_input(self, x.shape)
        y = self.call(x, training=training, **kwargs)
        if self.activity_regularizer is not None:
            self._activity_losses = [activity_penalty(self.activity_regularizer, y)[0]]
        return y

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


def _batch_input_shape(kwargs: dict):
    """``(batch_size,) + input_shape`` from the legacy keyword arguments, or None."""
    if kwargs.get("batch_input_shape") is not None:
        return tuple(kwargs["batch_input_shape"])
    shape = kwargs.get("input_shape")
    if shape is None and kwargs.get("input_dim") is not None:
        shape = (kwargs["input_dim"],)
    if shape is None:
        return None
    if isinstance(shape, int):
        shape = (shape,)
    return (kwargs.get("batch_size"),) + tuple(shape)


def _as_float_array(x, dtype: str):
    """Inputs become arrays of the layer's float dtype (ints and float64 are cast)."""
    xp = backend.xp
    if isinstance(x, Variable):
        x = x.value
    if not isinstance(x, xp.ndarray):
        x = xp.asarray(x)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"Expected numeric input, received an array of dtype {x.dtype}.")
    if x.dtype != dtype:
        x = x.astype(dtype)
    return x
