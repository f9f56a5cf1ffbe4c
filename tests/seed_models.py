"""The seeds' own networks for tests, built by the examples' code (not a copy of it)."""

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def seed003_cnn():
    """Seed 003's CNN, as ``examples/seed003_cnn.py`` builds it (it prints its summary)."""
    return runpy.run_path(str(EXAMPLES / "seed003_cnn.py"))["build"]()
