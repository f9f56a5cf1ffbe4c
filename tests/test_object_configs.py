"""Optimizers, losses, initializers, regularizers, constraints and activations cross to
real Keras 3 and back.

Each object fcnet serialises is deserialised by Keras (which passes config keys as
constructor arguments) and compared key by key with the original; each object Keras
serialises is read by fcnet. Where the object computes something deterministic (a loss,
a penalty, a constraint, a constant initializer, an activation) both give the same
numbers (≤ 1e-5).
"""

import json
import os

import numpy as np
import pytest

RNG = np.random.default_rng(20261128)


def _normal(*shape):
    return RNG.normal(size=shape).astype("float32")


def _as_json(config):
    """The config as it would reach a file: tuples become lists."""
    return json.loads(json.dumps(config))


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")

def _family(kind):
    import fcnet

    return getattr(fcnet, kind), getattr(_keras(), kind)


OPTIMIZERS = [
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"learning_rate": 0.002, "rho": 0.8, "momentum": 0.1, "centered": True}),
    ("Adagrad", {"learning_rate": 0.02, "initial_accumulator_value": 0.2}),
    ("Adam", {"learning_rate": 0.003, "beta_1": 0.8, "amsgrad": True, "clipnorm": 1.0}),
    ("AdamW", {"learning_rate": 0.003, "weight_decay": 0.01, "clipvalue": 0.5}),
    ("Adamax", {"learning_rate": 0.004, "beta_2": 0.99}),
    ("Nadam", {"learning_rate": 0.004, "epsilon": 1e-6, "global_clipnorm": 2.0}),
]


def _assert_same_values(ours: dict, theirs: dict):
    """Every key both configs have holds the same value (floats to float32 precision)."""
    shared = set(ours) & set(theirs)
    assert shared or not (ours or theirs), (ours, theirs)
    for key in shared:
        a, b = ours[key], theirs[key]
        if isinstance(a, float) or isinstance(b, float):
            assert a is not None and b is not None, (key, a, b)
            np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=key)
        else:
            assert a == b, (key, a, b)


def test_every_optimizer_has_a_case():
    import fcnet

    classes = {type(c).__name__ if not isinstance(c, type) else c.__name__
               for c in fcnet.optimizers.ALL_OBJECTS_DICT.values()}
    assert classes == {name for name, _ in OPTIMIZERS}


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_optimizer_configs_cross(name, kwargs):
    ours_mod, theirs_mod = _family("optimizers")
    ours = getattr(ours_mod, name)(**kwargs)
    theirs = theirs_mod.deserialize(_as_json(ours_mod.serialize(ours)))
    assert type(theirs).__name__ == name
    _assert_same_values(ours.get_config(), theirs.get_config())
    back = ours_mod.deserialize(_as_json(theirs_mod.serialize(theirs)))
    assert type(back).__name__ == name
    _assert_same_values(back.get_config(), theirs.get_config())
    assert _as_json(back.get_config()) == _as_json(ours.get_config())


LOSSES = [
    ("MeanSquaredError", {}), ("MeanAbsoluteError", {}), ("MeanAbsolutePercentageError", {}),
    ("MeanSquaredLogarithmicError", {}), ("Huber", {"delta": 0.5}), ("LogCosh", {}),
    ("CosineSimilarity", {"axis": -1}), ("BinaryCrossentropy", {"label_smoothing": 0.1}),
    ("CategoricalCrossentropy", {"from_logits": True}),
    ("SparseCategoricalCrossentropy", {"from_logits": True}), ("KLDivergence", {}),
    ("Poisson", {"reduction": "sum"}), ("Hinge", {}), ("SquaredHinge", {}),
    ("CategoricalHinge", {}),
]
# Arguments Keras 3.15 accepts but leaves out of its own configs (a Keras quirk): the
# Keras-to-fcnet direction is checked on objects Keras made without them.
KERAS_DROPS = {"Huber": "delta", "Identity": "gain"}


def _without_dropped(name, kwargs):
    return {k: v for k, v in kwargs.items() if k != KERAS_DROPS.get(name)}


def _loss_data(name):
    p = np.abs(_normal(4, 3)) + 0.1
    p /= p.sum(axis=1, keepdims=True)
    if name == "SparseCategoricalCrossentropy":
        return np.array([0, 2, 1, 2]), _normal(4, 3)
    if name in ("BinaryCrossentropy", "KLDivergence", "CategoricalCrossentropy"):
        return np.eye(3, dtype="float32")[[0, 2, 1, 2]], p
    return np.abs(_normal(4, 3)), p


