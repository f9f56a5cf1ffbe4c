"""Data-parallel training over MPI, with Keras 3's names (``keras.distribution``).

Start the same script as N processes, on one machine or many::

    mpiexec -n 2 python train.py                       # two processes, this machine
    mpiexec -n 8 -f hostfile python train.py           # eight, on the hosts listed

and ``fit`` trains one model: rank 0's weights, optimizer state and random state are
broadcast when training starts; every batch of ``batch_size`` rows (the *global* batch)
is split between the processes, each taking its own rows; the losses' sums and divisors,
the metric states and the gradients are summed across processes (one small and one
flat-buffer Allreduce per step), so every process applies the update of the global
batch and the weights stay identical. Dropout and noise layers draw the global batch's
masks, so the result is the one of a single process on the same batches (to float
rounding). Only rank 0 prints and writes files; ``evaluate`` and ``predict`` share the
rows out too and return the global result on every process.

A script needs no change: launched by ``mpiexec`` with several processes, fit uses
``DataParallel()`` by itself (``FCNET_DATA_PARALLEL=0`` turns that off). It may also
say so: ``set_distribution(DataParallel())``, or ``with DataParallel().scope(): ...``.
In a single process, or with no MPI installed, everything runs as without it, and
``import fcnet`` never imports mpi4py.

Not synchronised: BatchNormalization normalises with each process's own rows (as
Horovod does) and its moving statistics are averaged when ``fit`` ends; ``*_on_batch``
calls average the gradients of the batches each process passes.

Failure: an exception that escapes ``fit`` (or the script) on one process ends the
whole job through ``MPI_Abort``, with a message that names the failed rank; a process
killed outright ends the job through the launcher. With ``BackupAndRestore``, running
the same command again resumes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys

from fcnet.backend import blas_threads, parallel


class DataParallel:
    """Data parallelism: one model on every process, each batch split between them.

    ``batch_size`` in ``fit`` is the global batch (as in Keras 3): with N processes each
    computes the gradient of about ``batch_size / N`` rows, and the sum is the global
    batch's gradient, so the learning rate that suits ``batch_size`` on one process suits
    it on N.

    Args:
        device_mesh: Keras's device mesh; fcnet's devices are MPI processes, so only
            None is accepted.
        devices: likewise (None): one process per device, started by ``mpiexec``.
        auto_shard_dataset: whether each process takes its own rows of every batch
            (True; fcnet has no other way).
        comm: an ``mpi4py`` communicator to train over (default: ``MPI.COMM_WORLD``);
            None outside ``mpiexec`` means a single process, with no MPI at all.

    Example:
        >>> import fcnet
        >>> from fcnet import distribution
        >>> dp = distribution.DataParallel()
        >>> dp.world_size, dp.rank     # 1, 0 in one process; N, r under mpiexec -n N
        (1, 0)
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True, comm=None):
        for name, value in (("device_mesh", device_mesh), ("devices", devices)):
            if value is not None:
                raise ValueError(
                    f"fcnet's DataParallel runs one MPI process per device, started by "
                    f"`mpiexec -n N`, so `{name}` must be None. Received: {name}={value!r}")
        if auto_shard_dataset is not True:
            raise ValueError("fcnet's DataParallel always gives each process its own rows "
                             "of every batch. Received: "
                             f"auto_shard_dataset={auto_shard_dataset!r}")
        self.auto_shard_dataset = True
        self.communicator = None
        self.rank, self.world_size, self.local_size = 0, 1, 1
        if comm is not None or parallel.launched_world_size() > 1:
            from fcnet.distribution.communicator import MPICommunicator, install_excepthook

            self.communicator = MPICommunicator(comm)
            self.rank = self.communicator.rank
            self.world_size = self.communicator.world_size
            self.local_size = self.communicator.local_size
            if self.world_size > 1:
                install_excepthook(self.communicator)
                _announce(self.communicator)
                # N processes on one machine share its cores: BLAS threads each.
                cores = len(os.sched_getaffinity(0)) if hasattr(
                    os, "sched_getaffinity") else (os.cpu_count() or 1)
                blas_threads.limit_threads(max(1, cores // self.local_size))

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    def allreduce(self, array) -> None:
        """Sums ``array`` across processes, in place."""
        if self.communicator is not None:
            self.communicator.allreduce(array)

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every process."""
        return obj if self.communicator is None else self.communicator.broadcast(obj)

    def allgather(self, obj) -> list:
        """``[obj of rank 0, …]`` on every process."""
        return [obj] if self.communicator is None else self.communicator.allgather(obj)

    def abort(self, error=None) -> None:
        """Ends the whole job, naming this process (nothing in a single process)."""
        if self.communicator is not None and self.world_size > 1:
            self.communicator.abort(error)

    @contextlib.contextmanager
    def scope(self):
        """Within the block this distribution is in force (Keras 3's ``scope()``)."""
        previous = parallel.current()
        set_distribution(self)
        try:
            yield self
        finally:
            set_distribution(previous)

    def __repr__(self):
        return f"<DataParallel rank={self.rank} world_size={self.world_size}>"


def set_distribution(value) -> None:
    """Puts ``value`` (a ``DataParallel``, or None for a single process) in force."""
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError("`set_distribution` expects a `fcnet.distribution.DataParallel` or "
                        f"None. Received: value={value!r} of type {type(value).__name__}")
    parallel.set_active(value)


def distribution():
    """The distribution in force (None when none was set and none was started)."""
    parallel.active()  # a job of several processes starts its own
    return parallel.current()


def rank() -> int:
    """This process's rank in the job (0 in a single process)."""
    current = distribution()
    return 0 if current is None else current.rank


def world_size() -> int:
    """The number of processes training together (1 in a single process)."""
    current = distribution()
    return 1 if current is None else current.world_size


def is_chief() -> bool:
    """Whether this process is rank 0: the one that prints and writes files."""
    return rank() == 0


_announced = False


def _announce(communicator) -> None:
    """Rank 0 says once which process is which rank, so that a launcher's report of a
    process killed outright (MPICH's names only its pid) can be read as a rank."""
    global _announced
    if _announced:  # every process constructs its distributions in the same order
        return
    members = communicator.allgather((os.getpid(), socket.gethostname()))
    if communicator.rank == 0:
        sys.stderr.write(f"fcnet.distribution: data parallel over {len(members)} processes: "
                         + ", ".join(f"rank {r} = pid {pid} on {host}"
                                     for r, (pid, host) in enumerate(members)) + "\n")
        sys.stderr.flush()
    _announced = True


def _started_by_mpiexec() -> DataParallel:
    return DataParallel()


parallel.register_factory(_started_by_mpiexec)

__all__ = ["DataParallel", "set_distribution", "distribution", "rank", "world_size",
           "is_chief"]
