"""The softmax/sigmoid + crossentropy fusion is a rule on the output node.

``Dense(k, activation="softmax")`` and ``Dense(k)`` followed by ``Activation("softmax")``
(also inside a nested model) train identically, to the bit, even where the softmax
saturates. fcnet's gradient there is the exact one, dL/dz = p - y, which is what Keras
computes on its TensorFlow backend (the loss finds the logits behind a softmax output)
and what Keras computes on any backend with ``from_logits=True``. Keras 3 on JAX
computes the loss on the clipped probabilities instead, whose gradient vanishes at
saturation: the README lists this difference.
"""


import numpy as np
import pytest
from keras_training import training_keras

import fcnet

keras = training_keras()

KERNEL = np.array([[12.0, -12.0, 0.0], [-9.0, 9.0, 1.0]], np.float32)  # saturates softmax
X = np.array([[1.0, 0.2], [0.8, -0.1], [-1.0, 0.5], [0.3, 1.2]], np.float32)
Y = np.eye(3, dtype=np.float32)[[1, 0, 0, 2]]  # mostly the class the softmax rules out


def _fcnet_step(spelling: str, scale: float):
    x = fcnet.Input((2,))
    if spelling == "dense":
        y = fcnet.layers.Dense(3, activation="softmax")(x)
    elif spelling == "activation":
        y = fcnet.layers.Activation("softmax")(fcnet.layers.Dense(3)(x))
    else:  # the softmax ends a nested model
        inner = fcnet.Sequential([fcnet.layers.Dense(3), fcnet.layers.Activation("softmax")])
        y = inner(x)
    model = fcnet.Model(x, y)
    model.set_weights([KERNEL * scale, np.zeros(3, np.float32)])
    model.compile(optimizer=fcnet.optimizers.SGD(0.1), loss="categorical_crossentropy")
    model.train_on_batch(X, Y)
    return model.get_weights()[0]


def _keras_step(from_logits: bool, scale: float):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(
        3, activation=None if from_logits else "softmax")])
    model.set_weights([KERNEL * scale, np.zeros(3, np.float32)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), run_eagerly=True,
                  loss=keras.losses.CategoricalCrossentropy(from_logits=from_logits))
    model.train_on_batch(X, Y)
    return np.asarray(model.get_weights()[0])


@pytest.mark.parametrize("scale", [1.0, 0.05], ids=["saturated", "moderate"])
def test_every_spelling_of_a_softmax_output_trains_the_same(scale):
    dense = _fcnet_step("dense", scale)
    np.testing.assert_array_equal(_fcnet_step("activation", scale), dense)
    np.testing.assert_array_equal(_fcnet_step("nested", scale), dense)


def test_fused_gradient_is_keras_from_logits_and_differs_from_keras_jax_at_saturation():
    ours = _fcnet_step("activation", 1.0)
    np.testing.assert_allclose(ours, _keras_step(from_logits=True, scale=1.0), rtol=1e-5)
    clipped = _keras_step(from_logits=False, scale=1.0)  # Keras 3 on JAX: clipped probs
    change_ours, change_clipped = (np.abs(w - KERNEL).max() for w in (ours, clipped))
    assert change_ours > 1.5 * change_clipped  # the clip takes away much of the gradient
    assert np.abs(ours - clipped).max() > 0.01


def test_away_from_saturation_all_agree_with_keras():
    ours = _fcnet_step("activation", 0.05)
    np.testing.assert_allclose(ours, _keras_step(from_logits=False, scale=0.05), rtol=1e-5)
    np.testing.assert_allclose(ours, _keras_step(from_logits=True, scale=0.05), rtol=1e-5)


def test_sigmoid_output_spellings_train_the_same():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)).astype(np.float32), rng.integers(0, 2, (8, 1))
    weights = [w * 20 for w in fcnet.Sequential([fcnet.Input((3,)),
                                                 fcnet.layers.Dense(1)]).get_weights()]
    results = []
    for layers in ([fcnet.layers.Dense(1, activation="sigmoid")],
                   [fcnet.layers.Dense(1), fcnet.layers.Activation("sigmoid")]):
        model = fcnet.Sequential([fcnet.Input((3,))] + layers)
        model.set_weights(weights)
        model.compile(optimizer="sgd", loss="binary_crossentropy")
        model.fit(x, y.astype(np.float32), epochs=3, batch_size=4, verbose=0, shuffle=False)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_a_subclassed_model_ending_in_softmax_gets_the_fused_gradient():
    class Net(fcnet.Model):
        def __init__(self):
            super().__init__()
            self.logits = fcnet.layers.Dense(3)
            self.probs = fcnet.layers.Activation("softmax")

        def call(self, inputs):
            return self.probs(self.logits(inputs))

    model = Net()
    model(X)
    model.set_weights([KERNEL, np.zeros(3, np.float32)])
    model.compile(optimizer=fcnet.optimizers.SGD(0.1), loss="categorical_crossentropy")
    model.train_on_batch(X, Y)
    np.testing.assert_array_equal(model.get_weights()[0], _fcnet_step("dense", 1.0))
