"""A matrix product added into its output, ``c ← c + alpha · aᵀ · b``, which NumPy's
``matmul`` cannot do (it writes a product, never adds one to what is there):

    accumulate(c, a, b, alpha)      c: (M, N)  +=  alpha · aᵀ · b,   a: (K, M), b: (K, N)

It is BLAS's ``gemm`` with ``beta = 1``, called through ctypes (which releases the GIL)
in the library NumPy itself runs on: the ``cblas_sgemm`` / ``cblas_dgemm`` that NumPy's
OpenBLAS exports, with 64-bit integers (``scipy_cblas_sgemm64_``, the names of the
``scipy-openblas64`` build NumPy's wheels carry; ``cblas_sgemm64_`` in other ILP64
builds). Where NumPy runs on another BLAS, ``available`` is False and callers keep to
``matmul``.

SGD without momentum folds its step into Dense's kernel-gradient product with it:
``kernel ← kernel + (−lr) · xᵀ · dz`` (``fcnet.ops.fold``).

While ``fcnet.backend.thread_team`` is active (a part-busy machine), the product is
shared out in the team's blocks of ``c`` (``ThreadTeam.blocks``), as ``matmul`` is;
each entry of ``c`` is the same sum either way.
"""

from __future__ import annotations

import ctypes
import functools

import numpy

from fcnet.backend import thread_team

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_NAMES = ("scipy_cblas_{}gemm64_", "cblas_{}gemm64_")
_THREADS = "scipy_openblas_{}_num_threads64_", "openblas_{}_num_threads64_"


@functools.cache
def _library():
    """NumPy's OpenBLAS (a ctypes handle), or None where NumPy runs on another BLAS."""
    try:
        from threadpoolctl import ThreadpoolController

        libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    except Exception:  # no threadpoolctl, or a BLAS it cannot read
        return None
    # NumPy's own copy first (its wheels keep it in numpy.libs), where several are loaded
    for library in sorted(libraries, key=lambda lib: "numpy" not in lib.filepath):
        if library.internal_api == "openblas":
            return ctypes.CDLL(library.filepath)  # already loaded by NumPy: the same one
    return None


def _function(names):
    """The first of ``names`` that NumPy's OpenBLAS exports (a ctypes function), or None."""
    handle = _library()
    return next((getattr(handle, name) for name in names if hasattr(handle, name)), None)


@functools.cache
def _gemm(char: str):
    """The CBLAS ``?gemm`` of NumPy's BLAS for dtype ``char`` ('f' or 'd'), or None."""
    function = _function([name.format("s" if char == "f" else "d") for name in _NAMES])
    if function is not None:
        scalar = ctypes.c_float if char == "f" else ctypes.c_double
        i64, ptr = ctypes.c_int64, ctypes.c_void_p
        function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64,
                             scalar, ptr, i64, ptr, i64, scalar, ptr, i64]
        function.restype = None
    return function


@functools.cache
def addresses(char: str):
    """``(gemm, set_num_threads, get_num_threads)``: the addresses of NumPy's OpenBLAS's
    ``?gemm`` for dtype ``char`` and of its thread-count functions, for compiled code;
    None where one is missing."""
    found = [_gemm(char)] + [_function([name.format(verb) for name in _THREADS])
                             for verb in ("set", "get")]
    if any(function is None for function in found):
        return None
    return tuple(ctypes.cast(function, ctypes.c_void_p).value for function in found)


def available(dtype) -> bool:
    """Whether ``accumulate`` can run on NumPy arrays of ``dtype`` (float32 or float64)."""
    dtype = numpy.dtype(dtype)
    return dtype.char in "fd" and _gemm(dtype.char) is not None


def _ld(array) -> int | None:
    """BLAS's leading dimension of a 2-D array (its row step in elements), or None where
    BLAS cannot take the array as it is (no unit step along a row, rows that overlap)."""
    rows, cols = array.shape
    item = array.itemsize
    if cols > 1 and array.strides[1] != item:
        return None
    if rows <= 1:
        return max(1, cols)
    step = array.strides[0]
    return step // item if step % item == 0 and step >= max(1, cols) * item else None


def accumulate(c, a, b, alpha: float) -> None:
    """``c += alpha · aᵀ · b`` in place: ``a (K, M)``, ``b (K, N)``, ``c (M, N)``, NumPy
    arrays of one float dtype, ``c`` with unit steps along its rows (``available`` must
    be True; ``a`` and ``b`` are copied where BLAS cannot take them as they are).

    Each entry ``c_ij + alpha · Σ_k a_ki b_kj`` is rounded once where BLAS fuses the
    multiply-add (``c − lr·g`` written after ``g`` is rounded may differ in the last bit).
    """
    if not (a.dtype == b.dtype == c.dtype and a.ndim == b.ndim == c.ndim == 2
            and a.shape[0] == b.shape[0] and c.shape == (a.shape[1], b.shape[1])
            and c.flags.writeable and _ld(c) is not None):
        raise ValueError(
            "accumulate expects c (M, N) with unit steps along its rows, a (K, M) and "
            f"b (K, N), of one dtype. Received: c {c.dtype}{c.shape}, a {a.dtype}{a.shape}, "
            f"b {b.dtype}{b.shape}")
    a = a if _ld(a) is not None else numpy.ascontiguousarray(a)
    b = b if _ld(b) is not None else numpy.ascontiguousarray(b)
    gemm = _gemm(c.dtype.char)
    team = thread_team._TEAM
    blocks = team.blocks(*c.shape, a.shape[0]) if team is not None and team.active else None
    if blocks is None:
        _call(gemm, c, a, b, alpha)
    else:  # c's block (rows, cols) is alpha · a[:, rows]ᵀ · b[:, cols]
        team.run([functools.partial(_call, gemm, c[rows, cols], a[:, rows], b[:, cols], alpha)
                  for rows, cols in blocks])


def _call(gemm, c, a, b, alpha) -> None:
    if c.size and a.shape[0]:  # nothing to add where the batch is empty
        gemm(_ROW_MAJOR, _TRANS, _NO_TRANS, c.shape[0], c.shape[1], a.shape[0], alpha,
             a.ctypes.data, _ld(a), b.ctypes.data, _ld(b), 1.0, c.ctypes.data, _ld(c))
