"""The processes of a data-parallel job, through MPI (mpi4py, imported here only).

``MPICommunicator`` gives the training loop the few collective operations it needs
(``fcnet/models/sharded.py``): an in-place sum of an array, a broadcast and a gather
of Python objects, and ``abort``, which ends every process of the job when one of them
fails, so that none waits forever in a collective. CuPy arrays are summed on the GPU
(``fcnet.distribution.gpu``).
"""

from __future__ import annotations

import os
import stat
import sys
import time
import traceback

import numpy

MPI_MISSING = ("fcnet's data-parallel training runs on MPI through mpi4py, which is not "
               "installed. Install it with `pip install 'fcnet[mpi]'` (mpi4py and MPICH), "
               "then start the script with `mpiexec -n 2 python train.py`.")


def load_mpi():
    """The ``mpi4py.MPI`` module; ImportError with the install command where it is missing."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(MPI_MISSING) from error
    return MPI


class MPICommunicator:
    """The job's processes (``MPI.COMM_WORLD`` unless ``comm`` is given).

    Attributes:
        rank: this process's index, 0 … world_size - 1.
        world_size: the number of processes.
        local_size: the number of processes on this machine.
    """

    def __init__(self, comm=None):
        self.MPI = MPI = load_mpi()
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.world_size = self.comm.Get_size()
        self.local_size = self.comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
        self._device = None

    def allreduce(self, array) -> None:
        """Sums ``array`` (float32 or float64, contiguous) across processes, in place."""
        if isinstance(array, numpy.ndarray):
            self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM)
            return
        if self._device is None:  # a CuPy array: summed on the GPU
            from fcnet.distribution.gpu import DeviceAllreduce

            self._device = DeviceAllreduce(self)
        self._device.allreduce(array)

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every process."""
        return self.comm.bcast(obj, root=0)

    def allgather(self, obj) -> list:
        """Every process's ``obj``, in rank order, on every process."""
        return self.comm.allgather(obj)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, error=None, code: int = 1) -> None:
        """Ends every process of the job (``MPI_Abort``) after writing to stderr which
        process failed and why; the launcher then exits with a non-zero status.

        The launcher reads this process's output through pipes and, once told of the
        abort, ends the job without reading what is left in them: so the report is read
        out of the pipes (``wait_until_read``) before ``MPI_Abort`` is called. MPICH's
        ``MPI_Abort`` returns at once and leaves the ending to the launcher; this
        process then waits for it (and leaves by itself after ``ABORT_WAIT`` seconds),
        so that no code of the script runs after the job was ended, nor is the report
        written twice."""
        stream = sys.stderr
        what = "" if error is None else f" with {type(error).__name__}: {error}"
        stream.write(f"fcnet.distribution: process rank {self.rank} of {self.world_size} "
                     f"(pid {os.getpid()}) failed{what}. Ending the job, so that the other "
                     "processes do not wait for it.\n")
        if isinstance(error, BaseException):
            traceback.print_exception(type(error), error, error.__traceback__, file=stream)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
            wait_until_read(stream)
        self.comm.Abort(code)
        time.sleep(ABORT_WAIT)
        os._exit(code)


ABORT_WAIT = 10.0


def wait_until_read(stream, timeout: float = 2.0) -> bool:
    """Waits until the pipe behind ``stream`` holds no unread bytes (at most
    ``timeout`` seconds); False where they were not read in time. A stream that is
    not a pipe (a terminal, a file) has nothing to wait for."""
    try:
        import fcntl  # POSIX only: elsewhere there is nothing to wait for
        import termios

        fd = stream.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return True
        deadline = time.monotonic() + timeout
        while int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, bytes(4)), sys.byteorder):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
    except (ImportError, AttributeError, OSError, ValueError):  # no pipe to ask
        pass
    return True


def install_excepthook(communicator) -> None:
    """An exception that ends this process's script aborts the whole job (the others
    would otherwise wait in their next collective operation forever)."""
    previous = sys.excepthook
    if getattr(previous, "_fcnet_aborts", False):
        return

    def hook(kind, value, tb):
        if issubclass(kind, SystemExit) and value.code in (None, 0):
            previous(kind, value, tb)
            return
        communicator.abort(value)

    hook._fcnet_aborts = True
    sys.excepthook = hook
