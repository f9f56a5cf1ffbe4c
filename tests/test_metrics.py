"""Metrics: parity with real Keras 3 over several batches, resolution, merging, errors."""

import numpy as np
import pytest

from fcnet import losses, metrics

N, K = 20, 5


def _batches(count=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        labels = rng.integers(0, K, N)
        out.append({
            "y_reg": rng.normal(size=(N, K)).astype("float32"),
            "p_reg": rng.normal(size=(N, K)).astype("float32"),
            "probs": rng.uniform(0, 1, size=(N, K)).astype("float32"),
            "yb": (rng.uniform(size=(N, K)) > 0.5).astype("float32"),
            "pb1": rng.uniform(size=(N, 1)).astype("float32"),
            "yb1": (rng.uniform(size=(N,)) > 0.5).astype("float32"),
            "labels": labels,
            "onehot": np.eye(K, dtype="float32")[labels],
            "sw": rng.uniform(0.1, 2, size=N).astype("float32"),
        })
    return out


# (class name, kwargs, y_true key or None for Mean/Sum, y_pred key)
CASES = [
    ("Mean", {}, None, "p_reg"),
    ("Sum", {}, None, "p_reg"),
    ("Accuracy", {}, "labels", "labels"),
    ("BinaryAccuracy", {}, "yb", "probs"),
    ("BinaryAccuracy", {"threshold": 0.3}, "yb1", "pb1"),
    ("CategoricalAccuracy", {}, "onehot", "probs"),
    ("SparseCategoricalAccuracy", {}, "labels", "probs"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot", "probs"),
    ("SparseTopKCategoricalAccuracy", {"k": 3}, "labels", "probs"),
    ("MeanSquaredError", {}, "y_reg", "p_reg"),
    ("MeanAbsoluteError", {}, "y_reg", "p_reg"),
    ("MeanAbsolutePercentageError", {}, "y_reg", "p_reg"),
    ("MeanSquaredLogarithmicError", {}, "probs", "probs"),
    ("RootMeanSquaredError", {}, "y_reg", "p_reg"),
    ("CosineSimilarity", {}, "y_reg", "p_reg"),
    ("LogCoshError", {}, "y_reg", "p_reg"),
    ("BinaryCrossentropy", {}, "yb", "probs"),
    ("CategoricalCrossentropy", {}, "onehot", "probs"),
    ("SparseCategoricalCrossentropy", {}, "labels", "probs"),
    ("KLDivergence", {}, "probs", "probs"),
    ("Poisson", {}, "probs", "probs"),
    ("Hinge", {}, "yb", "p_reg"),
    ("SquaredHinge", {}, "yb", "p_reg"),
    ("CategoricalHinge", {}, "onehot", "p_reg"),
    ("Precision", {}, "yb", "probs"),
    ("Recall", {}, "yb", "probs"),
    ("Precision", {"thresholds": [0.7, 0.2, 0.5]}, "yb", "probs"),
    ("Recall", {"thresholds": [0.0, 0.5, 1.0]}, "yb", "probs"),
    ("Precision", {"top_k": 2}, "yb", "probs"),
    ("Recall", {"class_id": 1}, "yb", "probs"),
    ("Precision", {"thresholds": 0.3, "class_id": 2}, "yb", "probs"),
    ("Recall", {}, "yb1", "pb1"),
    ("AUC", {}, "yb", "probs"),
    ("AUC", {}, "yb1", "pb1"),
    ("AUC", {"curve": "PR"}, "yb", "probs"),
    ("AUC", {"curve": "PR", "summation_method": "minoring"}, "yb", "probs"),
    ("AUC", {"summation_method": "majoring"}, "yb", "probs"),
    ("AUC", {"curve": "PRGAIN"}, "yb", "probs"),
    ("AUC", {"thresholds": [0.1, 0.35, 0.8]}, "yb", "probs"),
    ("AUC", {"num_thresholds": 11}, "yb1", "pb1"),
    ("AUC", {"multi_label": True}, "yb", "probs"),
    ("AUC", {"multi_label": True, "num_labels": K, "label_weights": [1, 2, 3, 4, 5]},
     "yb", "probs"),
    ("AUC", {"from_logits": True}, "yb", "p_reg"),
    ("AUC", {"label_weights": [1, 2, 3, 4, 5]}, "yb", "probs"),
    ("TruePositives", {}, "yb", "probs"),
    ("FalsePositives", {}, "yb", "probs"),
    ("TrueNegatives", {}, "yb", "probs"),
    ("FalseNegatives", {"thresholds": [0.2, 0.6]}, "yb", "probs"),
]
IDS = [f"{c}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for c, kw, _, _ in CASES]


def _update(metric, batch, t_key, p_key, weighted):
    w = batch["sw"] if weighted else None
    if t_key is None:
        metric.update_state(batch[p_key], sample_weight=w)
    else:
        metric.update_state(batch[t_key], batch[p_key], sample_weight=w)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_keras_over_batches(keras, case):
    name, kwargs, t_key, p_key = case
    theirs, ours = getattr(keras.metrics, name)(**kwargs), getattr(metrics, name)(**kwargs)
    for i, batch in enumerate(_batches()):
        weighted = i == 1
        _update(theirs, batch, t_key, p_key, weighted)
        _update(ours, batch, t_key, p_key, weighted)
        np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()),
                                   rtol=1e-5, atol=1e-6)
    theirs.reset_state()
    ours.reset_state()
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()))
    batch = _batches(1, seed=5)[0]
    _update(theirs, batch, t_key, p_key, False)
    _update(ours, batch, t_key, p_key, False)
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_config_matches_keras_and_round_trips(keras, case):
    name, kwargs, _, _ = case
    theirs = getattr(keras.metrics, name)(**kwargs).get_config()
    ours = getattr(metrics, name)(**kwargs)
    config = ours.get_config()
    assert set(config) == set(theirs)
    for key, value in theirs.items():
        if key != "name":
            np.testing.assert_equal(np.asarray(config[key], dtype=object if value is None
                                               else None), np.asarray(value))
    again = metrics.deserialize(metrics.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == config
    assert metrics.serialize(ours)["module"] == "keras.metrics"


def test_default_names():
    assert metrics.MeanSquaredError().name == "mean_squared_error"
    assert metrics.LogCoshError().name == "logcosh"
    assert [metrics.Precision().name, metrics.Precision().name] == ["precision", "precision_1"]
    assert metrics.AUC().name == "auc" and metrics.AUC(name="roc").name == "roc"


def test_results_are_python_floats():
    m = metrics.Mean()
    m.update_state([1, 3, 5, 7])
    assert m.result() == 4.0 and isinstance(m.result(), float)
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert m.result() == pytest.approx(20 / 6)
    assert metrics.Sum()([1, 3, 5, 7], sample_weight=[1, 1, 0, 0]) == 4.0
    p = metrics.Precision(thresholds=[0.3, 0.6])
    p.update_state([1, 0, 1], [0.5, 0.4, 0.9])
    np.testing.assert_allclose(p.result(), [2 / 3, 1.0])


# ---- "accuracy" resolution -------------------------------------------------------------


def test_accuracy_resolved_from_shapes():
    cases = [
        ((8, 1), (8, 1), metrics.BinaryAccuracy),
        ((8,), (8, 1), metrics.BinaryAccuracy),
        ((8,), (8, 3), metrics.SparseCategoricalAccuracy),
        ((8, 1), (8, 3), metrics.SparseCategoricalAccuracy),
        ((8, 3), (8, 3), metrics.CategoricalAccuracy),
    ]
    for name in ("accuracy", "acc", "Accuracy"):
        for t_shape, p_shape, cls in cases:
            m = metrics.get_for_output(name, np.zeros(t_shape), np.zeros(p_shape))
            assert type(m) is cls and m.name == name
    # shapes work as well as arrays
    assert type(metrics.get_for_output("accuracy", (8,), (8, 3))) is \
        metrics.SparseCategoricalAccuracy


def test_resolved_accuracy_computes_the_right_thing():
    p = np.array([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.9, 0.05, 0.05]])
    labels = np.array([1, 0, 0, 0])
    m = metrics.get_for_output("accuracy", labels, p)
    m.update_state(labels, p)
    assert m.result() == 0.75
    m = metrics.get_for_output("accuracy", np.eye(3)[labels], p)
    m.update_state(np.eye(3)[labels], p)
    assert m.result() == 0.75
    m = metrics.get_for_output("acc", np.array([1, 0, 1]), np.array([[0.7], [0.6], [0.2]]))
    m.update_state(np.array([1, 0, 1]), np.array([[0.7], [0.6], [0.2]]))
    assert m.result() == pytest.approx(1 / 3)


