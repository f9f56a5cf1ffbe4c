"""fcnet on CuPy against PyTorch on CUDA, same GPU, same process, interleaved rounds.

    python bench/gpu.py [--rounds 3]

Workloads (bench/workloads.py's letters): B the 784-512-512-10 MLP with Adam at batch 128
(and at batch 1024, B1024), C the 1024-2048-2048-1024 MLP with SGD at batch 256, F seed
003's CNN at batch 32. Each round times one epoch per framework after a warm-up epoch;
the table gives median ms per step and fcnet's time over PyTorch's. TF32 is off in both
(fcnet's default; PyTorch's ``allow_tf32`` set False) so both run full float32 products.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WORKLOADS = {  # name: (sizes or "cnn", batch, samples, optimizer)
    "B": ((784, 512, 512, 10), 128, 60_000, "adam"),
    "B1024": ((784, 512, 512, 10), 1024, 60_000, "adam"),
    "C": ((1024, 2048, 2048, 1024), 256, 10_240, "sgd"),
    "F": ("cnn", 32, 1_500, "adam"),
}


def data(name):
    sizes, _, n, _ = WORKLOADS[name]
    rng = np.random.default_rng(0)
    if sizes == "cnn":
        return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n)
    if name == "C":
        return (rng.normal(size=(n, 1024)).astype(np.float32),
                rng.normal(size=(n, 1024)).astype(np.float32))
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


def fcnet_epoch(name):
    import cupy

    import fcnet
    fcnet.backend.set_backend("cupy")
    sizes, batch, _, opt = WORKLOADS[name]
    L = fcnet.layers
    if sizes == "cnn":
        model = fcnet.Sequential([fcnet.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"),
                                  L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
                                  L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
                                  L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10)])
    else:
        model = fcnet.Sequential([fcnet.Input((sizes[0],))]
                                 + [L.Dense(u, activation="relu") for u in sizes[1:-1]]
                                 + [L.Dense(sizes[-1])])
    loss = "mse" if name == "C" else fcnet.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=opt, loss=loss)
    x, y = data(name)

    def run():
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        cupy.cuda.Device().synchronize()
    return run, -(-len(x) // batch)


def torch_epoch(name):
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    sizes, batch, _, opt = WORKLOADS[name]
    nn = torch.nn
    if sizes == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
                              nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10))
    else:
        mods = []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            mods += [nn.Linear(a, b), nn.ReLU()]
        model = nn.Sequential(*mods, nn.Linear(sizes[-2], sizes[-1]))
    model = model.cuda()
    optim = (torch.optim.Adam(model.parameters(), 1e-3) if opt == "adam"
             else torch.optim.SGD(model.parameters(), 0.01))
    loss_fn = nn.MSELoss() if name == "C" else nn.CrossEntropyLoss()
    x, y = data(name)
    if sizes == "cnn":
        x = x.transpose(0, 3, 1, 2).copy()
    # Host arrays cross to the device per batch, as fcnet's fit does.
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y if name == "C" else y.astype(np.int64))

    def run():
        for i in range(0, len(xt), batch):
            xb, yb = xt[i:i + batch].cuda(), yt[i:i + batch].cuda()
            optim.zero_grad(set_to_none=True)
            loss_fn(model(xb), yb).backward()
            optim.step()
        torch.cuda.synchronize()
    return run, -(-len(x) // batch)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(WORKLOADS))
    args = parser.parse_args()
    import cupy
    import torch
    print(f"GPU: {torch.cuda.get_device_name()}, CuPy {cupy.__version__}, "
          f"PyTorch {torch.__version__}")
    print("| workload | fcnet (CuPy) ms/step | PyTorch ms/step | fcnet / PyTorch |")
    print("| --- | --- | --- | --- |")
    for name in args.only.split(","):
        runs = {"fcnet": fcnet_epoch(name), "torch": torch_epoch(name)}
        times = {k: [] for k in runs}
        for run, _ in runs.values():
            run()  # warm-up epoch
        for _ in range(args.rounds):
            for key, (run, steps) in runs.items():
                start = time.perf_counter()
                run()
                times[key].append((time.perf_counter() - start) * 1e3 / steps)
        f, t = statistics.median(times["fcnet"]), statistics.median(times["torch"])
        print(f"| {name} | {f:.3f} | {t:.3f} | {f / t:.2f} |", flush=True)


if __name__ == "__main__":
    main()
