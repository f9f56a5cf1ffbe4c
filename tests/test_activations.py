"""Activations: values, dtypes, gradients against finite differences, lookup and Keras parity."""

import functools
import math

import numpy as np
import pytest

from fcnet import activations
from fcnet.ops.special import erfc

RNG_SEED = 1234
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _phi_cdf(x):
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# name -> (reference in float64, kinks to stay away from)
REFERENCE = {
    "relu": (lambda x: np.where(x > 0, x, 0.0), (0.0,)),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.2 * x), (0.0,)),
    "relu6": (lambda x: np.minimum(np.maximum(x, 0), 6), (0.0, 6.0)),
    "hard_sigmoid": (lambda x: np.clip(x / 6 + 0.5, 0, 1), (-3.0, 3.0)),
    "hard_silu": (lambda x: x * np.clip(x / 6 + 0.5, 0, 1), (-3.0, 3.0)),
    "hard_swish": (lambda x: x * np.clip(x / 6 + 0.5, 0, 1), (-3.0, 3.0)),
    "linear": (lambda x: x, ()),
    "sigmoid": (_sig, ()),
    "tanh": (np.tanh, ()),
    "exponential": (np.exp, ()),
    "elu": (lambda x: np.where(x > 0, x, np.exp(x) - 1), (0.0,)),
    "selu": (lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1)), (0.0,)),
    "softplus": (lambda x: np.log1p(np.exp(x)), ()),
    "softsign": (lambda x: x / (1 + np.abs(x)), (0.0,)),
    "silu": (lambda x: x * _sig(x), ()),
    "swish": (lambda x: x * _sig(x), ()),
    "gelu": (lambda x: x * _phi_cdf(x), ()),
    "mish": (lambda x: x * np.tanh(np.log1p(np.exp(x))), ()),
    "softmax": (_softmax, ()),
    "log_softmax": (lambda x: np.log(_softmax(x)), ()),
}
ALONG_AXIS = {"softmax", "log_softmax"}


def _points(shape, kinks, scale=4.0):
    x = np.random.default_rng(RNG_SEED).uniform(-scale, scale, size=shape)
    for k in kinks:  # push points off the kinks, where the derivative does not exist
        near = np.abs(x - k) < 1e-2
        x[near] = k + np.where(x[near] >= k, 0.05, -0.05)
    return x


def _numeric_vjp(f, x, dy, h=1e-6):
    """Central differences of L(x) = sum(dy * f(x)), one coordinate at a time."""
    dx = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        dx[i] = np.sum(dy * (f(xp) - f(xm))) / (2 * h)
    return dx


