"""fcnet trains to real Keras 3's numbers.

Each case builds ``Input(4) -> Dense(5, tanh) -> Dense(k, activation)`` in fcnet and
in Keras 3 (JAX backend), copies fcnet's initial weights into the Keras model,
compiles both with the same optimizer and loss, fits both on the same fixed data
(``batch_size=8, epochs=3, shuffle=False``), then checks that the per-epoch
histories (every key), the final weights, ``evaluate`` and ``predict`` agree to
float32 tolerance. Keras is the independent oracle: nothing here re-derives its
formulas.
"""


import numpy as np
import pytest
from keras_training import LOSS_TOL, WEIGHT_TOL, assert_same_fit, training_keras

import fcnet

keras = training_keras()

# 24 samples = 3 full batches of 8: one batch shape keeps JAX's per-shape compilations
# few. Cases that need a short last batch set their own ``n``.
N, FEATURES, HIDDEN = 24, 4, 5
FIT = dict(batch_size=8, epochs=3, shuffle=False, verbose=0)


# ---------------------------------------------------------------------- data
def _targets(kind: str, rng, k: int, n: int):
    """Targets of one kind for n samples and k outputs, float32 or int32."""
    if kind == "real":
        return rng.normal(size=(n, k)).astype("float32")
    if kind == "real1d":  # (n,) against an (n, 1) output
        return rng.normal(size=(n,)).astype("float32")
    if kind == "positive":
        return rng.uniform(0.5, 2.0, size=(n, k)).astype("float32")
    if kind == "counts":
        return rng.poisson(1.5, size=(n, k)).astype("float32") + 0.5
    if kind == "binary":
        return rng.integers(0, 2, size=(n, k)).astype("float32")
    if kind == "pm1":
        return (2 * rng.integers(0, 2, size=(n, k)) - 1).astype("float32")
    if kind == "onehot":
        return np.eye(k, dtype="float32")[rng.integers(0, k, size=n)]
    if kind == "sparse":
        return rng.integers(0, k, size=(n,)).astype("int32")
    if kind == "sparse2d":
        return rng.integers(0, k, size=(n, 1)).astype("int32")
    if kind == "probs":
        return rng.dirichlet(np.ones(k), size=n).astype("float32")
    raise AssertionError(kind)


def _data(case):
    rng = np.random.default_rng(20240611)
    n = case.get("n", N)
    x = rng.normal(size=(n, FEATURES)).astype("float32")
    return x, _targets(case["target"], rng, case["units"], n)


# ---------------------------------------------------------------------- models
def _model(mod, case):
    """The same Sequential in fcnet or Keras (``mod`` is the package)."""
    hidden_kw, out_kw = case["layer_kwargs"](mod) if "layer_kwargs" in case else ({}, {})
    return mod.Sequential([
        mod.Input(shape=(FEATURES,)),
        mod.layers.Dense(HIDDEN, activation=case.get("hidden", "tanh"), **hidden_kw),
        mod.layers.Dense(case["units"], activation=case["activation"], **out_kw),
    ])


def _compile(model, mod, case):
    # Keras runs eagerly: the same arithmetic, without seconds of XLA compilation per case.
    eager = {"run_eagerly": True} if mod is keras else {}
    metrics = case.get("metrics")
    model.compile(optimizer=case["optimizer"](mod), loss=case["loss"](mod),
                  metrics=metrics(mod) if callable(metrics) else metrics,
                  weighted_metrics=case.get("weighted_metrics"),
                  loss_weights=case.get("loss_weights"), **eager)


def _fit_kwargs(case, y):
    kwargs = dict(FIT)
    if case.get("sample_weight"):
        kwargs["sample_weight"] = np.linspace(0.2, 2.0, len(y)).astype("float32")
    if case.get("class_weight"):
        kwargs["class_weight"] = case["class_weight"]
    if case.get("validation_split"):
        kwargs["validation_split"] = case["validation_split"]
    return kwargs


def _train(model, mod, case, x, y):
    """compile + fit + evaluate + predict; the numbers to compare."""
    _compile(model, mod, case)
    history = model.fit(x, y, **_fit_kwargs(case, y))
    eval_kwargs = {}
    if case.get("sample_weight"):
        eval_kwargs["sample_weight"] = np.linspace(2.0, 0.5, len(y)).astype("float32")
    evaluation = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True, **eval_kwargs)
    return {
        "history": {k: list(map(float, v)) for k, v in history.history.items()},
        "weights": [np.asarray(w) for w in model.get_weights()],
        "evaluate": {k: float(v) for k, v in evaluation.items()},
        "predict": np.asarray(model.predict(x, batch_size=8, verbose=0)),
    }


