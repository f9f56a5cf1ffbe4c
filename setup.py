"""Builds the optional compiled modules ``fcnet._fused`` (the fused optimizer updates),
``fcnet._conv`` (max pooling, col2im and the relu backward with the bias gradient) and
``fcnet._pool`` (the threads both cut their loops over, and that OpenBLAS runs on).

Everything else is in pyproject.toml. The extensions are optional: where no C compiler or
no Python headers exist, the build warns, skips them, and fcnet runs on NumPy alone.
Flags keep float32 arithmetic exactly the NumPy reference's: no -ffast-math, and no
fused multiply-add contraction (-ffp-contract=off), which would round differently.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

UNIX_FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno"]


class BuildExt(build_ext):
    def build_extensions(self):
        if self.compiler.compiler_type in ("unix", "mingw32", "cygwin"):
            for ext in self.extensions:
                ext.extra_compile_args = UNIX_FLAGS
        else:  # MSVC: precise floating point is its default; no contraction
            for ext in self.extensions:
                ext.extra_compile_args = ["/O2", "/fp:precise"]
        super().build_extensions()


setup(
    ext_modules=[Extension(name, [path], depends=["fcnet/_pool.h"], optional=True)
                 for name, path in [("fcnet._fused", "fcnet/_fused.c"),
                                    ("fcnet._conv", "fcnet/_conv.c"),
                                    ("fcnet._pool", "fcnet/_pool.c")]],
    cmdclass={"build_ext": BuildExt},
)
