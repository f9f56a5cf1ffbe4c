"""fcnet inside scikit-learn: a Pipeline, a grid search, and a fitted MLPClassifier
brought over as an fcnet model.

1. ``SKLearnClassifier`` wraps a function that builds and compiles a model for the data
   it receives (``X``, and ``y`` one-hot); ``StandardScaler`` scales the pixels first.
2. ``GridSearchCV`` searches the model's own arguments through ``model__<name>``
   (hidden width, learning rate) with 3-fold cross-validation on the digits.
3. ``from_sklearn`` turns a scikit-learn ``MLPClassifier`` into an fcnet model that
   predicts the same probabilities, and saves it as a ``.keras`` file Keras opens.

Run: ``python examples/sklearn_pipeline.py [--epochs 15] [--out mlp.keras]``.
"""

import argparse
import os
import tempfile
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import fcnet as keras
from fcnet.wrappers import SKLearnClassifier, from_sklearn


def build(X, y, hidden=32, learning_rate=1e-2):
    """Input -> Dense(hidden, relu) -> Dense(n_classes, softmax), sized from the data."""
    model = keras.Sequential([keras.Input((X.shape[1],)),
                              keras.layers.Dense(hidden, activation="relu"),
                              keras.layers.Dense(y.shape[1], activation="softmax")])
    model.compile(keras.optimizers.Adam(learning_rate), "categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main(epochs: int = 15, out: str | None = None) -> dict:
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()

    pipe = Pipeline([("scale", StandardScaler()),
                     ("clf", SKLearnClassifier(build, fit_kwargs={"epochs": epochs,
                                                                  "verbose": 0}))])
    grid = GridSearchCV(pipe, {"clf__model__hidden": [16, 64],
                               "clf__model__learning_rate": [1e-3, 1e-2]}, cv=3)
    grid.fit(x_train, y_train)
    print(f"best {grid.best_params_}: cross-validated accuracy {grid.best_score_:.3f}, "
          f"test accuracy {grid.score(x_test, y_test):.3f}")

    mlp = MLPClassifier(hidden_layer_sizes=(64,), max_iter=100, random_state=0)
    with warnings.catch_warnings():  # 100 iterations suffice for the digits
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x_train, y_train)
    model = from_sklearn(mlp)
    gap = np.abs(model.predict(x_test, verbose=0) - mlp.predict_proba(x_test)).max()
    print(f"MLPClassifier as an fcnet model: largest probability difference {gap:.1e}")
    out = out or os.path.join(tempfile.mkdtemp(), "mlp.keras")
    model.save(out)
    print(f"saved to {out}")
    return {"grid_accuracy": grid.score(x_test, y_test), "gap": float(gap), "path": out}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    main(args.epochs, args.out)
