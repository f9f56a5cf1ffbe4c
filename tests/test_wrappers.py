"""fcnet.wrappers' estimators inside scikit-learn: labels in and out, targets of one
and several columns, clone/set_params routing, pickling, warm starts, models given as
instances, Pipeline + GridSearchCV on the embedded digits, cross_val_score."""

import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import fcnet  # noqa: E402
from fcnet.datasets import digits  # noqa: E402
from fcnet.wrappers import (  # noqa: E402
    SKLearnClassifier,
    SKLearnRegressor,
    SKLearnTransformer,
)

QUIET = {"verbose": 0}


def mlp(X, y, hidden=32, learning_rate=1e-2, output="softmax", loss=None, units=None):
    """A one-hidden-layer model sized from the data (Keras's builder contract)."""
    model = fcnet.Sequential([fcnet.Input((X.shape[1],)),
                              fcnet.layers.Dense(hidden, activation="relu"),
                              fcnet.layers.Dense(units or y.shape[1], activation=output)])
    model.compile(fcnet.optimizers.Adam(learning_rate), loss or "categorical_crossentropy")
    return model


def regression_mlp(X, y, hidden=32):
    return mlp(X, y, hidden, output="linear", loss="mse")


def blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[2, 0], [-2, 1], [0, -2]])
    labels = rng.integers(0, 3, n)
    return (centres[labels] + 0.5 * rng.normal(size=(n, 2))).astype(np.float64), labels


@pytest.mark.parametrize("kind", ["str", "int", "onehot"])
def test_classifier_labels_round_trip(kind):
    X, labels = blobs()
    y = {"str": np.array(["cat", "dog", "eel"])[labels], "int": labels * 10 + 7,
         "onehot": np.eye(3, dtype=np.int64)[labels]}[kind]
    clf = SKLearnClassifier(mlp, fit_kwargs={"epochs": 30, **QUIET}).fit(X, y)
    pred = clf.predict(X)
    assert pred.dtype == y.dtype and pred.shape == y.shape
    assert clf.n_features_in_ == 2 and len(clf.classes_) == 3
    expected_classes = {"str": ["cat", "dog", "eel"], "int": [7, 17, 27],
                        "onehot": [0, 1, 2]}[kind]
    assert list(clf.classes_) == expected_classes
    assert np.mean(np.all(pred == y, axis=-1) if kind == "onehot" else pred == y) > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (240, 3) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    index = proba.argmax(axis=1)
    expected = np.eye(3, dtype=y.dtype)[index] if kind == "onehot" else clf.classes_[index]
    np.testing.assert_array_equal(pred, expected)


def test_builder_receives_one_hot_float32_target():
    X, labels = blobs(30)
    seen = {}

    def build(X, y):
        seen.update(X=X, y=y)
        return mlp(X, y)

    SKLearnClassifier(build, fit_kwargs={"epochs": 1, **QUIET}).fit(X, np.array(["b", "a"])[
        labels % 2])
    assert seen["X"].dtype == np.float32 and seen["y"].dtype == np.float32
    np.testing.assert_array_equal(seen["y"], np.eye(2)[(labels % 2 == 0).astype(int)])


def test_binary_with_one_sigmoid_unit():
    X, labels = blobs()
    y = labels == 0
    clf = SKLearnClassifier(mlp, model_kwargs={"output": "sigmoid", "units": 1,
                                               "loss": "binary_crossentropy"},
                            fit_kwargs={"epochs": 30, **QUIET}).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (240, 2)
    raw = clf.model_.predict(X.astype(np.float32), verbose=0)
    np.testing.assert_allclose(proba[:, 1:], raw)
    p = raw[:, 0]
    inside = (p > 1e-4) & (p < 1 - 1e-4)  # away from float32 saturation
    assert inside.sum() > 20
    np.testing.assert_allclose(clf.decision_function(X)[inside],
                               np.log(p[inside] / (1 - p[inside])), rtol=1e-3, atol=1e-3)
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize("n_targets", [1, 2])
def test_regressor_one_and_several_targets(n_targets):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    w = rng.normal(size=(3, n_targets))
    y = X @ w + 0.05 * rng.normal(size=(200, n_targets))
    y = y[:, 0] if n_targets == 1 else y
    reg = SKLearnRegressor(regression_mlp, fit_kwargs={"epochs": 60, **QUIET}).fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == y.shape and pred.dtype == np.float32
    assert reg.score(X, y) > 0.9  # R² of a linear target after a few dozen epochs


