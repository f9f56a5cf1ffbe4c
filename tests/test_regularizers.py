"""Regularizers: penalties by hand, gradients against finite differences, configs, lookup."""

import numpy as np
import pytest

from fcnet import regularizers

X = np.array([[1.0, -2.0], [0.0, 3.0]])


def _numeric_gradient(f, x, h=1e-6):
    dx = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        dx[i] = (f(xp) - f(xm)) / (2 * h)
    return dx


def test_penalties_by_hand():
    # sum |x| = 6, sum x^2 = 14; Keras 3 has no factor 1/2 on L2
    assert regularizers.L1(0.1)(X) == pytest.approx(0.6)
    assert regularizers.L2(0.1)(X) == pytest.approx(1.4)
    assert regularizers.L1L2(l1=0.1, l2=0.2)(X) == pytest.approx(0.6 + 2.8)
    assert regularizers.L1L2()(X) == 0.0
    assert regularizers.L1()(X) == pytest.approx(0.06)
    assert regularizers.L2()(X) == pytest.approx(0.14)
    assert isinstance(regularizers.L2()(X.astype(np.float32)), float)


def test_gradients_by_hand():
    np.testing.assert_allclose(regularizers.L1(0.1).gradient(X), [[0.1, -0.1], [0.0, 0.1]])
    np.testing.assert_allclose(regularizers.L2(0.1).gradient(X), [[0.2, -0.4], [0.0, 0.6]])
    np.testing.assert_allclose(regularizers.L1L2(0.1, 0.1).gradient(X), [[0.3, -0.5], [0, 0.7]])
    np.testing.assert_array_equal(regularizers.L1L2().gradient(X), np.zeros((2, 2)))


def test_orthogonal_penalty_by_hand():
    # rows (1, 0) and (1, 1)/sqrt2: one pair, |cos| = 1/sqrt2; penalty = f/2 * 2 * cos / 1
    x = np.array([[2.0, 0.0], [1.0, 1.0]])
    expected = 0.1 * 0.5 * 2 * (1 / np.sqrt(2)) / 1.0
    assert regularizers.OrthogonalRegularizer(0.1)(x) == pytest.approx(expected)
    assert regularizers.OrthogonalRegularizer(0.1)(np.eye(3)) == 0.0
    assert regularizers.OrthogonalRegularizer(0.1, mode="columns")(x) == pytest.approx(
        regularizers.OrthogonalRegularizer(0.1)(x.T))


