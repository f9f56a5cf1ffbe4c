"""Data-parallel training of an MLP on the digits scikit-learn ships, over MPI.

    python examples/distributed_mlp.py                  one process
    mpiexec -n 2 python examples/distributed_mlp.py     two processes, this machine
    mpiexec -n 8 -f hosts python examples/distributed_mlp.py   eight, on the listed hosts

The script is the same in every case. ``batch_size=64`` is the *global* batch: with N
processes each computes the gradient of its 64 / N rows, the gradients are summed over
the processes (one Allreduce of the flat buffer per step), and every process applies the
same update, so the learning rate suited to 64 rows stays right. Only rank 0 prints and
saves; every process ends with the same weights, those one process would have reached
on the same batches (up to the rounding of the sums).
Needs ``pip install 'fcnet[mpi]'`` to run with several processes.
"""

import os
import sys

import fcnet as keras
from fcnet import distribution, layers


def build(features: int, classes: int) -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=(features,)),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.2),  # the same masks whatever the number of processes
        layers.Dense(64, activation="relu"),
        layers.Dense(classes, activation="softmax"),
    ], name="distributed_mlp")


def main(epochs: int = 10, folder: str = ".") -> float:
    keras.utils.set_random_seed(0)  # rank 0's state is broadcast anyway: one model
    (x, y), (x_test, y_test) = keras.datasets.digits.load_data()
    model = build(x.shape[1], 10)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    if distribution.is_chief():
        print(f"{distribution.world_size()} process(es); global batch 64")
    checkpoint = os.path.join(folder, "distributed_mlp.keras")
    model.fit(x, y, batch_size=64, epochs=epochs, validation_split=0.2, verbose=2,
              callbacks=[keras.callbacks.BackupAndRestore(os.path.join(folder, "backup")),
                         keras.callbacks.ModelCheckpoint(checkpoint)])  # rank 0 writes
    # evaluate shares the rows out and merges the metric states: the global numbers.
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    if distribution.is_chief():
        print(f"test accuracy: {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main(folder=sys.argv[1] if len(sys.argv) > 1 else ".")