def _both(case):
    """fcnet's and Keras's results, Keras starting from fcnet's initial weights."""
    x, y = _data(case)
    model = _model(fcnet, case)
    # Biases start away from 0: there d|b|/db is 0 for NumPy's sign (and TensorFlow) but 1
    # under JAX's autodiff, a backend convention an L1 bias penalty would otherwise expose.
    initial = [w + np.float32(0.1) * (w.ndim == 1) for w in model.get_weights()]
    model.set_weights(initial)
    fc = _train(model, fcnet, case, x, y)
    keras.utils.set_random_seed(7)  # (no clear_session: its gc.collect costs 0.3 s a case)
    reference = _model(keras, case)
    reference.set_weights(initial)
    ke = _train(reference, keras, case, x, y)
    # Not a vacuous pass: training moved the weights well beyond the tolerance.
    assert max(np.abs(a - b).max() for a, b in zip(initial, fc["weights"])) > 1e-3
    return fc, ke


# ---------------------------------------------------------------------- cases
def _opt(name, **kw):
    return lambda mod: getattr(mod.optimizers, name)(**kw)


def _loss(name, **kw):
    return lambda mod: getattr(mod.losses, name)(**kw)


def _case(case_id, optimizer=None, loss=None, units=1, activation="linear", target="real",
          marks=(), **extra):
    case = dict(optimizer=optimizer or _opt("Adam", learning_rate=0.01),
                loss=loss or _loss("MeanSquaredError"), units=units, activation=activation,
                target=target, **extra)
    return pytest.param(case, id=case_id, marks=marks)


def _exp_decay(mod):
    schedule = mod.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5)
    return mod.optimizers.SGD(learning_rate=schedule)


OPTIMIZER_CASES = [
    _case("sgd", _opt("SGD", learning_rate=0.05), units=2),
    _case("sgd-momentum-nesterov",
          _opt("SGD", learning_rate=0.05, momentum=0.9, nesterov=True), units=2),
    _case("rmsprop", _opt("RMSprop", learning_rate=0.01), units=2),
    _case("rmsprop-centered-momentum",
          _opt("RMSprop", learning_rate=0.01, centered=True, momentum=0.5), units=2),
    _case("adagrad", _opt("Adagrad", learning_rate=0.1), units=2),
    _case("adam", _opt("Adam", learning_rate=0.01), units=2),
    _case("adam-amsgrad", _opt("Adam", learning_rate=0.01, amsgrad=True), units=2),
    _case("adamw", _opt("AdamW", learning_rate=0.01, weight_decay=0.05), units=2),
    _case("adamax", _opt("Adamax", learning_rate=0.01), units=2),
    _case("nadam", _opt("Nadam", learning_rate=0.01), units=2),
    _case("adam-clipnorm", _opt("Adam", learning_rate=0.01, clipnorm=0.1), units=2),
    _case("adam-clipvalue", _opt("Adam", learning_rate=0.01, clipvalue=0.05), units=2),
    _case("adam-global-clipnorm",
          _opt("Adam", learning_rate=0.01, global_clipnorm=0.1), units=2),
    _case("sgd-exponential-decay", _exp_decay, units=2),
    _case("sgd-weight-decay", _opt("SGD", learning_rate=0.05, weight_decay=0.1), units=2),
    _case("adam-weight-decay", _opt("Adam", learning_rate=0.01, weight_decay=0.1), units=2),
    _case("adagrad-initial-accumulator",
          _opt("Adagrad", learning_rate=0.1, initial_accumulator_value=0.5), units=2),
    _case("rmsprop-string", lambda mod: "rmsprop", units=2),
]

