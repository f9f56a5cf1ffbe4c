"""Seed 003's CNN: one epoch on 1,500 digit images (28×28), batch 32, Adam.

fcnet, PyTorch (eager, CPU) and Keras 3 (JAX, compiled) train the same architecture on
the same images in one process, timed in turn (interleaved), and the median epoch time
and the ratios are printed with the BLAS kernel in use. Run with OpenBLAS's native
kernels:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/cnn_seed003.py [--repeats 5]
"""

from __future__ import annotations

import argparse

import numpy as np
from common import blas_report, interleaved_medians, optional, report

BATCH = 32


def seed003_model(mod):
    """The tutorial's CNN in ``mod`` (fcnet or keras), compiled with Adam on logits."""
    layers = mod.layers
    model = mod.Sequential([
        mod.Input((28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.Flatten(),
        layers.Dense(64, activation="relu"), layers.Dense(10)])
    model.compile(optimizer="adam",
                  loss=mod.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def fcnet_fit(x, y):
    import fcnet

    model = seed003_model(fcnet)
    return lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)


def torch_fit(x, y):
    torch = optional("torch")
    if torch is None:
        return None
    torch.set_num_threads(2)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NCHW, torch's
    yt = torch.from_numpy(y)

    def run():
        perm = torch.randperm(len(xt))
        xs, ys = xt[perm], yt[perm]
        for start in range(0, len(xt), BATCH):
            opt.zero_grad()
            loss = loss_fn(model(xs[start:start + BATCH]), ys[start:start + BATCH])
            loss.backward()
            opt.step()
    return run


def keras_fit(x, y):
    keras = optional("keras")
    if keras is None:
        return None
    model = seed003_model(keras)
    return lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peers", default="pytorch,keras3-jax")
    args = parser.parse_args()
    from fcnet.datasets import digits

    (x, y), _ = digits.load_data(test_split=0.1, image_size=28)
    x, y = x[:args.samples], y[:args.samples]
    print(blas_report())
    makers = {"fcnet": fcnet_fit, "pytorch": torch_fit, "keras3-jax": keras_fit}
    runs = {}
    for name, make in makers.items():
        if name == "fcnet" or name in args.peers.split(","):
            run = make(x, y)
            if run is not None:
                runs[name] = run
    results = interleaved_medians(runs, args.repeats)
    steps = -(-len(x) // BATCH)
    report(f"Seed 003 CNN: one epoch of {len(x):,} images 28x28x1, batch {BATCH}, Adam "
           f"({steps} steps), median of {args.repeats}", results, steps)


if __name__ == "__main__":
    main()
