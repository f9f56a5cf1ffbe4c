"""Merge layers (fcnet/layers/merging.py, fcnet/layers/dot.py): values, gradients, shapes,
errors and configs, against references written out here with NumPy."""

import numpy as np
import pytest

from fcnet.layers.dot import Dot
from fcnet.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)

ELEMENTWISE = [Add, Subtract, Multiply, Average, Maximum, Minimum]
ALL = ELEMENTWISE + [Concatenate, Dot]


def _normal(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).normal(size=shape).astype("float32")


def _inputs(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for shape in shapes]


def _numeric_gradients(layer, x, r, step=1e-6):
    """Central differences of L = Σ r ⊙ layer(x) with respect to every entry of every input."""
    def loss(inputs):
        return float(np.sum(r * layer.forward(inputs)[0]))

    gradients = []
    for i, xi in enumerate(x):
        g = np.zeros_like(xi)
        for index in np.ndindex(xi.shape):
            plus = [a.copy() for a in x]
            minus = [a.copy() for a in x]
            plus[i][index] += step
            minus[i][index] -= step
            g[index] = (loss(plus) - loss(minus)) / (2 * step)
        gradients.append(g)
    return gradients


def _check_gradients(layer, x, step=1e-6, rtol=1e-6, atol=1e-8, seed=1):
    x = [np.asarray(xi, dtype="float64") for xi in x]
    y, ctx = layer.forward(x)
    r = np.random.default_rng(seed).normal(size=y.shape)
    dx = layer.backward(ctx, r)
    assert isinstance(dx, tuple) and len(dx) == len(x)
    for i, (analytic, numeric) in enumerate(zip(dx, _numeric_gradients(layer, x, r, step))):
        assert analytic.shape == x[i].shape, f"input {i}"
        assert np.abs(numeric).max() > 0  # the case tests something
        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol, err_msg=f"input {i}")
    return dx


# ---------------------------------------------------------------------------- forward values
def test_elementwise_forward_values():
    a, b, c = _normal(4, 3), _normal(4, 3, seed=1), _normal(4, 3, seed=2)
    expected = {
        Add: a + b + c, Multiply: a * b * c, Average: (a + b + c) / 3,
        Maximum: np.where((a >= b) & (a >= c), a, np.where(b >= c, b, c)),
        Minimum: np.where((a <= b) & (a <= c), a, np.where(b <= c, b, c)),
    }
    for cls, want in expected.items():
        y, _ = cls().forward([a, b, c])
        assert y.dtype == np.float32 and y.shape == (4, 3)
        np.testing.assert_allclose(y, want, rtol=1e-6, err_msg=cls.__name__)
    np.testing.assert_allclose(Subtract().forward([a, b])[0], a - b, rtol=1e-6)


def test_elementwise_forward_broadcasts_like_keras():
    a = _normal(2, 3, 4)
    b = _normal(2, 1, 4, seed=1)
    c = _normal(2, 4, seed=2)  # rank 2: an axis goes in after the batch axis -> (2, 1, 4)
    np.testing.assert_allclose(Add().forward([a, b, c])[0], a + b + c[:, None, :], rtol=1e-6)
    np.testing.assert_allclose(Subtract().forward([c, a])[0], c[:, None, :] - a, rtol=1e-6)
    np.testing.assert_allclose(Maximum().forward([b, a])[0], np.maximum(a, b), rtol=1e-6)


def test_concatenate_forward_values():
    a, b = _normal(2, 3, 4), _normal(2, 5, 4, seed=1)
    np.testing.assert_array_equal(Concatenate(axis=1).forward([a, b])[0],
                                  np.concatenate([a, b], axis=1))
    c = _normal(2, 3, 2, seed=2)
    y, _ = Concatenate().forward([a, c, a])
    assert y.shape == (2, 3, 10)
    np.testing.assert_array_equal(y[..., :4], a)
    np.testing.assert_array_equal(y[..., 4:6], c)
    np.testing.assert_array_equal(y[..., 6:], a)


