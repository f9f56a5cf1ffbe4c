"""Where one fit step of the 784-512-512-10 MLP spends its time, with the optimizer
update compiled (``fcnet._fused``) and on NumPy (``FCNET_FUSED=0``).

Times, inside ``fit``, the gradient pass (forward, loss, backward), the optimizer update
and the rest of the step, for two identical models whose Adam steps on either path, the
two taken in turn, round after round (the order alternating), so that a slow spell of
the machine falls on both; medians over the rounds. Beside them: the update alone on a
flat buffer of the MLP's size (each path, interleaved), and the bare matrix products of
one step (the same eight ``matmul`` calls on arrays of the same shapes), the part no
engine avoids. Prints the BLAS in use (threadpoolctl, where installed).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/mlp_breakdown.py \
        [--steps 100] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from common import blas_report

import fcnet
from fcnet.models.step import TrainStep
from fcnet.optimizers import Optimizer, fused

SIZES = (784, 512, 512, 10)
PATHS = ("compiled", "numpy")


def timed(cls, name, totals):
    """Wraps ``cls.name`` so that its wall time adds into ``totals[name]``."""
    original = getattr(cls, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - start
    setattr(cls, name, wrapper)


def bare_products(batch, repeats):
    """Median seconds of one step's matrix products, alone."""
    rng = np.random.default_rng(0)
    x = [rng.random((batch, n), dtype=np.float32) for n in SIZES[:-1]]
    w = [rng.random((a, b), dtype=np.float32) for a, b in zip(SIZES[:-1], SIZES[1:])]
    dz = [rng.random((batch, n), dtype=np.float32) for n in SIZES[1:]]

    def step():
        for i in range(3):
            x[i] @ w[i]  # forward
            x[i].T @ dz[i]  # dkernel
        for i in (1, 2):
            dz[i] @ w[i].T  # dx (the first layer skips it)
    times = []
    for _ in range(repeats * 100):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def with_path(path, fn):
    """Calls ``fn()`` with ``FCNET_FUSED`` set for ``path`` (read when an optimizer builds)."""
    saved = os.environ.get("FCNET_FUSED")
    os.environ["FCNET_FUSED"] = "0" if path == "numpy" else "1"
    try:
        return fn()
    finally:
        if saved is None:
            del os.environ["FCNET_FUSED"]
        else:
            os.environ["FCNET_FUSED"] = saved


def update_alone(repeats):
    """Median seconds of one Adam ``apply`` on a flat buffer of the MLP's size, per path."""
    size = sum(a * b + b for a, b in zip(SIZES[:-1], SIZES[1:]))
    rng = np.random.default_rng(0)
    grads = rng.standard_normal(size).astype(np.float32)
    opts = {}
    for path in PATHS:
        opts[path] = with_path(path, fcnet.optimizers.Adam)
        with_path(path, lambda opt=opts[path]: opt.build(np.zeros(size, np.float32),
                                                         [(0, size)]))
    times = {path: [] for path in PATHS}
    for _ in range(repeats * 40):
        for path in PATHS:
            start = time.perf_counter()
            opts[path].apply(grads)
            times[path].append(time.perf_counter() - start)
    return size, {path: statistics.median(ts) for path, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(blas_report())
    paths = PATHS if fused.kernels is not None else PATHS[1:]
    if fused.kernels is None:
        print("fcnet._fused is not built: the NumPy path alone")
    rng = np.random.default_rng(0)
    n = args.steps * args.batch
    x = rng.random((n, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], n)
    models = {}
    for path in paths:
        fcnet.utils.set_random_seed(0)
        layers = [fcnet.Input(shape=(SIZES[0],))]
        layers += [fcnet.layers.Dense(units, activation="relu") for units in SIZES[1:-1]]
        layers += [fcnet.layers.Dense(SIZES[-1], activation="softmax")]
        model = fcnet.Sequential(layers)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        with_path(path, lambda m=model: m.fit(x, y, batch_size=args.batch, verbose=0))
        assert (model.optimizer._kernels is not None) == (path == "compiled")
        models[path] = model
    names = ("run", "gradients", "apply")
    totals = dict.fromkeys(names, 0.0)
    for name in names[:2]:
        timed(TrainStep, name, totals)
    timed(Optimizer, "apply", totals)
    parts = ("step", "gradient pass", "optimizer update", "rest")
    per_run = {path: {part: [] for part in parts} for path in paths}
    for r in range(args.repeats):
        for path in paths if r % 2 == 0 else paths[::-1]:
            time.sleep(0.2)  # let BLAS's idle threads stop spinning
            totals.update(dict.fromkeys(names, 0.0))
            models[path].fit(x, y, batch_size=args.batch, verbose=0)
            runs = per_run[path]
            runs["step"].append(totals["run"])
            runs["gradient pass"].append(totals["gradients"])
            runs["optimizer update"].append(totals["apply"])
            runs["rest"].append(totals["run"] - totals["gradients"] - totals["apply"])
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {args.batch}, Adam: median of "
          f"{args.repeats} interleaved runs of {args.steps} steps, ms per step")
    print(f"  {'':<18}" + "".join(f"{path:>10}" for path in paths)
          + ("     numpy/compiled" if len(paths) == 2 else ""))
    for part in parts:
        ms = [statistics.median(per_run[path][part]) / args.steps * 1e3 for path in paths]
        ratio = f"{ms[1] / ms[0]:15.2f}x" if len(ms) == 2 and ms[0] > 0 else ""
        print(f"  {part:<18}" + "".join(f"{v:10.2f}" for v in ms) + ratio)
    size, alone = update_alone(args.repeats)
    print(f"  {'update alone':<18}" + "".join(f"{alone[p] * 1e3:10.2f}" for p in paths)
          + (f"{alone['numpy'] / alone['compiled']:15.2f}x" if len(paths) == 2 else "")
          + f"  (Adam.apply on {size:,} float32 parameters)")
    print(f"  {'bare matmuls':<18}{bare_products(args.batch, args.repeats) * 1e3:10.2f}"
          "  (the step's 8 products alone)")


if __name__ == "__main__":
    main()