def test_transformer_in_a_pipeline():
    X, labels = blobs()
    target = np.eye(3)[labels]

    def encoder(X, y):
        return mlp(X, y, hidden=8, output="softmax")

    trs = SKLearnTransformer(encoder, fit_kwargs={"epochs": 20, **QUIET})
    out = trs.fit(X, target).transform(X)
    assert out.shape == (240, 3)
    np.testing.assert_allclose(out, trs.model_.predict(X.astype(np.float32), verbose=0))
    def label_encoder(X, y):  # y: the labels as one float32 column
        assert y.shape == (240, 1)
        return mlp(X, y, hidden=8, units=3, loss="sparse_categorical_crossentropy")

    pipe = make_pipeline(SKLearnTransformer(label_encoder, fit_kwargs={"epochs": 20, **QUIET}),
                         LogisticRegression())
    assert pipe.fit(X, labels).score(X, labels) > 0.9


def test_params_route_to_model_and_fit_kwargs():
    clf = SKLearnClassifier(mlp, model_kwargs={"hidden": 4}, fit_kwargs={"epochs": 1})
    clone_ = clone(clf).set_params(model__hidden=9, model__learning_rate=0.5, fit__epochs=3)
    assert clone_.model_kwargs == {"hidden": 9, "learning_rate": 0.5}
    assert clone_.fit_kwargs == {"epochs": 3}
    assert clf.model_kwargs == {"hidden": 4} and clf.fit_kwargs == {"epochs": 1}
    params = clone_.get_params()
    assert params["model__hidden"] == 9 and params["fit__epochs"] == 3
    X, labels = blobs(40)
    clone_.fit(X, labels, verbose=0)
    assert clone_.model_.layers[0].units == 9
    assert clone_.epoch_ == 3 and len(clone_.history_["loss"]) == 3
    clone_.fit(X, labels, epochs=2, verbose=0)  # fit's own kwargs take precedence
    assert clone_.epoch_ == 2 and clone_.fit_kwargs == {"epochs": 3}


def test_pickle_fitted_and_unfitted(tmp_path):
    X, labels = blobs(60)
    clf = SKLearnClassifier(mlp, fit_kwargs={"epochs": 5, **QUIET}).fit(X, labels)
    data = pickle.dumps(clf)
    assert b"model.weights.h5" in data  # the model travels as its .keras archive
    again = pickle.loads(data)
    assert again.model_ is not clf.model_
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(again.classes_, clf.classes_)
    again.set_params(warm_start=True).fit(X, labels, epochs=2)  # the optimizer state came too
    assert again.epoch_ == 7
    unfitted = pickle.loads(pickle.dumps(SKLearnRegressor(regression_mlp)))
    assert unfitted.model is regression_mlp and not hasattr(unfitted, "model_")


def test_warm_start_continues_the_same_model():
    X, labels = blobs(60)
    clf = SKLearnClassifier(mlp, warm_start=True, fit_kwargs={"epochs": 2, **QUIET})
    first = clf.fit(X, labels).model_
    kernel = first.layers[0].kernel.numpy().copy()
    assert clf.fit(X, labels).model_ is first and clf.epoch_ == 4
    assert not np.array_equal(first.layers[0].kernel.numpy(), kernel)
    cold = SKLearnClassifier(mlp, fit_kwargs={"epochs": 2, **QUIET})
    assert cold.fit(X, labels).model_ is not cold.fit(X, labels).model_


