"""A data-parallel fit in which one process fails; run by tests/test_distribution_mpi.py.

    mpiexec -n 2 python tests/distributed_fail.py OUTDIR MODE

MODE ``raise``: rank 1 raises at the start of epoch 2; ``kill``: rank 1 kills itself
(SIGKILL) in epoch 1; ``resume``: no failure (BackupAndRestore resumes what a failed run
left). Every rank writes its final weights to ``OUTDIR/final_rank<r>.npz``.
"""

import os
import signal
import sys

import numpy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fcnet  # noqa: E402
import fcnet.distribution  # noqa: E402


class Failure(fcnet.callbacks.Callback):
    """Makes rank 1 fail the way ``mode`` says."""

    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def on_epoch_begin(self, epoch, logs=None):
        if self.mode == "raise" and epoch == 2 and fcnet.distribution.rank() == 1:
            raise RuntimeError("rank 1 fails on purpose")

    def on_train_batch_end(self, batch, logs=None):
        if self.mode == "kill" and batch == 2 and fcnet.distribution.rank() == 1:
            os.kill(os.getpid(), signal.SIGKILL)


def train(backup_dir, mode="resume"):
    """The model after four epochs (resumed from ``backup_dir`` where a backup is)."""
    fcnet.backend.clear_session()
    fcnet.utils.set_random_seed(11)
    rng = numpy.random.default_rng(3)
    x = rng.normal(size=(48, 4)).astype("float32")
    y = rng.integers(0, 3, size=48)
    model = fcnet.Sequential([fcnet.layers.Input((4,)),
                              fcnet.layers.Dense(8, activation="relu"),
                              fcnet.layers.Dropout(0.2),
                              fcnet.layers.Dense(3, activation="softmax")])
    model.compile(fcnet.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    callbacks = [fcnet.callbacks.BackupAndRestore(backup_dir), Failure(mode)]
    model.fit(x, y, batch_size=12, epochs=4, shuffle=True, verbose=0, callbacks=callbacks)
    return model


if __name__ == "__main__":
    outdir, mode = sys.argv[1], sys.argv[2]
    model = train(os.path.join(outdir, "backup"), mode)
    rank = fcnet.distribution.rank()
    numpy.savez(os.path.join(outdir, f"final_rank{rank}.npz"), *model.get_weights())
