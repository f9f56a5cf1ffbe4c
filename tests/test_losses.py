"""Losses: parity with real Keras 3, NumPy formulas, gradients, fused gradients, errors."""

import numpy as np
import pytest

from fcnet import losses

RNG = np.random.default_rng(7)
N, K = 6, 4


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _data(dtype="float32"):
    """Inputs away from kinks and clips, so finite differences are meaningful."""
    rng = np.random.default_rng(3)
    d = {}
    d["y"] = rng.normal(size=(N, K))
    err = rng.uniform(0.2, 0.6, size=(N, K)) * rng.choice([-1, 1], size=(N, K))
    err[::2] *= 4.0  # some errors beyond Huber's delta, some inside
    d["p"] = d["y"] + err
    d["y_pos"] = rng.uniform(0.1, 3.0, size=(N, K))
    d["p_pos"] = rng.uniform(0.1, 3.0, size=(N, K))
    d["bin"] = (rng.uniform(size=(N, K)) > 0.5).astype(float)
    d["prob"] = rng.uniform(0.05, 0.95, size=(N, K))
    d["unnorm"] = rng.uniform(0.1, 1.0, size=(N, K))  # categorical renormalises
    d["logits"] = rng.normal(size=(N, K)) * 2.0
    d["labels"] = rng.integers(0, K, size=N)
    d["onehot"] = np.eye(K)[d["labels"]]
    d["dist"] = rng.uniform(0.1, 0.9, size=(N, K))
    margin = rng.uniform(0.2, 0.8, size=(N, K)) * rng.choice([-1, 1], size=(N, K))
    d["hinge_p"] = (2 * d["bin"] - 1) * (1.0 - margin)  # margins 1 - y p away from 0
    d["w"] = rng.uniform(0.2, 2.0, size=N)
    return {k: (v.astype(dtype) if v.dtype.kind == "f" else v) for k, v in d.items()}


# (class name, kwargs, y_true key, y_pred key)
CASES = [
    ("MeanSquaredError", {}, "y", "p"),
    ("MeanAbsoluteError", {}, "y", "p"),
    ("MeanAbsolutePercentageError", {}, "y", "p"),
    ("MeanSquaredLogarithmicError", {}, "y_pos", "p_pos"),
    ("Huber", {"delta": 1.0}, "y", "p"),
    ("Huber", {"delta": 0.5}, "y", "p"),
    ("LogCosh", {}, "y", "p"),
    ("BinaryCrossentropy", {}, "bin", "prob"),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, "bin", "prob"),
    ("BinaryCrossentropy", {"from_logits": True}, "bin", "logits"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "bin", "logits"),
    ("CategoricalCrossentropy", {}, "onehot", "unnorm"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.3}, "onehot", "prob"),
    ("CategoricalCrossentropy", {"from_logits": True}, "onehot", "logits"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "onehot", "logits"),
    ("SparseCategoricalCrossentropy", {}, "labels", "unnorm"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "labels", "logits"),
    ("Hinge", {}, "bin", "hinge_p"),
    ("SquaredHinge", {}, "bin", "hinge_p"),
    ("CategoricalHinge", {}, "onehot", "p"),
    ("KLDivergence", {}, "dist", "prob"),
    ("Poisson", {}, "y_pos", "p_pos"),
    ("CosineSimilarity", {}, "y", "p"),
]
IDS = [f"{c}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for c, kw, _, _ in CASES]


# ---- parity with Keras -----------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None, "mean"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_value_matches_keras(keras, case, reduction):
    name, kwargs, t_key, p_key = case
    d = _data()
    for w in (None, d["w"]):
        expected = np.asarray(getattr(keras.losses, name)(reduction=reduction, **kwargs)(
            d[t_key], d[p_key], sample_weight=w))
        got = getattr(losses, name)(reduction=reduction, **kwargs)(
            d[t_key], d[p_key], sample_weight=w)
        assert np.asarray(got).dtype == np.float32
        assert np.shape(got) == expected.shape
        np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_functional_form_matches_keras(keras, case):
    name, kwargs, t_key, p_key = case
    d = _data()
    fn = getattr(losses, name)().fn
    expected = np.asarray(getattr(keras.losses, fn.__name__)(d[t_key], d[p_key], **kwargs))
    got = fn(d[t_key], d[p_key], **kwargs)
    assert got.shape == (N,)
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-6)


