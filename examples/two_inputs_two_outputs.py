"""A functional model with two inputs and two outputs, trained on one combined loss.

A small "house" model: ``plan`` (6 numeric features of a house) and ``area`` (3 features
of its neighbourhood) meet in one representation, which feeds a classifier (``kind``:
3 classes, softmax) and a regressor (``price``: one number).

    loss = 1.0 · crossentropy(kind) + 0.5 · mse(price)

Inputs and targets are dicts keyed by the names of the ``Input`` and output layers, as
in Keras; the history holds ``loss``, ``kind_loss``, ``price_loss``, ``kind_accuracy``
and ``price_mae``. Run: ``python examples/two_inputs_two_outputs.py``.
"""

import numpy as np

import fcnet as keras
from fcnet import layers


def build():
    plan = keras.Input(shape=(6,), name="plan")
    area = keras.Input(shape=(3,), name="area")
    h = layers.Concatenate()([layers.Dense(16, activation="relu")(plan),
                              layers.Dense(8, activation="relu")(area)])
    h = layers.Dense(16, activation="relu")(h)
    kind = layers.Dense(3, activation="softmax", name="kind")(h)
    price = layers.Dense(1, name="price")(h)
    return keras.Model(inputs=[plan, area], outputs={"kind": kind, "price": price})


def synthetic_houses(n: int, seed: int = 0):
    """Targets that depend on both inputs, so the model needs both branches."""
    rng = np.random.default_rng(seed)
    plan = rng.normal(size=(n, 6)).astype("float32")
    area = rng.normal(size=(n, 3)).astype("float32")
    score = plan[:, :3].sum(axis=1) + 2 * area[:, 0]
    kind = np.digitize(score, [-1.0, 1.0])  # three classes
    price = (plan[:, 3] - area[:, 1] + 0.5 * plan[:, 4] * area[:, 2]).astype("float32")
    return {"plan": plan, "area": area}, {"kind": kind, "price": price}


def main(epochs: int = 20) -> dict:
    keras.utils.set_random_seed(0)
    model = build()
    model.summary()
    model.compile(optimizer="adam",
                  loss={"kind": "sparse_categorical_crossentropy", "price": "mse"},
                  loss_weights={"kind": 1.0, "price": 0.5},
                  metrics={"kind": ["accuracy"], "price": ["mae"]})
    x, y = synthetic_houses(2000)
    history = model.fit(x, y, batch_size=32, epochs=epochs, validation_split=0.2, verbose=2)
    x_test, y_test = synthetic_houses(500, seed=1)
    results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    print({key: round(value, 4) for key, value in results.items()})
    predictions = model.predict({name: values[:3] for name, values in x_test.items()},
                                verbose=0)
    print({key: value.shape for key, value in predictions.items()})
    return history.history


if __name__ == "__main__":
    main()
