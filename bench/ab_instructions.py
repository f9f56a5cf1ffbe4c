"""Instructions per training step of seed 002's fit, this checkout against another one.

    python bench/ab_instructions.py --base /path/to/old/fcnet

Timing a 20-microsecond step on a shared machine is noisy; counting the instructions it
executes (valgrind's callgrind) is repeatable. Each side runs the fit twice, on two
dataset sizes, under callgrind with one BLAS thread; the difference of the two totals
divided by the difference in steps is the cost of one step, with start-up cancelled.
Needs ``valgrind`` (Debian's package).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

FIT = """
import sys, numpy as np, fcnet
n = int(sys.argv[1])
rng = np.random.default_rng(0)
x = rng.normal(size=(n, 1)).astype(np.float32); y = -x
model = fcnet.Sequential([fcnet.layers.Dense(1, use_bias=False, input_shape=(1,))])
model.compile(loss="mse", optimizer="adam")
model.fit(x, y, batch_size=32, epochs=1, verbose=0)
"""
SIZES = (32_000, 96_000)  # 1,000 and 3,000 steps of 32


def instructions(checkout: Path, samples: int, folder: str) -> int:
    out = os.path.join(folder, f"cg.{checkout.name}.{samples}")
    env = dict(os.environ, PYTHONPATH=str(checkout), OPENBLAS_NUM_THREADS="1")
    run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                          sys.executable, "-c", FIT, str(samples)],
                         env=env, capture_output=True, text=True)
    if run.returncode:
        raise RuntimeError(f"callgrind run failed ({checkout}, {samples}):\n{run.stderr[-2000:]}")
    text = Path(out).read_text(errors="replace")
    return int(re.search(r"^(?:summary|totals): (\d+)", text, re.M).group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="a checkout of fcnet to compare with")
    args = parser.parse_args()
    steps = (SIZES[1] - SIZES[0]) // 32
    per_step = {}
    with tempfile.TemporaryDirectory() as folder:
        for side, path in (("base", Path(args.base).resolve()),
                           ("new", Path(__file__).resolve().parents[1])):
            low, high = (instructions(path, n, folder) for n in SIZES)
            per_step[side] = (high - low) / steps
            print(f"{side}: {per_step[side]:,.0f} instructions per step")
    print(f"new/base: {per_step['new'] / per_step['base']:.3f}")


if __name__ == "__main__":
    main()
