"""from_sklearn: fitted scikit-learn MLPs become fcnet models that predict what
scikit-learn predicts (within 1e-5), train on, and survive a .keras file."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402

import fcnet  # noqa: E402
from fcnet.wrappers import from_sklearn  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def classification(n_classes):
    X, y = make_classification(n_samples=120, n_features=6, n_informative=4,
                               n_classes=n_classes, random_state=0)
    return X, y


def fitted(estimator, X, y):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_predicts_like_sklearn(activation, n_classes):
    X, y = classification(n_classes)
    mlp = fitted(MLPClassifier((10, 7), activation=activation, max_iter=60,
                               random_state=0), X, y)
    model = from_sklearn(mlp)
    proba = model.predict(X.astype(np.float32), verbose=0)
    expected = mlp.predict_proba(X)
    assert proba.dtype == np.float32
    if n_classes == 2:  # one sigmoid unit: the probability of classes_[1]
        assert proba.shape == (120, 1)
        proba = np.concatenate([1 - proba, proba], axis=1)
    else:
        assert proba.shape == (120, 3)
    np.testing.assert_allclose(proba, expected, atol=1e-5)
    np.testing.assert_array_equal(mlp.classes_[proba.argmax(axis=1)], mlp.predict(X))
    assert [layer.activation.__name__ for layer in model.layers[:-1]] == \
        [{"logistic": "sigmoid", "identity": "linear"}.get(activation, activation)] * 2


def test_multilabel_classifier():
    X, _ = classification(3)
    y = np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 2] > 0], axis=1).astype(int)
    mlp = fitted(MLPClassifier((8,), max_iter=80, random_state=0), X, y)
    model = from_sklearn(mlp)
    np.testing.assert_allclose(model.predict(X.astype(np.float32), verbose=0),
                               mlp.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("n_targets", [1, 2])
def test_regressor_predicts_like_sklearn(n_targets):
    X, y = make_regression(n_samples=100, n_features=5, n_targets=n_targets, noise=0.1,
                           random_state=0)
    y = y / np.abs(y).max()
    mlp = fitted(MLPRegressor(hidden_layer_sizes=(12,), activation="tanh", max_iter=100,
                              random_state=0), X, y)
    model = from_sklearn(mlp)
    out = model.predict(X.astype(np.float32), verbose=0)
    assert out.shape == (100, n_targets)
    np.testing.assert_allclose(out, mlp.predict(X).reshape(100, n_targets), atol=1e-5)


def test_poisson_regressor():
    X, _ = classification(2)
    y = np.exp(0.3 * X[:, 0])
    mlp = fitted(MLPRegressor(loss="poisson", hidden_layer_sizes=(6,), max_iter=50,
                              random_state=0), X, y)
    model = from_sklearn(mlp)
    assert type(model.loss).__name__ == "Poisson"
    np.testing.assert_allclose(model.predict(X.astype(np.float32), verbose=0)[:, 0],
                               mlp.predict(X), rtol=1e-5, atol=1e-5)


def test_forward_pass_by_hand():
    """The model computes softmax(tanh(x·W0 + b0)·W1 + b1) with scikit-learn's arrays."""
    X, y = classification(3)
    mlp = fitted(MLPClassifier((4,), activation="tanh", max_iter=20, random_state=1), X, y)
    model = from_sklearn(mlp)
    z = np.tanh(X @ mlp.coefs_[0] + mlp.intercepts_[0]) @ mlp.coefs_[1] + mlp.intercepts_[1]
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict(X.astype(np.float32), verbose=0), expected,
                               atol=1e-5)


def test_continues_training_and_saves(tmp_path):
    X, y = classification(3)
    X = X.astype(np.float32)
    mlp = fitted(MLPClassifier((16,), max_iter=5, random_state=0), X, y)
    model = from_sklearn(mlp)
    assert model.compiled and model.optimizer.learning_rate == pytest.approx(1e-3)
    onehot = fcnet.utils.to_categorical(y, 3)
    before = model.evaluate(X, onehot, verbose=0)
    model.fit(X, onehot, epochs=30, batch_size=32, verbose=0)
    after = model.evaluate(X, onehot, verbose=0)
    assert after < before
    path = tmp_path / "mlp.keras"
    model.save(path)
    loaded = fcnet.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0),
                               atol=1e-6)


def test_sgd_solver_maps_to_sgd():
    X, y = classification(2)
    mlp = fitted(MLPClassifier((4,), solver="sgd", momentum=0.8, learning_rate_init=0.05,
                               max_iter=5, random_state=0), X, y)
    optimizer = from_sklearn(mlp).optimizer
    assert type(optimizer).__name__ == "SGD"
    assert optimizer.momentum == pytest.approx(0.8) and optimizer.nesterov


def test_bad_input():
    with pytest.raises(ValueError, match="not fitted"):
        from_sklearn(MLPClassifier())
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="LogisticRegression"):
        from_sklearn(LogisticRegression())
