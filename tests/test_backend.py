"""Names, sessions, seeds, fcnet.random and Variable."""

import numpy as np
import pytest

import fcnet as keras
from fcnet.layers import Dense


def test_explicit_names_do_not_consume_counters():
    for _ in range(3):
        Dense(1)
    names = [Dense(1, name="dense_7").name, Dense(1).name, Dense(1, name="dense").name,
             Dense(1).name]
    assert names == ["dense_7", "dense_3", "dense", "dense_4"]


def test_clear_session_resets_counters_both_ways():
    Dense(1), keras.Sequential()
    keras.backend.clear_session()
    assert Dense(1).name == "dense" and keras.Sequential().name == "sequential"
    keras.utils.clear_session()
    assert Dense(1).name == "dense"


def test_snake_case_prefixes():
    assert keras.layers.InputLayer(shape=(1,)).name == "input_layer"
    assert keras.layers.Activation("relu").name == "activation"
    assert keras.backend.snake_case("MaxPooling2D") == "max_pooling2d"


def test_set_random_seed_makes_weights_reproducible():
    keras.utils.set_random_seed(3)
    first = Dense(4)(np.ones((1, 5)))
    keras.utils.set_random_seed(3)
    second = Dense(4)(np.ones((1, 5)))
    np.testing.assert_array_equal(first, second)
    with pytest.raises(ValueError, match="seed"):
        keras.utils.set_random_seed("x")


def test_random_normal_and_uniform():
    x = keras.random.normal([400, 50], mean=1.0, stddev=2.0)
    assert x.shape == (400, 50) and x.dtype == np.float32
    assert abs(float(x.mean()) - 1.0) < 0.05 and abs(float(x.std()) - 2.0) < 0.05
    u = keras.random.uniform([1000], minval=-1, maxval=3, seed=5)
    assert u.min() >= -1 and u.max() < 3
    np.testing.assert_array_equal(u, keras.random.uniform([1000], minval=-1, maxval=3, seed=5))
    assert keras.backend.floatx() == "float32"


def test_variable_names_paths_and_repr():
    layer = Dense(3)
    layer.build((None, 2))
    kernel = layer.kernel
    assert kernel.name == "kernel:0" and kernel.path == "dense/kernel"
    assert repr(kernel).startswith("<fcnet.Variable 'kernel:0' shape=(2, 3) dtype=float32, "
                                   "numpy=array([[")
    called = Dense(3)
    called(np.ones((1, 2)))
    assert called.kernel.name == "dense_1/kernel:0"


def test_variable_assign_and_gradient_slot():
    layer = Dense(2, use_bias=False)
    layer.build((None, 2))
    v = layer.kernel
    v.assign([[1, 2], [3, 4]])
    np.testing.assert_array_equal(v.numpy(), [[1, 2], [3, 4]])
    assert v.numpy().dtype == np.float32 and v.trainable
    with pytest.raises(ValueError, match=r"expected shape \(2, 2\), received shape \(3,\)"):
        v.assign([1, 2, 3])
    assert v.grad.shape == (2, 2) and not v.grad.any()  # zeros until a backward adds
    v.grad += 1.0  # in place: the same slot
    assert v.grad.sum() == 4
    v.zero_grad()
    assert not v.grad.any()
    with pytest.raises(AttributeError, match=r"kernel.*cannot be replaced.*in place"):
        v.grad = np.ones((2, 2), "float32")
    np.testing.assert_array_equal(np.asarray(v) + 1, [[2, 3], [4, 5]])
