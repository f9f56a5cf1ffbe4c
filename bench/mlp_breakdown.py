"""Where one fit step of the 784-512-512-10 MLP spends its time (fcnet alone).

Times, inside ``fit``, the gradient pass (forward, loss, backward), the optimizer update
and the rest of the step, and beside them the bare matrix products of one step (the
same eight ``matmul`` calls on arrays of the same shapes), the part no engine avoids.

    python bench/mlp_breakdown.py [--steps 100] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import fcnet
from fcnet.models.step import TrainStep
from fcnet.optimizers import Optimizer

SIZES = (784, 512, 512, 10)


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.steps * args.batch
    x = rng.random((n, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], n)
    layers = [fcnet.Input(shape=(SIZES[0],))]
    layers += [fcnet.layers.Dense(units, activation="relu") for units in SIZES[1:-1]]
    layers += [fcnet.layers.Dense(SIZES[-1], activation="softmax")]
    model = fcnet.Sequential(layers)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=args.batch, verbose=0)  # warm-up
    names = ("run", "gradients", "apply")
    per_run = {name: [] for name in ("step", "gradient pass", "optimizer update", "rest")}
    totals = dict.fromkeys(names, 0.0)
    for name in names[:2]:
        timed(TrainStep, name, totals)
    timed(Optimizer, "apply", totals)
    for _ in range(args.repeats):
        totals.update(dict.fromkeys(names, 0.0))
        model.fit(x, y, batch_size=args.batch, verbose=0)
        update = totals["apply"]
        per_run["step"].append(totals["run"])
        per_run["gradient pass"].append(totals["gradients"])
        per_run["optimizer update"].append(update)
        per_run["rest"].append(totals["run"] - totals["gradients"] - update)
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {args.batch}, Adam: "
          f"median of {args.repeats} runs of {args.steps} steps, per step")
    for name, values in per_run.items():
        print(f"  {name:<18} {statistics.median(values) / args.steps * 1e3:6.2f} ms")
    print(f"  {'bare matmuls':<18} {bare_products(args.batch, args.repeats) * 1e3:6.2f} ms"
          "  (the step's 8 products alone)")


if __name__ == "__main__":
    main()
