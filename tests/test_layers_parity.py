"""Convolution, pooling, normalisation and tabular layers train to real Keras 3's numbers.

Each case builds the same model in fcnet and in Keras 3 (JAX backend, run eagerly) with
one function that takes the package; Keras starts from fcnet's initial weights and both
fit the same fixed data (``batch_size=8, epochs=3, shuffle=False``). Loss and metric
histories, every weight (BatchNormalization's moving statistics and Normalization's
adapted mean and variance included), ``evaluate`` and ``predict`` must agree to float32
tolerance. Keras is the independent oracle: nothing here re-derives its formulas.
"""

import numpy as np
from keras_training import compiler, fit_both, training_keras

keras = training_keras()

N = 24


def _rng():
    return np.random.default_rng(20261127)


def _small_cnn(mod):
    """Conv2D → BatchNormalization → MaxPooling2D → Conv2D('same', strides 2) → Flatten
    → Dense(3, softmax): seed 003's CNN in miniature, with batch statistics."""
    layers = mod.layers
    return mod.Sequential([
        mod.Input(shape=(9, 9, 2)),
        layers.Conv2D(4, (3, 3), activation="relu"),
        layers.BatchNormalization(momentum=0.9),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(5, 3, strides=2, padding="same", activation="tanh"),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])


def test_small_cnn_with_batch_normalization():
    rng = _rng()
    x = rng.normal(size=(N, 9, 9, 2)).astype("float32")
    y = rng.integers(0, 3, size=N)
    fc, _ = fit_both(keras, _small_cnn, compiler(
        ("Adam", {"learning_rate": 0.01}), loss="sparse_categorical_crossentropy",
        metrics=["accuracy"]), x, y)
    # The moving statistics moved: they are compared with Keras's as weights 2 and 3 of
    # the BatchNormalization layer (after gamma and beta), not left at their 0 / 1 start.
    moving_mean = fc["weights"][4]
    assert np.abs(moving_mean).max() > 1e-2


def _conv1d_model(mod):
    """Conv1D('causal', dilation 2) → MaxPooling1D → Conv1D(strides 2) →
    GlobalAveragePooling1D → Dense(1): a sequence regressor."""
    layers = mod.layers
    return mod.Sequential([
        mod.Input(shape=(12, 3)),
        layers.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu"),
        layers.MaxPooling1D(2),
        layers.Conv1D(6, 2, strides=2, activation="tanh"),
        layers.GlobalAveragePooling1D(),
        layers.Dense(1),
    ])


def test_conv1d_sequence_model():
    rng = _rng()
    x = rng.normal(size=(N, 12, 3)).astype("float32")
    y = x[:, :, 0].mean(axis=1, keepdims=True)
    fit_both(keras, _conv1d_model, compiler(
        ("SGD", {"learning_rate": 0.05, "momentum": 0.9}), loss="mse", metrics=["mae"]), x, y)


def _tabular(mod):
    """Two inputs: numeric features through an adapted Normalization, a category through
    Embedding + Flatten; concatenated into a Dense head."""
    layers = mod.layers
    numeric = mod.Input(shape=(4,), name="numeric")
    category = mod.Input(shape=(1,), name="category", dtype="int32")
    scaled = layers.Normalization(name="scale")(numeric)
    embedded = layers.Flatten()(layers.Embedding(5, 3)(category))
    h = layers.Dense(8, activation="relu")(layers.Concatenate()([scaled, embedded]))
    return mod.Model({"numeric": numeric, "category": category}, layers.Dense(1)(h))


def test_normalization_and_embedding_tabular_model():
    rng = _rng()
    numeric = (rng.normal(size=(N, 4)) * [1, 10, 100, 0.1] + [0, 5, -50, 1]).astype("float32")
    category = rng.integers(0, 5, size=(N, 1)).astype("int32")
    y = (numeric[:, :1] / 1 + category - 2).astype("float32")

    def adapt(model):
        model.get_layer("scale").adapt(numeric)

    fc, _ = fit_both(keras, _tabular, compiler(("Adam", {"learning_rate": 0.01}), loss="mse"),
                     {"numeric": numeric, "category": category}, y, prepare=adapt)
    # Adapt found the features' own scales (independently of Keras: NumPy's).
    weights = [w for w in fc["weights"] if w.shape == (4,)]
    np.testing.assert_allclose(weights[0], numeric.mean(axis=0), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(weights[1], numeric.var(axis=0), rtol=1e-4)
