"""Dense: Keras's own checklist (spec §9) in our words, plus gradients and errors."""

import numpy as np
import pytest

import fcnet as keras
from fcnet.layers import Dense, Step
from fcnet.models.parameters import FlatParameters
from fcnet.testing import check_gradients


def test_2d_case_relu_custom_initializers_no_bias():
    layer = Dense(4, activation="relu", kernel_initializer="random_uniform",
                  bias_initializer="ones", use_bias=False)
    y = layer(np.ones((2, 3), "float32"))
    assert y.shape == (2, 4) and y.dtype == np.float32
    assert len(layer.trainable_weights) == 1 and layer.non_trainable_weights == []
    assert layer.losses == [] and layer.supports_masking
    assert layer.bias is None


def test_3d_case_regularizers_give_two_losses():
    layer = Dense(5, activation="sigmoid", kernel_regularizer="l2", bias_regularizer="l2")
    y = layer(np.random.rand(2, 3, 4))
    assert y.shape == (2, 3, 5)
    assert layer.kernel.shape == (4, 5)  # last axis only: no flattening
    assert len(layer.trainable_weights) == 2
    assert len(layer.losses) == 2
    expected = 0.01 * float((layer.kernel.numpy().astype(np.float64) ** 2).sum())
    assert layer.losses[0] == pytest.approx(expected, rel=1e-5)


def test_rank3_input_equals_per_position_matmul():
    layer = Dense(3)
    x = np.random.rand(2, 5, 4).astype("float32")
    y = layer(x)
    w, b = layer.get_weights()
    np.testing.assert_allclose(y, np.einsum("bti,ij->btj", x, w) + b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("units", [0, -3, 2.5, None, "64"])
def test_invalid_units(units):
    with pytest.raises(ValueError, match="positive integer"):
        Dense(units)


def test_numbers_by_hand():
    def make(**kwargs):
        layer = Dense(2, **kwargs)
        layer.build((None, 2))
        weights = [np.array([[1.0, -2.0], [3.0, -4.0]])]
        if layer.use_bias:
            weights.append(np.array([5.0, -6.0]))
        layer.set_weights(weights)
        return layer

    x = np.array([[-1.0, 2.0]])
    np.testing.assert_array_equal(make(activation="relu")(x), [[10.0, 0.0]])
    plain = make(use_bias=False)
    np.testing.assert_array_equal(plain(x), [[5.0, -6.0]])
    assert plain.bias is None
    np.testing.assert_array_equal(make(activation="relu", use_bias=False)(x), [[5.0, 0.0]])
    layer = make(activation="relu")
    layer.activation = None
    np.testing.assert_array_equal(layer(x), [[10.0, -12.0]])


def test_wrong_last_dimension_names_the_layer():
    layer = Dense(2)
    layer(np.ones((1, 2)))
    with pytest.raises(ValueError, match=r'layer "dense" is incompatible with the layer: '
                                         r"expected axis -1 of input shape to have value 2"):
        layer(np.ones((1, 3)))
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        layer(np.ones(2))


def test_constraints_are_attached():
    layer = Dense(2, kernel_constraint="non_neg", bias_constraint="non_neg")
    layer.build((None, 3))
    assert type(layer.kernel.constraint).__name__ == "NonNeg"
    assert type(layer.bias.constraint).__name__ == "NonNeg"


def test_lazy_weights_and_rebuild():
    layer = Dense(10)
    with pytest.raises(AttributeError, match="'Dense' object has no attribute 'bias'"):
        layer.bias
    assert layer.weights == [] and layer.get_weights() == []
    with pytest.raises(ValueError, match="isn't built"):
        layer.count_params()
    layer.build((None, 4))
    assert layer.kernel.shape == (4, 10)
    layer.build((None, 20))
    assert [(v.name, v.shape) for v in layer.weights] == [("kernel:0", (20, 10)),
                                                          ("bias:0", (10,))]


def test_glorot_uniform_bounds_and_zero_bias():
    layer = Dense(512)
    layer.build((None, 784))
    limit = np.sqrt(6 / (784 + 512))
    w = layer.kernel.numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.95 * limit
    assert not layer.bias.numpy().any()


def test_non_float_inputs_are_cast_to_float32():
    layer = Dense(3)
    assert layer(np.ones((2, 4), dtype=np.int64)).dtype == np.float32
    assert layer(np.ones((2, 4), dtype=np.float64)).dtype == np.float32


def test_config_round_trip():
    layer = Dense(3, activation="tanh", use_bias=False, kernel_regularizer="l1",
                  activity_regularizer="l2", kernel_constraint="max_norm", name="head")
    config = layer.get_config()
    assert list(config)[:6] == ["name", "trainable", "dtype", "units", "activation", "use_bias"]
    clone = Dense.from_config(config)
    assert clone.get_config() == config and clone.name == "head"
    assert keras.layers.deserialize(keras.layers.serialize(clone)).get_config() == config


def test_set_weights_errors():
    layer = Dense(2)
    layer.build((None, 3))
    with pytest.raises(ValueError, match="weight list of length 1, but the layer was "
                                         "expecting 2 weights"):
        layer.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"weight shape \(3, 2\) is not compatible with "
                                         r"provided weight shape \(4, 2\)"):
        layer.set_weights([np.zeros((4, 2)), np.zeros(2)])