def test_crossentropy_and_loss_names_as_metrics():
    m = metrics.get_for_output("crossentropy", (8,), (8, 3), loss=losses.get("mse"))
    assert type(m) is metrics.SparseCategoricalCrossentropy and m.name == "crossentropy"
    logits = losses.BinaryCrossentropy(from_logits=True)
    m = metrics.get_for_output("ce", (8, 1), (8, 1), loss=logits)
    assert type(m) is metrics.BinaryCrossentropy and m._fn_kwargs["from_logits"] is True
    m = metrics.get_for_output("mse", (8, 1), (8, 1))
    assert type(m) is metrics.MeanSquaredError and m.name == "mse"
    # any loss is a metric: the running mean of its per-sample values
    m = metrics.get_for_output("huber", (4, 1), (4, 1))
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "huber"
    y, p = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[0.5], [1.0], [4.0], [3.0]])
    m.update_state(y, p)
    np.testing.assert_allclose(m.result(), losses.Huber()(y, p), rtol=1e-6)
    assert metrics.get("mse").name == "mean_squared_error"  # as keras.metrics.get


# ---- merging states across processes ---------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_summed_states_give_the_global_result(case):
    name, kwargs, t_key, p_key = case
    batch = _batches(1, seed=9)[0]
    whole = getattr(metrics, name)(**kwargs)
    _update(whole, batch, t_key, p_key, True)
    halves = []
    for part in (slice(0, 7), slice(7, N)):
        m = getattr(metrics, name)(**kwargs)
        _update(m, {k: v[part] for k, v in batch.items()}, t_key, p_key, True)
        halves.append(m)
    states = [m.state() for m in halves]
    assert all(isinstance(s, np.ndarray) and s.dtype == np.float64 for s in states[0])
    summed = [a + b for a, b in zip(*states, strict=True)]
    merged = getattr(metrics, name)(**kwargs)
    if not merged.variables:  # multi_label AUC builds its state at its first update
        _update(merged, batch, t_key, p_key, False)
    merged.set_state(summed)
    np.testing.assert_allclose(merged.result(), whole.result(), rtol=1e-12, atol=1e-12)
    halves[0].merge_state(halves[1])
    np.testing.assert_allclose(halves[0].result(), whole.result(), rtol=1e-12, atol=1e-12)


