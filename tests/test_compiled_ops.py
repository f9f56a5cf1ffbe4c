"""fcnet._conv: the compiled max pooling, col2im and relu backward (with the bias
gradient) against the NumPy reference paths (``FCNET_FUSED=0``), through the ops, the
layers and a training model; the kernels' argument checks; the NumPy fallbacks."""

import numpy as np
import pytest

import fcnet
from fcnet.ops import compiled, conv, pooling

needs_conv = pytest.mark.skipif(
    compiled.kernels is None,
    reason="fcnet._conv is not built (no C compiler or Python headers at install)")

pytestmark = needs_conv


@pytest.fixture
def numpy_only(monkeypatch):
    """Runs the block on the NumPy reference: ``with numpy_only(): ...``."""
    class Switch:
        def __enter__(self):
            monkeypatch.setenv("FCNET_FUSED", "0")

        def __exit__(self, *exc):
            monkeypatch.delenv("FCNET_FUSED", raising=False)
    monkeypatch.delenv("FCNET_FUSED", raising=False)
    return Switch


def _rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# ---- max pooling -------------------------------------------------------------------------

POOLS_2D = [  # (input h, w, pool, strides, padding)
    (8, 8, (2, 2), (2, 2), "valid"),
    (9, 7, (2, 2), (2, 2), "valid"),      # rows and columns no window reaches
    (9, 7, (3, 3), (2, 2), "valid"),      # overlapping windows
    (9, 7, (3, 2), (1, 1), "same"),       # overlapping, padded
    (7, 10, (2, 3), (3, 2), "same"),      # strides wider than the pool
    (5, 5, (5, 5), (1, 1), "valid"),      # one window
    (6, 6, (1, 1), (1, 1), "valid"),
]


def _max_pool_both(x, pool, strides, padding, dy, numpy_only):
    y, ctx = pooling.max_pool_forward(x, pool, strides, padding)
    dx = pooling.max_pool_backward(ctx, dy)
    assert ctx[0] is None  # the compiled path ran
    with numpy_only():
        y0, ctx0 = pooling.max_pool_forward(x, pool, strides, padding)
        dx0 = pooling.max_pool_backward(ctx0, dy)
    assert ctx0[0] is not None
    return y, dx, y0, dx0


@pytest.mark.parametrize("h, w, pool, strides, padding", POOLS_2D)
@pytest.mark.parametrize("channels", [1, 5, 32])
def test_max_pool_2d_equals_numpy(h, w, pool, strides, padding, channels, numpy_only):
    rng = np.random.default_rng(h * w + channels)
    x = _rand(rng, 3, h, w, channels)
    out, _ = pooling.pooling_geometry((h, w), pool, strides, padding)
    dy = _rand(rng, 3, *out, channels)
    y, dx, y0, dx0 = _max_pool_both(x, pool, strides, padding, dy, numpy_only)
    np.testing.assert_array_equal(y, y0)
    assert y.dtype == dx.dtype == np.float32 and dx.shape == x.shape
    np.testing.assert_array_equal(dx, dx0)  # same sums in the same order


@pytest.mark.parametrize("pool, strides, padding", [
    ((2, 2), (2, 2), "valid"), ((3, 3), (1, 1), "same"), ((3, 3), (2, 2), "valid")])
def test_max_pool_ties_route_to_the_first_maximum(pool, strides, padding, numpy_only):
    rng = np.random.default_rng(1)
    # few distinct values: many ties; then whole constant samples (all-equal windows)
    x = rng.integers(-2, 3, size=(4, 9, 9, 6)).astype(np.float32)
    x[1] = 0.5
    x[2, :, :, 0] = -np.inf
    out, _ = pooling.pooling_geometry((9, 9), pool, strides, padding)
    dy = _rand(rng, 4, *out, 6)
    y, dx, y0, dx0 = _max_pool_both(x, pool, strides, padding, dy, numpy_only)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(dx, dx0)
    if strides == pool:  # no overlap: each dy lands once, on the window's first maximum
        assert np.count_nonzero(dx[1]) == np.count_nonzero(dy[1])
        np.testing.assert_array_equal(dx[1, ::2, ::2][:out[0], :out[1]], dy[1])