def test_mean_with_sample_weight_and_ignore_class_match_keras(keras):
    d = _data()
    w = d["w"]
    got = losses.MeanSquaredError(reduction="mean_with_sample_weight")(d["y"], d["p"], w)
    expected = keras.losses.MeanSquaredError(reduction="mean_with_sample_weight")(
        d["y"], d["p"], w)
    np.testing.assert_allclose(got, np.asarray(expected), rtol=1e-5)
    labels = d["labels"].copy()
    labels[[1, 4]] = 3
    for reduction in ("sum_over_batch_size", "sum"):
        for sw in (None, w):
            ours = losses.SparseCategoricalCrossentropy(ignore_class=3, reduction=reduction)
            theirs = keras.losses.SparseCategoricalCrossentropy(ignore_class=3,
                                                                reduction=reduction)
            np.testing.assert_allclose(ours(labels, d["prob"], sw),
                                       np.asarray(theirs(labels, d["prob"], sw)), rtol=1e-5)


# ---- NumPy formulas by hand ------------------------------------------------------------


def test_formulas_by_hand():
    d = _data("float64")
    w = d["w"]
    mse = ((d["y"] - d["p"]) ** 2).mean(-1)
    np.testing.assert_allclose(losses.MeanSquaredError()(d["y"], d["p"]), mse.mean())
    np.testing.assert_allclose(losses.MeanSquaredError()(d["y"], d["p"], w), (mse * w).sum() / N)
    np.testing.assert_allclose(losses.MeanSquaredError(reduction="sum")(d["y"], d["p"], w),
                               (mse * w).sum())
    np.testing.assert_allclose(losses.MeanSquaredError(reduction=None)(d["y"], d["p"]), mse)

    y, p = d["bin"], d["prob"]
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(-1)
    np.testing.assert_allclose(losses.BinaryCrossentropy()(y, p, w), (bce * w).sum() / N)
    ys = y * 0.8 + 0.1
    bce_s = -(ys * np.log(p) + (1 - ys) * np.log(1 - p)).mean(-1)
    np.testing.assert_allclose(losses.BinaryCrossentropy(label_smoothing=0.2)(y, p), bce_s.mean())
    z = d["logits"]
    np.testing.assert_allclose(losses.BinaryCrossentropy(from_logits=True)(y, z),
                               (-(y * np.log(_sigmoid(z)) + (1 - y) * np.log(1 - _sigmoid(z)))
                                ).mean(-1).mean())

    q = d["unnorm"] / d["unnorm"].sum(-1, keepdims=True)
    cce = -(d["onehot"] * np.log(q)).sum(-1)
    np.testing.assert_allclose(losses.CategoricalCrossentropy()(d["onehot"], d["unnorm"], w),
                               (cce * w).sum() / N)
    ys = d["onehot"] * 0.7 + 0.3 / K
    np.testing.assert_allclose(
        losses.CategoricalCrossentropy(label_smoothing=0.3, from_logits=True)(d["onehot"], z),
        (-(ys * np.log(_softmax(z))).sum(-1)).mean())

    scce = -np.log(q[np.arange(N), d["labels"]])
    np.testing.assert_allclose(losses.SparseCategoricalCrossentropy()(d["labels"], d["unnorm"]),
                               scce.mean())
    np.testing.assert_allclose(
        losses.SparseCategoricalCrossentropy(from_logits=True)(d["labels"], z, w),
        (-np.log(_softmax(z)[np.arange(N), d["labels"]]) * w).sum() / N)


