"""The CuPy backend beyond Dense: convolutions, pooling, normalisation, dropout, tabular
layers (string columns too) and saving give the CPU's numbers when trained on the GPU from
the same weights.

Skipped where CuPy or a GPU is missing (CI has neither); run on a GPU machine with
``python3 -m pytest tests/test_cupy_layers.py``.
"""

import numpy as np
import pytest

import fcnet
from fcnet import backend
from tests import saving_models
from tests.gpu import needs_gpu
from tests.seed_models import seed003_cnn

pytestmark = needs_gpu
L = fcnet.layers


def conv_zoo():
    """Every 2-D convolution and reshaping layer once, on 12×12×3 images."""
    return fcnet.Sequential([
        fcnet.Input((12, 12, 3)),
        L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        L.DepthwiseConv2D(3, padding="same", depth_multiplier=2),
        L.SeparableConv2D(4, 3, padding="same", activation="tanh"),
        L.Conv2DTranspose(3, 3, strides=2, padding="same"),
        L.UpSampling2D(2),
        L.ZeroPadding2D(1),
        L.Cropping2D(2),
        L.Conv2D(4, 3, dilation_rate=2, groups=1, activation="elu"),
        L.AveragePooling2D(2),
        L.GlobalAveragePooling2D(),
        L.Dense(3),
    ])


def conv1d():
    return fcnet.Sequential([
        fcnet.Input((20, 3)),
        L.Conv1D(6, 3, dilation_rate=2, activation="relu"),
        L.MaxPooling1D(2),
        L.LayerNormalization(),
        L.Conv1D(4, 3, padding="causal"),
        L.AveragePooling1D(2),
        L.GlobalMaxPooling1D(),
        L.Dense(3),
    ])


def dense_norms():
    return fcnet.Sequential([
        fcnet.Input((10,)),
        L.Dense(16),
        L.BatchNormalization(),
        L.PReLU(),
        L.Dropout(0.3, seed=3),
        L.Dense(8, activation="gelu"),
        L.LayerNormalization(),
        L.GaussianNoise(0.1, seed=4),
        L.Dense(3),
    ])


def tabular():
    numbers = fcnet.Input((4,), name="numbers")
    codes = fcnet.Input((2,), dtype="int32", name="codes")
    norm = L.Normalization()
    norm.adapt(np.random.default_rng(5).normal(2.0, 3.0, (64, 4)).astype(np.float32))
    embedded = L.Flatten()(L.Embedding(7, 3)(codes))
    merged = L.Concatenate()([norm(numbers), embedded])
    return fcnet.Model([numbers, codes], L.Dense(3)(L.Dense(8, activation="relu")(merged)))


def tabular_strings():
    """A string column through StringLookup (read in host memory) into an Embedding."""
    numbers = fcnet.Input((3,), name="numbers")
    words = fcnet.Input((1,), dtype="string", name="words")
    lookup = L.StringLookup(vocabulary=["ash", "elm", "oak"])
    embedded = L.Flatten()(L.Embedding(lookup.vocabulary_size(), 2)(lookup(words)))
    merged = L.Concatenate()([numbers, embedded])
    return fcnet.Model({"numbers": numbers, "words": words}, L.Dense(3)(merged))


def _images(shape, n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n,) + shape).astype(np.float32), rng.integers(0, 3, n)


CASES = {
    "seed003": (seed003_cnn, lambda: _images((28, 28, 1)), "adam"),
    "cnn-batchnorm": (lambda: saving_models.cnn(fcnet), lambda: _images((8, 8, 1)), "rmsprop"),
    "conv-zoo": (conv_zoo, lambda: _images((12, 12, 3)), "adam"),
    "conv1d": (conv1d, lambda: _images((20, 3)), "sgd"),
    "dense-norms": (dense_norms, lambda: _images((10,)), "adamw"),
    "tabular": (tabular, lambda: (
        [np.random.default_rng(1).normal(size=(32, 4)).astype(np.float32),
         np.random.default_rng(2).integers(0, 7, (32, 2)).astype(np.int32)],
        np.random.default_rng(3).integers(0, 3, 32)), "adam"),
    "tabular-strings": (tabular_strings, lambda: (
        {"numbers": np.random.default_rng(1).normal(size=(32, 3)).astype(np.float32),
         "words": np.random.default_rng(2).choice(["ash", "elm", "oak", "yew"], (32, 1))},
        np.random.default_rng(3).integers(0, 3, 32)), "adam"),
}