def test_max_pool_argmax_is_the_first_maximum_in_window_order():
    x = np.array([[[3, 5], [5, 1]], [[7, 7], [7, 7]], [[0, -1], [2, 2]]], np.float32)
    x = x.transpose(1, 2, 0)[None]  # (1, 2, 2, 3): three channels, one window each
    y, ctx = pooling.max_pool_forward(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(y.ravel(), [5, 7, 2])
    np.testing.assert_array_equal(ctx[1].ravel(), [1, 0, 2])


@pytest.mark.parametrize("length, pool, strides, padding", [
    (10, (2,), (2,), "valid"), (11, (3,), (2,), "same"), (9, (4,), (1,), "valid")])
def test_max_pool_1d_equals_numpy(length, pool, strides, padding, numpy_only):
    rng = np.random.default_rng(length)
    x = _rand(rng, 4, length, 7)
    out, _ = pooling.pooling_geometry((length,), pool, strides, padding)
    dy = _rand(rng, 4, *out, 7)
    y, dx, y0, dx0 = _max_pool_both(x, pool, strides, padding, dy, numpy_only)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(dx, dx0)


def test_max_pool_nan_propagates_as_numpy(numpy_only):
    x = np.zeros((1, 4, 4, 2), np.float32)
    x[0, 1, 1, 0] = np.nan
    y, _ = pooling.max_pool_forward(x, (2, 2), (2, 2))
    with numpy_only():
        y0, _ = pooling.max_pool_forward(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(np.isnan(y), np.isnan(y0))


def test_max_pool_falls_back_to_numpy_where_the_kernel_may_not_run(numpy_only):
    rng = np.random.default_rng(2)
    x64 = rng.standard_normal((2, 6, 6, 3))
    _, ctx = pooling.max_pool_forward(x64, (2, 2), (2, 2))
    assert ctx[0] is not None  # float64: NumPy
    x3 = _rand(rng, 2, 4, 4, 4, 3)
    _, ctx = pooling.max_pool_forward(x3, (2, 2, 2), (2, 2, 2))
    assert ctx[0] is not None  # 3-D: NumPy
    # a compiled forward, then a dy the kernel does not take: routed from the argmax
    x = _rand(rng, 2, 7, 7, 3)
    y, ctx = pooling.max_pool_forward(x, (3, 3), (2, 2))
    dy = _rand(rng, 2, 3, 3, 3)
    with numpy_only():
        _, ctx0 = pooling.max_pool_forward(x, (3, 3), (2, 2))
        expected = pooling.max_pool_backward(ctx0, dy)
    strided = np.repeat(dy, 2, axis=2)[:, :, ::2]  # not C-contiguous
    np.testing.assert_array_equal(pooling.max_pool_backward(ctx, strided), expected)
    np.testing.assert_allclose(pooling.max_pool_backward(ctx, dy.astype(np.float64)),
                               expected, rtol=1e-7)
    with numpy_only():  # switched off between the passes: still routed from the argmax
        np.testing.assert_array_equal(pooling.max_pool_backward(ctx, dy), expected)


def test_max_pooling_layers_equal_numpy(numpy_only):
    from fcnet.layers.pooling import MaxPooling1D, MaxPooling2D
    rng = np.random.default_rng(3)
    for layer, x in [(MaxPooling2D((3, 3), strides=2, padding="same"), _rand(rng, 2, 9, 8, 4)),
                     (MaxPooling1D(3, strides=1), _rand(rng, 2, 9, 4))]:
        y, ctx = layer.forward(x)
        dy = _rand(rng, *y.shape)
        dx = layer.backward(ctx, dy)
        with numpy_only():
            y0, ctx0 = layer.forward(x)
            dx0 = layer.backward(ctx0, dy)
        np.testing.assert_array_equal(y, y0)
        np.testing.assert_array_equal(dx, dx0)


# ---- col2im ------------------------------------------------------------------------------

CONVS = [  # (spatial input, kernel, strides, dilation, padding, channels, groups)
    ((9, 9), (3, 3), (1, 1), (1, 1), "valid", 16, 1),
    ((10, 9), (3, 2), (2, 1), (1, 1), "same", 8, 1),
    ((11, 11), (3, 3), (1, 1), (2, 2), "same", 12, 1),    # dilation
    ((12, 10), (2, 3), (3, 2), (1, 2), "valid", 9, 1),    # strides wider than the kernel
    ((8, 8), (3, 3), (1, 1), (1, 1), "same", 32, 2),      # groups
    ((13,), (3,), (1,), (1,), "valid", 10, 1),            # 1-D
    ((14,), (4,), (2,), (2,), "same", 16, 1),
    ((15,), (3,), (1,), (1,), "causal", 8, 1),
]


@pytest.mark.parametrize("size, kernel, strides, dilation, padding, channels, groups", CONVS)
def test_col2im_equals_numpy(size, kernel, strides, dilation, padding, channels, groups,
                             numpy_only):
    rng = np.random.default_rng(len(size) * 100 + channels)
    geometry = conv.Geometry.of_conv(size, kernel, strides, dilation, padding, groups)
    n, filters = 3, 6 * groups
    w = _rand(rng, *kernel, channels // groups, filters)
    dz = _rand(rng, n, *geometry.out, filters)
    shape = (n,) + tuple(size) + (channels,)
    dx = conv.conv_input_gradient(dz, w, geometry, shape)
    dcols = conv.empty_cols(geometry, n, channels, np.float32)
    dcols[...] = _rand(rng, *dcols.shape)
    padded = conv.col2im(dcols, geometry, n, channels, crop=False)
    assert compiled.col2im(dcols, geometry, n, channels) is not None  # the kernel runs
    with numpy_only():
        dx0 = conv.conv_input_gradient(dz, w, geometry, shape)
        padded0 = conv.col2im(dcols, geometry, n, channels, crop=False)
    assert dx.dtype == np.float32 and dx.shape == shape
    np.testing.assert_array_equal(dx, dx0)  # the same sums in the same order
    np.testing.assert_array_equal(padded, padded0)


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(5)
    geometry = conv.Geometry.of_conv((9, 8), (3, 3), (2, 1), (1, 2), "same")
    x = _rand(rng, 2, 9, 8, 16)
    cols = conv.im2col(conv.pad(x, geometry), geometry)
    dcols = conv.empty_cols(geometry, 2, 16, np.float32)
    dcols[...] = _rand(rng, *dcols.shape)
    dx = conv.col2im(dcols, geometry, 2, 16)
    lhs = np.sum(cols.astype(np.float64) * dcols)
    np.testing.assert_allclose(lhs, np.sum(x.astype(np.float64) * dx), rtol=1e-5)


def test_conv_transpose_forward_equals_numpy(numpy_only):
    rng = np.random.default_rng(6)
    geometry = conv.Geometry.of_conv_transpose((5, 6), (3, 3), (2, 2), (1, 1), "same")
    x, w = _rand(rng, 2, 5, 6, 10), _rand(rng, 3, 3, 12, 10)
    z, _ = conv.conv_transpose_forward(x, w, None, geometry)
    with numpy_only():
        z0, _ = conv.conv_transpose_forward(x, w, None, geometry)
    np.testing.assert_array_equal(z, z0)
