"""Seed 002's fit: Dense(1, use_bias=False) on 1,000,000 samples, batch 32, Adam, 1 epoch.

Runs fcnet, a bare NumPy loop (the floor), PyTorch (eager, CPU) and Keras 3 (JAX)
on the same work in one process and prints the median time per step and ratios.

    python bench/seed002_fit.py [--samples 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse

import numpy as np
from common import interleaved_medians, optional, report


def fcnet_fit(x, y):
    import fcnet

    model = fcnet.Sequential([fcnet.layers.Dense(1, use_bias=False, input_shape=(1,))])
    model.compile(loss="mse", optimizer="adam")
    return lambda: model.fit(x, y, batch_size=32, epochs=1, verbose=0)


def numpy_loop(x, y):
    def run():
        w = np.full((1, 1), 0.5, np.float32)
        m = np.zeros_like(w)
        v = np.zeros_like(w)
        for t, start in enumerate(range(0, len(x), 32), 1):
            xb, yb = x[start:start + 32], y[start:start + 32]
            g = xb.T @ ((xb @ w - yb) * np.float32(2 / len(xb)))
            m += (g - m) * np.float32(0.1)
            v += (g * g - v) * np.float32(0.001)
            alpha = 0.001 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
            w -= np.float32(alpha) * m / (np.sqrt(v) + np.float32(1e-7))
    return run


def torch_fit(x, y):
    torch = optional("torch")
    if torch is None:
        return None
    torch.set_num_threads(2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def run():
        model = torch.nn.Linear(1, 1, bias=False)
        opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
        loss_fn = torch.nn.MSELoss()
        perm = torch.randperm(len(xt))  # one shuffled copy per epoch, then contiguous views
        xs, ys = xt[perm], yt[perm]
        for start in range(0, len(xt), 32):
            opt.zero_grad()
            loss = loss_fn(model(xs[start:start + 32]), ys[start:start + 32])
            loss.backward()
            opt.step()
    return run


def keras_fit(x, y):
    keras = optional("keras")
    if keras is None:
        return None
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(loss="mse", optimizer="adam")
    return lambda: model.fit(x, y, batch_size=32, epochs=1, verbose=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.samples, 1)).astype(np.float32)
    y = -x
    runs = {}
    for name, make in (("fcnet", fcnet_fit), ("numpy loop", numpy_loop),
                       ("pytorch", torch_fit), ("keras3-jax", keras_fit)):
        run = make(x, y)
        if run is not None:
            runs[name] = run
    results = interleaved_medians(runs, args.repeats)
    steps = -(-args.samples // 32)
    report(f"Seed 002 fit: {args.samples:,} samples, batch 32, Adam, 1 epoch "
           f"({steps:,} steps), median of {args.repeats}", results, steps)


if __name__ == "__main__":
    main()