def test_unknown_keyword_and_bad_name():
    with pytest.raises(ValueError, match="Unrecognized keyword arguments passed to Dense"):
        Dense(2, foo=1)
    with pytest.raises(ValueError, match="cannot contain character `/`"):
        Dense(2, name="a/b")


ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus",
               "softsign", "swish", "gelu", "leaky_relu", "relu6", "hard_sigmoid",
               "exponential", "mish"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_for_every_activation(activation):
    layer = Dense(3, activation=activation)
    x = np.random.default_rng(0).normal(size=(4, 5))
    check_gradients(layer, x)


@pytest.mark.parametrize("kwargs", [
    {"use_bias": False},
    {"kernel_regularizer": "l1", "bias_regularizer": "l2"},
    {"kernel_regularizer": keras.regularizers.L1L2(l1=0.01, l2=0.02)},
    {"activity_regularizer": "l2", "activation": "tanh"},
    {"activity_regularizer": "l1", "activation": "sigmoid"},
])
def test_gradients_for_dense_configurations(kwargs):
    check_gradients(Dense(3, **kwargs), np.random.default_rng(1).normal(size=(4, 5)))


def test_gradients_rank3_input():
    check_gradients(Dense(2, activation="tanh"), np.random.default_rng(2).normal(size=(2, 3, 4)))


def test_checker_catches_a_wrong_backward():
    class TwiceDense(Dense):  # a subclass's own backward is what the engine runs
        def backward(self, ctx, dy):
            return 2 * super().backward(ctx, dy)

    with pytest.raises(AssertionError, match="Gradient check failed for input"):
        check_gradients(TwiceDense(3), np.random.default_rng(3).normal(size=(4, 5)))


def test_checker_catches_a_wrong_kernel_gradient():
    class HalfKernel(Dense):
        def backward(self, ctx, dy):
            dx = super().backward(ctx, dy)
            self.kernel.grad *= 0.5
            return dx

    with pytest.raises(AssertionError, match="Gradient check failed for half_kernel/kernel"):
        check_gradients(HalfKernel(3), np.random.default_rng(4).normal(size=(4, 5)))


def test_first_write_of_a_pass_overwrites_stale_slots_and_a_second_adds():
    """The engine's protocol: a layer's first backward in a pass writes dkernel in place
    over whatever the slot held; a second call of the same layer (shared) adds."""
    layer = Dense(3, activation="tanh")
    x = np.random.default_rng(0).random((4, 2), dtype=np.float32)
    layer(x)
    parameters = FlatParameters(layer.trainable_variables)
    parameters.grads[:] = 7.0  # stale values from an earlier step
    dy = np.ones((4, 3), np.float32)
    step = Step()
    y, ctx = layer.forward_step(x, True, step)
    dz = dy * (1 - y**2)
    layer.backward_step(ctx, dy, step)
    np.testing.assert_allclose(layer.kernel.grad, x.T @ dz, rtol=1e-6)
    np.testing.assert_allclose(layer.bias.grad, dz.sum(0), rtol=1e-6)
    layer.backward_step(ctx, dy, step)
    np.testing.assert_allclose(layer.kernel.grad, 2 * x.T @ dz, rtol=1e-6)
    assert np.shares_memory(layer.kernel.grad, parameters.grads)  # what the optimizer reads


