"""Summing CuPy arrays across processes on the GPU: NCCL through CuPy, or a CUDA-aware MPI.

With ``FCNET_BACKEND=cupy`` the flat gradient buffer lives on the GPU; copying it to the
host for MPI and back would cost two transfers a step. NCCL (``cupy.cuda.nccl``) sums
it where it is; where CuPy was built without NCCL, an MPI built with CUDA support reads
device memory directly. Each process uses GPU ``local rank mod device count``.

This path has not been run on a GPU by fcnet's tests (they run on NumPy); where neither
NCCL nor a CUDA-aware MPI is there, the first sum raises an error that says so.
"""

from __future__ import annotations

NO_DEVICE_ALLREDUCE = (
    "Data-parallel training with the CuPy backend sums the gradients on the GPU, which "
    "needs NCCL (CuPy built with NCCL: `python -c 'from cupy.cuda import nccl'`) or an MPI "
    "built with CUDA support (MPICH from PyPI is not). Neither was found{detail}. Install "
    "NCCL for CuPy (e.g. `pip install nvidia-nccl-cu12` with a CuPy wheel), or train on "
    "the NumPy backend.")


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
        self.nccl, self.comm, self.mpi_cuda = None, None, False
        reasons = []
        try:
            from cupy.cuda import nccl

            uid = communicator.broadcast(nccl.get_unique_id() if communicator.rank == 0
                                         else None)
            self.comm = nccl.NcclCommunicator(communicator.world_size, uid,
                                              communicator.rank)
            self.nccl = nccl
        except Exception as error:  # no NCCL in this CuPy, or it could not start
            reasons.append(f"NCCL: {error}")
            self.mpi_cuda = _mpi_supports_cuda(communicator.MPI)
            if not self.mpi_cuda:
                reasons.append("MPI: no CUDA support reported")
        # Every process must take the same path; one without NCCL fails them all.
        usable = communicator.allgather(self.nccl is not None or self.mpi_cuda)
        if not all(usable):
            raise RuntimeError(NO_DEVICE_ALLREDUCE.format(
                detail=f" on rank(s) {[r for r, ok in enumerate(usable) if not ok]} "
                       f"({'; '.join(reasons) or 'another process'})"))

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
        self.cupy.cuda.get_current_stream().synchronize()
        MPI = self.communicator.MPI
        self.communicator.comm.Allreduce(MPI.IN_PLACE, array, op=MPI.SUM)


def _mpi_supports_cuda(MPI) -> bool:
    """Whether the MPI library says it reads device memory (MPIX_Query_cuda_support)."""
    query = getattr(MPI, "Query_cuda_support", None)
    try:
        return bool(query()) if query is not None else False
    except Exception:
        return False