def test_model_instance_is_rebuilt_unless_warm_start():
    X, labels = blobs(60)
    given = mlp(X, np.eye(3))
    kernel = given.layers[0].kernel.numpy().copy()
    clf = SKLearnClassifier(given, fit_kwargs={"epochs": 2, **QUIET}).fit(X, labels)
    assert clf.model_ is not given
    np.testing.assert_array_equal(given.layers[0].kernel.numpy(), kernel)  # untouched
    assert type(clf.model_.optimizer).__name__ == "Adam"
    cloned = clone(clf)  # the given model is deep-copied, unfitted state left behind
    assert cloned.model is not given and not hasattr(cloned, "model_")
    np.testing.assert_array_equal(cloned.model.layers[0].kernel.numpy(), kernel)
    warm = SKLearnClassifier(given, warm_start=True, fit_kwargs={"epochs": 2, **QUIET})
    assert warm.fit(X, labels).model_ is given
    assert not np.array_equal(given.layers[0].kernel.numpy(), kernel)


def test_bad_models_and_targets():
    X, labels = blobs(30)
    uncompiled = fcnet.Sequential([fcnet.Input((2,)), fcnet.layers.Dense(3)])
    with pytest.raises(RuntimeError, match="needs to be compiled"):
        SKLearnClassifier(uncompiled).fit(X, labels)
    with pytest.raises(TypeError, match="Received: model=3"):
        SKLearnClassifier(3).fit(X, labels)
    with pytest.raises(ValueError, match="only one class"):
        SKLearnClassifier(mlp).fit(X, np.zeros(30))
    with pytest.raises(ValueError, match="multilabel"):
        SKLearnClassifier(mlp).fit(X, np.ones((30, 3)))
    with pytest.raises(ValueError, match="continuous"):
        SKLearnClassifier(mlp).fit(X, X[:, 0])
    clf = SKLearnClassifier(mlp, fit_kwargs={"epochs": 1, **QUIET}).fit(X, labels)
    with pytest.raises(ValueError, match="2 features"):
        clf.predict(np.zeros((4, 5)))


def test_feature_names_in():
    pd = pytest.importorskip("pandas")
    X, labels = blobs(30)
    frame = pd.DataFrame(X, columns=["width", "height"])
    clf = SKLearnClassifier(mlp, fit_kwargs={"epochs": 1, **QUIET}).fit(frame, labels)
    assert list(clf.feature_names_in_) == ["width", "height"]


def test_grid_search_in_pipeline_on_digits_reaches_plain_model():
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    fit = {"epochs": 15, "batch_size": 32, **QUIET}
    plain = mlp(x_train, np.eye(10))
    plain.fit(x_train, np.eye(10, dtype=np.float32)[y_train], **fit)
    plain_accuracy = np.mean(plain.predict(x_test, verbose=0).argmax(axis=1) == y_test)
    pipe = Pipeline([("scale", StandardScaler()),
                     ("clf", SKLearnClassifier(mlp, fit_kwargs=fit))])
    grid = GridSearchCV(pipe, {"clf__model__hidden": [16, 64],
                               "clf__model__learning_rate": [1e-3, 1e-2]}, cv=2)
    grid.fit(x_train, y_train)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.best_params_["clf__model__hidden"] in (16, 64)
    assert grid.best_estimator_.named_steps["clf"].model_.layers[0].units == \
        grid.best_params_["clf__model__hidden"]
    assert plain_accuracy > 0.9
    assert grid.score(x_test, y_test) >= plain_accuracy - 0.02


def test_cross_val_score():
    X, labels = blobs(120)
    scores = cross_val_score(SKLearnClassifier(mlp, fit_kwargs={"epochs": 20, **QUIET}),
                             X, labels, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


def test_example_runs(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "sklearn_pipeline.py"
    spec = importlib.util.spec_from_file_location("sklearn_pipeline_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = example.main(epochs=5, out=str(tmp_path / "mlp.keras"))
    assert result["gap"] < 1e-5 and result["grid_accuracy"] > 0.85
    loaded = fcnet.models.load_model(result["path"])
    assert loaded.layers[-1].units == 10
