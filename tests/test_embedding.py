"""Embedding: lookup, the accumulated table gradient, errors, config, Keras parity."""

import os

import numpy as np
import pytest

from fcnet.layers.embedding import Embedding, add_rows
from fcnet.testing import check_gradients


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def test_forward_is_the_table_rows_of_the_indices():
    layer = Embedding(7, 3)
    x = np.array([[0, 6, 2], [2, 2, 5]])
    y = layer(x)
    table = layer.get_weights()[0]
    assert y.shape == (2, 3, 3) and y.dtype == np.float32
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(y[i, j], table[x[i, j]])
    assert layer.compute_output_shape((None, 3)) == (None, 3, 3)
    assert np.abs(table).max() <= 0.05  # Keras's "uniform": U(-0.05, 0.05)


def test_float_indices_from_a_models_data_path_are_cast():
    layer = Embedding(5, 2)
    np.testing.assert_array_equal(layer(np.array([[3.0, 1.0]], "float32")),
                                  layer(np.array([[3, 1]])))


def test_gradient_check_on_the_table_with_integer_inputs():
    layer = Embedding(6, 4)
    x = np.array([[0, 5, 5], [1, 5, 0]])  # repeated indices: their rows add up
    report = check_gradients(layer, x)
    assert list(report) == [layer.embeddings.path]  # the indices are not differentiated


def test_repeated_indices_accumulate_exactly():
    rng = np.random.default_rng(0)
    layer = Embedding(10, 3)
    x = rng.integers(0, 10, size=(8, 5))
    layer(x)
    y, ctx = layer.forward(x)
    dy = rng.normal(size=y.shape).astype("float32")
    layer.embeddings.grad.fill(0)
    dx = layer.backward(ctx, dy)
    expected = np.zeros((10, 3))
    for i in range(8):
        for j in range(5):
            expected[x[i, j]] += dy[i, j]
    np.testing.assert_allclose(layer.embeddings.grad, expected, rtol=1e-5, atol=1e-6)
    assert dx.shape == x.shape and not dx.any()


@pytest.mark.parametrize("rows", [4, 1000])  # small table: one bincount; large: by index
def test_add_rows_both_paths(rows):
    rng = np.random.default_rng(1)
    indices = rng.integers(0, rows, 50)
    dy = rng.normal(size=(50, 3)).astype("float32")
    table = np.ones((rows, 3), "float32")
    add_rows(table, indices, dy)
    expected = np.ones((rows, 3))
    np.add.at(expected, indices, dy)
    np.testing.assert_allclose(table, expected, rtol=1e-5, atol=1e-6)


def test_errors_name_the_layer_and_the_bad_index():
    layer = Embedding(4, 2, name="emb")
    with pytest.raises(ValueError, match=r"'emb'.*input_dim=4.*index 4"):
        layer(np.array([[1, 4]]))
    with pytest.raises(ValueError, match="index -1"):
        layer(np.array([[-1, 0]]))
    with pytest.raises(ValueError, match="mask_zero"):
        Embedding(4, 2, mask_zero=True)
    with pytest.raises(ValueError, match="input_dim"):
        Embedding(0, 2)
    with pytest.warns(UserWarning, match="input_length"):
        Embedding(4, 2, input_length=3)


def test_config_and_weights_match_keras():
    keras = _keras()
    ours = Embedding(9, 5, name="e")
    theirs = keras.layers.Embedding(9, 5, name="e")
    assert sorted(ours.get_config()) == sorted(theirs.get_config())
    assert ours.get_config()["embeddings_initializer"] == \
        theirs.get_config()["embeddings_initializer"]
    clone = Embedding.from_config(ours.get_config())
    assert clone.get_config() == ours.get_config()
    x = np.array([[1, 8, 1], [0, 3, 7]])
    ours(x)
    theirs.build()
    theirs.set_weights(ours.get_weights())
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-6)
