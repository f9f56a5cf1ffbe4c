"""fcnet without its compiled extensions (a machine with no C compiler at install): the
training tests run in a process where ``fcnet._pool``, ``fcnet._conv`` and
``fcnet._fused`` cannot be imported, and pass on NumPy alone."""

import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FILES = ["test_training.py", "test_engine_gradients.py", "test_engine_regressions.py",
         "test_optimizers.py", "test_train_by_hand.py", "test_model_gradients.py",
         "test_fused.py", "test_dense.py", "test_compiled_ops.py", "test_conv.py"]

RUN = textwrap.dedent("""
    import importlib.abc, sys

    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name in ("fcnet._pool", "fcnet._conv", "fcnet._fused"):
                raise ImportError(name + " is hidden")

    sys.meta_path.insert(0, Hide())
    from fcnet.backend import few_rows, switch
    from fcnet.ops import compiled
    from fcnet.optimizers import fused
    assert compiled.kernels is None and fused.kernels is None and few_rows._pool is None
    assert not few_rows.ready() and switch.fused_wanted.__module__ == "fcnet.backend.switch"
    import pytest
    sys.exit(pytest.main(["-p", "no:cacheprovider", "-W", "ignore"] + sys.argv[1:]))
""")


def test_the_training_tests_pass_without_the_compiled_extensions():
    done = subprocess.run([sys.executable, "-c", RUN] + [str(TESTS / f) for f in FILES],
                          capture_output=True, text=True, cwd=TESTS.parent, timeout=900)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in summary and "failed" not in summary, summary
