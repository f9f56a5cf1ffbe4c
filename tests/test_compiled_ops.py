"""fcnet._conv: the compiled max pooling, col2im and relu backward (with the bias
gradient, and with a convolution's kernel gradient too) against the NumPy reference paths
(``FCNET_FUSED=0``), through the ops, the layers and training models; the kernels'
argument checks; the NumPy fallbacks."""

import numpy as np
import pytest

import fcnet
from fcnet.ops import compiled, conv, conv_transpose, pooling

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


@pytest.mark.parametrize("h, w", [(8, 6), (9, 7)])  # windows tiling the input; leaving gaps
def test_max_pool_backward_writes_every_entry(h, w, numpy_only):
    # the kernel writes into a buffer that is not zeroed beforehand (NaN here)
    rng = np.random.default_rng(h)
    x, dy = _rand(rng, 2, h, w, 3), _rand(rng, 2, h // 2, w // 2, 3)
    _, ctx = pooling.max_pool_forward(x, (2, 2), (2, 2))
    dx = np.full(x.shape, np.nan, np.float32)
    compiled.kernels.max_pool2d_backward(dy, ctx[1], dx, 2, h, w, 3, h // 2, w // 2,
                                         2, 2, 2, 2)
    with numpy_only():
        _, ctx0 = pooling.max_pool_forward(x, (2, 2), (2, 2))
        dx0 = pooling.max_pool_backward(ctx0, dy)
    np.testing.assert_array_equal(dx, dx0)


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
    ((28, 28), (3, 3), (1, 1), (1, 1), "valid", 1, 1),    # few channels: transposed layout
    ((9, 8), (3, 2), (2, 1), (1, 1), "same", 3, 1),
    ((11, 10), (3, 3), (1, 1), (2, 2), "same", 2, 1),
    ((10, 9), (2, 3), (3, 2), (1, 1), "valid", 4, 2),
    ((1, 1), (3, 3), (1, 1), (1, 1), "same", 1, 1),
    ((12,), (3,), (2,), (1,), "causal", 5, 1),
    ((9,), (1,), (2,), (1,), "valid", 1, 1),             # K = 1
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
    few = conv.patches_transposed(channels // groups)
    assert compiled.col2im(dcols, geometry, n, channels, few) is not None  # the kernel runs
    with numpy_only():
        dx0 = conv.conv_input_gradient(dz, w, geometry, shape)
        padded0 = conv.col2im(dcols, geometry, n, channels, crop=False)
    assert dx.dtype == np.float32 and dx.shape == shape
    np.testing.assert_array_equal(dx, dx0)  # the same sums in the same order
    np.testing.assert_array_equal(padded, padded0)


# ---- im2col ------------------------------------------------------------------------------

IM2COLS = CONVS + [  # both layouts
    ((13, 13), (3, 3), (1, 1), (1, 1), "valid", 32, 1),   # the 13×13×32 → 3×3 patches
    ((10, 11), (3, 3), (2, 2), (2, 1), "same", 24, 3),    # groups, strides, dilation
    ((12,), (3,), (1,), (3,), "causal", 16, 2),           # 1-D dilated causal, groups
    ((7, 6), (2, 2), (1, 1), (1, 1), "valid", 8, 1),
]


@pytest.mark.parametrize("size, kernel, strides, dilation, padding, channels, groups",
                         IM2COLS)
def test_im2col_equals_numpy(size, kernel, strides, dilation, padding, channels,
                                        groups, numpy_only):
    rng = np.random.default_rng(len(size) * 10 + channels + groups)
    geometry = conv.Geometry.of_conv(size, kernel, strides, dilation, padding, groups)
    x = _rand(rng, 3, *size, channels)
    padded = conv.pad(x, geometry)
    few = conv.patches_transposed(channels // groups)
    assert compiled.im2col(padded, geometry, few) is not None  # the kernel runs
    cols = conv.im2col(padded, geometry)
    with numpy_only():
        cols0 = conv.im2col(padded, geometry)
    assert cols.shape == cols0.shape and cols.dtype == np.float32
    np.testing.assert_array_equal(cols, cols0)  # a copy: the same bits
    # the reference's layout (the products and col2im read it so)
    assert (cols.transpose(0, 2, 1) if few else cols.transpose(1, 0, 2)).flags.c_contiguous


def test_im2col_declines_what_the_kernel_does_not_take(numpy_only, monkeypatch):
    rng = np.random.default_rng(8)
    geometry = conv.Geometry.of_conv((9, 9), (3, 3), (1, 1), (1, 1), "valid")
    x = _rand(rng, 2, 9, 9, 16)
    assert compiled.im2col(x.astype(np.float64), geometry) is None
    assert compiled.im2col(x[:, ::-1], geometry) is None  # not C-contiguous
    assert compiled.im2col(x[:, :8], geometry) is None    # not the geometry's size
    g3 = conv.Geometry.of_conv((5, 5, 5), (3, 3, 3), (1, 1, 1), (1, 1, 1), "valid")
    assert compiled.im2col(_rand(rng, 1, 5, 5, 5, 16), g3) is None  # 3-D
    assert compiled.im2col(_rand(rng, 1, 5, 5, 5, 2), g3, True) is None
    with numpy_only():
        assert compiled.im2col(x, geometry) is None
    monkeypatch.setattr(compiled, "kernels", None)
    assert compiled.im2col(x, geometry) is None
    monkeypatch.undo()
    # the declined inputs still give the reference's patches
    for a in (x.astype(np.float64), np.asfortranarray(x)):
        cols = conv.im2col(a, geometry)
        with numpy_only():
            np.testing.assert_array_equal(cols, conv.im2col(a, geometry))


def test_im2col_kernel_checks_its_arguments():
    x = np.zeros((1, 5, 5, 8), np.float32)
    cols = np.zeros((9, 72), np.float32)
    compiled.kernels.im2col2d(x, cols, 1, 5, 5, 8, 1, 3, 3, 3, 3, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="inside"):
        compiled.kernels.im2col2d(x, cols, 1, 5, 5, 8, 1, 3, 3, 3, 3, 2, 2, 1, 1)
    with pytest.raises(ValueError, match="elements"):
        compiled.kernels.im2col2d(x, cols[:4], 1, 5, 5, 8, 1, 3, 3, 3, 3, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="positive"):
        compiled.kernels.im2col2d(x, cols, 1, 5, 5, 8, 0, 3, 3, 3, 3, 1, 1, 1, 1)
    cols_t = np.zeros((72, 9), np.float32)
    x[...] = np.arange(x.size, dtype=np.float32).reshape(x.shape)
    compiled.kernels.im2col2d(x, cols_t, 1, 5, 5, 8, 1, 3, 3, 3, 3, 1, 1, 1, 1, True)
    compiled.kernels.im2col2d(x, cols, 1, 5, 5, 8, 1, 3, 3, 3, 3, 1, 1, 1, 1)
    np.testing.assert_array_equal(cols_t, cols.T)
    with pytest.raises(TypeError, match="float32"):
        compiled.kernels.im2col2d(x.astype(np.float64), cols, 1, 5, 5, 8, 1, 3, 3, 3, 3,
                                  1, 1, 1, 1)


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
    z, _ = conv_transpose.conv_transpose_forward(x, w, None, geometry)
    with numpy_only():
        z0, _ = conv_transpose.conv_transpose_forward(x, w, None, geometry)
    np.testing.assert_array_equal(z, z0)


# ---- relu backward with the bias gradient ------------------------------------------------

@pytest.mark.parametrize("shape", [(7, 13), (4, 6, 5, 33), (1, 1), (0, 8)])
@pytest.mark.parametrize("add", [False, True])
def test_relu_backward_bias_equals_numpy(shape, add):
    rng = np.random.default_rng(sum(shape))
    y = np.maximum(_rand(rng, *shape), 0)
    y[..., :1] = 0  # a column that passes nothing
    dy = _rand(rng, *shape)
    dy_before = dy.copy()
    db = _rand(rng, shape[-1])
    db0 = db.copy()
    dz = compiled.relu_backward_bias(dy, y, db, add)
    expected = dy * (y > 0)
    np.testing.assert_array_equal(dz, expected)  # the reference's bits
    np.testing.assert_array_equal(dy, dy_before)  # dy is never written
    assert dz is not dy and dz.dtype == np.float32
    total = expected.reshape(-1, shape[-1]).astype(np.float64).sum(axis=0)
    want = (db0 + total.astype(np.float32)) if add else total.astype(np.float32)
    np.testing.assert_allclose(db, want, rtol=1e-6, atol=1e-6)


def test_relu_backward_bias_declines_what_the_kernel_does_not_take(numpy_only):
    rng = np.random.default_rng(7)
    y, dy, db = _rand(rng, 5, 4), _rand(rng, 5, 4), np.zeros(4, np.float32)
    assert compiled.relu_backward_bias(dy.astype(np.float64), y, db, False) is None
    assert compiled.relu_backward_bias(dy.T.copy().T, y, db, False) is None  # Fortran order
    assert compiled.relu_backward_bias(dy, y, np.zeros(3, np.float32), False) is None
    with numpy_only():
        assert compiled.relu_backward_bias(dy, y, db, False) is None


@pytest.mark.parametrize("shape", [(7, 13), (2, 5, 5, 33), (0, 4)])
def test_bias_relu_equals_numpy(shape, numpy_only):
    rng = np.random.default_rng(sum(shape) + 1)
    z, bias = _rand(rng, *shape), _rand(rng, shape[-1])
    if z.size:
        z.reshape(-1)[:3] = [np.nan, -np.inf, np.inf]  # maximum keeps NaN, clips -inf
    expected = np.maximum(z + bias, 0)
    got = z.copy()
    assert compiled.bias_relu(got, bias) is got  # in place
    np.testing.assert_array_equal(got, expected)
    assert compiled.bias_relu(z.astype(np.float64), bias) is None
    with numpy_only():
        assert compiled.bias_relu(z.copy(), bias) is None


def test_kernels_check_their_arguments():
    k = compiled.kernels
    x = np.zeros((1, 4, 4, 2), np.float32)
    y, arg = np.zeros((1, 2, 2, 2), np.float32), np.zeros((1, 2, 2, 2), np.int32)
    with pytest.raises(TypeError, match="`x` must be a float32 buffer"):
        k.max_pool2d_forward(x.astype(np.float64), y, arg, 1, 4, 4, 2, 2, 2, 2, 2, 2, 2)
    with pytest.raises(TypeError, match="`arg` must be a int32 buffer|`arg` must be a"):
        k.max_pool2d_forward(x, y, arg.astype(np.int64), 1, 4, 4, 2, 2, 2, 2, 2, 2, 2)
    with pytest.raises(ValueError, match="inside the"):
        k.max_pool2d_forward(x, y, arg, 1, 4, 4, 2, 2, 2, 3, 3, 2, 2)
    with pytest.raises(ValueError, match="wrong number of elements"):
        k.max_pool2d_forward(x[:, :3], y, arg, 1, 4, 4, 2, 2, 2, 2, 2, 2, 2)
    with pytest.raises(ValueError, match="positive"):
        k.max_pool2d_forward(x, y, arg, 1, 4, 4, 2, 2, 2, 2, 2, 0, 2)
    with pytest.raises(ValueError, match="window offsets"):
        k.max_pool2d_backward(y, arg + 4, x, 1, 4, 4, 2, 2, 2, 2, 2, 2, 2)
    with pytest.raises(ValueError, match="overlaps"):
        k.relu_backward_bias(y, y, y, y.reshape(-1)[:2], 4, 2, False)
    with pytest.raises(ValueError, match="read-only|C-contiguous"):
        ro = y.copy()
        ro.flags.writeable = False
        k.max_pool2d_forward(x, ro, arg, 1, 4, 4, 2, 2, 2, 2, 2, 2, 2)


# ---- through the layers and a training model ---------------------------------------------

def _layer_pass(layer, x, dy, overwrite_first=True):
    from fcnet.layers import Step
    step = Step()
    if not overwrite_first:
        step.first_write(layer)
    y, ctx = layer.forward_step(x, True, step)
    dx = layer.backward_step(ctx, dy, step)
    return y, dx, [w.grad.copy() for w in layer.trainable_weights]


@pytest.mark.parametrize("make, x_shape", [
    (lambda: fcnet.layers.Dense(7, activation="relu"), (6, 5)),
    (lambda: fcnet.layers.Conv2D(9, 3, padding="same", activation="relu"), (2, 6, 6, 8)),
    (lambda: fcnet.layers.Conv1D(8, 3, strides=2, activation="relu"), (3, 11, 8)),
])
@pytest.mark.parametrize("overwrite_first", [True, False])
def test_relu_layers_equal_numpy(make, x_shape, overwrite_first, numpy_only):
    rng = np.random.default_rng(8)
    layer = make()
    layer.build(x_shape)
    x = _rand(rng, *x_shape)
    dy = _rand(rng, *layer.compute_output_shape(x_shape))
    dy_before = dy.copy()
    for w in layer.trainable_weights:
        w.grad[...] = 1.0  # what an earlier write of the pass left (adding keeps it)
    y, dx, grads = _layer_pass(layer, x, dy, overwrite_first)
    for w in layer.trainable_weights:
        w.grad[...] = 1.0
    with numpy_only():
        y0, dx0, grads0 = _layer_pass(layer, x, dy, overwrite_first)
    np.testing.assert_array_equal(dy, dy_before)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_allclose(dx, dx0, rtol=1e-6, atol=1e-6)
    for g, g0 in zip(grads, grads0):
        np.testing.assert_allclose(g, g0, rtol=1e-5, atol=1e-5)  # bias: summed in double


def test_other_activations_and_frozen_bias_take_the_reference_path(monkeypatch):
    calls = []
    real = compiled.relu_backward_bias
    monkeypatch.setattr(compiled, "relu_backward_bias",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(9)
    x, dy = _rand(rng, 4, 5), _rand(rng, 4, 3)
    for layer in [fcnet.layers.Dense(3, activation="tanh"),
                  fcnet.layers.Dense(3, activation="relu", use_bias=False)]:
        layer.build(x.shape)
        _layer_pass(layer, x, dy)
    frozen = fcnet.layers.Dense(3, activation="relu")
    frozen.build(x.shape)
    frozen.bias.trainable = False
    _layer_pass(frozen, x, dy)
    assert calls == []
    used = fcnet.layers.Dense(3, activation="relu")
    used.build(x.shape)
    _layer_pass(used, x, dy)
    assert calls == [1]


# ---- a convolution's relu backward with its kernel and bias gradients ---------------------

@pytest.mark.parametrize("rows, f, k", [(43264 // 64, 32, 9), (300, 5, 3), (129, 40, 16),
                                        (1, 1, 1), (0, 4, 2)])
@pytest.mark.parametrize("add", [False, True])
@pytest.mark.parametrize("need_dz", [False, True])
def test_relu_backward_conv_equals_numpy(rows, f, k, add, need_dz):
    rng = np.random.default_rng(rows + f + k)
    y = np.maximum(_rand(rng, rows, f), 0)
    y[:, :1] = 0  # a column that passes nothing
    dy, cols_t = _rand(rng, rows, f), _rand(rng, k, rows)
    dy_before = dy.copy()
    dw, db = _rand(rng, k, f), _rand(rng, f)
    dw0, db0 = dw.copy(), db.copy()
    (dz,) = compiled.relu_backward_conv(dy, y, cols_t, dw, db, add, need_dz)
    expected = dy * (y > 0)
    if need_dz:
        np.testing.assert_array_equal(dz, expected)  # the reference's bits
    else:
        assert dz is None
    np.testing.assert_array_equal(dy, dy_before)
    want_w = cols_t.T.T @ expected  # the reference's product, cols.T @ dz
    want_b = expected.sum(axis=0)
    if add:
        want_w, want_b = want_w + dw0, want_b + db0
    for got, want in [(dw, want_w), (db, want_b)]:  # 1e-5 of the largest entry
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1, abs(want).max()))
    exact = cols_t.astype(np.float64) @ expected.astype(np.float64)  # tiles in double:
    scale = np.abs(cols_t.astype(np.float64)) @ np.abs(expected)     # within float32's
    np.testing.assert_array_less(np.abs(dw - (dw0 if add else 0) - exact),  # error bound
                                 1e-6 * scale + 1e-6)


def test_relu_backward_conv_declines_what_the_kernel_does_not_take(numpy_only):
    rng = np.random.default_rng(11)
    y, dy = _rand(rng, 6, 4), _rand(rng, 6, 4)
    cols_t, dw, db = _rand(rng, 3, 6), np.zeros((3, 4), np.float32), np.zeros(4, np.float32)
    run = compiled.relu_backward_conv
    assert run(dy, y, cols_t, dw, db, False, True) is not None
    assert run(dy.astype(np.float64), y, cols_t, dw, db, False, True) is None
    assert run(dy, y, cols_t.T.copy().T, dw, db, False, True) is None  # not contiguous
    assert run(dy, y, _rand(rng, 17, 6), np.zeros((17, 4), np.float32), db, False,
               True) is None  # K > 16
    assert run(dy, y, cols_t, np.zeros((2, 4), np.float32), db, False, True) is None
    assert run(dy, y, cols_t, dw, np.zeros(3, np.float32), False, True) is None
    with numpy_only():
        assert run(dy, y, cols_t, dw, db, False, True) is None
    with pytest.raises(ValueError, match="`k` in"):
        compiled.kernels.relu_backward_conv(dy, y, cols_t, None, dw, db, 6, 4, 0, False)


def _assert_close_dx(dx, dx0, layer, dz, x_shape):
    """``dx`` within 1e-5 of each entry's absolute-term sum ``col2im(|dz| · |W₂|ᵀ)`` of the
    reference ``dx0`` (the fused pass sums the same terms in another order)."""
    geometry = layer._geometry(tuple(x_shape[1:-1]))
    scale = conv.conv_input_gradient(np.abs(dz).astype(np.float64),
                                     np.abs(layer.kernel.value).astype(np.float64), geometry,
                                     x_shape)
    assert dx.shape == dx0.shape == tuple(x_shape) and dx.dtype == np.float32
    np.testing.assert_array_less(np.abs(dx.astype(np.float64) - dx0), 1e-5 * scale + 1e-30)


DX_GEOMETRIES = [  # (input size, kernel, strides, dilation, padding, channels, filters)
    ((28, 28), (3, 3), (1, 1), (1, 1), "valid", 1, 32),   # seed 003's first layer
    ((9, 8), (2, 2), (2, 2), (1, 1), "same", 3, 6),       # 3 channels, strides, K = 12
    ((9, 11), (3, 2), (2, 1), (1, 1), "same", 2, 8),      # uneven strides and kernel
    ((10, 9), (2, 3), (1, 1), (2, 2), "same", 2, 16),     # dilation, K = 12
    ((7, 7), (4, 4), (1, 1), (1, 1), "valid", 1, 40),     # K = 16, F not a multiple of 32
    ((17,), (3,), (1,), (2,), "causal", 4, 5),            # 1-D, F not a multiple of 8
    ((20,), (5,), (2,), (1,), "valid", 3, 16),            # 1-D, strided, K = 15
]


@pytest.mark.parametrize("size, kernel, strides, dilation, padding, c, f", DX_GEOMETRIES)
@pytest.mark.parametrize("add", [False, True])
def test_relu_backward_conv_dx_equals_numpy(size, kernel, strides, dilation, padding, c, f,
                                            add):
    rng = np.random.default_rng(sum(size) + c + f)
    n = 3
    geometry = conv.Geometry.of_conv(size, kernel, strides, dilation, padding)
    x = _rand(rng, n, *size, c)
    cols_t = np.ascontiguousarray(conv.im2col(conv.pad(x, geometry), geometry)[0].T)
    w = _rand(rng, *kernel, c, f)
    y = np.maximum(_rand(rng, n, *geometry.out, f), 0)
    dy = _rand(rng, *y.shape)
    dy_before, w_before = dy.copy(), w.copy()
    dw, db = _rand(rng, *w.shape), _rand(rng, f)
    dw1, db1 = dw.copy(), db.copy()
    dxp = compiled.relu_backward_conv_dx(dy, y, cols_t, w, dw, db, add, geometry, n)
    assert dxp.shape == (n, *geometry.padded, c)
    # the weight gradients: relu_backward_conv's bits
    compiled.relu_backward_conv(dy, y, cols_t, dw1, db1, add, False)
    np.testing.assert_array_equal(dw, dw1)
    np.testing.assert_array_equal(db, db1)
    np.testing.assert_array_equal(dy, dy_before)
    np.testing.assert_array_equal(w, w_before)
    # the input gradient: the reference's col2im(dz · W₂ᵀ), padding cropped
    dz = dy * (y > 0)
    dx = dxp[conv._inner(geometry)]
    dx0 = conv.conv_input_gradient(dz, w, geometry, x.shape)
    scale = conv.conv_input_gradient(np.abs(dz).astype(np.float64),
                                     np.abs(w).astype(np.float64), geometry, x.shape)
    np.testing.assert_array_less(np.abs(dx.astype(np.float64) - dx0), 1e-5 * scale + 1e-30)
    # the padding's gradient too: the adjoint of the patch copy of the padded input
    dxp0 = conv.col2im(np.ascontiguousarray((dz.reshape(-1, f) @ w.reshape(-1, f).T).T)
                       .T[None], geometry, n, c, crop=False)
    np.testing.assert_allclose(dxp, dxp0, rtol=1e-5, atol=1e-5 * np.abs(dxp0).max())


def test_relu_backward_conv_dx_declines_what_the_kernel_does_not_take(numpy_only):
    rng = np.random.default_rng(14)
    geometry = conv.Geometry.of_conv((6, 6), (3, 3), (1, 1), (1, 1), "valid")
    n, f = 2, 4
    y, dy = _rand(rng, n, 4, 4, f), _rand(rng, n, 4, 4, f)
    cols_t, w = _rand(rng, 9, n * 16), _rand(rng, 3, 3, 1, f)
    dw, db = np.zeros((3, 3, 1, f), np.float32), np.zeros(f, np.float32)
    run = compiled.relu_backward_conv_dx
    assert run(dy, y, cols_t, w, dw, db, False, geometry, n) is not None
    assert run(dy.astype(np.float64), y, cols_t, w, dw, db, False, geometry, n) is None
    assert run(dy, y, cols_t.T.copy().T, w, dw, db, False, geometry, n) is None
    assert run(dy, y, cols_t, w, dw, db, False, geometry, n + 1) is None  # rows differ
    assert run(dy, y, cols_t, w, w, db, False, geometry, n) is None  # gradient = kernel
    grouped = conv.Geometry.of_conv((6, 6), (3, 3), (1, 1), (1, 1), "valid", groups=2)
    assert run(dy, y, cols_t, w, dw, db, False, grouped, n) is None
    big = conv.Geometry.of_conv((6, 6), (3, 3), (1, 1), (1, 1), "valid")
    assert run(dy, y, _rand(rng, 18, n * 16), _rand(rng, 3, 3, 2, f),
               np.zeros((3, 3, 2, f), np.float32), db, False, big, n) is None  # K = 18
    with numpy_only():
        assert run(dy, y, cols_t, w, dw, db, False, geometry, n) is None
    dx = np.zeros((n, 6, 6, 1), np.float32)
    kernels = compiled.kernels
    with pytest.raises(ValueError, match="at most 16 columns"):
        kernels.relu_backward_conv_dx(dy, y, cols_t, w, dw, db, dx, f, n, 6, 6, 2, 4, 4,
                                      3, 3, 1, 1, 1, 1, False)
    with pytest.raises(ValueError, match="inside the"):
        kernels.relu_backward_conv_dx(dy, y, cols_t, w, dw, db, dx, f, n, 6, 6, 1, 5, 4,
                                      3, 3, 1, 1, 1, 1, False)
    with pytest.raises(ValueError, match="`dx` must be"):
        kernels.relu_backward_conv_dx(dy, y, cols_t, w, dw, db, dx[:, :5].copy(), f, n, 6,
                                      6, 1, 4, 4, 3, 3, 1, 1, 1, 1, False)
    with pytest.raises(ValueError, match="overlaps"):
        kernels.relu_backward_conv_dx(dy, y, cols_t, w, dw, db,
                                      dy.reshape(-1)[:n * 36].reshape(n, 6, 6, 1), f, n, 6,
                                      6, 1, 4, 4, 3, 3, 1, 1, 1, 1, False)


def _conv_pass(layer, x, dy, need_dx, overwrite_first):
    from fcnet.layers import Step
    step = Step()
    if not overwrite_first:
        step.first_write(layer)
    y, ctx = layer.forward_step(x, True, step)
    dx = layer.backward_step(ctx, dy, step, need_dx=need_dx)
    return y, dx, [w.grad.copy() for w in layer.trainable_weights]


@pytest.mark.parametrize("make, x_shape", [
    (lambda: fcnet.layers.Conv2D(32, 3, activation="relu"), (4, 28, 28, 1)),
    (lambda: fcnet.layers.Conv2D(6, (2, 2), padding="same", strides=2, activation="relu"),
     (3, 9, 8, 3)),
    (lambda: fcnet.layers.Conv2D(8, 3, dilation_rate=2, padding="same", activation="relu"),
     (2, 9, 9, 1)),
    (lambda: fcnet.layers.Conv1D(5, 3, padding="causal", activation="relu"), (2, 10, 4)),
    (lambda: fcnet.layers.Conv1D(16, 5, strides=2, activation="relu"), (3, 20, 3)),
])
@pytest.mark.parametrize("need_dx", [True, False])
@pytest.mark.parametrize("overwrite_first", [True, False])
def test_conv_relu_fused_backward_equals_numpy(make, x_shape, need_dx, overwrite_first,
                                                monkeypatch, numpy_only):
    calls = []
    for name in ("relu_backward_conv", "relu_backward_conv_dx"):
        real = getattr(compiled, name)
        monkeypatch.setattr(compiled, name, lambda *a, _r=real, _n=name, **k:
                            calls.append(_n) or _r(*a, **k))
    rng = np.random.default_rng(12)
    layer = make()
    layer.build(x_shape)
    layer.bias.assign(_rand(rng, *layer.bias.shape) * 0.1)
    x = _rand(rng, *x_shape)
    dy = _rand(rng, *layer.compute_output_shape(x_shape))
    dy_before = dy.copy()
    for w in layer.trainable_weights:
        w.grad[...] = 1.0  # what an earlier write of the pass left (adding keeps it)
    y, dx, grads = _conv_pass(layer, x, dy, need_dx, overwrite_first)
    # the fused pass ran, with the input gradient in it when asked
    assert calls == ["relu_backward_conv_dx" if need_dx else "relu_backward_conv"]
    for w in layer.trainable_weights:
        w.grad[...] = 1.0
    with numpy_only():
        y0, dx0, grads0 = _conv_pass(layer, x, dy, need_dx, overwrite_first)
    np.testing.assert_array_equal(dy, dy_before)
    np.testing.assert_allclose(y, y0, rtol=1e-5, atol=1e-6)  # the small-K forward's sums
    if need_dx:
        _assert_close_dx(dx, dx0, layer, dy * (y > 0), x_shape)
    else:
        assert dx is None and dx0 is None
    for g, g0 in zip(grads, grads0):  # sums of thousands of terms, cancelling: 1e-5 of
        scale = np.abs(g0).max()       # the largest entry (both orders are float32 sums)
        np.testing.assert_allclose(g, g0, rtol=1e-5, atol=1e-5 * scale)


def test_conv_relu_fused_backward_only_where_it_applies(monkeypatch):
    calls = []
    for name in ("relu_backward_conv", "relu_backward_conv_dx"):
        real = getattr(compiled, name)
        monkeypatch.setattr(compiled, name, lambda *a, _r=real, **k:
                            calls.append(1) or _r(*a, **k))
    rng = np.random.default_rng(13)
    x1, x8 = _rand(rng, 2, 7, 7, 1), _rand(rng, 2, 7, 7, 8)
    cases = [
        (fcnet.layers.Conv2D(4, 3, activation="tanh"), x1),
        (fcnet.layers.Conv2D(4, 3, activation="relu", use_bias=False), x1),
        (fcnet.layers.Conv2D(4, 3, activation="relu"), x8),  # rows layout, K = 72
        (fcnet.layers.Conv2D(4, 5, activation="relu"), _rand(rng, 2, 7, 7, 2)),  # K = 50
        (fcnet.layers.Conv2D(4, 3, groups=2, activation="relu"), _rand(rng, 2, 7, 7, 2)),
    ]
    for layer, x in cases:
        layer.build(x.shape)
        dy = _rand(rng, *layer.compute_output_shape(x.shape))
        _conv_pass(layer, x, dy, True, True)
    frozen = fcnet.layers.Conv2D(4, 3, activation="relu")
    frozen.build(x1.shape)
    frozen.kernel.trainable = False
    dy = _rand(rng, *frozen.compute_output_shape(x1.shape))
    y, dx, _ = _conv_pass(frozen, x1, dy, True, True)
    assert calls == []
    used = fcnet.layers.Conv2D(4, 3, activation="relu")
    used.build(x1.shape)
    _conv_pass(used, x1, dy, True, True)
    assert calls == [1]


def _train_cnn(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((48, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, size=48)
    layers = fcnet.layers
    model = fcnet.Sequential([
        fcnet.Input((12, 12, 1)),
        layers.Conv2D(8, 3, activation="relu"),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, activation="relu"),
        layers.MaxPooling2D(2, strides=1),
        layers.Flatten(), layers.Dense(16, activation="relu"), layers.Dense(4)])
    init = np.random.default_rng(seed + 1)
    model.set_weights([init.standard_normal(w.shape).astype(np.float32) * 0.3
                       for w in model.get_weights()])
    model.compile(optimizer=fcnet.optimizers.SGD(0.05),
                  loss=fcnet.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return model.get_weights()


def test_training_a_cnn_equals_the_numpy_path(numpy_only):
    weights = _train_cnn(10)
    with numpy_only():
        weights0 = _train_cnn(10)
    for w, w0 in zip(weights, weights0):
        np.testing.assert_allclose(w, w0, rtol=1e-5, atol=1e-6)


def _train_cnn_first_conv_needs_dx(seed):
    """A CNN whose few-channel relu convolutions follow trainable layers (a 1×1 convolution,
    a 1-D branch), so their input gradients run in the fused pass."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 3, size=32)
    layers = fcnet.layers
    model = fcnet.Sequential([
        fcnet.Input((12, 12, 1)),
        layers.Conv2D(2, 1),                                        # trainable, before
        layers.Conv2D(6, (2, 3), padding="same", strides=2, activation="relu"),  # K = 12
        layers.Reshape((6, 36)),
        layers.Conv1D(3, 1),                                        # 3 channels
        layers.Conv1D(8, 3, padding="causal", dilation_rate=2, activation="relu"),  # K = 9
        layers.Flatten(), layers.Dense(3)])
    init = np.random.default_rng(seed + 1)
    model.set_weights([init.standard_normal(w.shape).astype(np.float32) * 0.3
                       for w in model.get_weights()])
    model.compile(optimizer=fcnet.optimizers.SGD(0.02),
                  loss=fcnet.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return model.get_weights()


def test_training_a_cnn_with_fused_input_gradients_equals_the_numpy_path(monkeypatch,
                                                                          numpy_only):
    calls = []
    real = compiled.relu_backward_conv_dx
    monkeypatch.setattr(compiled, "relu_backward_conv_dx",
                        lambda *a, **k: calls.append(a[2].shape[0]) or real(*a, **k))
    weights = _train_cnn_first_conv_needs_dx(30)
    assert sorted(set(calls)) == [9, 12]  # both relu convolutions, each step
    with numpy_only():
        weights0 = _train_cnn_first_conv_needs_dx(30)
    for w, w0 in zip(weights, weights0):
        np.testing.assert_allclose(w, w0, rtol=1e-5, atol=1e-5)


def _train_seed003_like():
    """Seed 003's CNN (28×28×1 → Conv 32 → pool → Conv 64 → pool → Conv 64 → Dense) a few
    Adam steps."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, size=64)
    layers = fcnet.layers
    model = fcnet.Sequential([
        fcnet.Input((28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.Flatten(),
        layers.Dense(64, activation="relu"), layers.Dense(10)])
    init = np.random.default_rng(4)
    model.set_weights([init.standard_normal(w.shape).astype(np.float32) * 0.1
                       for w in model.get_weights()])
    model.compile(optimizer=fcnet.optimizers.Adam(1e-3),
                  loss=fcnet.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


def test_training_seed003_cnn_equals_the_numpy_path(monkeypatch, numpy_only):
    calls = []
    real = compiled.relu_backward_conv
    monkeypatch.setattr(compiled, "relu_backward_conv",
                        lambda *a, **k: calls.append(a[2].shape) or real(*a, **k))
    weights = _train_seed003_like()
    assert calls and all(shape == (9, 16 * 26 * 26) for shape in calls)  # the first conv
    with numpy_only():
        weights0 = _train_seed003_like()
    for w, w0 in zip(weights, weights0):
        np.testing.assert_allclose(w, w0, rtol=1e-5, atol=1e-6)


# ---- a few-channel convolution's forward: product, bias and relu in one pass ---------------

def _small_k_reference(cols_t, w, b):
    """The NumPy reference ``max(cols · W + b, 0)`` and, per entry, the sum of the absolute
    terms (the scale of its rounding)."""
    z = cols_t.T @ w
    z += b
    scale = np.abs(cols_t.T.astype(np.float64)) @ np.abs(w.astype(np.float64)) + np.abs(b)
    return np.maximum(z, 0), scale


def _assert_close_relu(z, z0, scale):
    """``z`` within ~1e-5 of each entry's absolute-term sum of the reference ``z0``; the relu
    mask the same except where the reference is within that rounding of 0."""
    np.testing.assert_array_less(np.abs(z.astype(np.float64) - z0), 1e-5 * scale + 1e-30)
    differ = (z > 0) != (z0 > 0)
    assert np.all(np.abs(z0 - z)[differ] <= 1e-5 * scale[differ])


@pytest.mark.parametrize("rows, f, k", [(43264, 32, 9), (300, 5, 3), (129, 40, 16),
                                        (77, 8, 27 // 3), (50, 64, 1), (1, 1, 1), (0, 4, 2)])
def test_conv_bias_relu_equals_numpy(rows, f, k):
    rng = np.random.default_rng(rows + f + k)
    cols_t, w, b = _rand(rng, k, rows), _rand(rng, k, f), _rand(rng, f)
    before = [a.copy() for a in (cols_t, w, b)]
    z = compiled.conv_bias_relu(cols_t, w, b)
    assert z.shape == (rows, f) and z.dtype == np.float32
    for a, a0 in zip((cols_t, w, b), before):
        np.testing.assert_array_equal(a, a0)
    z0, scale = _small_k_reference(cols_t, w, b)
    _assert_close_relu(z, z0, scale)
    assert np.all(z >= 0)


def test_conv_bias_relu_keeps_nan_and_the_kernel_shape():
    rng = np.random.default_rng(20)
    cols_t, w, b = _rand(rng, 9, 40), _rand(rng, 3, 3, 1, 16), _rand(rng, 16)
    cols_t[4, 7] = np.nan
    z = compiled.conv_bias_relu(cols_t, w, b)  # the kernel in its own (3, 3, 1, F) shape
    z0, scale = _small_k_reference(cols_t, w.reshape(9, 16), b)
    assert np.isnan(z[7]).all() and not np.isnan(np.delete(z, 7, axis=0)).any()
    keep = ~np.isnan(z0)
    np.testing.assert_array_less(np.abs(z - z0)[keep], 1e-5 * scale[keep] + 1e-30)


def test_conv_bias_relu_declines_what_the_kernel_does_not_take(numpy_only):
    rng = np.random.default_rng(21)
    cols_t, w, b = _rand(rng, 9, 30), _rand(rng, 9, 4), _rand(rng, 4)
    run = compiled.conv_bias_relu
    assert run(cols_t, w, b) is not None
    assert run(cols_t.astype(np.float64), w, b) is None
    assert run(cols_t, w.astype(np.float64), b) is None
    assert run(cols_t.T.copy().T, w, b) is None  # not contiguous
    assert run(_rand(rng, 17, 30), _rand(rng, 17, 4), b) is None  # K > 16
    assert run(cols_t, _rand(rng, 8, 4), b) is None
    assert run(cols_t, w, _rand(rng, 5)) is None
    with numpy_only():
        assert run(cols_t, w, b) is None
    with pytest.raises(ValueError, match="`k` in"):
        compiled.kernels.conv_bias_relu(cols_t, w, b, np.empty((30, 4), np.float32), 30, 4,
                                        17)
    with pytest.raises(ValueError, match="overlaps"):
        compiled.kernels.conv_bias_relu(cols_t, w, b, cols_t.reshape(-1)[:120], 30, 4, 9)


def _relu_conv_pass(layer, x, dy, need_dx, overwrite_first):
    from fcnet.layers import Step
    step = Step()
    if not overwrite_first:
        step.first_write(layer)
    y, ctx = layer.forward_step(x, True, step)
    dx = layer.backward_step(ctx, dy, step, need_dx=need_dx) if dy is not None else None
    return y, dx, [w.grad.copy() for w in layer.trainable_weights]


@pytest.mark.parametrize("make, x_shape", [
    (lambda: fcnet.layers.Conv2D(32, 3, activation="relu"), (4, 28, 28, 1)),
    (lambda: fcnet.layers.Conv2D(6, (2, 2), padding="same", strides=2, activation="relu"),
     (3, 9, 8, 3)),
    (lambda: fcnet.layers.Conv2D(8, 3, dilation_rate=2, padding="same", activation="relu"),
     (2, 9, 9, 1)),
    (lambda: fcnet.layers.Conv1D(5, 3, padding="causal", activation="relu"), (2, 10, 4)),
    (lambda: fcnet.layers.Conv1D(16, 5, strides=2, activation="relu"), (3, 20, 3)),
])
@pytest.mark.parametrize("need_dx", [True, False])
def test_conv_relu_small_k_forward_equals_numpy(make, x_shape, need_dx, monkeypatch,
                                                numpy_only):
    forward, backward = [], []
    for name, calls in [("conv_bias_relu", forward), ("relu_backward_conv_dx", backward)]:
        real = getattr(compiled, name)
        monkeypatch.setattr(compiled, name, lambda *a, _r=real, _c=calls, **k:
                            _c.append(1) or _r(*a, **k))
    rng = np.random.default_rng(22)
    layer = make()
    layer.build(x_shape)
    layer.bias.assign(_rand(rng, *layer.bias.shape) * 0.1)
    x = _rand(rng, *x_shape)
    dy = _rand(rng, *layer.compute_output_shape(x_shape))
    y, dx, grads = _relu_conv_pass(layer, x, dy, need_dx, True)
    assert len(forward) == 1 and len(backward) == need_dx
    with numpy_only():
        y0, _, _ = _relu_conv_pass(layer, x, None, need_dx, True)
        # the reference's backward from the same y (so the same relu mask)
        from fcnet.layers import Step
        step = Step()
        _, ctx = layer.forward_step(x, True, step)
        ctx = (ctx[0], y, y)
        dx0 = layer.backward_step(ctx, dy, step, need_dx=need_dx)
        grads0 = [w.grad.copy() for w in layer.trainable_weights]
    # the forward within ~1e-5 of each entry's absolute-term sum
    geometry = layer._geometry(x_shape[1:-1])
    cols = conv.im2col(conv.pad(x, geometry), geometry)[0]
    w2 = layer.kernel.value.reshape(-1, layer.filters)
    scale = (np.abs(cols.astype(np.float64)) @ np.abs(w2) + np.abs(layer.bias.value))
    _assert_close_relu(y.reshape(-1, layer.filters), y0.reshape(-1, layer.filters), scale)
    if need_dx:  # same dz; the input gradient's sums in the fused pass's order
        _assert_close_dx(dx, dx0, layer, dy * (y > 0), x_shape)
    else:
        assert dx is None
    for g, g0 in zip(grads, grads0):
        np.testing.assert_allclose(g, g0, rtol=1e-5, atol=1e-5 * np.abs(g0).max())


def test_conv_relu_small_k_forward_only_where_it_applies(monkeypatch):
    calls = []
    real = compiled.conv_bias_relu
    monkeypatch.setattr(compiled, "conv_bias_relu",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(23)
    x1 = _rand(rng, 2, 7, 7, 1)
    cases = [
        (fcnet.layers.Conv2D(4, 3, activation="tanh"), x1),
        (fcnet.layers.Conv2D(4, 3), x1),
        (fcnet.layers.Conv2D(4, 3, activation="relu", use_bias=False), x1),
        (fcnet.layers.Conv2D(4, 3, activation="relu"), _rand(rng, 2, 7, 7, 8)),  # rows
        (fcnet.layers.Conv2D(4, 5, activation="relu"), _rand(rng, 2, 7, 7, 2)),  # K = 50
        (fcnet.layers.Conv2D(4, 3, groups=2, activation="relu"), _rand(rng, 2, 7, 7, 2)),
        (fcnet.layers.Conv2D(4, 1, activation="relu"), x1),  # trivial: no patch copy
        (fcnet.layers.Dense(4, activation="relu"), _rand(rng, 3, 5)),
    ]
    for layer, x in cases:
        layer.build(x.shape)
        layer.forward(x)
    f64 = fcnet.layers.Conv2D(4, 3, activation="relu")
    f64.build(x1.shape)
    for w in f64.weights:
        w.value = w.value.astype(np.float64)
    y64, _ = f64.forward(x1.astype(np.float64))
    assert y64.dtype == np.float64
    assert calls == []
    used = fcnet.layers.Conv2D(4, 3, activation="relu")
    used.build(x1.shape)
    used.forward(x1)
    assert calls == [1]


def test_training_seed003_cnn_small_k_forward_equals_the_numpy_path(monkeypatch, numpy_only):
    calls = []
    real = compiled.conv_bias_relu
    monkeypatch.setattr(compiled, "conv_bias_relu",
                        lambda *a, **k: calls.append(a[0].shape) or real(*a, **k))
    weights = _train_seed003_like()
    assert calls and all(shape == (9, 16 * 26 * 26) for shape in calls)  # the first conv
    with numpy_only():
        weights0 = _train_seed003_like()
    for w, w0 in zip(weights, weights0):
        np.testing.assert_allclose(w, w0, rtol=1e-4, atol=1e-5)
