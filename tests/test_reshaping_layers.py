"""Permute, RepeatVector, UpSampling1D/2D, ZeroPadding1D/2D, Cropping1D/2D: forward
against element-by-element loops, backward against finite differences (float64), shapes
with unknown sizes, configs and errors, and real Keras 3's outputs and configs."""

import itertools
import os

import numpy as np
import pytest

import fcnet as keras
from fcnet.layers.reshaping import Permute, RepeatVector
from fcnet.layers.spatial import (
    Cropping1D,
    Cropping2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from fcnet.testing import check_gradients

RNG = np.random.default_rng(0)
X4 = RNG.normal(size=(2, 5, 4, 3))
X3 = RNG.normal(size=(2, 6, 3))
X2 = RNG.normal(size=(3, 4))


def loop_upsample(x, factors):
    out = np.zeros((x.shape[0],) + tuple(n * f for n, f in zip(x.shape[1:-1], factors))
                   + (x.shape[-1],))
    for idx in itertools.product(*(range(n) for n in out.shape)):
        src = (idx[0],) + tuple(i // f for i, f in zip(idx[1:-1], factors)) + (idx[-1],)
        out[idx] = x[src]
    return out


def loop_pad(x, pads):
    out = np.zeros((x.shape[0],) + tuple(n + a + b for n, (a, b) in zip(x.shape[1:-1], pads))
                   + (x.shape[-1],))
    for idx in itertools.product(*(range(n) for n in x.shape)):
        dst = (idx[0],) + tuple(i + a for i, (a, _) in zip(idx[1:-1], pads)) + (idx[-1],)
        out[dst] = x[idx]
    return out


def loop_crop(x, crops):
    out = np.zeros((x.shape[0],) + tuple(n - a - b for n, (a, b) in zip(x.shape[1:-1], crops))
                   + (x.shape[-1],))
    for idx in itertools.product(*(range(n) for n in out.shape)):
        src = (idx[0],) + tuple(i + a for i, (a, _) in zip(idx[1:-1], crops)) + (idx[-1],)
        out[idx] = x[src]
    return out


def loop_permute(x, dims):
    out = np.zeros((x.shape[0],) + tuple(x.shape[d] for d in dims))
    for idx in itertools.product(*(range(n) for n in x.shape)):
        out[(idx[0],) + tuple(idx[d] for d in dims)] = x[idx]
    return out


def loop_repeat(x, n):
    out = np.zeros((x.shape[0], n, x.shape[1]))
    for b, t, f in itertools.product(range(x.shape[0]), range(n), range(x.shape[1])):
        out[b, t, f] = x[b, f]
    return out


CASES = [  # (make layer, input, reference output)
    (lambda: Permute((2, 1)), X3, lambda: loop_permute(X3, (2, 1))),
    (lambda: Permute((3, 1, 2)), X4, lambda: loop_permute(X4, (3, 1, 2))),
    (lambda: RepeatVector(3), X2, lambda: loop_repeat(X2, 3)),
    (lambda: UpSampling2D(), X4, lambda: loop_upsample(X4, (2, 2))),
    (lambda: UpSampling2D((3, 1)), X4, lambda: loop_upsample(X4, (3, 1))),
    (lambda: UpSampling1D(3), X3, lambda: loop_upsample(X3, (3,))),
    (lambda: ZeroPadding2D(), X4, lambda: loop_pad(X4, ((1, 1), (1, 1)))),
    (lambda: ZeroPadding2D(2), X4, lambda: loop_pad(X4, ((2, 2), (2, 2)))),
    (lambda: ZeroPadding2D((1, 0)), X4, lambda: loop_pad(X4, ((1, 1), (0, 0)))),
    (lambda: ZeroPadding2D(((0, 2), (3, 1))), X4, lambda: loop_pad(X4, ((0, 2), (3, 1)))),
    (lambda: ZeroPadding1D((2, 1)), X3, lambda: loop_pad(X3, ((2, 1),))),
    (lambda: Cropping2D(1), X4, lambda: loop_crop(X4, ((1, 1), (1, 1)))),
    (lambda: Cropping2D((2, 0)), X4, lambda: loop_crop(X4, ((2, 2), (0, 0)))),
    (lambda: Cropping2D(((0, 2), (1, 0))), X4, lambda: loop_crop(X4, ((0, 2), (1, 0)))),
    (lambda: Cropping1D(), X3, lambda: loop_crop(X3, ((1, 1),))),
    (lambda: Cropping1D((0, 4)), X3, lambda: loop_crop(X3, ((0, 4),))),
]


@pytest.mark.parametrize("make, x, reference", CASES)
def test_forward_backward_shapes_and_configs(make, x, reference):
    layer = make()
    y = layer(x)
    assert y.dtype == np.float32
    expected = reference()
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + expected.shape[1:]
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    out, ctx = layer.forward(x.astype("float32"))
    assert layer.backward(ctx, np.ones_like(out)).dtype == np.float32
    check_gradients(layer, x)


def test_unknown_sizes_pass_through():
    assert UpSampling2D((2, 3)).compute_output_shape((None, None, 4, 2)) == (None, None, 12, 2)
    assert ZeroPadding2D(1).compute_output_shape((None, 5, None, 2)) == (None, 7, None, 2)
    assert Cropping2D(1).compute_output_shape((None, None, 5, 2)) == (None, None, 3, 2)
    assert Cropping1D().compute_output_shape((None, None, 2)) == (None, None, 2)
    assert UpSampling1D().compute_output_shape((4, None, 2)) == (4, None, 2)
    assert Permute((2, 1)).compute_output_shape((None, None, 3)) == (None, 3, None)


def test_names_and_defaults():
    keras.backend.clear_session()
    assert [ZeroPadding2D().name, ZeroPadding2D().name] == ["zero_padding2d", "zero_padding2d_1"]
    assert UpSampling2D().name == "up_sampling2d" and RepeatVector(2).name == "repeat_vector"
    assert ZeroPadding2D().padding == ((1, 1), (1, 1))
    assert Cropping2D().cropping == ((0, 0), (0, 0)) and Cropping1D().cropping == (1, 1)
    assert UpSampling2D().size == (2, 2) and UpSampling1D().size == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="consecutive and start from 1. Received dims="):
        Permute((1, 3))
    with pytest.raises(ValueError, match="positive integer. Received: n=0"):
        RepeatVector(0)
    with pytest.raises(TypeError, match="integer value for `n`"):
        RepeatVector(2.0)
    with pytest.raises(ValueError, match="two elements. Received: padding=(.*)"):
        ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="cannot be negative. Received: cropping=-1"):
        Cropping2D(-1)
    with pytest.raises(ValueError, match="should be smaller than the corresponding spatial"):
        Cropping2D(((3, 2), (0, 0)))(X4)
    with pytest.raises(ValueError, match="smaller than the input length"):
        Cropping1D((3, 3))(X3)
    with pytest.raises(ValueError, match="channels_last"):
        ZeroPadding2D(data_format="channels_first")
    with pytest.raises(NotImplementedError, match="nearest"):
        UpSampling2D(interpolation="bilinear")
    with pytest.raises(ValueError, match="Received: interpolation=cubic"):
        UpSampling2D(interpolation="cubic")
    with pytest.raises(ValueError, match='"repeat_vector.*expected ndim=2, found ndim=3'):
        RepeatVector(2)(X3)


