"""Models to and from their Keras configs: layer records, and the functional graph.

A functional model's config lists its layers, each with the calls (``inbound_nodes``)
that wire it, and the tensors that are the model's inputs and outputs, each as
``[layer_name, node_index, tensor_index]`` (Keras 3's layout; Keras 2's nested-list
nodes are read too). Reading is safe: a ``class_name`` maps onto fcnet's classes, the
``custom_objects`` given and the registered objects only.
"""

from __future__ import annotations

import inspect

from fcnet import _registry
from fcnet import layers as layers_module
from fcnet.backend import tree

LAMBDA_LAYER_REFUSED = (
    "Requested the deserialization of a `Lambda` layer, whose function is Python code "
    "stored in the file. fcnet never runs code from a file; write the computation as a "
    "layer class, register it with `fcnet.saving.register_keras_serializable`, and load "
    "again (or pass it in `custom_objects`).")


def _model_classes() -> dict:
    from fcnet.models.functional import Functional
    from fcnet.models.model import Model
    from fcnet.models.sequential import Sequential

    return {"Sequential": Sequential, "Functional": Functional, "Model": Model}


def layer_class(record: dict, custom_objects: dict | None = None) -> type:
    """The class a layer record names: the user's (``custom_objects``, open scopes,
    registered) first, then fcnet's models and layers."""
    name = record.get("class_name")
    found = _registry.user_object(record, custom_objects)
    if found is not None:
        return found
    if name == "Lambda":
        raise ValueError(LAMBDA_LAYER_REFUSED)
    known = {**layers_module._CLASSES, **_model_classes()}
    if isinstance(name, str) and name in known:
        return known[name]
    raise TypeError(f"Could not locate class '{name}'. fcnet loads only its own layers and "
                    "those passed in `custom_objects` or registered with "
                    "`fcnet.saving.register_keras_serializable()`. Known layers: "
                    f"{sorted(known)}")


def known_keys(cls, config: dict) -> dict:
    """For fcnet's own classes, the config without the keys their constructors do not
    take (newer Keras releases add ``quantization_config``, ``lora_rank`` … that fcnet
    ignores); a user's class gets its config untouched."""
    if not cls.__module__.startswith("fcnet."):
        return config
    accepted = {"input_shape", "input_dim", "batch_input_shape", "batch_size"}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            accepted.update(k for k, p in inspect.signature(init).parameters.items()
                            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    return {k: v for k, v in config.items() if k in accepted}


def deserialize_layer(record: dict, custom_objects: dict | None = None, cls=None):
    """A layer or model from its record, built from its ``build_config`` if it has one."""
    if not isinstance(record, dict):
        raise TypeError(f"A layer record must be a dict. Received: {type(record).__name__}")
    cls = cls or layer_class(record, custom_objects)
    config = record.get("config") or {}
    if not isinstance(config, dict):
        raise TypeError(f"The config of layer record '{record.get('class_name')}' must be a "
                        f"dict. Received: {type(config).__name__}")
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        layer = cls.from_config(dict(config), custom_objects=custom_objects)
    else:
        layer = cls.from_config(known_keys(cls, dict(config)))
    build = record.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    if shape is not None and not layer.built:
        layer._build_in_scope(shape_tuple(shape))
    return layer


def shape_tuple(shape):
    """A JSON shape back to a tuple (a list of tuples for several inputs)."""
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [tuple(s) for s in shape]
    return tuple(shape)


# ---------------------------------------------------------------- functional graphs
def _offset(layer) -> int:
    """A functional model in Keras owns one node from its creation (inputs to outputs),
    so its calls count from 1; fcnet's count from 0."""
    from fcnet.models.functional import Functional

    return 1 if isinstance(layer, Functional) else 0


def functional_config(model) -> dict:
    """Keras 3's config of a functional model (layers with their inbound nodes, and the
    input and output tensors)."""
    own = set(map(id, model._nodes))

    def index_of(layer, node_index):
        kept = [n for n in layer._inbound_nodes[:node_index] if id(n) in own]
        return len(kept) + _offset(layer)

    def tensor_record(t):
        layer, node_index, tensor_index = t._keras_history
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": t.dtype,
                           "keras_history": [layer.name, index_of(layer, node_index),
                                             tensor_index]}}

    def history(t):
        layer, node_index, tensor_index = t._keras_history
        return [layer.name, index_of(layer, node_index), tensor_index]

    records = []
    for layer in model.layers:
        record = layers_module.serialize(layer)
        record["name"] = layer.name
        record["inbound_nodes"] = [
            {"args": [tree.map_structure(tensor_record, node.call_args)], "kwargs": {}}
            for node in layer._inbound_nodes if id(node) in own and node.inputs]
        records.append(record)
    return {"name": model.name, "trainable": model.trainable, "layers": records,
            "input_layers": tree.map_structure(history, model._inputs_struct),
            "output_layers": tree.map_structure(history, model._outputs_struct)}


def functional_from_config(cls, config: dict, custom_objects: dict | None = None):
    """Rebuilds a functional model: makes every layer, then replays the calls in the
    config's order, postponing a call until the tensors it reads exist."""
    config = dict(config)
    try:
        layer_records = list(config.pop("layers"))
        inputs_config, outputs_config = config.pop("input_layers"), config.pop("output_layers")
    except (KeyError, TypeError) as error:
        raise ValueError("A functional model config needs 'layers', 'input_layers' and "
                         f"'output_layers'. Received keys: {sorted(config)}") from error
    created, pending = {}, {}
    for record in layer_records:
        layer = deserialize_layer(record, custom_objects)
        name = record.get("name", layer.name)
        created[name] = layer
        pending[name] = list(record.get("inbound_nodes") or [])

    def tensor(name, node_index, tensor_index):
        if name not in created:
            raise ValueError(f"Invalid functional model config: no layer named {name!r}.")
        layer = created[name]
        index = node_index - _offset(layer)
        if index >= len(layer._inbound_nodes):
            raise IndexError(index)  # not made yet: try again after other calls
        return layer._inbound_nodes[index].outputs[tensor_index]

    def revive(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            return tensor(*value["config"]["keras_history"])
        if isinstance(value, dict):
            return {k: revive(v) for k, v in value.items()}
        if isinstance(value, list):
            return [revive(v) for v in value]
        return value

    def call_args(node):
        if isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
            flat = [tensor(*item[:3]) for item in node]
            return flat[0] if len(flat) == 1 else flat
        args = revive(node.get("args") or [])
        return args[0] if len(args) == 1 else args

    while any(pending.values()):
        progressed = False
        for name, nodes in pending.items():
            while nodes:
                try:
                    args = call_args(nodes[0])
                except IndexError:
                    break
                created[name](args)
                nodes.pop(0)
                progressed = True
        if not progressed:
            raise ValueError("Invalid functional model config: the graph has loops or layers "
                             "that read tensors no layer makes. Unresolved calls of: "
                             f"{[n for n, nodes in pending.items() if nodes]}")

    def tensors(value):
        if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
            return tensor(*value)
        if isinstance(value, dict):
            return {k: tensors(v) for k, v in value.items()}
        return [tensors(v) for v in value]

    inputs, outputs = tensors(inputs_config), tensors(outputs_config)
    kwargs = {k: config[k] for k in ("name", "trainable") if k in config}
    return cls(inputs=inputs, outputs=outputs, **kwargs)