def _train(name, weights, case):
    build, data, optimizer = case
    backend.set_backend(name)
    try:
        fcnet.backend.clear_session()
        fcnet.utils.set_random_seed(11)
        model = build()
        if weights is not None:
            model.set_weights(weights)
        start = model.get_weights()
        model.compile(optimizer=optimizer, metrics=["accuracy"],
                      loss=fcnet.losses.SparseCategoricalCrossentropy(from_logits=True))
        x, y = data()
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                            validation_split=0.25)
        return (start, history.history, model.get_weights(), model.predict(x, verbose=0),
                model)
    finally:
        backend.set_backend("numpy")


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_gpu_training_gives_the_cpu_numbers(case):
    start, cpu_history, cpu_weights, cpu_pred, _ = _train("numpy", None, CASES[case])
    _, gpu_history, gpu_weights, gpu_pred, _ = _train("cupy", start, CASES[case])
    for key in cpu_history:
        np.testing.assert_allclose(gpu_history[key], cpu_history[key], rtol=1e-3, atol=1e-5,
                                   err_msg=key)
    for gpu, cpu in zip(gpu_weights, cpu_weights, strict=True):
        assert type(gpu) is np.ndarray and gpu.dtype == cpu.dtype
        np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-4)
    assert type(gpu_pred) is np.ndarray and gpu_pred.dtype == np.float32
    np.testing.assert_allclose(gpu_pred, cpu_pred, rtol=1e-3, atol=1e-4)


def test_a_model_trained_on_the_gpu_saves_and_loads_on_the_cpu(tmp_path):
    *_, gpu_pred, model = _train("cupy", None, CASES["cnn-batchnorm"])
    backend.set_backend("cupy")
    try:
        model.save(tmp_path / "gpu.keras")
    finally:
        backend.set_backend("numpy")
    loaded = fcnet.models.load_model(tmp_path / "gpu.keras")
    x, _ = CASES["cnn-batchnorm"][1]()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), gpu_pred, rtol=1e-4, atol=1e-5)


def test_a_model_trained_on_the_gpu_saves_to_legacy_h5_with_its_optimizer(tmp_path):
    *_, gpu_pred, model = _train("cupy", None, CASES["cnn-batchnorm"])
    backend.set_backend("cupy")
    try:
        model.save(tmp_path / "gpu.h5")  # the optimizer's slots are CuPy arrays
        slots = [backend.to_numpy(v) for v in model.optimizer.variables]
    finally:
        backend.set_backend("numpy")
    loaded = fcnet.models.load_model(tmp_path / "gpu.h5")
    x, _ = CASES["cnn-batchnorm"][1]()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), gpu_pred, rtol=1e-4, atol=1e-5)
    for saved, restored in zip(slots, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(restored, saved)


def test_an_output_left_without_targets_trains_as_on_the_cpu():
    """Two outputs, one loss; the other output's metric, its targets left out of fit."""
    def run(name):
        backend.set_backend(name)
        try:
            fcnet.backend.clear_session()
            fcnet.utils.set_random_seed(5)
            inputs = fcnet.Input((4,))
            hidden = L.Dense(6, activation="relu")(inputs)
            model = fcnet.Model(inputs, {"a": L.Dense(2, name="a")(hidden),
                                         "b": L.Dense(1, name="b")(hidden)})
            model.compile(optimizer="adam", loss={"a": "mse"}, metrics={"b": ["mae"]})
            rng = np.random.default_rng(0)
            x = rng.normal(size=(16, 4)).astype(np.float32)
            history = model.fit(x, {"a": rng.normal(size=(16, 2)).astype(np.float32)},
                                batch_size=4, epochs=2, verbose=0).history
            return history, model.get_weights()
        finally:
            backend.set_backend("numpy")
    (cpu_history, cpu_weights), (gpu_history, gpu_weights) = run("numpy"), run("cupy")
    assert gpu_history["b_mae"] == cpu_history["b_mae"] == [0.0, 0.0]
    np.testing.assert_allclose(gpu_history["loss"], cpu_history["loss"], rtol=1e-4)
    for gpu, cpu in zip(gpu_weights, cpu_weights, strict=True):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-3, atol=1e-5)


def test_gpu_gradients_match_finite_differences():
    """check_gradients on the device (float64 there too)."""
    backend.set_backend("cupy")
    try:
        for layer, shape in [(L.Conv2D(3, 3, padding="same"), (2, 5, 5, 2)),
                             (L.BatchNormalization(), (6, 4)),
                             (L.MaxPooling2D(2), (2, 4, 4, 2))]:
            fcnet.testing.check_gradients(layer, np.random.default_rng(0).normal(size=shape),
                                          training=True)
    finally:
        backend.set_backend("numpy")