@pytest.mark.parametrize("name, kwargs", LOSSES, ids=[n for n, _ in LOSSES])
def test_loss_configs_cross(name, kwargs):
    ours_mod, theirs_mod = _family("losses")
    ours = getattr(ours_mod, name)(**kwargs)
    theirs = theirs_mod.deserialize(_as_json(ours_mod.serialize(ours)))
    plain = getattr(theirs_mod, name)(**_without_dropped(name, kwargs))
    back = ours_mod.deserialize(_as_json(theirs_mod.serialize(plain)))
    y_true, y_pred = _loss_data(name)
    for fc, ke in ((ours, theirs), (back, plain)):
        np.testing.assert_allclose(float(np.asarray(fc(y_true, y_pred))),
                                   float(np.asarray(ke(y_true, y_pred))), rtol=1e-5)


INITIALIZERS = [
    ("Constant", {"value": 0.7}), ("Zeros", {}), ("Ones", {}), ("Identity", {"gain": 2.0}),
    ("GlorotNormal", {"seed": 1}), ("GlorotUniform", {"seed": 2}), ("HeNormal", {"seed": 3}),
    ("HeUniform", {}), ("LecunNormal", {}), ("LecunUniform", {"seed": 4}),
    ("Orthogonal", {"gain": 0.5, "seed": 5}), ("RandomNormal", {"mean": 1.0, "stddev": 0.1}),
    ("RandomUniform", {"minval": -0.2, "maxval": 0.3}), ("TruncatedNormal", {"stddev": 0.2}),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"}),
]
REGULARIZERS = [("L1", {"l1": 0.1}), ("L2", {"l2": 0.2}), ("L1L2", {"l1": 0.1, "l2": 0.3}),
                ("OrthogonalRegularizer", {"factor": 0.1, "mode": "columns"})]
CONSTRAINTS = [("MaxNorm", {"max_value": 0.5, "axis": 0}), ("NonNeg", {}),
               ("UnitNorm", {"axis": 1}),
               ("MinMaxNorm", {"min_value": 0.5, "max_value": 0.8, "rate": 0.5})]
SMALL = [("initializers", n, k) for n, k in INITIALIZERS] + [
    ("regularizers", n, k) for n, k in REGULARIZERS] + [
    ("constraints", n, k) for n, k in CONSTRAINTS]


def _apply(kind, obj, w):
    """What an object of the family computes, where that is deterministic."""
    if kind == "initializers":
        if type(obj).__name__ not in ("Constant", "Zeros", "Ones", "Identity"):
            return None
        return np.asarray(obj((3, 3), dtype="float32"))
    return np.asarray(obj(w))


_WEIGHT = _normal(3, 3)


@pytest.mark.parametrize("kind, name, kwargs", SMALL, ids=[f"{k}-{n}" for k, n, _ in SMALL])
def test_small_family_configs_cross(kind, name, kwargs):
    ours_mod, theirs_mod = _family(kind)
    ours = getattr(ours_mod, name)(**kwargs)
    theirs = theirs_mod.deserialize(_as_json(ours_mod.serialize(ours)))
    assert type(theirs).__name__ == name
    if name not in KERAS_DROPS:  # else the values below tell whether Keras took it
        _assert_same_values(ours.get_config(), theirs.get_config())
    plain = getattr(theirs_mod, name)(**_without_dropped(name, kwargs))
    back = ours_mod.deserialize(_as_json(theirs_mod.serialize(plain)))
    _assert_same_values(back.get_config(), plain.get_config())
    if name not in KERAS_DROPS:
        assert _as_json(back.get_config()) == _as_json(ours.get_config())
    # Keras gets a backend tensor: its NumPy path of `normalize` ignores axis=0.
    tensor = _keras().ops.convert_to_tensor(_WEIGHT)
    for fc, ke in ((ours, theirs), (back, plain)):
        expected = _apply(kind, ke, tensor)
        if expected is not None:
            np.testing.assert_allclose(_apply(kind, fc, _WEIGHT), expected, rtol=1e-5,
                                       atol=1e-6)


ACTIVATIONS = ["elu", "exponential", "gelu", "hard_sigmoid", "hard_silu", "leaky_relu",
               "linear", "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu",
               "softmax", "softplus", "softsign", "tanh"]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_names_cross(name):
    ours_mod, theirs_mod = _family("activations")
    theirs = theirs_mod.deserialize(_as_json(ours_mod.serialize(getattr(ours_mod, name))))
    ours = ours_mod.deserialize(_as_json(theirs_mod.serialize(getattr(theirs_mod, name))))
    x = _normal(3, 4)
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(theirs(x)), rtol=1e-5,
                               atol=1e-6)