@pytest.fixture(scope="module")
def real_keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


@pytest.mark.parametrize("name, kwargs, x", [
    ("Permute", dict(dims=(3, 1, 2)), X4),
    ("RepeatVector", dict(n=3), X2),
    ("UpSampling2D", dict(size=(3, 2)), X4),
    ("UpSampling1D", dict(size=3), X3),
    ("ZeroPadding2D", dict(padding=((0, 2), (3, 1))), X4),
    ("ZeroPadding2D", dict(padding=2), X4),
    ("ZeroPadding1D", dict(padding=(2, 1)), X3),
    ("Cropping2D", dict(cropping=((0, 2), (1, 0))), X4),
    ("Cropping2D", dict(cropping=(1, 1)), X4),
    ("Cropping1D", dict(cropping=(1, 2)), X3),
])
def test_outputs_shapes_and_configs_equal_keras(real_keras, name, kwargs, x):
    import fcnet.layers.reshaping as reshaping
    import fcnet.layers.spatial as spatial

    ke_layer = getattr(real_keras.layers, name)(**kwargs)
    fc_layer = getattr(reshaping, name, None) or getattr(spatial, name)
    fc_layer = fc_layer(**kwargs)
    x = x.astype("float32")
    np.testing.assert_allclose(fc_layer(x), np.asarray(ke_layer(x)), rtol=1e-6, atol=1e-6)
    none_shape = (None,) + x.shape[1:]
    assert fc_layer.compute_output_shape(none_shape) == tuple(
        ke_layer.compute_output_shape(none_shape))
    ke_config, fc_config = ke_layer.get_config(), fc_layer.get_config()
    ke_config.pop("name"), fc_config.pop("name")
    assert fc_config == ke_config
    clone = type(fc_layer).from_config(ke_layer.get_config()).get_config()
    assert clone.pop("name") == ke_layer.name and clone == ke_config
