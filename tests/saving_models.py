"""The models the Keras-file tests save in one package and load in the other.

Every builder takes the package (``fcnet`` or ``keras``, any Keras 3) and returns the
model, uncompiled; ``compile_kwargs(name, mod)`` gives its compile() arguments and
``data(name)`` its float32 inputs and targets. The data sizes are multiples of the
batch size (8), so that one epoch is whole batches in either package. This module
imports neither package: tests/data/keras_files/make_fixtures.py uses it with Keras
3.0.0, in an environment without fcnet.
"""

import numpy as np

FIT = dict(batch_size=8, shuffle=False, verbose=0)
# What each comparison must meet: predictions of the same weights, and the loss of one
# more epoch from the same weights and optimizer state.
PREDICT_TOL = dict(rtol=1e-5, atol=1e-5)
LOSS_TOL = dict(rtol=1e-4, atol=1e-6)


def mlp(mod, names=("hidden", None, None)):
    """Dense(16, relu) → Dense(8, tanh) → Dense(3, softmax) on 6 features."""
    return mod.Sequential([
        mod.Input((6,)),
        mod.layers.Dense(16, activation="relu", name=names[0]),
        mod.layers.Dense(8, activation="tanh", name=names[1]),
        mod.layers.Dense(3, activation="softmax", name=names[2]),
    ])


def cnn(mod, names=(None, None, None, None, None)):
    """Conv2D → BatchNormalization → MaxPooling2D → Flatten → Dense on 8×8×1 images."""
    return mod.Sequential([
        mod.Input((8, 8, 1)),
        mod.layers.Conv2D(4, 3, activation="relu", name=names[0]),
        mod.layers.BatchNormalization(name=names[1]),
        mod.layers.MaxPooling2D(2, name=names[2]),
        mod.layers.Flatten(name=names[3]),
        mod.layers.Dense(3, name=names[4]),
    ])


def two_inputs(mod):
    """Two inputs, each through a Dense, added, concatenated with the first, then Dense."""
    a = mod.Input((5,), name="a")
    b = mod.Input((3,), name="b")
    projected = mod.layers.Add()([mod.layers.Dense(4)(a), mod.layers.Dense(4)(b)])
    merged = mod.layers.Concatenate()([projected, a])
    out = mod.layers.Dense(2)(mod.layers.Activation("relu")(merged))
    return mod.Model([a, b], out, name="two_inputs")


def nested(mod):
    """A functional model with a Sequential inside it, between two of its own Dense."""
    inputs = mod.Input((6,))
    hidden = mod.layers.Dense(8, activation="relu")(inputs)
    block = mod.Sequential([mod.Input((8,)), mod.layers.Dense(8, activation="tanh"),
                            mod.layers.Dense(4)], name="block")
    out = mod.layers.Dense(3, activation="softmax")(block(hidden))
    return mod.Model(inputs, out, name="nested")


BUILDERS = {"mlp": mlp, "cnn": cnn, "two_inputs": two_inputs, "nested": nested}
# Each model's optimizer: ``(class name, constructor arguments)``.
OPTIMIZERS = {
    "mlp": ("Adam", {"learning_rate": 0.01}),
    "cnn": ("RMSprop", {"learning_rate": 0.01}),
    "two_inputs": ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    "nested": ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.05}),
}


def compile_kwargs(name, mod, optimizer=None):
    """compile()'s arguments for model ``name`` in package ``mod``; ``optimizer``:
    another ``(class name, arguments)`` than the model's own."""
    opt_name, opt_args = optimizer or OPTIMIZERS[name]
    kwargs = {"optimizer": getattr(mod.optimizers, opt_name)(**opt_args)}
    if name == "cnn":
        kwargs["loss"] = mod.losses.SparseCategoricalCrossentropy(from_logits=True)
    elif name == "two_inputs":
        kwargs["loss"] = "mse"
    else:
        kwargs.update(loss="categorical_crossentropy", metrics=["accuracy"])
    return kwargs


def data(name):
    """``(inputs, targets)``: inputs a dict of arrays (``x`` or ``x0``/``x1``)."""
    rng = np.random.default_rng(sorted(BUILDERS).index(name))
    if name == "cnn":
        x = rng.normal(size=(16, 8, 8, 1)).astype("float32")
        return {"x": x}, rng.integers(0, 3, size=16).astype("int32")
    if name == "two_inputs":
        x0 = rng.normal(size=(24, 5)).astype("float32")
        x1 = rng.normal(size=(24, 3)).astype("float32")
        return {"x0": x0, "x1": x1}, rng.normal(size=(24, 2)).astype("float32")
    x = rng.normal(size=(32, 6)).astype("float32")
    return {"x": x}, np.eye(3, dtype="float32")[rng.integers(0, 3, size=32)]


def model_inputs(inputs):
    """The inputs as a model takes them: one array, or the list ``[x0, x1, …]``."""
    if "x" in inputs:
        return inputs["x"]
    return [inputs[key] for key in sorted(inputs)]
