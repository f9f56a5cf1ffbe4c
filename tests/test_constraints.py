"""Constraints: projections worked by hand, Keras parity, configs and lookup."""

import numpy as np
import pytest

from fcnet import constraints

EPS = 1e-7
# column norms along axis 0: 5 and 1; row norms along axis 1: 3 and sqrt(17)
W = np.array([[3.0, 0.0], [4.0, 1.0]])


def test_max_norm_by_hand():
    out = constraints.MaxNorm(max_value=2)(W)
    np.testing.assert_allclose(out[:, 0], [3 * 2 / (5 + EPS), 4 * 2 / (5 + EPS)])
    np.testing.assert_allclose(out[:, 1], [0.0, 1 / (1 + EPS)])  # already short: kept
    rows = constraints.MaxNorm(max_value=2, axis=1)(W)
    np.testing.assert_allclose(rows[0], [3 * 2 / (3 + EPS), 0.0])


def test_non_neg_by_hand():
    np.testing.assert_array_equal(constraints.NonNeg()(np.array([-1.0, 0.0, 2.0])), [0, 0, 2])


def test_unit_norm_by_hand():
    out = constraints.UnitNorm()(W)
    np.testing.assert_allclose(out, [[3 / (5 + EPS), 0.0], [4 / (5 + EPS), 1 / (1 + EPS)]])
    np.testing.assert_allclose(np.linalg.norm(constraints.UnitNorm(axis=1)(W), axis=1), 1,
                               rtol=1e-6)


def test_min_max_norm_by_hand():
    out = constraints.MinMaxNorm(min_value=2.0, max_value=4.0)(W)
    # column 0: norm 5 -> 4; column 1: norm 1 -> 2
    np.testing.assert_allclose(out[:, 0], W[:, 0] * 4 / (5 + EPS))
    np.testing.assert_allclose(out[:, 1], W[:, 1] * 2 / (1 + EPS))
    half = constraints.MinMaxNorm(min_value=2.0, max_value=4.0, rate=0.5)(W)
    # desired = 0.5 * clip(n) + 0.5 * n: 4.5 and 1.5
    np.testing.assert_allclose(half[:, 0], W[:, 0] * 4.5 / (5 + EPS))
    np.testing.assert_allclose(half[:, 1], W[:, 1] * 1.5 / (1 + EPS))


def test_conv_kernel_axes():
    w = np.random.default_rng(0).standard_normal((3, 3, 2, 4))
    out = constraints.UnitNorm(axis=[0, 1, 2])(w)
    np.testing.assert_allclose(np.sqrt((out ** 2).sum(axis=(0, 1, 2))), 1, rtol=1e-6)


@pytest.mark.parametrize("c", [constraints.MaxNorm(1.0), constraints.NonNeg(),
                               constraints.UnitNorm(), constraints.MinMaxNorm(0.5, 2.0, 0.3)],
                         ids=repr)
def test_new_array_same_dtype_input_untouched(c):
    w = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32) * 3
    before = w.copy()
    out = c(w)
    assert out.dtype == np.float32 and out.shape == w.shape and out is not w
    np.testing.assert_array_equal(w, before)


def test_base_constraint_is_identity():
    w = np.ones(2)
    assert constraints.Constraint()(w) is w
    assert constraints.Constraint().get_config() == {}


@pytest.mark.parametrize("cls", [constraints.MaxNorm, constraints.NonNeg, constraints.UnitNorm,
                                 constraints.MinMaxNorm])
def test_config_round_trip_and_serialize(cls):
    config = cls().get_config()
    assert cls.from_config(config).get_config() == config
    record = constraints.serialize(cls())
    assert record == {"module": "keras.constraints", "class_name": cls.__name__,
                      "config": config, "registered_name": None}
    assert type(constraints.get(record)) is cls


def test_keras_3_configs():
    assert constraints.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert constraints.UnitNorm().get_config() == {"axis": 0}
    assert constraints.NonNeg().get_config() == {}
    assert list(constraints.MinMaxNorm().get_config().items()) == [
        ("min_value", 0.0), ("max_value", 1.0), ("rate", 1.0), ("axis", 0)]


def test_aliases_and_get():
    for alias, cls in [("max_norm", constraints.MaxNorm), ("non_neg", constraints.NonNeg),
                       ("unit_norm", constraints.UnitNorm),
                       ("min_max_norm", constraints.MinMaxNorm),
                       ("MaxNorm", constraints.MaxNorm), ("NonNeg", constraints.NonNeg)]:
        assert type(constraints.get(alias)) is cls
    assert constraints.get(None) is None
    c = constraints.MaxNorm(3)
    assert constraints.get(c) is c
    assert type(constraints.get(constraints.UnitNorm)) is constraints.UnitNorm
    k2 = constraints.get({"class_name": "MaxNorm", "config": {"max_value": 3, "axis": [0, 1]}})
    assert k2.max_value == 3 and k2.axis == [0, 1]

    def clip(w):
        return np.clip(w, -1, 1)

    assert constraints.get(clip) is clip
    assert constraints.serialize(None) is None


@pytest.mark.parametrize("bad", ["nonsense", {"class_name": "Nope", "config": {}}, 1.5])
def test_unknown_identifier_lists_known_names(bad):
    with pytest.raises(ValueError, match="Could not interpret constraint identifier") as e:
        constraints.get(bad)
    assert "Known: " in str(e.value) and "non_neg" in str(e.value)


@pytest.mark.parametrize(
    "name, kwargs",
    [("MaxNorm", {}), ("MaxNorm", {"max_value": 1.5, "axis": 1}), ("NonNeg", {}),
     ("UnitNorm", {}), ("UnitNorm", {"axis": [0, 1]}), ("MinMaxNorm", {}),
     ("MinMaxNorm", {"min_value": 2.0, "max_value": 3.0, "rate": 0.5, "axis": 1})],
)
def test_matches_keras(keras, name, kwargs):
    w = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32) * 2
    theirs = getattr(keras.constraints, name)(**kwargs)
    ours = getattr(constraints, name)(**kwargs)
    np.testing.assert_allclose(ours(w), np.asarray(theirs(w)), rtol=1e-6, atol=1e-7)
    assert constraints.serialize(ours) == keras.constraints.serialize(theirs)
