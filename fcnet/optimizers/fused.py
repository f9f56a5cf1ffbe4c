"""The compiled optimizer kernels, ``fcnet._fused``, where they are built and wanted.

NumPy runs an update rule as a dozen whole-buffer ufunc calls, each a pass over the
flat buffer; ``fcnet._fused`` (``fcnet/_fused.c``, an optional extension, DESIGN §4)
runs Adam/AdamW, SGD and RMSprop as one pass each, with the same float32 arithmetic in
the same order, so both paths give the same bits. The NumPy code stays the reference
and the fallback: it runs where the extension was not built (no compiler), on another
backend (CuPy), for buffers that are not float32, and when ``FCNET_FUSED=0``.

``FCNET_FUSED`` is read when an optimizer is built (``compile`` or the first ``fit``).
"""

from __future__ import annotations

import numpy

from fcnet.backend.switch import fused_wanted

try:
    from fcnet import _fused as kernels
except ImportError:  # built without a C compiler: NumPy alone
    kernels = None


def kernels_for(optimizer, params):
    """``fcnet._fused`` if it may step ``optimizer`` over ``params``, else None.

    It may where it imports, the optimizer's array namespace is NumPy, ``params`` is
    float32, the environment variable ``FCNET_FUSED`` is not ``"0"``, and the
    optimizer's class has a compiled twin of its rule (``_fused_update``) that is not
    shadowed: a subclass that overrides ``_update`` alone steps on its own NumPy rule.
    """
    if kernels is None or not fused_wanted():
        return None
    if optimizer._xp is not numpy or params.dtype != numpy.float32:
        return None
    cls = type(optimizer)

    def owner(name):
        return next(c for c in cls.__mro__ if name in vars(c))
    if cls._fused_update is None or owner("_fused_update") is not owner("_update"):
        return None
    return kernels