def _check_gradient(fn, x, **kwargs):
    dy = np.random.default_rng(RNG_SEED + 1).standard_normal(x.shape)
    f = functools.partial(fn, **kwargs)
    y = f(x)
    copies = (dy.copy(), x.copy(), y.copy())
    x_arg = x if (fn.needs_input or kwargs) else None
    dx = fn.gradient(dy, x_arg, y, **kwargs)
    for before, after in zip(copies, (dy, x, y), strict=True):
        np.testing.assert_array_equal(before, after)  # nothing written in place
    assert dx.dtype == np.float64 and dx.shape == x.shape
    np.testing.assert_allclose(dx, _numeric_vjp(f, x, dy), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_values_match_reference(name):
    fn = activations.get(name)
    reference, kinks = REFERENCE[name]
    x = _points((7, 5), kinks)
    np.testing.assert_allclose(fn(x), reference(x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_float32_stays_float32(name):
    fn = activations.get(name)
    x = _points((4, 6), REFERENCE[name][1]).astype(np.float32)
    y = fn(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert fn.gradient(np.ones_like(x), x, y).dtype == np.float32
    np.testing.assert_allclose(y, REFERENCE[name][0](x.astype(np.float64)), rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_gradient_matches_finite_differences(name):
    fn = activations.get(name)
    shape = (3, 5) if name in ALONG_AXIS else (4, 6)
    _check_gradient(fn, _points(shape, REFERENCE[name][1]))


@pytest.mark.parametrize(
    "name, kwargs, kinks",
    [
        ("relu", {"negative_slope": 0.1}, (0.0,)),
        ("relu", {"max_value": 2.5}, (0.0, 2.5)),
        ("relu", {"threshold": 0.7}, (0.0, 0.7)),
        ("relu", {"threshold": -1.0, "max_value": 3.0, "negative_slope": 0.3}, (-1.0, 0.0, 3.0)),
        ("relu", {"negative_slope": 1.5}, (0.0,)),
        ("leaky_relu", {"negative_slope": 0.01}, (0.0,)),
        ("leaky_relu", {"negative_slope": -0.5}, (0.0,)),
        ("elu", {"alpha": 0.5}, (0.0,)),
        ("elu", {"alpha": -0.5}, (0.0,)),
        ("gelu", {"approximate": True}, ()),
        ("softmax", {"axis": 0}, ()),
        ("log_softmax", {"axis": 0}, ()),
    ],
)
def test_gradient_with_arguments(name, kwargs, kinks):
    _check_gradient(activations.get(name), _points((3, 5), kinks), **kwargs)


def test_relu_arguments_follow_keras_formula():
    x = np.array([-3.0, -1.0, -0.5, 0.5, 2.0, 8.0])
    relu = activations.relu
    np.testing.assert_allclose(relu(x, negative_slope=0.5), [-1.5, -0.5, -0.25, 0.5, 2, 8])
    np.testing.assert_allclose(relu(x, max_value=5.0), [0, 0, 0, 0.5, 2, 5])
    np.testing.assert_allclose(relu(x, threshold=1.0), [0, 0, 0, 0, 2, 8])
    # negative part below the threshold, positive part clipped into [0, max_value]
    np.testing.assert_allclose(relu(x, negative_slope=0.5, threshold=1.0, max_value=4.0),
                               [-2, -1, -0.75, -0.25, 2, 4])


def test_gelu_exact_and_approximate_differ_slightly():
    x = np.linspace(-4, 4, 101)
    exact, approx = activations.gelu(x), activations.gelu(x, approximate=True)
    assert 1e-5 < np.abs(exact - approx).max() < 1e-3


def test_erfc_is_accurate_in_float64_and_float32():
    x = np.concatenate([np.linspace(-6, 26, 4001), [0.0, 1e-12, -1e-12]])
    ref = np.array([math.erfc(v) for v in x])
    keep = ref > 1e-300
    rel = np.abs(erfc(x)[keep] - ref[keep]) / ref[keep]
    assert rel.max() < 5e-15
    x32 = np.linspace(-6, 9, 1001).astype(np.float32)
    got = erfc(x32)
    assert got.dtype == np.float32
    ref32 = np.array([math.erfc(float(v)) for v in x32])
    np.testing.assert_allclose(got, ref32, rtol=2e-6, atol=1e-37)


def test_extreme_inputs_stay_finite_without_warnings():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        np.testing.assert_allclose(activations.sigmoid(x), [0, 0, 0.5, 1, 1], atol=1e-21)
        np.testing.assert_allclose(activations.softplus(x), [0, 0, math.log(2), 50, 1000],
                                   atol=1e-6)
        assert np.isfinite(activations.gelu(x)).all() and np.isfinite(activations.silu(x)).all()
        np.testing.assert_allclose(activations.softmax(x[None]), [[0, 0, 0, 0, 1]])
        assert np.isfinite(activations.log_softmax(x[None])).all()
        assert np.isfinite(activations.elu(x)).all()


def test_softmax_rows_sum_to_one_along_axis():
    x = np.random.default_rng(RNG_SEED).standard_normal((3, 4, 5)).astype(np.float32)
    for axis in (-1, 0, 1):
        np.testing.assert_allclose(activations.softmax(x, axis=axis).sum(axis=axis), 1, rtol=1e-6)


def test_softmax_of_integers_is_a_float_array():
    """By hand: e^0, e^1, e^2 over their sum (an in-place exp once refused integers)."""
    total = 1 + math.e + math.e ** 2
    np.testing.assert_allclose(activations.softmax(np.array([[0, 1, 2]])),
                               [[1 / total, math.e / total, math.e ** 2 / total]])
    np.testing.assert_allclose(activations.softmax([1, 2, 3]).sum(), 1.0)


def test_float32_inputs_unpickled_keep_the_compiled_path():
    """An array read back with pickle has a float32 dtype equal to, not identical with,
    NumPy's own: the compiled kernels still take it."""
    import pickle

    from fcnet.ops import compiled

    z = pickle.loads(pickle.dumps(np.ones((2, 3), np.float32)))
    assert compiled._float32(z)


def test_linear_is_identity_without_copy():
    x = np.arange(3.0)
    assert activations.linear(x) is x
    assert activations.linear.gradient(x, None, x) is x


def test_get_names_none_callables_and_dicts():
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu is activations.swish
    assert activations.get("hard_swish") is activations.hard_silu
    for name in ("relu", "sigmoid", "softmax", "tanh", "elu", "selu", "softplus", "softsign",
                 "gelu", "relu6", "leaky_relu", "hard_sigmoid", "exponential", "mish"):
        assert activations.get(name).__name__ == name
    own = lambda x: x  # noqa: E731
    assert activations.get(own) is own
    keras3 = {"module": "keras.activations", "class_name": "function", "config": "relu",
              "registered_name": "function"}
    assert activations.get(keras3) is activations.relu
    assert activations.get({**keras3, "module": "builtins", "config": "tanh"}) is activations.tanh
    assert activations.get({"class_name": "sigmoid", "config": {}}) is activations.sigmoid


@pytest.mark.parametrize("bad", ["nonsense", 5, {"class_name": "function", "config": "nope"}])
def test_unknown_identifier_lists_known_names(bad):
    with pytest.raises(ValueError, match="Could not interpret activation function identifier") as e:
        activations.get(bad)
    assert "Known: " in str(e.value) and "relu" in str(e.value) and "swish" in str(e.value)


def test_serialize_and_gradient_of():
    assert activations.serialize(None) == "linear"
    assert activations.serialize(activations.relu) == "relu"
    assert activations.serialize(activations.swish) == "silu"
    assert activations.serialize(activations.hard_swish) == "hard_silu"

    def my_act(x):
        return x

    assert activations.serialize(my_act) == "my_act"
    assert activations.gradient_of(my_act) is None
    assert activations.gradient_of("tanh") is activations.tanh.gradient
    capped = functools.partial(activations.relu, max_value=1.0)
    x = np.array([-1.0, 0.5, 2.0])
    np.testing.assert_array_equal(activations.gradient_of(capped)(np.ones(3), x, capped(x)),
                                  [0.0, 1.0, 0.0])


def test_needs_input_flags():
    needs_x = {fn.__name__ for fn in activations._FUNCTIONS if fn.needs_input}
    assert needs_x == {"silu", "gelu", "mish", "hard_silu"}
    with pytest.raises(ValueError, match="needs the input x"):
        activations.relu.gradient(np.ones(2), None, np.ones(2), max_value=1.0)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_matches_keras(keras, name):
    x = _points((6, 5), ()).astype(np.float32)
    expected = np.asarray(getattr(keras.activations, name)(x))
    np.testing.assert_allclose(activations.get(name)(x), expected, rtol=1e-5, atol=1e-6)
    assert keras.activations.serialize(getattr(keras.activations, name)) == \
        activations.serialize(activations.get(name))


@pytest.mark.parametrize("kwargs", [{"negative_slope": 0.1}, {"max_value": 2.5}, {"threshold": 0.5},
                                    {"threshold": -1.0, "max_value": 3.0, "negative_slope": 0.3},
                                    {"max_value": 6}])
def test_relu_arguments_match_keras(keras, kwargs):
    x = _points((6, 5), ()).astype(np.float32)
    np.testing.assert_allclose(activations.relu(x, **kwargs),
                               np.asarray(keras.activations.relu(x, **kwargs)), atol=1e-6)