@pytest.mark.parametrize(
    "reg",
    [
        regularizers.L1(0.3),
        regularizers.L2(0.3),
        regularizers.L1L2(l1=0.2, l2=0.7),
        regularizers.OrthogonalRegularizer(0.5),
        regularizers.OrthogonalRegularizer(0.5, mode="columns"),
    ],
    ids=repr,
)
def test_gradient_matches_finite_differences(reg):
    x = np.random.default_rng(5).standard_normal((5, 4))
    x[np.abs(x) < 0.05] = 0.3  # keep away from the kink of |x|
    before = x.copy()
    dx = reg.gradient(x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(dx, _numeric_gradient(reg, x), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("reg", [regularizers.L1(), regularizers.L2(), regularizers.L1L2(0.1, 0.1),
                                 regularizers.OrthogonalRegularizer()], ids=repr)
def test_gradient_keeps_float32(reg):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    assert reg.gradient(x).dtype == np.float32


def test_subgradient_of_abs_at_zero_is_zero():
    np.testing.assert_array_equal(regularizers.L1(1.0).gradient(np.zeros(3)), np.zeros(3))


def test_orthogonal_regularizer_checks():
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(np.ones(3))
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    one_row = np.ones((1, 4))
    assert regularizers.OrthogonalRegularizer()(one_row) == 0.0
    np.testing.assert_array_equal(regularizers.OrthogonalRegularizer().gradient(one_row),
                                  np.zeros((1, 4)))


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.1"])
def test_factor_validation(bad):
    with pytest.raises(ValueError, match="expected a non-negative float"):
        regularizers.L2(bad)


def test_none_factors_fall_back_to_defaults():
    assert regularizers.L1(None).l1 == 0.01 and regularizers.L2(None).l2 == 0.01
    assert regularizers.L1L2(None, None).get_config() == {"l1": 0.0, "l2": 0.0}


def test_configs_match_keras_3():
    # Keras 3 stores l1 and factor as float32, so 0.01 reads back as 0.009999999776482582
    assert regularizers.L1().get_config() == {"l1": float(np.float32(0.01))}
    assert regularizers.L2().get_config() == {"l2": 0.01}
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.OrthogonalRegularizer().get_config() == {
        "factor": float(np.float32(0.01)), "mode": "rows"}


@pytest.mark.parametrize("cls", [regularizers.L1, regularizers.L2, regularizers.L1L2,
                                 regularizers.OrthogonalRegularizer])
def test_config_round_trip_and_serialize(cls):
    reg = cls()
    config = reg.get_config()
    assert cls.from_config(config).get_config() == config
    record = regularizers.serialize(reg)
    assert record == {"module": "keras.regularizers", "class_name": cls.__name__,
                      "config": config, "registered_name": None}
    again = regularizers.get(record)
    assert type(again) is cls and again.get_config() == config


def test_aliases_and_get():
    assert type(regularizers.get("l1")) is regularizers.L1
    assert type(regularizers.get("l2")) is regularizers.L2
    assert type(regularizers.get("L1L2")) is regularizers.L1L2
    assert type(regularizers.get("l1l2")) is regularizers.L1L2
    both = regularizers.get("l1_l2")
    assert type(both) is regularizers.L1L2 and both.get_config() == {"l1": 0.01, "l2": 0.01}
    assert type(regularizers.get("orthogonal_regularizer")) is regularizers.OrthogonalRegularizer
    assert regularizers.get(None) is None
    reg = regularizers.L2(0.5)
    assert regularizers.get(reg) is reg
    assert type(regularizers.get(regularizers.L1)) is regularizers.L1
    k2 = regularizers.get({"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.001}})
    assert k2.l2 == 0.001
    fn = lambda x: 0.0  # noqa: E731
    assert regularizers.get(fn) is fn
    assert regularizers.serialize(None) is None


@pytest.mark.parametrize("bad", ["nonsense", {"class_name": "L3", "config": {}}, 4])
def test_unknown_identifier_lists_known_names(bad):
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier") as e:
        regularizers.get(bad)
    assert "Known: " in str(e.value) and "l1_l2" in str(e.value)


@pytest.mark.parametrize("name, kwargs", [("L1", {"l1": 0.3}), ("L2", {"l2": 0.3}),
                                          ("L1L2", {"l1": 0.1, "l2": 0.2}),
                                          ("OrthogonalRegularizer", {"factor": 0.4})])
def test_matches_keras(keras, name, kwargs):
    x = np.random.default_rng(2).standard_normal((6, 4)).astype(np.float32)
    theirs = getattr(keras.regularizers, name)(**kwargs)
    ours = getattr(regularizers, name)(**kwargs)
    assert ours(x) == pytest.approx(float(theirs(x)), rel=1e-5)
    assert regularizers.serialize(ours) == keras.regularizers.serialize(theirs)


def test_serialize_user_objects():
    class Tiny(regularizers.Regularizer):
        def __call__(self, x):
            return 0.0

        def get_config(self):
            return {}

    record = regularizers.serialize(Tiny())
    assert record["class_name"] == "Tiny" and record["registered_name"] == "Tiny"
    assert record["module"] == __name__

    def penalty(x):
        return 0.0

    assert regularizers.serialize(penalty) == {"module": "builtins", "class_name": "function",
                                               "config": "penalty",
                                               "registered_name": "function"}