# ---- get and errors --------------------------------------------------------------------


def test_get_names_classes_and_functions():
    assert type(metrics.get("auc")) is metrics.AUC
    assert type(metrics.get("Precision")) is metrics.Precision
    assert type(metrics.get("binary_accuracy")) is metrics.BinaryAccuracy
    assert type(metrics.get("mae")) is metrics.MeanAbsoluteError
    assert type(metrics.get(metrics.Recall)) is metrics.Recall
    r = metrics.Recall()
    assert metrics.get(r) is r
    m = metrics.get(lambda y_true, y_pred: np.abs(y_true - y_pred).max(-1))
    assert isinstance(m, metrics.MeanMetricWrapper)
    assert type(metrics.get({"class_name": "AUC", "config": {"curve": "PR"}})) is metrics.AUC


def test_unknown_metric_lists_known_names():
    for call in (lambda: metrics.get("nonsense"), lambda: metrics.check_identifier("nonsense"),
                 lambda: metrics.get_for_output("nonsense", (2, 1), (2, 1))):
        with pytest.raises(ValueError, match="Could not interpret metric identifier: "
                                             "nonsense") as info:
            call()
        assert "accuracy" in str(info.value) and "mse" in str(info.value)
    for ok in ("accuracy", "acc", "ce", "mse", "huber", "AUC", metrics.Recall()):
        metrics.check_identifier(ok)


def test_sparse_label_out_of_range_in_metric():
    m = metrics.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match=r"label value of 7.*\[0, 3\)"):
        m.update_state([0, 7], [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])


def test_auc_argument_errors():
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.Precision(thresholds=[0.5, 1.5])