LOSS_CASES = [
    _case("mae", loss=_loss("MeanAbsoluteError"), units=2),
    _case("mape", loss=_loss("MeanAbsolutePercentageError"), units=2, target="positive"),
    _case("msle", loss=_loss("MeanSquaredLogarithmicError"), units=2, target="positive"),
    _case("huber", loss=_loss("Huber", delta=0.5), units=2),
    _case("logcosh", loss=_loss("LogCosh"), units=2),
    _case("bce-sigmoid", loss=_loss("BinaryCrossentropy"), activation="sigmoid",
          target="binary"),
    _case("bce-sigmoid-multilabel", loss=_loss("BinaryCrossentropy"), units=3,
          activation="sigmoid", target="binary"),
    _case("bce-from-logits", loss=_loss("BinaryCrossentropy", from_logits=True),
          target="binary"),
    _case("bce-label-smoothing", loss=_loss("BinaryCrossentropy", label_smoothing=0.1),
          activation="sigmoid", target="binary"),
    _case("cce-softmax", loss=_loss("CategoricalCrossentropy"), units=3,
          activation="softmax", target="onehot"),
    _case("cce-from-logits", loss=_loss("CategoricalCrossentropy", from_logits=True),
          units=3, target="onehot"),
    _case("cce-label-smoothing", loss=_loss("CategoricalCrossentropy", label_smoothing=0.1),
          units=3, activation="softmax", target="onehot"),
    _case("scce-softmax-1d", loss=_loss("SparseCategoricalCrossentropy"), units=3,
          activation="softmax", target="sparse"),
    _case("scce-softmax-2d", loss=_loss("SparseCategoricalCrossentropy"), units=3,
          activation="softmax", target="sparse2d"),
    _case("scce-from-logits", loss=_loss("SparseCategoricalCrossentropy", from_logits=True),
          units=3, target="sparse"),
    _case("hinge-pm1", _opt("SGD", learning_rate=0.05), _loss("Hinge"), target="pm1"),
    _case("hinge-01", _opt("SGD", learning_rate=0.05), _loss("Hinge"), target="binary"),
    _case("squared-hinge", _opt("SGD", learning_rate=0.05), _loss("SquaredHinge"),
          target="pm1"),
    _case("kld", loss=_loss("KLDivergence"), units=3, activation="softmax", target="probs"),
    _case("poisson-softplus", loss=_loss("Poisson"), units=2, activation="softplus",
          target="counts"),
    _case("poisson-exponential", _opt("SGD", learning_rate=0.02), _loss("Poisson"),
          units=2, activation="exponential", target="counts"),
    _case("cosine-similarity", loss=_loss("CosineSimilarity"), units=3),
    _case("categorical-hinge", _opt("SGD", learning_rate=0.05), _loss("CategoricalHinge"),
          units=3, target="onehot"),
    _case("mse-string", loss=lambda mod: "mse", units=2),
    _case("bce-string", loss=lambda mod: "binary_crossentropy", activation="sigmoid",
          target="binary"),
    _case("scce-string", loss=lambda mod: "sparse_categorical_crossentropy", units=3,
          activation="softmax", target="sparse"),
]


def _regularized(mod):
    hidden = dict(kernel_regularizer=mod.regularizers.L2(0.01),
                  bias_regularizer=mod.regularizers.L1(0.02),
                  activity_regularizer=mod.regularizers.L2(0.005))
    out = dict(kernel_regularizer=mod.regularizers.L1L2(l1=0.01, l2=0.02))
    return hidden, out


def _output_activity(mod):
    return {}, dict(activity_regularizer=mod.regularizers.L1(0.01))


def _constrained(mod):
    return (dict(kernel_constraint=mod.constraints.MaxNorm(0.6)),
            dict(kernel_constraint=mod.constraints.UnitNorm(),
                 bias_constraint=mod.constraints.NonNeg()))


def _weight_only(mod):
    return (dict(kernel_regularizer=mod.regularizers.L2(0.01),
                 bias_regularizer=mod.regularizers.L1(0.02)),
            dict(kernel_regularizer=mod.regularizers.L1L2(l1=0.01, l2=0.02)))