def _unit(x, axis):
    return x / np.sqrt(np.maximum(np.sum(x * x, axis=axis, keepdims=True), 1e-12))


@pytest.mark.parametrize("normalize", [False, True])
def test_dot_forward_values(normalize):
    def n(x, axis):
        return _unit(x, axis) if normalize else x

    u, v = _normal(4, 5), _normal(4, 5, seed=1)
    want = np.sum(n(u, 1) * n(v, 1), axis=1, keepdims=True)  # (batch, 1)
    for axes in (1, -1, (1, 1), (-1, 1)):
        y, _ = Dot(axes, normalize=normalize).forward([u, v])
        assert y.shape == (4, 1)
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)

    x1, x2 = _normal(2, 3, 5), _normal(2, 4, 5, seed=1)
    cases = [
        (2, x1, x2, np.einsum("bik,bjk->bij", n(x1, 2), n(x2, 2))),
        ((2, 2), x1, x2, np.einsum("bik,bjk->bij", n(x1, 2), n(x2, 2))),
        (1, x1, _normal(2, 3, 6, seed=2),
         np.einsum("bki,bkj->bij", n(x1, 1), n(_normal(2, 3, 6, seed=2), 1))),
        ((1, 2), x1, _normal(2, 4, 3, seed=3),
         np.einsum("bki,bjk->bij", n(x1, 1), n(_normal(2, 4, 3, seed=3), 2))),
        ((-1, -2), x1, _normal(2, 5, 6, seed=4),
         np.einsum("bik,bkj->bij", n(x1, 2), n(_normal(2, 5, 6, seed=4), 1))),
        ((2, 1), x1, u[:2], np.einsum("bik,bk->bi", n(x1, 2), n(u[:2], 1))),
        ((1, 2), u[:2], x1, np.einsum("bk,bik->bi", n(u[:2], 1), n(x1, 2))),
    ]
    for axes, a, b, want in cases:
        y, _ = Dot(axes, normalize=normalize).forward([a, b])
        assert y.shape == want.shape, axes
        np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6, err_msg=str(axes))


def test_dot_normalize_gives_cosine_and_clamps_tiny_norms():
    u = np.array([[3.0, 4.0], [0.0, 0.0], [1e-9, 0.0]])
    v = np.array([[4.0, 3.0], [1.0, 0.0], [2.0, 0.0]])
    y, _ = Dot(1, normalize=True).forward([u, v])
    # 24/25; a zero row gives 0; a row with ‖x‖ < 1e-6 is divided by 1e-6, not by ‖x‖
    np.testing.assert_allclose(y[:, 0], [24 / 25, 0.0, 1e-3], rtol=1e-12)


# ---------------------------------------------------------------------------- gradients
ELEMENTWISE_CASES = [
    (Add, [(3, 4), (3, 4), (3, 4)]),
    (Subtract, [(3, 4), (3, 4)]),
    (Multiply, [(3, 4), (3, 4)]),
    (Multiply, [(2, 3), (2, 3), (2, 3), (2, 3)]),
    (Average, [(3, 4), (3, 4), (3, 4)]),
    (Maximum, [(3, 4), (3, 4), (3, 4)]),
    (Minimum, [(3, 4), (3, 4)]),
]
BROADCAST_CASES = [
    [(2, 3, 4), (2, 1, 4)],
    [(2, 3, 4), (2, 4)],
    [(2, 1, 4), (2, 3, 1)],
    [(2, 4), (2, 3, 4), (2, 3, 1)],
]


@pytest.mark.parametrize("cls, shapes", ELEMENTWISE_CASES)
def test_elementwise_gradients(cls, shapes):
    _check_gradients(cls(), _inputs(shapes))


@pytest.mark.parametrize("cls", ELEMENTWISE)
@pytest.mark.parametrize("shapes", BROADCAST_CASES)
def test_elementwise_gradients_with_broadcasting(cls, shapes):
    if cls is Subtract:
        shapes = shapes[:2]
    _check_gradients(cls(), _inputs(shapes, seed=len(shapes)))


