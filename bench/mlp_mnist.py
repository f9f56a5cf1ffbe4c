"""An MNIST-sized MLP, 784-512-512-10 (relu, softmax), batch 128, Adam.

Times fcnet, PyTorch (eager) and Keras 3 (JAX) training on the same random
MNIST-shaped data in one process; prints the median time per step and ratios.
``--gpu`` runs fcnet on CuPy and PyTorch on CUDA (Keras stays on its default device).

    python bench/mlp_mnist.py [--steps 100] [--repeats 3] [--gpu]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from common import interleaved_medians, optional, report

SIZES = (784, 512, 512, 10)


def fcnet_fit(x, y, batch, gpu=False):
    import fcnet

    if gpu:
        fcnet.backend.set_backend("cupy")
    layers = [fcnet.Input(shape=(SIZES[0],))]
    layers += [fcnet.layers.Dense(units, activation="relu") for units in SIZES[1:-1]]
    layers += [fcnet.layers.Dense(SIZES[-1], activation="softmax")]
    model = fcnet.Sequential(layers)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0)


def torch_fit(x, y, batch, gpu=False):
    torch = optional("torch")
    if torch is None:
        return None
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    device = "cuda" if gpu else "cpu"
    modules = []
    for fan_in, fan_out in zip(SIZES[:-2], SIZES[1:-1]):
        modules += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*modules, torch.nn.Linear(SIZES[-2], SIZES[-1])).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    def run():
        perm = torch.randperm(len(xt), device=device)  # one shuffled copy, then views
        xs, ys = xt[perm], yt[perm]
        for start in range(0, len(xt), batch):
            opt.zero_grad()
            loss_fn(model(xs[start:start + batch]), ys[start:start + batch]).backward()
            opt.step()
        if gpu:
            torch.cuda.synchronize()
    return run


def keras_fit(x, y, batch, gpu=False):
    keras = optional("keras")
    if keras is None:
        return None
    layers = [keras.Input((SIZES[0],))]
    layers += [keras.layers.Dense(units, activation="relu") for units in SIZES[1:-1]]
    layers += [keras.layers.Dense(SIZES[-1], activation="softmax")]
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gpu", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.steps * args.batch
    x = rng.random((n, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], n)
    runs = {}
    for name, make in (("fcnet", fcnet_fit), ("pytorch", torch_fit), ("keras3-jax", keras_fit)):
        run = make(x, y, args.batch, args.gpu)
        if run is not None:
            runs[name] = run
    results = interleaved_medians(runs, args.repeats)
    report(f"MLP {'-'.join(map(str, SIZES))}: batch {args.batch}, Adam, {args.steps} steps "
           f"per run, median of {args.repeats}", results, args.steps)


if __name__ == "__main__":
    main()
