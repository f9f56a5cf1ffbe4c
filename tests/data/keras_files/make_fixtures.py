"""Writes the Keras 3.0.0 files in this folder (run it with that Keras, on JAX).

    bash .ci/old_keras.sh
    KERAS_BACKEND=jax .old-keras/bin/python tests/data/keras_files/make_fixtures.py

For each model NAME of tests/saving_models.py in FIXTURES: ``NAME.keras`` (compiled,
fitted two epochs, saved with its optimizer state), ``NAME.weights.h5`` (the same
weights and optimizer state) and ``NAME_expected.npz`` with the data (``x`` or
``x0``/``x1``, ``y``), the model's ``predict`` on it, and ``next_loss``: the loss of one
more epoch of ``fit`` (batch 8, no shuffling) from the saved state. Each file is
2–30 KiB. The models are built one after another in one session, so the later ones'
layers are named ``dense_3``…: the weight files' keys (class-name counters) are not.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # tests/, for saving_models
import saving_models  # noqa: E402

FIXTURES = ("mlp", "cnn", "two_inputs")


def write(name):
    """Fits the model two epochs, saves it, then records one more epoch's loss."""
    keras.utils.set_random_seed(0)
    model = saving_models.BUILDERS[name](keras)
    model.compile(**saving_models.compile_kwargs(name, keras))
    inputs, y = saving_models.data(name)
    x = saving_models.model_inputs(inputs)
    model.fit(x, y, epochs=2, **saving_models.FIT)
    model.save(os.path.join(HERE, f"{name}.keras"))
    model.save_weights(os.path.join(HERE, f"{name}.weights.h5"))
    predict = np.asarray(model.predict(x, batch_size=8, verbose=0))
    next_loss = model.fit(x, y, epochs=1, **saving_models.FIT).history["loss"][0]
    np.savez(os.path.join(HERE, f"{name}_expected.npz"), y=y, predict=predict,
             next_loss=np.float32(next_loss), **inputs)
    return {"predict_shape": list(predict.shape), "next_loss": float(next_loss)}


def main():
    if keras.backend.backend() != "jax":
        sys.exit("needs Keras on JAX (KERAS_BACKEND=jax)")
    made = {name: write(name) for name in FIXTURES}
    print(json.dumps({"keras_version": keras.__version__, "models": made}, indent=1))


if __name__ == "__main__":
    main()