def test_multiply_gradient_is_exact_where_an_input_is_zero():
    x = _inputs([(2, 3), (2, 3), (2, 3)])
    x[1][0, 0] = 0.0
    x[2][0, 0] = 0.0
    dy = np.ones((2, 3))
    dx = Multiply().backward(Multiply().forward(x)[1], dy)
    np.testing.assert_allclose(dx[0], x[1] * x[2])
    np.testing.assert_allclose(dx[1], x[0] * x[2])
    np.testing.assert_allclose(dx[2], x[0] * x[1])


@pytest.mark.parametrize("cls", [Add, Average, Subtract])
def test_linear_merge_gradients_do_not_share_memory(cls):
    x = _inputs([(3, 4), (3, 4)])
    y, ctx = cls().forward(x)
    dx = cls().backward(ctx, np.ones_like(y))
    assert not np.shares_memory(dx[0], dx[1])


@pytest.mark.parametrize("axis, shapes", [
    (-1, [(2, 3), (2, 4)]),
    (1, [(2, 3, 4), (2, 2, 4), (2, 1, 4)]),
    (-2, [(2, 3, 4), (2, 2, 4)]),
    (2, [(2, 3, 4), (2, 3, 1)]),
    (0, [(2, 3), (1, 3)]),
])
def test_concatenate_gradients(axis, shapes):
    _check_gradients(Concatenate(axis=axis), _inputs(shapes))


DOT_CASES = [
    (1, [(3, 5), (3, 5)]),
    (-1, [(3, 5), (3, 5)]),
    ((1, 1), [(3, 5), (3, 5)]),
    (2, [(2, 3, 4), (2, 5, 4)]),
    (1, [(2, 3, 4), (2, 3, 5)]),
    ((1, 2), [(2, 3, 4), (2, 5, 3)]),
    ((2, 1), [(2, 3, 4), (2, 4, 5)]),
    ((-1, -2), [(2, 3, 4), (2, 4, 5)]),
    ((2, 1), [(2, 3, 4), (2, 4)]),
    ((1, 2), [(2, 4), (2, 3, 4)]),
    (2, [(2, 3, 2, 4), (2, 5, 2)]),
]


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("axes, shapes", DOT_CASES)
def test_dot_gradients(axes, shapes, normalize):
    _check_gradients(Dot(axes, normalize=normalize), _inputs(shapes))


def test_dot_normalize_gradient_where_the_norm_is_clamped():
    x = _inputs([(3, 4), (3, 4)])
    x[0][1] *= 1e-8  # ‖x‖² ~ 1e-16 < 1e-12: x̂ = x / 1e-6, linear in x
    _check_gradients(Dot(1, normalize=True), x, step=1e-10, atol=1e-6)


def test_backward_keeps_float32():
    x = [_normal(3, 4), _normal(3, 4, seed=1)]
    for layer in [cls() for cls in ELEMENTWISE] + [Concatenate(), Dot(1, normalize=True)]:
        y, ctx = layer.forward(x)
        dx = layer.backward(ctx, np.ones_like(y))
        assert y.dtype == np.float32 and all(d.dtype == np.float32 for d in dx), layer.name


# ---------------------------------------------------------------------------- the tie rule
@pytest.mark.parametrize("cls", [Maximum, Minimum])
def test_extremum_ties_go_to_the_first_input_holding_it(cls):
    x0 = np.array([[1.0, 2.0, 3.0, 5.0]])
    x1 = np.array([[1.0, 7.0, 3.0, -5.0]])
    x2 = np.array([[1.0, -7.0, 0.0, 5.0]])
    y, ctx = cls().forward([x0, x1, x2])
    dy = np.array([[10.0, 20.0, 30.0, 40.0]])
    dx = cls().backward(ctx, dy)
    if cls is Maximum:  # maxima: 1 (all tie) | 7 (x1) | 3 (x0, x1 tie) | 5 (x0, x2 tie)
        want = [[10, 0, 30, 40], [0, 20, 0, 0], [0, 0, 0, 0]]
    else:  # minima: 1 (all tie) | -7 (x2) | 0 (x2) | -5 (x1)
        want = [[10, 0, 0, 0], [0, 0, 0, 40], [0, 20, 30, 0]]
    for i in range(3):
        np.testing.assert_array_equal(dx[i], [want[i]], err_msg=f"input {i}")
    np.testing.assert_array_equal(dx[0] + dx[1] + dx[2], dy)  # dy is handed out exactly once


