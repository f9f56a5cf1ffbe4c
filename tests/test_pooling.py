"""Pooling layers: forward against loops over every window, backward against finite
differences (float64), ties, shapes, configs and errors, and real Keras 3's outputs,
gradients, shapes and configs where Keras is installed."""

import itertools
import math
import os

import numpy as np
import pytest

import fcnet as keras
from fcnet.layers import Dense, Flatten, Input
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
from fcnet.testing import check_gradients


# ---------------------------------------------------------------------- the reference
def reference_pool(x, pool, strides, padding, mode):
    """Pooling by loops over every output position and window element.

    ``"same"``: ``out = ceil(in / s)``, the input is shifted by ``pad_before =
    max((out - 1)·s + p - in, 0) // 2``; elements outside the input are skipped (never a
    maximum, not counted in a mean)."""
    spatial = x.shape[1:-1]
    if padding == "same":
        out = [-(-n // s) for n, s in zip(spatial, strides)]
        before = [max((o - 1) * s + p - n, 0) // 2
                  for o, s, p, n in zip(out, strides, pool, spatial)]
    else:
        out = [(n - p) // s + 1 for n, p, s in zip(spatial, pool, strides)]
        before = [0] * len(spatial)
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for b in range(x.shape[0]):
        for o in itertools.product(*(range(n) for n in out)):
            for c in range(x.shape[-1]):
                values = []
                for k in itertools.product(*(range(p) for p in pool)):
                    idx = [oi * s + ki - pb for oi, s, ki, pb in zip(o, strides, k, before)]
                    if all(0 <= i < n for i, n in zip(idx, spatial)):
                        values.append(x[(b, *idx, c)])
                y[(b, *o, c)] = max(values) if mode == "max" else sum(values) / len(values)
    return y


def distinct(*shape, seed=0):
    """Inputs without ties (a permutation), so every window has one maximum."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(math.prod(shape)).reshape(shape) / 7.0 - 3.0)


CASES_2D = [  # (pool_size, strides, padding, input shape)
    ((2, 2), None, "valid", (2, 6, 6, 3)),
    ((2, 2), None, "valid", (2, 11, 11, 2)),  # floor: last row and column dropped
    ((3, 2), (2, 1), "valid", (2, 7, 6, 2)),  # overlapping rows
    ((3, 3), (2, 2), "same", (2, 7, 5, 3)),  # overlapping, odd sizes, padding both sides
    ((2, 2), None, "same", (1, 5, 7, 2)),  # odd sizes: one padded row / column after
    ((1, 2), (3, 2), "valid", (2, 7, 5, 1)),  # strides larger than the window
    ((2, 3), (1, 1), "same", (1, 4, 4, 2)),
]
CASES_1D = [
    (2, None, "valid", (2, 7, 3)),
    (3, 1, "same", (2, 6, 2)),
    (3, 2, "same", (2, 8, 2)),
    (4, 3, "valid", (1, 11, 2)),
]


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("pool, strides, padding, shape", CASES_2D + CASES_1D)
def test_forward_equals_loops_and_backward_equals_finite_differences(
        mode, pool, strides, padding, shape):
    two_d = len(shape) == 4
    cls = {("max", True): MaxPooling2D, ("average", True): AveragePooling2D,
           ("max", False): MaxPooling1D, ("average", False): AveragePooling1D}[mode, two_d]
    layer = cls(pool, strides=strides, padding=padding)
    x = distinct(*shape)
    y = layer(x)
    assert y.dtype == np.float32
    pool_t = pool if two_d else (pool,)
    strides_t = pool_t if strides is None else (strides if two_d else (strides,))
    expected = reference_pool(x, pool_t, strides_t, padding, mode)
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + expected.shape[1:]
    check_gradients(layer, x)


def test_max_pooling_gives_each_window_gradient_to_its_first_maximum_only():
    layer = MaxPooling2D((2, 2))
    x = np.ones((1, 5, 4, 1), "float32")  # every element of a window ties
    y, ctx = layer.forward(x)
    dx = layer.backward(ctx, np.arange(1, 5, dtype="float32").reshape(1, 2, 2, 1))
    expected = np.zeros((5, 4))
    expected[0, 0], expected[0, 2], expected[2, 0], expected[2, 2] = 1, 2, 3, 4
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)  # row 4 is in no window
    assert dx.dtype == np.float32
    overlapping = MaxPooling1D(3, strides=1)  # windows share the tied elements
    y, ctx = overlapping.forward(np.zeros((1, 4, 1), "float32"))
    dx = overlapping.backward(ctx, np.ones((1, 2, 1), "float32"))
    np.testing.assert_array_equal(dx.ravel(), [1, 1, 0, 0])


def test_seed_003_pooling_shapes_and_dropped_border():
    x = distinct(2, 11, 11, 3)
    layer = MaxPooling2D((2, 2))
    y, ctx = layer.forward(x.astype("float32"))
    assert y.shape == (2, 5, 5, 3)
    dx = layer.backward(ctx, np.ones_like(y))
    assert not dx[:, 10].any() and not dx[:, :, 10].any()
    assert dx.sum() == y.size  # one element per window
    assert MaxPooling2D((2, 2)).compute_output_shape((None, 26, 26, 32)) == (None, 13, 13, 32)
    assert MaxPooling2D((2, 2)).compute_output_shape((None, 11, 11, 64)) == (None, 5, 5, 64)
    assert MaxPooling2D().compute_output_shape((None, None, 8, 4)) == (None, None, 4, 4)


@pytest.mark.parametrize("cls, reduce", [(GlobalMaxPooling2D, np.max),
                                         (GlobalAveragePooling2D, np.mean),
                                         (GlobalMaxPooling1D, np.max),
                                         (GlobalAveragePooling1D, np.mean)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(cls, reduce, keepdims):
    shape = (3, 4, 5, 2) if cls.__name__.endswith("2D") else (3, 6, 2)
    x = distinct(*shape)
    layer = cls(keepdims=keepdims)
    y = layer(x)
    expected = np.zeros((shape[0], shape[-1]))
    for b in range(shape[0]):
        for c in range(shape[-1]):
            expected[b, c] = reduce(x[b, ..., c])
    if keepdims:
        expected = expected.reshape((shape[0],) + (1,) * (len(shape) - 2) + (shape[-1],))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + expected.shape[1:]
    check_gradients(layer, x)


def test_global_max_pooling_ties_go_to_the_first_position():
    layer = GlobalMaxPooling2D()
    y, ctx = layer.forward(np.zeros((1, 2, 2, 1), "float32"))
    np.testing.assert_array_equal(layer.backward(ctx, np.ones_like(y)).ravel(), [1, 0, 0, 0])


def test_names_configs_and_no_weights():
    keras.backend.clear_session()
    assert [MaxPooling2D().name, MaxPooling2D().name] == ["max_pooling2d", "max_pooling2d_1"]
    assert GlobalAveragePooling2D().name == "global_average_pooling2d"
    assert AveragePooling1D().name == "average_pooling1d"
    layer = MaxPooling2D(3, strides=(1, 2), padding="same")
    config = layer.get_config()
    assert config["pool_size"] == (3, 3) and config["strides"] == (1, 2)
    assert list(config) == ["name", "trainable", "dtype", "pool_size", "padding", "strides",
                            "data_format"]
    clone = MaxPooling2D.from_config(config)
    assert clone.get_config() == config
    assert GlobalMaxPooling1D(keepdims=True).get_config()["keepdims"] is True
    layer.build((None, 8, 8, 3))
    assert layer.count_params() == 0 and layer.weights == []
    assert AveragePooling2D().strides == (2, 2) and MaxPooling1D().pool_size == (2,)


def test_bad_arguments_name_what_was_expected_and_received():
    with pytest.raises(ValueError, match="channels_last.*Received: data_format=channels_first"):
        MaxPooling2D(data_format="channels_first")
    with pytest.raises(ValueError, match="channels_last"):
        GlobalAveragePooling2D(data_format="channels_first")
    with pytest.raises(ValueError, match="must be one of"):
        MaxPooling2D(data_format="nhwc")
    with pytest.raises(ValueError, match="'valid' or 'same'. Received: padding=full"):
        AveragePooling2D(padding="full")
    with pytest.raises(ValueError, match=r"`pool_size` argument must be a tuple of 2 integers"):
        MaxPooling2D((2, 2, 2))
    with pytest.raises(ValueError, match="do not satisfy `value > 0`"):
        MaxPooling1D(0)
    with pytest.raises(ValueError, match="zero or negative"):
        MaxPooling2D((3, 3))(np.ones((1, 2, 2, 1)))
    with pytest.raises(ValueError, match='"max_pooling1d.*expected ndim=3, found ndim=4'):
        MaxPooling1D()(np.ones((1, 4, 4, 1)))


def test_same_padding_case_insensitive_and_float64_kept():
    layer = AveragePooling2D(2, padding="SAME")
    assert layer.get_config()["padding"] == "SAME"
    assert layer(np.ones((1, 3, 3, 1))).shape == (1, 2, 2, 1)
    y, _ = layer.forward(np.ones((1, 3, 3, 1)))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, 1.0)  # padding is not averaged in


def test_sequential_with_pooling_trains_and_summarises():
    keras.backend.clear_session()
    model = keras.Sequential([Input(shape=(8, 8, 1)), MaxPooling2D((2, 2)), Flatten(),
                              Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 1)).astype("float32")
    y = (x[:, :4].max(axis=(1, 2, 3)) > x[:, 4:].max(axis=(1, 2, 3))).astype("int64")
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.9 * history.history["loss"][0]
    lines = []
    model.summary(print_fn=lines.append)
    assert f"{'max_pooling2d (MaxPooling2D)':29}{'(None, 4, 4, 1)':26}{'0':10}" in lines
    assert model.layers[0].count_params() == 0


def test_seed_003_summary_rows():
    """The pooling rows of seed 003's summary (Dense on the last axis stands in for Conv2D
    to reach the same shapes)."""
    from fcnet.layers.spatial import Cropping2D

    keras.backend.clear_session()
    model = keras.Sequential([Input(shape=(26, 26, 32)), MaxPooling2D((2, 2)), Cropping2D(1),
                              Dense(64), MaxPooling2D((2, 2)), Flatten()])
    lines = []
    model.summary(print_fn=lines.append)
    assert "max_pooling2d (MaxPooling2D) (None, 13, 13, 32)        0         " in lines
    assert "max_pooling2d_1 (MaxPooling2 (None, 5, 5, 64)          0         " in lines
    assert model.output_shape == (None, 1600)


# ---------------------------------------------------------------------- real Keras
@pytest.fixture(scope="module")
def real_keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


KERAS_CASES = [
    ("MaxPooling2D", dict(pool_size=(3, 3), strides=(2, 2), padding="same"), (2, 7, 5, 3)),
    ("AveragePooling2D", dict(pool_size=(3, 3), strides=(2, 2), padding="same"), (2, 7, 5, 3)),
    ("AveragePooling2D", dict(pool_size=(2, 3), strides=(1, 2), padding="same"), (2, 6, 9, 2)),
    ("MaxPooling2D", dict(pool_size=(2, 2)), (2, 11, 11, 4)),
    ("AveragePooling2D", dict(pool_size=2, padding="valid"), (2, 11, 11, 4)),
    ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), (2, 8, 3)),
    ("AveragePooling1D", dict(pool_size=3, strides=1, padding="same"), (2, 8, 3)),
    ("GlobalMaxPooling2D", dict(keepdims=True), (2, 5, 4, 3)),
    ("GlobalAveragePooling2D", dict(), (2, 5, 4, 3)),
    ("GlobalMaxPooling1D", dict(), (2, 6, 3)),
    ("GlobalAveragePooling1D", dict(keepdims=True), (2, 6, 3)),
]


@pytest.mark.parametrize("name, kwargs, shape", KERAS_CASES)
def test_outputs_shapes_and_configs_equal_keras(real_keras, name, kwargs, shape):
    import fcnet.layers.pooling as ours

    ke_layer = getattr(real_keras.layers, name)(**kwargs)
    fc_layer = getattr(ours, name)(**kwargs)
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    np.testing.assert_allclose(fc_layer(x), np.asarray(ke_layer(x)), rtol=1e-6, atol=1e-6)
    none_shape = (None,) + shape[1:]
    assert fc_layer.compute_output_shape(none_shape) == tuple(
        ke_layer.compute_output_shape(none_shape))
    ke_config, fc_config = ke_layer.get_config(), fc_layer.get_config()
    ke_config.pop("name"), fc_config.pop("name")
    assert fc_config == ke_config
    clone = type(fc_layer).from_config(ke_layer.get_config()).get_config()  # a Keras config
    assert clone.pop("name") == ke_layer.name and clone == ke_config


@pytest.mark.parametrize("name, kwargs, shape", KERAS_CASES[:6])
def test_gradients_equal_jax(real_keras, name, kwargs, shape):
    if real_keras.backend.backend() != "jax":
        pytest.skip("the gradient comparison uses jax.grad")
    import jax

    import fcnet.layers.pooling as ours

    ke_layer = getattr(real_keras.layers, name)(**kwargs)
    fc_layer = getattr(ours, name)(**kwargs)
    x = distinct(*shape).astype("float32")
    y, ctx = fc_layer.forward(x)
    dy = np.random.default_rng(2).normal(size=y.shape).astype("float32")
    expected = jax.grad(lambda a: (ke_layer(a) * dy).sum())(x)
    np.testing.assert_allclose(fc_layer.backward(ctx, dy), np.asarray(expected),
                               rtol=1e-6, atol=1e-6)