def test_clipping_and_renormalisation_as_keras():
    # p = 0 and 1 are clipped to [1e-7, 1 - 1e-7] (no inf); categorical renormalises.
    value = losses.BinaryCrossentropy()([[1.0, 0.0]], [[0.0, 1.0]])
    eps = np.float32(1e-7)
    high = np.float32(1) - eps  # in float32 1 - 1e-7 is 1 - 1.19e-7
    np.testing.assert_allclose(value, (-np.log(eps) - np.log(np.float32(1) - high)) / 2,
                               rtol=1e-6)
    a = losses.CategoricalCrossentropy()([[0.0, 1.0]], [[2.0, 2.0]])
    np.testing.assert_allclose(a, np.log(2.0), rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_rank_one_target_against_column_prediction(case):
    name, kwargs, t_key, p_key = case
    d = _data()
    loss = getattr(losses, name)(**kwargs)
    if t_key in ("onehot", "labels") or name == "CosineSimilarity":
        pytest.skip("one class column makes no sense for this loss")
    t, p = d[t_key][:, :1], d[p_key][:, :1]
    column = loss(t, p, d["w"])
    flat = loss(t[:, 0], p, d["w"])  # (n,) vs (n, 1): expanded, never broadcast to (n, n)
    np.testing.assert_allclose(flat, column, rtol=1e-6)
    value, dy = loss.value_and_gradient(t[:, 0], p, d["w"])
    np.testing.assert_allclose(value, column, rtol=1e-6)
    assert dy.shape == (N, 1)
    # y_pred (n,) against y_true (n, 1) too
    np.testing.assert_allclose(loss(t, p[:, 0], d["w"]), column, rtol=1e-6)
    assert loss.value_and_gradient(t, p[:, 0])[1].shape == (N,)


def test_sparse_labels_as_column_and_as_floats():
    d = _data()
    loss = losses.SparseCategoricalCrossentropy()
    a = loss(d["labels"], d["prob"])
    np.testing.assert_allclose(loss(d["labels"][:, None], d["prob"]), a)
    np.testing.assert_allclose(loss(d["labels"].astype("float32"), d["prob"]), a)


# ---- gradients -------------------------------------------------------------------------


def _numeric_gradient(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = float(f(x))
        x[i] = old - eps
        down = float(f(x))
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradient_matches_finite_differences(case, reduction):
    name, kwargs, t_key, p_key = case
    d = _data("float64")
    loss = getattr(losses, name)(reduction=reduction, **kwargs)
    for w in (None, d["w"]):
        p = d[p_key].copy()
        value, dy = loss.value_and_gradient(d[t_key], p, w)
        assert dy.dtype == np.float64 and dy.shape == p.shape
        np.testing.assert_allclose(value, loss(d[t_key], p, w), rtol=1e-12)
        numeric = _numeric_gradient(lambda x, w=w: loss(d[t_key], x, w), p)
        np.testing.assert_allclose(dy, numeric, rtol=1e-5, atol=1e-8)


def test_gradient_of_ignored_class_and_weight_sum_reduction():
    d = _data("float64")
    labels = d["labels"].copy()
    labels[[0, 3]] = 2
    for loss in (losses.SparseCategoricalCrossentropy(ignore_class=2),
                 losses.SparseCategoricalCrossentropy(ignore_class=2, from_logits=True),
                 losses.MeanSquaredError(reduction="mean_with_sample_weight")):
        t = d["y"] if isinstance(loss, losses.MeanSquaredError) else labels
        p = d["prob"].copy()
        _, dy = loss.value_and_gradient(t, p, d["w"])
        numeric = _numeric_gradient(lambda x, loss=loss, t=t: loss(t, x, d["w"]), p)
        np.testing.assert_allclose(dy, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dtype_is_kept(case):
    name, kwargs, t_key, p_key = case
    loss = getattr(losses, name)(**kwargs)
    for dtype in ("float32", "float64"):
        d = _data(dtype)
        value, dy = loss.value_and_gradient(d[t_key], d[p_key], d["w"])
        assert np.asarray(value).dtype == dtype and dy.dtype == dtype
        assert np.asarray(loss(d[t_key], d[p_key])).dtype == dtype


def test_extreme_logits_raise_no_floating_point_error():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], dtype=np.float32)
    onehot = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    with np.errstate(all="raise"):
        for loss, y in [
            (losses.BinaryCrossentropy(from_logits=True), onehot),
            (losses.CategoricalCrossentropy(from_logits=True), onehot),
            (losses.SparseCategoricalCrossentropy(from_logits=True), np.array([1, 1])),
            (losses.LogCosh(), onehot),
        ]:
            value, dy = loss.value_and_gradient(y, z)
            assert np.isfinite(value) and np.all(np.isfinite(dy))
            assert np.isfinite(loss(y, z))
    # The wrongly classified first row costs 2e4 nats; the second row almost nothing.
    np.testing.assert_allclose(losses.CategoricalCrossentropy(from_logits=True)(onehot, z),
                               1e4, rtol=1e-5)


# ---- fused gradients -------------------------------------------------------------------


def _softmax_vjp(p, dy):
    return p * (dy - (dy * p).sum(-1, keepdims=True))


FUSED = [
    (losses.CategoricalCrossentropy(), "onehot", "softmax"),
    (losses.CategoricalCrossentropy(label_smoothing=0.2), "onehot", "softmax"),
    (losses.CategoricalCrossentropy(reduction="sum"), "onehot", "softmax"),
    (losses.SparseCategoricalCrossentropy(), "labels", "softmax"),
    (losses.SparseCategoricalCrossentropy(reduction="sum"), "labels", "softmax"),
    (losses.BinaryCrossentropy(), "bin", "sigmoid"),
    (losses.BinaryCrossentropy(label_smoothing=0.1), "bin", "sigmoid"),
]


@pytest.mark.parametrize("loss,t_key,activation", FUSED)
def test_fused_gradient_is_the_chain_rule(loss, t_key, activation):
    d = _data("float64")
    z = d["logits"]
    p = _softmax(z) if activation == "softmax" else _sigmoid(z)
    for w in (None, d["w"]):
        value, dz = loss.fused_gradient(activation, d[t_key], p, w)
        plain_value, dp = loss.value_and_gradient(d[t_key], p, w)
        np.testing.assert_allclose(value, plain_value, rtol=1e-12)
        expected = _softmax_vjp(p, dp) if activation == "softmax" else dp * p * (1 - p)
        np.testing.assert_allclose(dz, expected, rtol=1e-7, atol=1e-12)
        # ... which is the gradient of the loss of activation(z) with respect to z
        act = _softmax if activation == "softmax" else _sigmoid
        numeric = _numeric_gradient(lambda x, w=w, act=act: loss(d[t_key], act(x), w), z.copy())
        np.testing.assert_allclose(dz, numeric, rtol=1e-5, atol=1e-8)


def test_fused_gradient_finite_for_extreme_logits():
    z = np.array([[1e4, -1e4, 0.0], [-50.0, 60.0, 1.0]], dtype=np.float32)
    onehot = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    with np.errstate(over="ignore", under="ignore"):
        p = _softmax(z.astype(np.float64)).astype(np.float32)
        ps = _sigmoid(z.astype(np.float64)).astype(np.float32)
    for loss, y, out, act in [(losses.CategoricalCrossentropy(), onehot, p, "softmax"),
                              (losses.SparseCategoricalCrossentropy(), [1, 0], p, "softmax"),
                              (losses.BinaryCrossentropy(), onehot, ps, "sigmoid")]:
        value, dz = loss.fused_gradient(act, y, out)
        assert np.isfinite(value) and np.all(np.isfinite(dz)) and dz.dtype == np.float32
        # Clipped probabilities give a zero unfused gradient; the fused one is p - y.
        np.testing.assert_allclose(np.abs(dz).max(), 1.0 / (2 if act == "softmax" else 6),
                                   rtol=1e-5)
        np.testing.assert_allclose(value, loss(y, out), rtol=1e-6)


def test_fused_gradient_none_when_not_fusable():
    d = _data()
    p = _softmax(d["logits"])
    assert losses.CategoricalCrossentropy().fused_gradient("sigmoid", d["onehot"], p) is None
    assert losses.CategoricalCrossentropy(from_logits=True).fused_gradient(
        "softmax", d["onehot"], p) is None
    assert losses.BinaryCrossentropy().fused_gradient("softmax", d["bin"], p) is None
    assert losses.MeanSquaredError().fused_gradient("softmax", d["onehot"], p) is None
    assert losses.CategoricalCrossentropy(axis=0).fused_gradient(
        "softmax", d["onehot"], p) is None


# ---- errors ----------------------------------------------------------------------------


def test_sparse_label_out_of_range():
    p = _softmax(_data()["logits"])
    for bad in (4, -1):
        labels = np.array([0, 1, 2, bad, 1, 0])
        scce = losses.SparseCategoricalCrossentropy()
        for call in (scce, scce.value_and_gradient, losses.sparse_categorical_crossentropy):
            with pytest.raises(ValueError) as info:
                call(labels, p)
            message = str(info.value)
            assert "sparse_categorical_crossentropy" in message
            assert "[0, 4)" in message and f"label value of {bad}" in message
    # an ignored class may lie outside the range
    labels = np.array([0, 1, 2, -1, 1, 0])
    assert np.isfinite(losses.SparseCategoricalCrossentropy(ignore_class=-1)(labels, p))


def test_unknown_identifier_lists_known_names():
    with pytest.raises(ValueError, match="Could not interpret loss identifier: nonsense") as info:
        losses.get("nonsense")
    assert "mse" in str(info.value) and "binary_crossentropy" in str(info.value)
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")


def test_reduction_none_has_no_gradient():
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction=None).value_and_gradient([[1.0]], [[2.0]])


