"""``Model``: a layer that can be trained, summarised and saved.

``Model(inputs, outputs)`` makes a functional model (``Functional``); a subclass of
``Model`` that sets layers as attributes and composes them in ``call`` is a
subclassed model. Every kind trains through the same two entry points, which make
a model usable as a layer inside another one:

    forward_step(x, training, step) -> (y, ctx)      ctx = (tape, the ops' ctxs)
    backward_step(ctx, dy, step, need_dx) -> dx      the tape run backwards

A subclassed model records the layer calls its ``call`` makes (``Recorder``) and
replays them in reverse.
"""

from __future__ import annotations

import numpy

from fcnet import backend
from fcnet.backend import tree
from fcnet.layers import Layer
from fcnet.layers.calling import call_with_training, is_shape
from fcnet.layers.recording import Recorder, recording
from fcnet.layers.step import Step
from fcnet.models.explain import explain_model
from fcnet.models.summary import print_summary
from fcnet.models.tape import Op, Tape
from fcnet.models.trainer import Trainer


class Model(Trainer, Layer):
    """A layer with the training API of Keras (``compile``, ``fit``, ``evaluate``, …).

    ``Model(inputs, outputs, name=None)`` builds a functional model from symbolic
    tensors (``fcnet.Input``); subclass ``Model`` and write ``call`` to compose layers
    in Python:

        >>> class Net(fcnet.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = fcnet.layers.Dense(8, activation="relu")
        ...         self.out = fcnet.layers.Dense(1)
        ...     def call(self, inputs, training=None):
        ...         return self.out(self.hidden(inputs))

    Inside ``call``, every array must flow through layers: a NumPy operation on a
    layer output has no backward pass (training says so before the first step); use a
    merge layer, an ``Activation``, or a custom layer with ``backward``.
    """

    takes_partial_gradients = True

    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_arguments(args, kwargs):
            from fcnet.models.functional import Functional

            cls = Functional
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        if _functional_arguments(args, kwargs):
            from fcnet.models.functional import Functional

            if not isinstance(self, Functional):
                # A subclass that passes inputs and outputs to ``Model.__init__`` is a
                # functional model with methods of its own, as in Keras.
                self.__class__ = _functional_subclass(type(self), Functional)
            Functional.__init__(self, *args, **kwargs)
            return
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ layers
    @property
    def layers(self) -> list[Layer]:
        """The layers set as attributes, in the order they were set."""
        return self._sublayers()

    def get_layer(self, name=None, index=None) -> Layer:
        """The layer called ``name``, or at position ``index`` in ``layers``."""
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        layers = self.layers
        if index is not None:
            if len(layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model "
                                 f"only has {len(layers)} layers.")
            return layers[index]
        if name is None:
            raise ValueError("Provide either a layer name or layer index at `get_layer`.")
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in layers]}.")

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None) -> None:
        """Prints the classic table: layer, output shape, parameter count (and, for a
        graph, the layers each one is connected to), then the totals."""
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn)

    def explain(self, input_shape=None, batch_size=None, print_fn=None) -> str:
        """Prints and returns, for every layer call in the order the model runs them, its
        formula with shapes, backward equations, parameters, FLOPs and activation bytes
        per sample, then the totals (``fcnet.models.explain``); arguments as
        ``Layer.explain``."""
        return explain_model(self, input_shape, batch_size, print_fn)

    def _layer_output_shape(self, index: int):
        return None

    def _summary_connections(self) -> list[list[str]] | None:
        """Per layer, the tensors it reads (``name[node][tensor]``), for a graph that is
        not a chain; None for a table without a ``Connected to`` column."""
        return None

    # ------------------------------------------------------------------ config and files
    def get_config(self) -> dict:
        """A subclassed model's config: ``name`` and ``trainable``; a subclass whose
        constructor takes more writes its own ``get_config`` (and ``from_config``)."""
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        if {"layers", "input_layers", "output_layers"} <= set(config):
            from fcnet.models.config import functional_from_config
            from fcnet.models.functional import Functional

            # ``Model.from_config`` of a functional config is a functional model, as in Keras
            return functional_from_config(Functional if cls is Model else cls, config,
                                          custom_objects)
        try:
            return cls(**config)
        except TypeError as error:
            raise TypeError(
                f"Unable to revive model {cls.__name__} from its config: {error}. A "
                "subclassed model whose constructor takes arguments must define "
                "`get_config()` returning them (and `from_config` if they need converting)."
            ) from error

    def save(self, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
        """Writes the model (config, weights, compile config and optimizer state) to a
        ``.keras`` file Keras 3 loads, or a legacy ``.h5`` file."""
        from fcnet.saving import saving_api

        saving_api.save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite: bool = True, max_shard_size=None) -> None:
        """Writes the weights to a ``.weights.h5`` file (Keras 3's layout)."""
        from fcnet.saving import saving_api

        saving_api.save_weights(self, filepath, overwrite=overwrite,
                                max_shard_size=max_shard_size)

    def load_weights(self, filepath, skip_mismatch: bool = False, **kwargs) -> None:
        """Reads weights from a ``.weights.h5``, ``.keras`` or legacy ``.h5`` file."""
        from fcnet.saving import saving_api

        saving_api.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def to_json(self, **kwargs) -> str:
        """The model's record (class name, module and config) as JSON."""
        import json

        from fcnet.saving.serialization import serialize_keras_object

        return json.dumps(serialize_keras_object(self), **kwargs)

    # ------------------------------------------------------------------ computing
    def call(self, inputs, training=None):
        raise NotImplementedError(
            f"Model '{self.name}' ({type(self).__name__}) has no `call()`: subclass "
            "`fcnet.Model` and write `call(self, inputs, training=None)`, or build a "
            "functional model with `fcnet.Model(inputs, outputs)`.")

    def build(self, input_shape=None) -> None:
        """A subclassed model makes its weights by running ``call`` once on zeros of
        ``input_shape`` (a shape, or a list of shapes; a None batch size counts as 1)."""
        if input_shape is None:
            raise ValueError(f"Model '{self.name}' needs an `input_shape` to build.")

        def zeros(shapes):
            if is_shape(shapes):
                return numpy.zeros(tuple(1 if d is None else d for d in shapes),
                                   backend.floatx())
            if isinstance(shapes, dict):
                return {key: zeros(shape) for key, shape in shapes.items()}
            return [zeros(shape) for shape in shapes]

        self.built = True  # the call below must not come back here
        self._build_from_data(zeros(input_shape))

    def _build_from_data(self, x) -> None:
        """A subclassed model makes its weights by running its ``call`` on one sample."""
        if not (self.built and all(layer.built for layer in self.layers)):
            self(tree.map_structure(lambda a: a[:1], x))

    def _eager_call(self, inputs, training: bool, **kwargs):
        """A subclassed model's call runs recorded (not held to layer calls), so layers
        called with ``training=None`` inside it take the model's ``training``."""
        if kwargs:
            return super()._eager_call(inputs, training, **kwargs)
        return self.forward_step(inputs, training, Step(backward=False))[0]

    def forward_step(self, x, training, step: Step):
        """Runs ``call`` once, recording its layer calls: ``(y, (tape, ctxs))``."""
        recorder = Recorder(self, x, training, step)
        with recording(recorder):
            y = call_with_training(self, x, training)
        output_slots = tree.map_structure(lambda a: recorder.slot(a, None), y)
        ops = [Op(layer, in_slots, out_slots, single) for layer, in_slots, out_slots, single, _
               in recorder.ops]
        tape = Tape(ops, recorder.input_slots, output_slots, len(recorder.arrays))
        return y, (tape, [op[-1] for op in recorder.ops])

    def forward(self, x, training=False):
        """``(y, ctx)`` of the whole model (activity penalties are not returned)."""
        return self.forward_step(x, training, Step())

    def backward_step(self, ctx, dy, step: Step, need_dx: bool = True, from_z=False):
        tape, ctxs = ctx
        if isinstance(from_z, bool):
            from_z = [from_z] * len(tape.flat_outputs)
        return tape.backward(ctxs, dy, step, need_dx, from_z)

    def backward(self, ctx, dy):
        """dL/d(inputs) of the whole model; weight gradients land in the slots."""
        return self.backward_step(ctx, dy, Step())

    records_calls = True

    def _output_activations(self, ctx=None) -> list | None:
        """Per output, the activation it ends with; a recorded model knows them only from
        a pass's ``ctx`` (its tape and the ops' ctxs), None before."""
        if ctx is None:
            return None
        tape, ctxs = ctx
        return [tape.output_activation(k, ctxs) for k in range(len(tape.flat_outputs))]

    def output_activation_in(self, ctx):
        activations = self._output_activations(ctx)
        return activations[0] if activations and len(activations) == 1 else None


_FUNCTIONAL_SUBCLASSES: dict = {}


def _functional_arguments(args, kwargs) -> bool:
    """``Model(inputs, outputs)``: two positional arguments, or ``inputs=``/``outputs=``."""
    return len(args) >= 2 or ("inputs" in kwargs and "outputs" in kwargs) or (
        len(args) == 1 and "outputs" in kwargs)


def _functional_subclass(cls, functional):
    """``cls`` with the functional machinery behind its own methods."""
    if cls not in _FUNCTIONAL_SUBCLASSES:
        _FUNCTIONAL_SUBCLASSES[cls] = type(cls.__name__, (cls, functional),
                                           {"__module__": cls.__module__})
    return _FUNCTIONAL_SUBCLASSES[cls]
