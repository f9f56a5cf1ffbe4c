"""``explain()`` on layers and models, against shapes, parameter counts and FLOPs worked
out by hand (a multiply-add = 2 FLOPs; bias 1 per output; relu 1 per value; max pooling
k − 1 compares per window of k)."""

import re

import numpy as np
import pytest
from seed_models import seed003_cnn
from test_layer_configs import CASES

import fcnet as keras
from fcnet import layers


def _explain(obj, **kwargs):
    printed = []
    text = obj.explain(print_fn=printed.append, **kwargs)
    assert "\n".join(printed) == text  # printed line by line, returned whole
    return text


def test_dense_formula_shapes_parameters_and_flops():
    layer = layers.Dense(512, activation="relu")
    layer.build((None, 784))
    text = _explain(layer, batch_size=4)
    assert "y[4, 512] = relu(x[4, 784] · kernel[784, 512] + bias[512])" in text
    assert "dz[4, 512] = dy ⊙ relu'(z)" in text
    assert "dkernel[784, 512] = xᵀ · dz" in text
    assert "dbias[512] = Σ_batch dz" in text
    assert "dx[4, 784] = dz · kernelᵀ" in text
    assert 784 * 512 + 512 == 401_920 == layer.count_params()
    assert "Parameters: 784 × 512 + 512 = 401,920 (kernel + bias)" in text
    flops = 2 * 784 * 512 + 512 + 512  # matmul + bias + relu
    assert f"2 × 784 × 512 (x · kernel) + 512 (bias) + 512 (relu) = {flops:,}" in text
    assert f"= {512 * 4:,} bytes" in text  # 512 float32 values
    assert "x[batch, 784]" in _explain(layer)  # no batch size given: shown as `batch`


def test_dense_without_bias_or_activation_on_a_sequence():
    layer = layers.Dense(3, use_bias=False)
    layer(np.zeros((2, 5, 7), "float32"))
    text = _explain(layer)
    assert "y[2, 5, 3] = x[2, 5, 7] · kernel[7, 3]" in text
    assert "dbias" not in text
    assert "Parameters: 7 × 3 = 21 (kernel)" in text
    assert f"= {2 * 5 * 7 * 3:,}" in text  # the kernel at each of 5 positions


def test_conv2d_formula_shapes_parameters_and_flops():
    layer = layers.Conv2D(32, (3, 3), activation="relu")
    layer(np.zeros((4, 28, 28, 1), "float32"))
    text = _explain(layer)
    # valid padding, stride 1: 28 − 3 + 1 = 26
    assert "y[4, 26, 26, 32] = relu(conv(x[4, 28, 28, 1], kernel[3, 3, 1, 32]) + bias[32])" in text
    assert "dkernel[3, 3, 1, 32]" in text and "dbias[32] = Σ_{batch, r, c} dz" in text
    assert "dx[4, 28, 28, 1]" in text
    assert 3 * 3 * 1 * 32 + 32 == 320 == layer.count_params()
    assert "Parameters: 3 × 3 × 1 × 32 + 32 = 320" in text
    flops = 2 * 3 * 3 * 1 * 32 * 26 * 26 + 26 * 26 * 32 + 26 * 26 * 32  # kernel, bias, relu
    assert flops == 432_640 and f"= {flops:,}\n" in text
    assert f"{26 * 26 * 32:,} values × 4 bytes (float32) = {26 * 26 * 32 * 4:,} bytes" in text


def test_conv2d_strided_same_padding():
    layer = layers.Conv2D(8, 3, strides=2, padding="same")
    layer(np.zeros((1, 9, 9, 3), "float32"))
    text = _explain(layer, batch_size=16)
    assert "y[16, 5, 5, 8]" in text  # ceil(9 / 2) = 5
    assert "x̃[n, 2·r + i, 2·c + j, ch]" in text
    assert f"= {2 * 3 * 3 * 3 * 8 * 5 * 5 + 5 * 5 * 8:,}\n" in text


def test_sequential_cnn_of_seed_003_per_layer_and_totals():
    model = seed003_cnn()
    text = _explain(model, batch_size=32)
    # shapes: 28 → 26 → 13 → 11 → 5 → 3, flattened 3·3·64 = 576
    for shape in ("y[32, 26, 26, 32]", "y[32, 13, 13, 32]", "y[32, 11, 11, 64]",
                  "y[32, 5, 5, 64]", "y[32, 3, 3, 64]", "y[32, 576]", "y[32, 64]", "y[32, 10]"):
        assert shape in text
    params = [3 * 3 * 1 * 32 + 32, 3 * 3 * 32 * 64 + 64, 3 * 3 * 64 * 64 + 64, 576 * 64 + 64,
              64 * 10 + 10]
    assert params == [320, 18_496, 36_928, 36_928, 650] and sum(params) == 93_322
    assert model.count_params() == 93_322
    assert "Parameters: 320 + 18,496 + 36,928 + 36,928 + 650 = 93,322" in text
    flops = [2 * 9 * 1 * 32 * 26 * 26 + 2 * 26 * 26 * 32,  # conv, bias and relu
             (4 - 1) * 13 * 13 * 32,                        # 2×2 max: 3 compares each
             2 * 9 * 32 * 64 * 11 * 11 + 2 * 11 * 11 * 64,
             (4 - 1) * 5 * 5 * 64,
             2 * 9 * 64 * 64 * 3 * 3 + 2 * 3 * 3 * 64,
             2 * 576 * 64 + 2 * 64,
             2 * 64 * 10 + 10]                               # no activation on the last
    assert sum(flops) == 5_669_546
    assert "FLOPs per sample: " + " + ".join(f"{f:,}" for f in flops) + " = 5,669,546" in text
    values = 26 * 26 * 32 + 13 * 13 * 32 + 11 * 11 * 64 + 5 * 5 * 64 + 3 * 3 * 64 + 576 + 64 + 10
    assert re.search(rf"Activations per sample: .* = {values * 4:,} bytes", text)
    order = [text.index(f"{layer.name} ({type(layer).__name__})") for layer in model.layers]
    assert order == sorted(order)


