"""Floor 4: the layers (``fcnet.layers`` mirrors ``keras.layers``)."""

from fcnet import _registry
from fcnet.layers.activation import Activation
from fcnet.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from fcnet.layers.base import Layer
from fcnet.layers.conv_depthwise import DepthwiseConv2D, SeparableConv2D
from fcnet.layers.conv_transpose import Conv2DTranspose
from fcnet.layers.convolutional import Conv1D, Conv2D
from fcnet.layers.dense import Dense
from fcnet.layers.dot import Dot
from fcnet.layers.dropout import Dropout
from fcnet.layers.embedding import Embedding
from fcnet.layers.input_layer import Input, InputLayer
from fcnet.layers.input_spec import InputSpec, KerasTensor
from fcnet.layers.layer_normalization import LayerNormalization
from fcnet.layers.merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from fcnet.layers.node import Node
from fcnet.layers.noise import GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D
from fcnet.layers.normalization import BatchNormalization
from fcnet.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from fcnet.layers.preprocessing import (
    CategoryEncoding,
    Discretization,
    IntegerLookup,
    Normalization,
    StringLookup,
)
from fcnet.layers.regularization import (
    activity_gradient,
    activity_value,
    penalties_and_gradients,
    weight_penalty,
)
from fcnet.layers.reshaping import Flatten, Permute, RepeatVector, Reshape
from fcnet.layers.spatial import (
    Cropping1D,
    Cropping2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from fcnet.layers.step import Step

# Keras's shorter names for the same classes.
AvgPool1D, AvgPool2D, MaxPool1D, MaxPool2D = (AveragePooling1D, AveragePooling2D,
                                              MaxPooling1D, MaxPooling2D)
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
Convolution1D, Convolution2D, Convolution2DTranspose = Conv1D, Conv2D, Conv2DTranspose
SeparableConvolution2D = SeparableConv2D

_CLASSES = {cls.__name__: cls for cls in (
    Activation, Add, Average, AveragePooling1D, AveragePooling2D, BatchNormalization,
    CategoryEncoding, Concatenate, Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D,
    Discretization, Embedding, IntegerLookup, Normalization, SeparableConv2D, StringLookup,
    Cropping1D, Cropping2D, Dense, Dot, Dropout, ELU, Flatten, GaussianDropout,
    GaussianNoise, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D,
    GlobalMaxPooling2D, InputLayer, LayerNormalization, LeakyReLU, MaxPooling1D, MaxPooling2D,
    Maximum, Minimum, Multiply, Permute, PReLU, ReLU, RepeatVector, Reshape, Softmax,
    SpatialDropout1D, SpatialDropout2D, Subtract, UpSampling1D, UpSampling2D, ZeroPadding1D,
    ZeroPadding2D)}

__all__ = sorted(_CLASSES) + [
    "AvgPool1D", "AvgPool2D", "Convolution1D", "Convolution2D", "Convolution2DTranspose",
    "SeparableConvolution2D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D",
    "GlobalMaxPool2D", "Input", "InputSpec", "KerasTensor", "Layer", "MaxPool1D", "MaxPool2D",
    "Node", "Step", "activity_gradient", "activity_value", "deserialize", "get",
    "penalties_and_gradients", "serialize", "weight_penalty"]


def serialize(layer: Layer) -> dict:
    """A layer as Keras 3 writes it in ``config.json``."""
    cls = type(layer)
    own = cls.__module__.startswith("fcnet.")
    item = {"module": getattr(cls, "_keras_module", "keras.layers") if own else cls.__module__,
            "class_name": cls.__name__, "config": layer.get_config(),
            "registered_name": None if own else _registry.registered_name(cls) or cls.__name__}
    build = layer.get_build_config()
    if build is not None and not isinstance(layer, InputLayer):
        item["build_config"] = {"input_shape": list(build["input_shape"])}
    return item


def deserialize(config: dict, custom_objects: dict | None = None) -> Layer:
    """A layer from its Keras config: ``class_name`` maps onto fcnet's classes only."""
    name = config.get("class_name")
    known = dict(_CLASSES, **(custom_objects or {}))
    if name not in known:
        raise ValueError(f"Unknown layer class: {name!r}. Known layers: {sorted(known)}")
    layer = known[name].from_config(dict(config.get("config", {})))
    build = config.get("build_config")
    if build and build.get("input_shape") is not None and not layer.built:
        layer._build_in_scope(tuple(build["input_shape"]))
    return layer


def get(identifier) -> type[Layer]:
    """A layer class by its Keras name."""
    if identifier in _CLASSES:
        return _CLASSES[identifier]
    raise ValueError(f"Unknown layer: {identifier!r}. Known layers: {sorted(_CLASSES)}")