def test_a_backward_that_replaces_grad_gets_a_clear_error():
    class Replacing(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight("w", (input_shape[-1], 2))

        def call(self, x, training=False):
            return x @ self.w.value

        def backward(self, ctx, dy):
            self.w.grad = ctx.T @ dy  # replaces the slot: would never train
            return dy @ self.w.value.T

    model = keras.Sequential([keras.Input((3,)), Replacing()])
    model.compile("sgd", "mse")
    with pytest.raises(AttributeError, match=r"replacing/w.*cannot be replaced.*w.grad \+= dw"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    with pytest.raises(AttributeError, match="cannot be replaced"):
        check_gradients(Replacing(), np.ones((2, 3)))


def test_a_frozen_dense_computes_no_weight_gradient(monkeypatch):
    """Counted, not timed: a frozen layer never calls the weight-gradient kernels (nor
    folds SGD's step into one), and a frozen kernel leaves the bias training."""
    import fcnet.layers.dense as dense_module

    calls = []
    original = dense_module.dense_kernel_gradient

    def counting(x, dz, out=None):
        calls.append((x.shape[-1], dz.shape[-1]))
        return original(x, dz, out=out)

    def folding(fold, kernel, x, dz):  # plain SGD's step in the product (fold.py)
        calls.append((x.shape[-1], dz.shape[-1]))
        return original_step(fold, kernel, x, dz)

    original_step = dense_module.Fold.step
    monkeypatch.setattr(dense_module, "dense_kernel_gradient", counting)
    monkeypatch.setattr(dense_module.Fold, "step", folding)
    frozen, half = Dense(6, name="frozen"), Dense(2, name="half")
    model = keras.Sequential([keras.Input((4,)), Dense(5), frozen, half])
    frozen.trainable = False
    half.kernel.trainable = False
    model.compile("sgd", "mse")
    kernel, bias = half.kernel.numpy(), half.bias.numpy()
    model.fit(np.ones((8, 4)), np.ones((8, 2)), batch_size=4, verbose=0)
    assert calls == [(4, 5)] * 2  # only the first layer's kernel, once a step
    np.testing.assert_array_equal(half.kernel.numpy(), kernel)
    assert not np.array_equal(half.bias.numpy(), bias)  # the bias still trains


@pytest.mark.parametrize("a_shape,b_shape", [((128, 1), (1, 512)), ((5, 7, 1), (1, 3)),
                                             ((1, 1), (1, 1))])
def test_a_product_over_one_term_is_the_outer_product(a_shape, b_shape):
    """K = 1 (one input feature; one output unit's input gradient; a batch of one's
    kernel gradient): each entry is the single product a_m·b_n, exactly as matmul has it."""
    from fcnet.ops.dense import matmul

    rng = np.random.default_rng(7)
    a = rng.normal(size=a_shape).astype(np.float32)
    b = rng.normal(size=b_shape).astype(np.float32)
    y = matmul(a, b)
    assert y.dtype == np.float32 and y.shape == np.matmul(a, b).shape
    np.testing.assert_array_equal(y, a[..., :, 0:1] * b[0])
    np.testing.assert_array_equal(y, np.matmul(a, b))
    out = np.empty(y.shape[-2:], np.float32)
    if a.ndim == 2:
        assert matmul(a.T.T, b, out=out) is out and np.array_equal(out, y)
    with pytest.raises(ValueError):
        matmul(a, np.ones((2, 3), np.float32))  # (…, 1) · (2, 3): no product


def test_a_batch_of_one_and_one_feature_train_as_matmul_has_it():
    """The fit's kernel gradient at batch 1 and the forward of one input feature go
    through the outer product: gradients against finite differences."""
    model = keras.Sequential([keras.Input((1,)), Dense(6, activation="tanh"), Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    x = np.linspace(-1, 1, 4, dtype=np.float32)[:, None]
    check_gradients(model, x[:1], np.ones((1, 1), np.float32))
    check_gradients(model, x, np.zeros((4, 1), np.float32))


@pytest.mark.parametrize("a_shape", [(3, 5, 4), (2, 3, 5, 4), (7, 1, 4)])
def test_a_stack_of_rows_is_one_product(a_shape):
    """``a (..., K) · b (K, N)`` for a Dense layer on sequences: every row's product, as
    NumPy's stacked matmul has it (to float32 rounding), into ``out`` too; strided stacks
    and a wrong ``out`` go to NumPy as they are."""
    from fcnet.ops.dense import matmul

    rng = np.random.default_rng(8)
    a = rng.normal(size=a_shape).astype(np.float32)
    b = rng.normal(size=(4, 6)).astype(np.float32)
    expected = np.einsum("...k,kn->...n", a.astype(np.float64), b.astype(np.float64))
    y = matmul(a, b)
    assert y.shape == a_shape[:-1] + (6,) and y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    out = np.empty_like(y)
    assert matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    strided = np.swapaxes(np.swapaxes(a, 0, 1).copy(), 0, 1)  # not C-contiguous
    np.testing.assert_allclose(matmul(strided, b), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        matmul(a, b, out=np.empty((y.size // 6, 6), np.float32))  # not the product's shape
    with pytest.raises(ValueError):
        matmul(a, np.ones((5, 6), np.float32))
    empty = matmul(np.zeros(a_shape[:-1] + (0,), np.float32), np.zeros((0, 6), np.float32))
    np.testing.assert_array_equal(empty, np.zeros(a_shape[:-1] + (6,)))  # a sum of no terms
