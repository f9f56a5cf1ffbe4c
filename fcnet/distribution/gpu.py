"""Summing CuPy arrays across processes: NCCL through CuPy, a CUDA-aware MPI, or MPI on a
copy in host memory.

With ``FCNET_BACKEND=cupy`` the flat gradient buffer lives on the GPU. NCCL
(``cupy.cuda.nccl``) sums it where it is; where NCCL cannot run (CuPy without NCCL, or
more processes on a host than it has GPUs: NCCL takes one GPU per process), an MPI built
with CUDA support reads device memory directly; where neither can, the buffer is copied
to the host, summed by MPI and copied back (two transfers a step, said once on rank 0).
Every process takes the same way. Each process uses GPU ``local rank mod device count``.

Run on one H100 under Open MPI 4.1 with two processes: NCCL refuses two processes on one
GPU, that MPI reports no CUDA support, and the host copy gives one process's results
(``tests/test_distribution_mpi.py`` with ``FCNET_BACKEND=cupy``).
"""

from __future__ import annotations

import sys

HOST_COPY = (
    "fcnet.distribution: the gradients are summed through host memory, two copies per "
    "step, because NCCL cannot run ({nccl}) and MPI reports no CUDA support. One GPU per "
    "process with CuPy's NCCL (`python -c 'from cupy.cuda import nccl'`) sums them on the "
    "GPUs.\n")


class DeviceAllreduce:
    """In-place sums of CuPy arrays across the processes of ``communicator``."""

    def __init__(self, communicator):
        import cupy

        self.cupy = cupy
        self.communicator = communicator
        local_rank = communicator.comm.Split_type(
            communicator.MPI.COMM_TYPE_SHARED).Get_rank()
        count = cupy.cuda.runtime.getDeviceCount()
        if count:
            cupy.cuda.Device(local_rank % count).use()
        self.nccl = self.comm = None
        reason = _nccl_unusable(communicator.local_size, count)
        # NCCL's start is collective: every process must be able to start it, or none does.
        reasons = [r for r in communicator.allgather(reason) if r]
        if not reasons:
            try:
                from cupy.cuda import nccl

                uid = communicator.broadcast(nccl.get_unique_id() if communicator.rank == 0
                                             else None)
                self.comm = nccl.NcclCommunicator(communicator.world_size, uid,
                                                  communicator.rank)
                self.nccl = nccl
            except Exception as error:
                reasons = [str(error)]
        usable = communicator.allgather(self.nccl is not None)
        if not all(usable):
            self.nccl = self.comm = None
        self.mpi_cuda = self.nccl is None and all(
            communicator.allgather(_mpi_supports_cuda(communicator.MPI)))
        if self.nccl is None and not self.mpi_cuda and communicator.rank == 0:
            sys.stderr.write(HOST_COPY.format(nccl="; ".join(reasons) or "on another process"))

    def allreduce(self, array) -> None:
        """Sums ``array`` (float32 or float64, contiguous, on the GPU) in place."""
        if self.nccl is not None:
            nccl = self.nccl
            kind = {"float32": nccl.NCCL_FLOAT32, "float64": nccl.NCCL_FLOAT64}.get(
                str(array.dtype))
            if kind is None:
                raise TypeError("Expected a float32 or float64 array to sum across "
                                f"processes. Received: dtype={array.dtype}")
            stream = self.cupy.cuda.get_current_stream()
            self.comm.allReduce(array.data.ptr, array.data.ptr, array.size, kind,
                                nccl.NCCL_SUM, stream.ptr)
            stream.synchronize()
            return
        MPI = self.communicator.MPI
        if self.mpi_cuda:
            self.cupy.cuda.get_current_stream().synchronize()
            self.communicator.comm.Allreduce(MPI.IN_PLACE, array, op=MPI.SUM)
            return
        host = self.cupy.asnumpy(array)
        self.communicator.comm.Allreduce(MPI.IN_PLACE, host, op=MPI.SUM)
        array.set(host)


def _nccl_unusable(processes_here: int, gpus: int) -> str | None:
    """Why NCCL cannot run in this process (None where it can)."""
    try:
        from cupy.cuda import nccl  # noqa: F401
    except Exception as error:
        return f"CuPy has no NCCL: {error}"
    if processes_here > gpus:
        return (f"{processes_here} processes share {gpus} GPU(s) on this host; NCCL takes "
                "one GPU per process")
    return None


def _mpi_supports_cuda(MPI) -> bool:
    """Whether the MPI library says it reads device memory (MPIX_Query_cuda_support)."""
    query = getattr(MPI, "Query_cuda_support", None)
    try:
        return bool(query()) if query is not None else False
    except Exception:
        return False