def test_functional_model_with_a_merge_in_graph_order():
    x = keras.Input(shape=(8,))
    a = layers.Dense(16, activation="relu", name="left")(x)
    b = layers.Dense(16, name="right")(x)
    s = layers.Add(name="sum")([a, b])
    model = keras.Model(x, layers.Dense(1, name="out")(s))
    text = _explain(model)
    assert "y[batch, 16] = x1[batch, 16] + x2[batch, 16]" in text
    assert text.index("sum (Add)") < text.index("out (Dense)")
    assert text.index("left (Dense)") < text.index("sum (Add)")
    assert text.index("right (Dense)") < text.index("sum (Add)")
    assert model.count_params() == 2 * (8 * 16 + 16) + 16 + 1 == 305
    assert "= 305 (305 trainable" in text
    total = (2 * 8 * 16 + 16 + 16) + (2 * 8 * 16 + 16) + 16 + (2 * 16 + 1)  # left right sum out
    assert f"= {total:,}\n" in text and total == 609


def test_nested_model_layers_are_explained_inside_it():
    inner = keras.Sequential([layers.Dense(4, activation="relu", name="inner_dense")],
                             name="inner")
    outer = keras.Sequential([keras.Input((3,)), inner, layers.Dense(2, name="head")])
    text = _explain(outer, batch_size=5)
    assert "inner (Sequential): a model inside this one, 16 parameters" in text
    assert "\n    inner_dense (Dense)" in text
    assert "y[5, 4] = relu(x[5, 3] · kernel[3, 4] + bias[4])" in text
    assert outer.count_params() == 3 * 4 + 4 + 4 * 2 + 2 == 26
    assert "Parameters: 16 + 10 = 26" in text
    assert f"FLOPs per sample: {2 * 3 * 4 + 4 + 4} + {2 * 4 * 2 + 2} = 50" in text


def test_unbuilt_layers_and_bad_arguments_raise():
    with pytest.raises(ValueError, match="'dense_u'.*not built.*Received"):
        layers.Dense(3, name="dense_u").explain()
    with pytest.raises(ValueError, match="not built"):
        keras.Sequential([layers.Dense(3)]).explain()
    layer = layers.Dense(3)
    layer.build((None, 2))
    with pytest.raises(ValueError, match="batch_size.*Received: batch_size=0"):
        layer.explain(batch_size=0)
    with pytest.raises(TypeError, match="print_fn.*Received"):
        layer.explain(print_fn="print")
    with pytest.raises(ValueError, match="input_shape.*Received"):
        layer.explain(input_shape="wide")


def test_a_users_layer_gets_a_generic_explanation():
    class Twice(layers.Layer):
        def call(self, x):
            return 2 * x

        def compute_output_shape(self, input_shape):
            return input_shape

    layer = Twice(name="twice")
    layer(np.ones((2, 3), "float32"))
    text = _explain(layer)
    assert "y[2, 3] = Twice(x[2, 3])" in text and "not counted" in text


def _built(name):
    kwargs, x = CASES[name]
    layer = layers._CLASSES[name.split(":")[0]](**kwargs)
    if x is not None:
        layer(x)
    return layer


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_layer_class_explains_its_output_shape_and_parameters(name):
    layer = _built(name)
    assert "_explain" in vars(type(layer)) or any(
        "_explain" in vars(base) for base in type(layer).__mro__[1:-1]
        if base is not layers.Layer)
    text = _explain(layer)
    input_shape = layer._build_shapes or layer.batch_shape
    out = layer.compute_output_shape(input_shape)
    outs = [tuple(out)] if all(d is None or isinstance(d, int) for d in out) else out
    assert "Output shape: " + ", ".join(str(tuple(s)) for s in outs) in text
    counted = re.search(r"Parameters: (?:.* = )?([\d,]+) \(", text).group(1)
    assert int(counted.replace(",", "")) == layer.count_params()
    assert "no formula of its own" not in text
    assert re.search(r"FLOPs per sample: [\d?]", text)