# ---- get / serialize / user losses -----------------------------------------------------


ALIASES = {
    "mse": "MeanSquaredError", "MSE": "MeanSquaredError", "mean_squared_error": "MeanSquaredError",
    "mae": "MeanAbsoluteError", "MAE": "MeanAbsoluteError",
    "mape": "MeanAbsolutePercentageError", "msle": "MeanSquaredLogarithmicError",
    "kld": "KLDivergence", "kl_divergence": "KLDivergence", "huber": "Huber",
    "log_cosh": "LogCosh", "logcosh": "LogCosh", "hinge": "Hinge",
    "squared_hinge": "SquaredHinge", "categorical_hinge": "CategoricalHinge",
    "poisson": "Poisson", "cosine_similarity": "CosineSimilarity",
    "binary_crossentropy": "BinaryCrossentropy", "bce": "BinaryCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
}


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_get_by_alias(alias):
    loss = losses.get(alias)
    assert type(loss).__name__ == ALIASES[alias]
    assert type(losses.get(ALIASES[alias])).__name__ == ALIASES[alias]


def test_get_classes_instances_dicts_and_functions():
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    bce = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(bce) is bce
    again = losses.get({"class_name": "BinaryCrossentropy", "config": {"from_logits": True}})
    assert again.from_logits is True
    assert isinstance(losses.get(losses.mean_squared_error), losses.MeanSquaredError)
    assert losses.get(None) is None