TRAINING_CASES = [
    _case("rank-alignment-1d-target", target="real1d"),
    _case("sample-weight", units=2, sample_weight=True),
    _case("sample-weight-unweighted-metric", units=2, sample_weight=True, metrics=["mae"]),
    _case("sample-weight-weighted-metric", units=2, sample_weight=True,
          weighted_metrics=["mae"]),
    _case("class-weight-binary", loss=_loss("BinaryCrossentropy"), activation="sigmoid",
          target="binary", class_weight={0: 0.5, 1: 2.0}),
    _case("class-weight-categorical", loss=_loss("CategoricalCrossentropy"), units=3,
          activation="softmax", target="onehot", class_weight={0: 1.0, 1: 3.0, 2: 0.5}),
    _case("class-weight-sparse", loss=_loss("SparseCategoricalCrossentropy"), units=3,
          activation="softmax", target="sparse", class_weight={0: 1.0, 1: 3.0, 2: 0.5}),
    # 30 samples: batches of 8, 8, 8 and 6; the epoch loss weights each by its size.
    _case("short-last-batch", units=2, n=30),
    _case("short-last-batch-accuracy", loss=_loss("SparseCategoricalCrossentropy"), units=3,
          activation="softmax", target="sparse", n=30, metrics=["accuracy"]),
    # 40 samples, the last 10 held out: training batches 8, 8, 8, 6; validation 8, 2.
    _case("validation-split", units=2, n=40, validation_split=0.25),
    _case("validation-split-accuracy", loss=_loss("CategoricalCrossentropy"), units=3,
          activation="softmax", target="onehot", n=40, validation_split=0.25,
          metrics=["accuracy", "mae"]),
    _case("weight-regularizers", units=2, layer_kwargs=_weight_only),
    _case("all-regularizers", units=2, layer_kwargs=_regularized),
    _case("output-activity-regularizer-sigmoid-bce", loss=_loss("BinaryCrossentropy"),
          activation="sigmoid", target="binary", layer_kwargs=_output_activity),
    _case("metrics-accuracy-binary", loss=_loss("BinaryCrossentropy"), activation="sigmoid",
          target="binary", metrics=["accuracy"]),
    _case("metrics-accuracy-categorical", loss=_loss("CategoricalCrossentropy"), units=3,
          activation="softmax", target="onehot", metrics=["accuracy"]),
    _case("metrics-accuracy-sparse", loss=_loss("SparseCategoricalCrossentropy"), units=3,
          activation="softmax", target="sparse", metrics=["accuracy"]),
    _case("metrics-mae-mse", units=2, metrics=["mae", "mse"]),
    _case("metrics-acc-crossentropy", loss=_loss("CategoricalCrossentropy"), units=3,
          activation="softmax", target="onehot",
          metrics=["acc", "categorical_crossentropy"]),
    _case("metrics-precision-recall-auc", loss=_loss("BinaryCrossentropy"),
          activation="sigmoid", target="binary",
          metrics=lambda mod: [mod.metrics.Precision(), mod.metrics.Recall(),
                               mod.metrics.AUC()]),
    _case("constraints", units=2, layer_kwargs=_constrained),
    _case("loss-weights", units=2, loss_weights=0.5),
    _case("relu-hidden", units=2, hidden="relu"),
]


# ---------------------------------------------------------------------- checks
def _assert_parity(case):
    fc, ke = _both(case)
    assert_same_fit(fc, ke)
    assert fc["predict"].dtype == np.float32
    assert fc["predict"].shape == ke["predict"].shape
    np.testing.assert_allclose(fc["predict"], ke["predict"], **WEIGHT_TOL)


@pytest.mark.parametrize("case", OPTIMIZER_CASES)
def test_optimizer_parity(case):
    _assert_parity(case)


@pytest.mark.parametrize("case", LOSS_CASES)
def test_loss_parity(case):
    _assert_parity(case)


@pytest.mark.parametrize("case", TRAINING_CASES)
def test_training_parity(case):
    _assert_parity(case)


ON_BATCH_CASES = [
    _case("adam-mse", units=2, metrics=["mae"]),
    _case("sgd-momentum-cce-accuracy", _opt("SGD", learning_rate=0.1, momentum=0.9),
          _loss("CategoricalCrossentropy"), units=3, activation="softmax", target="onehot",
          metrics=["accuracy"], sample_weight=True),
]


@pytest.mark.parametrize("case", ON_BATCH_CASES)
def test_on_batch_parity(case):
    """train_on_batch (metrics reset each call), test_on_batch and predict_on_batch."""
    x, y = _data(case)
    sw = np.linspace(0.2, 2.0, len(y)).astype("float32") if case.get("sample_weight") else None
    model = _model(fcnet, case)
    initial = model.get_weights()
    reference = _model(keras, case)
    reference.set_weights(initial)
    _compile(model, fcnet, case)
    _compile(reference, keras, case)
    for start in (0, 8, 16, 0):
        batch = slice(start, start + 8)
        kw = {} if sw is None else {"sample_weight": sw[batch]}
        got = model.train_on_batch(x[batch], y[batch], return_dict=True, **kw)
        want = reference.train_on_batch(x[batch], y[batch], return_dict=True, **kw)
        assert sorted(got) == sorted(want)
        for key in want:
            np.testing.assert_allclose(got[key], float(want[key]), err_msg=key, **LOSS_TOL)
    got = model.test_on_batch(x, y, return_dict=True)
    want = reference.test_on_batch(x, y, return_dict=True)
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_allclose(got[key], float(want[key]), err_msg=key, **LOSS_TOL)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, **WEIGHT_TOL)
    np.testing.assert_allclose(model.predict_on_batch(x), reference.predict_on_batch(x),
                               **WEIGHT_TOL)
