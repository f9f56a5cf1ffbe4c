"""What the GPU tests share: CuPy, or a skip of the importing test module where CuPy is
not installed, and ``needs_gpu``, which skips where no GPU is found (CI has neither)."""

import pytest

cupy = pytest.importorskip("cupy")
try:
    GPUS = cupy.cuda.runtime.getDeviceCount()
except cupy.cuda.runtime.CUDARuntimeError:
    GPUS = 0
needs_gpu = pytest.mark.skipif(GPUS == 0, reason="no GPU")
