"""A model that takes a table's columns as inputs: scikit-learn's diabetes table.

442 patients; the target is a measure of disease progression one year after baseline.
Two inputs, as columns of a table arrive:

    numeric (9 columns: age, bmi, blood pressure, six blood serum measurements)
        -> Normalization, adapted to the training rows: (x - mean) / sqrt(variance)
    sex (a category coded 1 or 2)
        -> IntegerLookup (adapted: code -> index, unseen codes -> 0)
        -> Embedding(3, 2) -> Flatten: a learned 2-vector per category
    Concatenate -> Dense(32, relu) -> Dense(1)

The statistics ``adapt`` computes are non-trainable weights: they are saved with the
model and counted apart in the summary. Run: ``python examples/tabular_two_inputs.py``.
"""

import argparse

import numpy as np

import fcnet as keras
from fcnet import layers


def load_table(seed: int = 0):
    """The raw (unscaled) diabetes table, shuffled, split 80/20: dicts of columns."""
    from sklearn.datasets import load_diabetes

    table = load_diabetes(scaled=False)
    order = np.random.default_rng(seed).permutation(len(table.target))
    data, target = table.data[order], table.target[order].astype("float32")[:, None]
    columns = {"numeric": np.delete(data, 1, axis=1).astype("float32"),
               "sex": data[:, 1:2].astype("int64")}
    split = int(0.8 * len(target))
    train = {k: v[:split] for k, v in columns.items()}
    test = {k: v[split:] for k, v in columns.items()}
    return (train, target[:split]), (test, target[split:])


def build(train):
    numeric = keras.Input(shape=(9,), name="numeric")
    sex = keras.Input(shape=(1,), dtype="int64", name="sex")
    scale = layers.Normalization(name="scale")
    scale.adapt(train["numeric"])
    lookup = layers.IntegerLookup(name="lookup")
    lookup.adapt(train["sex"])
    embedded = layers.Flatten()(layers.Embedding(lookup.vocabulary_size(), 2)(lookup(sex)))
    h = layers.Concatenate()([scale(numeric), embedded])
    h = layers.Dense(32, activation="relu")(h)
    return keras.Model({"numeric": numeric, "sex": sex}, layers.Dense(1, name="progression")(h))


def main(argv=None) -> float:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=150)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    (train, y_train), (test, y_test) = load_table()
    model = build(train)
    model.summary()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    model.fit(train, y_train, batch_size=32, epochs=args.epochs, verbose=0)
    _, mae = model.evaluate(test, y_test, verbose=0)
    baseline = float(np.abs(y_test - y_train.mean()).mean())
    print(f"test mean absolute error: {mae:.1f} (predicting the mean: {baseline:.1f})")
    return mae / baseline


if __name__ == "__main__":
    main()
