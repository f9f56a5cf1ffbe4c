"""Writes the Keras 3.0.0 files in this folder (run it with that Keras, on JAX).

    bash .ci/old_keras.sh
    KERAS_BACKEND=jax .old-keras/bin/python tests/data/keras_files/make_fixtures.py

For each model NAME (``mlp``, ``cnn``, ``two_inputs``): ``NAME.keras`` (compiled,
fitted two epochs, saved with its optimizer state), ``NAME.weights.h5`` (the same
weights) and ``NAME_expected.npz`` with the data (``x`` or ``x0``/``x1``, ``y``), the
model's ``predict`` on it, and ``next_loss``: the loss of one more epoch of ``fit``
(batch 8, no shuffling) from the saved state. The files are a few KiB each.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIT = dict(batch_size=8, shuffle=False, verbose=0)


def mlp():
    """Dense layers (one with a custom name), Adam, a loss and a metric by name."""
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(16, activation="relu", name="hidden"),
        keras.layers.Dense(8, activation="tanh"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=32)]
    return model, {"x": x}, y


def cnn():
    """Conv2D, BatchNormalization, MaxPooling2D, Flatten, Dense; RMSprop; a loss object."""
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
    ])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, size=16).astype("int32")
    return model, {"x": x}, y


def two_inputs():
    """A functional model with two inputs, Add and Concatenate; SGD with momentum."""
    a = keras.Input((5,), name="a")
    b = keras.Input((3,), name="b")
    projected = keras.layers.Add()([keras.layers.Dense(4)(a), keras.layers.Dense(4)(b)])
    merged = keras.layers.Concatenate()([projected, a])
    out = keras.layers.Dense(2)(keras.layers.Activation("relu")(merged))
    model = keras.Model([a, b], out, name="two_inputs")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss="mse")
    rng = np.random.default_rng(2)
    x0 = rng.normal(size=(24, 5)).astype("float32")
    x1 = rng.normal(size=(24, 3)).astype("float32")
    y = rng.normal(size=(24, 2)).astype("float32")
    return model, {"x0": x0, "x1": x1}, y


def write(name, build):
    """Fits the model two epochs, saves it, then records one more epoch's loss."""
    keras.utils.set_random_seed(0)
    model, inputs, y = build()
    x = inputs["x"] if "x" in inputs else [inputs["x0"], inputs["x1"]]
    model.fit(x, y, epochs=2, **FIT)
    model.save(os.path.join(HERE, f"{name}.keras"))
    model.save_weights(os.path.join(HERE, f"{name}.weights.h5"))
    predict = np.asarray(model.predict(x, batch_size=8, verbose=0))
    next_loss = model.fit(x, y, epochs=1, **FIT).history["loss"][0]
    np.savez(os.path.join(HERE, f"{name}_expected.npz"), y=y, predict=predict,
             next_loss=np.float32(next_loss), **inputs)
    return {"predict_shape": list(predict.shape), "next_loss": float(next_loss)}


def main():
    if keras.backend.backend() != "jax":
        sys.exit("needs Keras on JAX (KERAS_BACKEND=jax)")
    made = {name: write(name, build)
            for name, build in (("mlp", mlp), ("cnn", cnn), ("two_inputs", two_inputs))}
    print(json.dumps({"keras_version": keras.__version__, "models": made}, indent=1))


if __name__ == "__main__":
    main()
