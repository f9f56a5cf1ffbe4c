"""Trains the data-parallel test cases; run by tests/test_distribution_mpi.py.

    mpiexec -n 2 python tests/distributed_train.py OUTDIR     # every rank writes its results
    run_case(name)                                            # one process, in the test

Each case seeds fcnet, builds a small model and trains it with ``fit`` on fixed data; the
results (final weights, history, evaluate, predict) go to ``OUTDIR/<case>_rank<r>.npz``.
The script has no distribution code of its own: under mpiexec, fit distributes itself.
"""

import json
import os
import sys

import numpy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fcnet  # noqa: E402
import fcnet.distribution  # noqa: E402, F401 - what `import fcnet` will bring in itself

CASES = ("adam", "shuffle", "dropout", "batchnorm")


def _data(n, features, seed):
    rng = numpy.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype("float32"), rng


def run_case(name, verbose=0, callbacks=None):
    """``(model, history, evaluate logs, predictions)`` of one case."""
    fcnet.backend.clear_session()
    fcnet.utils.set_random_seed(7)
    layers = fcnet.layers
    if name == "adam":  # uneven last batch, sample weights, ignore_class, validation
        x, rng = _data(103, 5, 1)
        y = rng.integers(0, 3, size=103)
        y[::9] = -1
        model = fcnet.Sequential([layers.Input((5,)), layers.Dense(8, activation="relu"),
                                  layers.Dense(3, activation="softmax")])
        model.compile(fcnet.optimizers.Adam(0.01),
                      fcnet.losses.SparseCategoricalCrossentropy(ignore_class=-1),
                      weighted_metrics=["accuracy"])
        sw = rng.uniform(0.5, 2.0, size=103).astype("float32")
        vx, vrng = _data(37, 5, 2)
        vy = vrng.integers(0, 3, size=37)
        fit = dict(batch_size=20, epochs=3, shuffle=False, sample_weight=sw,
                   validation_data=(vx, vy))
    elif name == "shuffle":  # shuffle=True, regularizers, a summed loss term
        x, rng = _data(90, 4, 3)
        y = (x @ rng.normal(size=(4, 2))).astype("float32")
        model = fcnet.Sequential([
            layers.Input((4,)),
            layers.Dense(6, activation="tanh", kernel_regularizer="l2",
                         activity_regularizer=fcnet.regularizers.L1(0.01)),
            layers.Dense(2)])
        model.compile(fcnet.optimizers.Adam(0.02), "mse", metrics=["mae"])
        fit = dict(batch_size=16, epochs=3, shuffle=True, validation_split=0.2)
    elif name == "dropout":  # random masks: Dropout and GaussianNoise
        x, rng = _data(64, 6, 4)
        labels = rng.integers(0, 4, size=64)
        y = numpy.eye(4, dtype="float32")[labels]
        model = fcnet.Sequential([layers.Input((6,)), layers.GaussianNoise(0.1),
                                  layers.Dense(12, activation="relu"), layers.Dropout(0.3),
                                  layers.Dense(4, activation="softmax")])
        model.compile(fcnet.optimizers.Adam(0.01), "categorical_crossentropy",
                      metrics=["accuracy"])
        fit = dict(batch_size=16, epochs=3, shuffle=True)
    elif name == "batchnorm":  # local batch statistics, moving ones averaged at the end
        x, rng = _data(64, 3, 5)
        y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")
        model = fcnet.Sequential([layers.Input((3,)), layers.Dense(4),
                                  layers.BatchNormalization(), layers.Dense(1, "sigmoid")])
        model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
        fit = dict(batch_size=16, epochs=2, shuffle=False)
    else:
        raise ValueError(f"Unknown case. Received: name={name!r}")
    history = model.fit(x, y, verbose=verbose, callbacks=callbacks, **fit)
    evaluated = model.evaluate(x, y, batch_size=25, verbose=0, return_dict=True)
    predicted = model.predict(x, batch_size=10, verbose=0)
    return model, history.history, evaluated, predicted


def save(outdir, name, model, history, evaluated, predicted):
    rank = fcnet.distribution.rank()
    arrays = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    arrays["predicted"] = predicted
    numpy.savez(os.path.join(outdir, f"{name}_rank{rank}.npz"), **arrays)
    with open(os.path.join(outdir, f"{name}_rank{rank}.json"), "w") as f:
        json.dump({"history": history, "evaluate": evaluated,
                   "world_size": fcnet.distribution.world_size()}, f)


if __name__ == "__main__":
    outdir = sys.argv[1]
    for case in CASES:
        callbacks = None
        if case == "adam":
            callbacks = [fcnet.callbacks.CSVLogger(os.path.join(outdir, "log.csv")),
                         fcnet.callbacks.ModelCheckpoint(
                             os.path.join(outdir, "ckpt_{epoch}_rank"
                                          + str(fcnet.distribution.rank()) + ".weights.h5"),
                             save_weights_only=True)]
        save(outdir, case, *run_case(case, verbose=2, callbacks=callbacks))
