"""Loads a ``.keras`` file in the Keras that runs this script, and reports on it.

    python keras_check.py MODEL.keras DATA.npz OUT.npz

``DATA.npz`` holds the inputs (``x``, or ``x0``, ``x1``, … for several) and the
targets ``y``. ``OUT.npz`` gets ``predict`` (the loaded model's predictions, batch 8)
and ``next_loss`` (the loss of one epoch of ``fit``, batch 8, no shuffling, from the
loaded optimizer state), plus ``keras_version``. Needs no fcnet: it runs in another
environment (the oldest Keras 3, on JAX).
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def main(model_path, data_path, out_path):
    data = np.load(data_path)
    names = sorted(k for k in data.files if k.startswith("x"))
    x = data["x"] if names == ["x"] else [data[k] for k in names]
    model = keras.models.load_model(model_path)
    predict = model.predict(x, batch_size=8, verbose=0)
    history = model.fit(x, data["y"], batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.savez(out_path, predict=np.asarray(predict),
             next_loss=np.float32(history.history["loss"][0]),
             keras_version=np.array(keras.__version__))


if __name__ == "__main__":
    main(*sys.argv[1:4])