def test_maximum_tie_rule_under_broadcasting_sums_per_input():
    x0 = np.array([[[2.0], [2.0]]])  # (1, 2, 1): broadcast along the last axis
    x1 = np.array([[[2.0, 1.0, 3.0], [0.0, 2.0, 2.0]]])
    y, ctx = Maximum().forward([x0, x1])
    dx = Maximum().backward(ctx, np.ones_like(y))
    # row 0: x0 holds 2 (tie at j=0), x0 2 > 1, x1 3 | row 1: x0 holds all three
    np.testing.assert_array_equal(dx[0], [[[2.0], [3.0]]])
    np.testing.assert_array_equal(dx[1], [[[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]])


# ---------------------------------------------------------------------------- shapes
def test_output_shapes():
    assert Add().compute_output_shape([(None, 3), (None, 3)]) == (None, 3)
    assert Add().compute_output_shape([(None, 3, 1), (8, 1, 4)]) == (8, 3, 4)
    assert Multiply().compute_output_shape([(None, 4), (None, 5, 4)]) == (None, 5, 4)
    assert Average().compute_output_shape([(None, None), (None, 4)]) == (None, 4)
    assert Maximum().compute_output_shape([(None, None), (None, 1)]) == (None, None)
    assert Subtract().compute_output_shape([(2, 3), (2, 3)]) == (2, 3)
    assert Concatenate().compute_output_shape([(None, 3), (None, 4), (None, 1)]) == (None, 8)
    assert Concatenate(axis=1).compute_output_shape([(None, 3, 4), (None, 2, None)]) == \
        (None, 5, 4)
    assert Concatenate(axis=1).compute_output_shape([(None, None, 4), (None, 2, 4)]) == \
        (None, None, 4)
    assert Dot(1).compute_output_shape([(None, 5), (None, 5)]) == (None, 1)
    assert Dot(2).compute_output_shape([(None, 3, 5), (None, 4, 5)]) == (None, 3, 4)
    assert Dot((1, 2)).compute_output_shape([(None, 3, 5), (None, 4, 3)]) == (None, 5, 4)
    assert Dot((-1, 1)).compute_output_shape([(None, 3, 5), (7, 5)]) == (7, 3)
    assert Dot(-1).compute_output_shape([(None, 3, None), (None, 5)]) == (None, 3)


@pytest.mark.parametrize("cls", ALL)
def test_build_validates_and_marks_built(cls):
    layer = cls(1) if cls is Dot else cls()
    layer.build([(None, 4), (None, 4)])
    assert layer.built


def _raises(layer, input_shape, *fragments):
    with pytest.raises(ValueError) as info:
        layer.build(input_shape)
    message = str(info.value)
    for fragment in (f'"{layer.name}"',) + fragments:
        assert fragment in message, message
    assert not layer.built


def test_build_errors_name_the_layer_and_the_shapes():
    _raises(Add(), [(None, 3), (None, 4)], "compatible shapes", "(None, 3)", "(None, 4)")
    _raises(Multiply(name="m"), [(None, 2, 3), (None, 3, 3)], "(None, 2, 3)", "(None, 3, 3)")
    _raises(Add(), [(None, 3)], "at least 2", "(None, 3)")
    _raises(Add(), (None, 3), "a list")
    _raises(Subtract(), [(None, 3)] * 3, "exactly 2", "(None, 3)")
    _raises(Average(), [(4, 3), (5, 3)], "batch", "(4, 3)", "(5, 3)")
    _raises(Concatenate(), [(None, 3), (None, 2, 3)], "rank", "(None, 3)", "(None, 2, 3)")
    _raises(Concatenate(axis=1), [(None, 3, 4), (None, 2, 5)], "matching shapes",
            "(None, 3, 4)", "(None, 2, 5)")
    _raises(Concatenate(axis=3), [(None, 3, 4), (None, 2, 4)], "axis=3")
    _raises(Dot(1), [(None, 3), (None, 4)], "dot axes", "(None, 3)", "(None, 4)")
    _raises(Dot(1), [(None, 3)] * 3, "exactly 2")
    _raises(Dot(0), [(None, 3), (None, 3)], "axes=0", "(None, 3)")
    _raises(Dot((1, 2)), [(None, 3), (None, 3)], "axes=(1, 2)")
    _raises(Dot(1), [(None,), (None,)], "rank >= 2")


def test_forward_checks_the_arrays_too():
    with pytest.raises(ValueError, match='"add".*compatible'):
        Add().forward([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match='"concatenate"'):
        Concatenate().forward([np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError, match='"dot"'):
        Dot(1).forward([np.ones((2, 3)), np.ones((2, 4))])


def test_dot_axes_argument_errors():
    with pytest.raises(TypeError, match="axes"):
        Dot("1")
    with pytest.raises(ValueError, match="two elements"):
        Dot((1, 2, 3))
    with pytest.raises(ValueError, match="integers"):
        Dot((1, 2.0))


# ---------------------------------------------------------------------------- config
@pytest.mark.parametrize("layer", [
    Add(), Subtract(name="minus"), Multiply(trainable=False), Average(), Maximum(), Minimum(),
    Concatenate(axis=1), Dot(axes=(1, 2), normalize=True), Dot(axes=-1)])
def test_config_round_trip(layer):
    config = layer.get_config()
    assert {"name", "trainable", "dtype"} <= set(config)
    extra = set(config) - {"name", "trainable", "dtype"}
    assert extra == {Concatenate: {"axis"}, Dot: {"axes", "normalize"}}.get(type(layer), set())
    again = type(layer).from_config(config)
    assert type(again) is type(layer) and again.get_config() == config
    if isinstance(layer, Dot):
        assert (again.axes, again.normalize) == (layer.axes, layer.normalize)


# ---------------------------------------------------------------------------- Keras parity
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("axes, shapes", DOT_CASES[:-1])
def test_dot_matches_keras(keras, axes, shapes, normalize):
    x = [xi.astype("float32") for xi in _inputs(shapes)]
    want = np.asarray(keras.layers.Dot(axes=axes, normalize=normalize)(x))
    layer = Dot(axes, normalize=normalize)
    np.testing.assert_allclose(layer.forward(x)[0], want, rtol=1e-5, atol=1e-6)
    keras_shape = keras.layers.Dot(axes=axes).compute_output_shape([(None,) + s[1:]
                                                                   for s in shapes])
    assert layer.compute_output_shape([(None,) + s[1:] for s in shapes]) == tuple(keras_shape)


@pytest.mark.parametrize("axis, shapes", [
    (-1, [(2, 3), (2, 4)]), (1, [(2, 3, 4), (2, 2, 4), (2, 1, 4)]), (-2, [(2, 3, 4), (2, 5, 4)]),
])
def test_concatenate_matches_keras(keras, axis, shapes):
    x = [xi.astype("float32") for xi in _inputs(shapes)]
    want = np.asarray(keras.layers.Concatenate(axis=axis)(x))
    layer = Concatenate(axis=axis)
    np.testing.assert_array_equal(layer.forward(x)[0], want)
    assert layer.compute_output_shape([xi.shape for xi in x]) == want.shape


@pytest.mark.parametrize("cls", ELEMENTWISE)
def test_elementwise_broadcast_matches_keras(keras, cls):
    x = [xi.astype("float32") for xi in _inputs([(2, 3, 4), (2, 4)])]
    want = np.asarray(getattr(keras.layers, cls.__name__)()(x))
    np.testing.assert_allclose(cls().forward(x)[0], want, rtol=1e-6)
