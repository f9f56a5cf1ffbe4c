"""Data-parallel cost on this machine: the Allreduce against the step, and N processes
against threads.

    python bench/distributed.py                 1 process (BLAS threads: all cores)
    mpiexec -n 2 python bench/distributed.py    2 processes (BLAS threads: cores / 2 each)

For the 784-512-512-10 MLP (669,706 float32 parameters) at global batch 128 and 1024 it
prints the median time of one in-place Allreduce of the flat gradient buffer, the median
step of ``fit`` and the training throughput (samples/s over two epochs of 16,384 rows).
"""

import os
import sys
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fcnet  # noqa: E402
from fcnet import distribution  # noqa: E402


class StepTimer(fcnet.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def main():
    fcnet.utils.set_random_seed(0)
    rng = numpy.random.default_rng(0)
    x = rng.random((16384, 784), dtype="float32")
    y = rng.integers(0, 10, size=16384)
    dist = distribution.distribution()
    for batch in (128, 1024):
        fcnet.backend.clear_session()
        model = fcnet.Sequential([fcnet.Input((784,)), fcnet.layers.Dense(512, "relu"),
                                  fcnet.layers.Dense(512, "relu"),
                                  fcnet.layers.Dense(10, "softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x[:batch * 4], y[:batch * 4], batch_size=batch, verbose=0)  # warm up
        timer = StepTimer()
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=2, verbose=0, callbacks=[timer])
        seconds = time.perf_counter() - start
        grads = model._parameters.grads
        reduce_times = []
        if dist is not None and dist.world_size > 1:
            for _ in range(50):
                dist.communicator.barrier()
                t = time.perf_counter()
                dist.allreduce(grads)
                reduce_times.append(time.perf_counter() - t)
        if distribution.is_chief():
            reduce = numpy.median(reduce_times) * 1e3 if reduce_times else float("nan")
            print(f"processes {distribution.world_size()}  batch {batch:5d}  "
                  f"step {numpy.median(timer.times) * 1e3:7.2f} ms  "
                  f"allreduce {reduce:6.2f} ms  ({grads.size} float32)  "
                  f"throughput {2 * len(x) / seconds:9.0f} samples/s")


if __name__ == "__main__":
    main()
