"""Convolutions: forward against direct loops, gradients, Keras parity, shapes, errors."""

import itertools
import os

import numpy as np
import pytest

import fcnet as keras
from fcnet.layers import Dense, Flatten, Step
from fcnet.layers.conv_depthwise import DepthwiseConv2D, SeparableConv2D
from fcnet.layers.conv_transpose import Conv2DTranspose
from fcnet.layers.convolutional import Conv1D, Conv2D
from fcnet.testing import check_gradients

RNG = np.random.default_rng(0)


# ---------------------------------------------------------------- direct definitions
def _same_pads(size, k, s, d):
    k_eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + k_eff - size, 0)
    return total // 2, out


def direct_conv(x, kernel, strides, padding, dilation, groups=1):
    """Cross-correlation by loops: z[n, o, f] = Σ x̃[n, o·s + j·d, c] · W[j, c, f]."""
    n, spatial, c = x.shape[0], x.shape[1:-1], x.shape[-1]
    k, f = kernel.shape[:-2], kernel.shape[-1]
    befores, outs = [], []
    for size, kk, s, d in zip(spatial, k, strides, dilation):
        k_eff = (kk - 1) * d + 1
        if padding == "valid":
            befores.append(0)
            outs.append((size - k_eff) // s + 1)
        elif padding == "causal":
            befores.append(k_eff - 1)
            outs.append(-(-size // s))
        else:
            b, o = _same_pads(size, kk, s, d)
            befores.append(b)
            outs.append(o)
    cg, fg = c // groups, f // groups
    z = np.zeros((n,) + tuple(outs) + (f,))
    for o in itertools.product(*[range(v) for v in outs]):
        for j in itertools.product(*[range(v) for v in k]):
            pos = [oo * s + jj * d - b for oo, s, jj, d, b in
                   zip(o, strides, j, dilation, befores)]
            if any(p < 0 or p >= size for p, size in zip(pos, spatial)):
                continue
            for gi in range(groups):
                xs = x[(slice(None),) + tuple(pos) + (slice(gi * cg, (gi + 1) * cg),)]
                z[(slice(None),) + o + (slice(gi * fg, (gi + 1) * fg),)] += \
                    xs @ kernel[j][:, gi * fg:(gi + 1) * fg]
    return z


def direct_conv_transpose(x, kernel, strides, padding, dilation, out_shape):
    """Scatter each input pixel times the kernel (kernel (*k, F, C)) into the output."""
    n, spatial = x.shape[0], x.shape[1:-1]
    k, f = kernel.shape[:2], kernel.shape[2]
    shifts = []
    for size, kk, s, d, o in zip(spatial, k, strides, dilation, out_shape):
        k_eff = (kk - 1) * d + 1
        if padding == "valid":
            shifts.append(0)
        else:  # the adjoint of a 'same' convolution from the output's size to the input's
            shifts.append(max((size - 1) * s + k_eff - o, 0) // 2)
    y = np.zeros((n,) + tuple(out_shape) + (f,))
    for i in itertools.product(*[range(v) for v in spatial]):
        for j in itertools.product(*[range(v) for v in k]):
            pos = [ii * s + jj * d - p for ii, s, jj, d, p in
                   zip(i, strides, j, dilation, shifts)]
            if any(p < 0 or p >= o for p, o in zip(pos, out_shape)):
                continue
            y[(slice(None),) + tuple(pos)] += x[(slice(None),) + i] @ kernel[j].T
    return y


def _set(layer, x):
    layer(x.astype("float32"))
    weights = [RNG.normal(size=w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    return weights


# ---------------------------------------------------------------- forward = direct loops
CONV_CASES = [
    (Conv2D, (2, 7, 6, 3), dict(filters=4, kernel_size=3)),
    (Conv2D, (2, 7, 6, 3), dict(filters=4, kernel_size=(3, 2), strides=(2, 1))),
    (Conv2D, (2, 7, 6, 3), dict(filters=5, kernel_size=3, strides=2, padding="same")),
    (Conv2D, (2, 8, 7, 10), dict(filters=4, kernel_size=(2, 3), padding="same")),
    (Conv2D, (2, 9, 9, 2), dict(filters=3, kernel_size=3, dilation_rate=2, padding="same")),
    (Conv2D, (2, 6, 5, 16), dict(filters=6, kernel_size=2, groups=2)),
    (Conv2D, (2, 6, 5, 4), dict(filters=4, kernel_size=3, groups=4, padding="same")),
    (Conv2D, (2, 4, 4, 9), dict(filters=5, kernel_size=1)),
    (Conv2D, (2, 5, 5, 9), dict(filters=5, kernel_size=1, strides=2)),
    (Conv2D, (2, 4, 4, 9), dict(filters=5, kernel_size=4)),
    (Conv1D, (2, 9, 3), dict(filters=4, kernel_size=3)),
    (Conv1D, (2, 9, 12), dict(filters=4, kernel_size=3, strides=2, padding="same", groups=2)),
    (Conv1D, (2, 9, 3), dict(filters=4, kernel_size=3, dilation_rate=2, padding="causal")),
    (Conv1D, (2, 9, 3), dict(filters=4, kernel_size=2, strides=3, padding="causal")),
]


def _tuple(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize("cls, shape, kwargs", CONV_CASES)
def test_conv_forward_equals_direct_loops_and_gradients(cls, shape, kwargs):
    x = RNG.normal(size=shape)
    layer = cls(activation=None, **kwargs)
    kernel, bias = _set(layer, x)
    rank = len(shape) - 2
    expected = direct_conv(x, kernel, _tuple(kwargs.get("strides", 1), rank),
                           kwargs.get("padding", "valid"),
                           _tuple(kwargs.get("dilation_rate", 1), rank),
                           kwargs.get("groups", 1)) + bias
    y = layer(x.astype("float32"))
    assert y.dtype == np.float32
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + expected.shape[1:]
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    check_gradients(layer, x[:, ...])


@pytest.mark.parametrize("kwargs, shape", [
    (dict(filters=4, kernel_size=3), (2, 3, 4, 3)),
    (dict(filters=4, kernel_size=3, strides=2), (2, 3, 4, 3)),
    (dict(filters=4, kernel_size=(3, 2), strides=2, padding="same"), (2, 3, 4, 3)),
    (dict(filters=3, kernel_size=4, strides=2, padding="same"), (2, 3, 3, 10)),
    (dict(filters=4, kernel_size=2, strides=3), (2, 3, 2, 3)),
    (dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"), (2, 4, 3, 12)),
])
def test_conv_transpose_forward_equals_scatter_definition(kwargs, shape):
    x = RNG.normal(size=shape)
    layer = Conv2DTranspose(**kwargs)
    kernel, bias = _set(layer, x)
    y = layer(x.astype("float32"))
    expected = direct_conv_transpose(x, kernel, _tuple(kwargs.get("strides", 1), 2),
                                     kwargs.get("padding", "valid"),
                                     _tuple(kwargs.get("dilation_rate", 1), 2),
                                     y.shape[1:3]) + bias
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + y.shape[1:]
    check_gradients(layer, x)


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv(u), x> = <u, conv_transpose(x)> with the same kernel: the defining property."""
    conv = Conv2D(3, 3, strides=2, padding="same", use_bias=False)
    tconv = Conv2DTranspose(5, 3, strides=2, padding="same", use_bias=False)
    u = RNG.normal(size=(2, 8, 8, 5))
    x = RNG.normal(size=(2, 4, 4, 3))
    conv.build(u.shape)
    tconv.build(x.shape)
    kernel = RNG.normal(size=(3, 3, 5, 3))
    conv.set_weights([kernel])
    tconv.set_weights([kernel])
    conv.kernel.value, tconv.kernel.value = kernel, kernel  # float64 for the identity
    lhs = (conv.forward(u)[0] * x).sum()
    rhs = (u * tconv.forward(x)[0]).sum()
    assert lhs == pytest.approx(rhs, rel=1e-10)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=3), dict(kernel_size=(2, 3), strides=2),
                                    dict(kernel_size=3, depth_multiplier=3, padding="same"),
                                    dict(kernel_size=3, dilation_rate=2, padding="same")])
def test_depthwise_forward_equals_per_channel_loops(kwargs):
    x = RNG.normal(size=(2, 7, 6, 3))
    layer = DepthwiseConv2D(**kwargs)
    kernel, bias = _set(layer, x)
    m = kernel.shape[-1]
    expected = np.concatenate([
        direct_conv(x[..., c:c + 1], kernel[:, :, c:c + 1, :],
                    _tuple(kwargs.get("strides", 1), 2), kwargs.get("padding", "valid"),
                    _tuple(kwargs.get("dilation_rate", 1), 2)) for c in range(3)], axis=-1)
    y = layer(x.astype("float32"))
    assert y.shape[-1] == 3 * m
    np.testing.assert_allclose(y, expected + bias, rtol=1e-4, atol=1e-4)
    check_gradients(layer, x)


def test_separable_is_depthwise_then_pointwise():
    x = RNG.normal(size=(2, 7, 6, 3))
    layer = SeparableConv2D(4, 3, depth_multiplier=2, padding="same", activation="tanh")
    depthwise, pointwise, bias = _set(layer, x)
    assert depthwise.shape == (3, 3, 3, 2) and pointwise.shape == (1, 1, 6, 4)
    u = np.concatenate([direct_conv(x[..., c:c + 1], depthwise[:, :, c:c + 1, :], (1, 1),
                                    "same", (1, 1)) for c in range(3)], axis=-1)
    expected = np.tanh(u @ pointwise[0, 0] + bias)
    np.testing.assert_allclose(layer(x.astype("float32")), expected, rtol=1e-4, atol=1e-4)
    check_gradients(layer, x)


@pytest.mark.parametrize("make", [
    lambda: Conv2D(3, 3, activation="relu", kernel_regularizer="l2",
                   activity_regularizer="l1"),
    lambda: Conv2D(4, 2, activation="softmax", strides=2),
    lambda: Conv1D(3, 3, activation="sigmoid", padding="same"),
    lambda: Conv2DTranspose(2, 3, activation="tanh", strides=2),
    lambda: DepthwiseConv2D(3, use_bias=False, padding="same"),
    lambda: SeparableConv2D(3, 2, use_bias=False),
])
def test_activations_regularizers_and_no_bias_pass_the_gradient_check(make):
    layer = make()
    rank = getattr(layer, "rank", 2)
    x = RNG.normal(size=(2,) + (6,) * rank + (4,))
    check_gradients(layer, x)


def test_frozen_kernel_and_first_layer_skip_their_gradients():
    layer = Conv2D(3, 3)
    x = RNG.normal(size=(2, 5, 5, 2)).astype("float32")
    layer(x)
    y, ctx = layer.forward_step(x, True, Step())
    layer.kernel.grad[...] = 7.0
    layer.kernel.trainable = False
    dx = layer.backward_step(ctx, np.ones_like(y), Step(), need_dx=False)
    assert dx is None
    assert (layer.kernel.grad == 7.0).all()  # untouched
    assert layer.bias.grad.sum() == pytest.approx(2 * 3 * 3 * 3)


def test_shared_layer_adds_its_two_gradients():
    layer = Conv2D(2, 2, use_bias=False)
    x = RNG.normal(size=(1, 3, 3, 1)).astype("float32")
    layer(x)
    step = Step()
    outs = [layer.forward_step(x, True, step) for _ in range(2)]
    for y, ctx in outs:
        layer.backward_step(ctx, np.ones_like(y), step, need_dx=False)
    once = Conv2D(2, 2, use_bias=False)
    once.build(x.shape)
    once.set_weights(layer.get_weights())
    y, ctx = once.forward_step(x, True, Step())
    once.backward_step(ctx, np.ones_like(y), Step(), need_dx=False)
    np.testing.assert_allclose(layer.kernel.grad, 2 * once.kernel.grad, rtol=1e-6)


def test_float32_stays_float32_in_both_directions():
    for layer in (Conv2D(3, 3, padding="same"), Conv2DTranspose(3, 3, strides=2),
                  SeparableConv2D(3, 3), DepthwiseConv2D(3)):
        x = RNG.normal(size=(2, 6, 6, 2)).astype("float32")
        layer(x)
        y, ctx = layer.forward_step(x, True, Step())
        dx = layer.backward_step(ctx, np.ones_like(y), Step())
        assert y.dtype == np.float32 and dx.dtype == np.float32
        assert all(w.grad.dtype == np.float32 for w in layer.weights)


# ---------------------------------------------------------------- seed 003, shapes, errors
def test_seed_003_shapes_params_and_training():
    keras.backend.clear_session()
    model = keras.Sequential([
        Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        Conv2D(8, (3, 3), strides=2, activation="relu"),
        Flatten(), Dense(10)])
    first = model.layers[0]
    assert first.name == "conv2d" and model.layers[1].name == "conv2d_1"
    assert first.compute_output_shape((None, 28, 28, 1)) == (None, 26, 26, 32)
    assert first.count_params() == 320
    assert Conv2D(64, (3, 3)).compute_output_shape((None, 13, 13, 32)) == (None, 11, 11, 64)
    layer = Conv2D(64, (3, 3))
    layer.build((None, 13, 13, 32))
    assert layer.count_params() == 18496
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = RNG.normal(size=(64, 28, 28, 1)).astype("float32")
    y = (x[:, :14].sum(axis=(1, 2, 3)) > x[:, 14:].sum(axis=(1, 2, 3))).astype("int64")
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_names_and_weight_paths():
    keras.backend.clear_session()
    names = [cls(**kw).name for cls, kw in [
        (Conv2D, dict(filters=1, kernel_size=1)), (Conv2D, dict(filters=1, kernel_size=1)),
        (Conv1D, dict(filters=1, kernel_size=1)),
        (Conv2DTranspose, dict(filters=1, kernel_size=1)),
        (DepthwiseConv2D, dict(kernel_size=1)),
        (SeparableConv2D, dict(filters=1, kernel_size=1))]]
    assert names == ["conv2d", "conv2d_1", "conv1d", "conv2d_transpose", "depthwise_conv2d",
                     "separable_conv2d"]


def test_bad_arguments_and_inputs():
    layer = Conv2D(4, 3)
    with pytest.raises(ValueError, match=r'layer "conv2d.*expected ndim=4, found ndim=2'):
        layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match="channels_last"):
        Conv2D(4, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="padding"):
        Conv2D(4, 3, padding="causal")
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match="filters"):
        Conv2D(0, 3)
    with pytest.raises(ValueError, match="groups"):
        Conv2D(5, 3, groups=2)
    with pytest.raises(ValueError, match="dilation_rate"):
        Conv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="divisible"):
        Conv2D(4, 3, groups=2)(np.ones((1, 5, 5, 3)))
    with pytest.raises(ValueError, match="zero or negative"):
        Conv2D(4, 5)(np.ones((1, 3, 3, 1)))
    with pytest.raises(ValueError, match="output_padding"):
        Conv2DTranspose(4, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="depth_multiplier"):
        DepthwiseConv2D(3, depth_multiplier=0)


# ---------------------------------------------------------------- real Keras 3
KERAS_CASES = [
    ("Conv2D", dict(filters=4, kernel_size=3, strides=2, padding="same", activation="relu"),
     (2, 7, 6, 3)),
    ("Conv2D", dict(filters=4, kernel_size=(2, 3), dilation_rate=2, groups=2), (2, 8, 7, 4)),
    ("Conv1D", dict(filters=3, kernel_size=3, padding="causal", dilation_rate=2), (2, 9, 2)),
    ("Conv1D", dict(filters=3, kernel_size=4, strides=2, padding="same"), (2, 9, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same"), (2, 4, 5, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=4, strides=2, padding="same"), (2, 4, 5, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2), (2, 4, 5, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=2, strides=3), (2, 4, 5, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same",
                             output_padding=1), (2, 4, 5, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=(3, 2), strides=(2, 3), padding="valid",
                             output_padding=(1, 2)), (2, 4, 5, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"),
     (2, 5, 5, 2)),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2, padding="same"), (2, 6, 5, 3)),
    ("DepthwiseConv2D", dict(kernel_size=(2, 3), strides=2), (2, 6, 5, 3)),
    ("SeparableConv2D", dict(filters=4, kernel_size=3, depth_multiplier=2, strides=2,
                             padding="same", activation="tanh"), (2, 7, 6, 3)),
]

_CLASSES = {"Conv2D": Conv2D, "Conv1D": Conv1D, "Conv2DTranspose": Conv2DTranspose,
            "DepthwiseConv2D": DepthwiseConv2D, "SeparableConv2D": SeparableConv2D}


@pytest.fixture(scope="module")
def real_keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


@pytest.mark.parametrize("name, kwargs, shape", KERAS_CASES)
def test_same_weights_same_outputs_and_configs_as_keras(real_keras, name, kwargs, shape):
    x = RNG.normal(size=shape).astype("float32")
    ours = _CLASSES[name](**kwargs)
    weights = [w.astype("float32") for w in _set(ours, x)]
    theirs = getattr(real_keras.layers, name)(**kwargs)
    theirs.build(shape)
    assert [tuple(w.shape) for w in theirs.weights] == [w.shape for w in weights]
    assert [w.path.split("/")[-1] for w in theirs.weights] == \
        [v.path.split("/")[-1] for v in ours.weights]
    theirs.set_weights(weights)
    expected = np.asarray(theirs(x))
    np.testing.assert_allclose(ours(x), expected, rtol=1e-5, atol=1e-5)
    assert ours.compute_output_shape((None,) + shape[1:]) == \
        tuple(theirs.compute_output_shape((None,) + shape[1:]))
    # configs cross both ways
    ours_config, theirs_config = ours.get_config(), theirs.get_config()
    shared = set(theirs_config) - {"name"}
    assert set(ours_config) - {"name"} == shared
    for key in shared - {"dtype"}:
        assert _plain(ours_config[key]) == _plain(theirs_config[key]), key
    clone = _CLASSES[name].from_config(theirs_config)
    assert _plain(clone.get_config()) == _plain({**ours_config, "name": theirs_config["name"]})
    getattr(real_keras.layers, name).from_config(ours_config)


def _plain(value):
    """Tuples and lists alike (a config read from JSON has lists)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "seed"}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