def test_crossentropy_resolved_from_shapes():
    cases = [((8, 1), (8, 1), "BinaryCrossentropy"),
             ((8,), (8, 3), "SparseCategoricalCrossentropy"),
             ((8, 1), (8, 3), "SparseCategoricalCrossentropy"),
             ((8, 3), (8, 3), "CategoricalCrossentropy")]
    for t, p, expected in cases:
        loss = losses.get_for_output("crossentropy", t, p)
        assert type(loss).__name__ == expected and loss.name == "crossentropy"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_config_and_serialize_round_trip(keras, case):
    name, kwargs, _, _ = case
    loss = getattr(losses, name)(reduction="sum", **kwargs)
    config = loss.get_config()
    theirs = getattr(keras.losses, name)(reduction="sum", **kwargs).get_config()
    assert {k: v for k, v in config.items() if k in theirs} == theirs
    again = losses.deserialize(losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == config
    serial = losses.serialize(loss)
    assert serial["module"] == "keras.losses" and serial["class_name"] == name
    assert serial["registered_name"] is None
    # what Keras writes, fcnet reads
    assert losses.deserialize(keras.losses.serialize(
        getattr(keras.losses, name)(**kwargs))).get_config()["name"] == config["name"]


def test_user_function_needs_a_gradient_to_train():
    def my_loss(y_true, y_pred):
        return ((y_true - y_pred) ** 4).mean(-1)

    d = _data("float64")
    loss = losses.get(my_loss)
    assert isinstance(loss, losses.LossFunctionWrapper) and loss.name == "my_loss"
    np.testing.assert_allclose(loss(d["y"], d["p"]), my_loss(d["y"], d["p"]).mean())
    with pytest.raises(NotImplementedError, match="my_loss.*needs a gradient"):
        loss.value_and_gradient(d["y"], d["p"])
    my_loss.gradient = lambda y_true, y_pred: 4 * (y_pred - y_true) ** 3 / y_pred.shape[-1]
    p = d["p"].copy()
    _, dy = loss.value_and_gradient(d["y"], p, d["w"])
    np.testing.assert_allclose(dy, _numeric_gradient(lambda x: loss(d["y"], x, d["w"]), p),
                               rtol=1e-5)


def test_user_loss_subclass():
    class Quartic(losses.Loss):
        def call(self, y_true, y_pred):
            return ((y_true - y_pred) ** 4).mean(-1)

        def gradient(self, y_true, y_pred):
            return 4 * (y_pred - y_true) ** 3 / y_pred.shape[-1]

    d = _data("float64")
    loss = Quartic()
    assert loss.name == "quartic"
    p = d["p"].copy()
    _, dy = loss.value_and_gradient(d["y"], p)
    np.testing.assert_allclose(dy, _numeric_gradient(lambda x: loss(d["y"], x), p), rtol=1e-5)
