"""Where one fit step of workload B goes on CuPy: cProfile of two epochs, the top entries.

    python bench/gpu_profile.py [B|C|F]
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu  # noqa: E402

name = sys.argv[1] if len(sys.argv) > 1 else "B"
run, steps = gpu.fcnet_epoch(name)
run()
start = time.perf_counter()
run()
print(f"{name}: {(time.perf_counter() - start) * 1e3 / steps:.3f} ms/step")
profile = cProfile.Profile()
profile.enable()
run()
run()
profile.disable()
stats = pstats.Stats(profile)
stats.sort_stats("tottime").print_stats(30)
stats.sort_stats("cumulative").print_stats(40)
