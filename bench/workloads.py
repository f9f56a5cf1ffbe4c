"""The benchmark workloads, one framework at a time: ``python bench/workloads.py B fcnet``.

Each workload builds its model and data, runs once to warm up, then times ``--repeats``
runs and prints one JSON line: ``{"seconds": [...], "units": n, "unit": "step"}``.
``bench/run.py`` starts one such process per framework and round, so that no framework
shares a process (or a thread pool) with another.

A  seed 002's fit: Dense(1, use_bias=False), batch 32, Adam, MSE, one epoch
B  MLP 784-512-512-10, ReLU, softmax cross-entropy, Adam, batch 128, one shuffled epoch
C  MLP 1024-2048-2048-1024, MSE, SGD, batch 256
D  predict of B's network: 10,000 samples at batch 1024 (``D``), one sample (``D1``,
   the mean of 200 calls in a row)
F  seed 003's CNN, one epoch on 1,500 28x28 images, batch 32, Adam
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("KERAS_BACKEND", "jax")

SIZES_B, SIZES_C = (784, 512, 512, 10), (1024, 2048, 2048, 1024)
D1_CALLS = 200  # one-sample predictions per timed run (a call in a loop, warm)
THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# ---------------------------------------------------------------- data
def data(workload: str, scale: float):
    rng = np.random.default_rng(0)
    if workload == "A":
        x = rng.normal(size=(int(1_000_000 * scale), 1)).astype(np.float32)
        return x, -x
    if workload in ("B", "D", "D1"):
        n = int(60_000 * scale) if workload == "B" else 10_000
        return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)
    if workload == "C":
        n = int(256 * 40 * scale)
        return (rng.normal(size=(n, 1024)).astype(np.float32),
                rng.normal(size=(n, 1024)).astype(np.float32))
    if workload == "F":
        import fcnet

        (x, y), _ = fcnet.datasets.digits.load_data(image_size=28)
        return x[:1500].astype(np.float32), y[:1500]
    raise ValueError(f"Unknown workload {workload!r}")


# ---------------------------------------------------------------- models (fcnet and Keras)
def mlp(mod, sizes, activation, loss, optimizer):
    layers = [mod.Input((sizes[0],))]
    layers += [mod.layers.Dense(n, activation="relu") for n in sizes[1:-1]]
    layers += [mod.layers.Dense(sizes[-1], activation=activation)]
    model = mod.Sequential(layers)
    model.compile(optimizer=optimizer, loss=loss)
    return model


def keras_like(mod, workload, x, y):
    """fcnet or Keras: the same code builds, fits or predicts."""
    if workload == "A":
        model = mod.Sequential([mod.Input((1,)), mod.layers.Dense(1, use_bias=False)])
        model.compile(loss="mse", optimizer="adam")
        return lambda: model.fit(x, y, batch_size=32, epochs=1, verbose=0), len(x) // 32
    if workload == "B":
        model = mlp(mod, SIZES_B, None, mod.losses.SparseCategoricalCrossentropy(
            from_logits=True), "adam")
        return (lambda: model.fit(x, y, batch_size=128, epochs=1, shuffle=True, verbose=0),
                -(-len(x) // 128))
    if workload == "C":
        model = mlp(mod, SIZES_C, None, "mse", "sgd")
        return lambda: model.fit(x, y, batch_size=256, epochs=1, verbose=0), len(x) // 256
    if workload in ("D", "D1"):
        model = mlp(mod, SIZES_B, "softmax", "sparse_categorical_crossentropy", "adam")
        if workload == "D":
            return lambda: model.predict(x, batch_size=1024, verbose=0), 1
        one = x[:1]
        return lambda: [model.predict(one, verbose=0) for _ in range(D1_CALLS)], D1_CALLS
    if workload == "F":
        from cnn_seed003 import seed003_model

        model = seed003_model(mod)
        return lambda: model.fit(x, y, batch_size=32, epochs=1, verbose=0), -(-len(x) // 32)
    raise ValueError(workload)


# ---------------------------------------------------------------- PyTorch
def torch_run(workload, x, y):
    import torch

    torch.set_num_threads(THREADS)
    nn = torch.nn

    def train(model, loss_fn, opt, xt, yt, batch, shuffle=True):
        def run():
            xs, ys = xt, yt
            if shuffle:
                perm = torch.randperm(len(xt))
                xs, ys = xt[perm], yt[perm]
            for start in range(0, len(xt), batch):
                opt.zero_grad()
                loss_fn(model(xs[start:start + batch]), ys[start:start + batch]).backward()
                opt.step()
        return run

    def net(sizes):
        modules = []
        for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
            modules += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        return nn.Sequential(*modules, nn.Linear(sizes[-2], sizes[-1]))

    xt, yt = torch.from_numpy(x), torch.from_numpy(np.asarray(y))
    if workload == "A":
        model = nn.Linear(1, 1, bias=False)
        return train(model, nn.MSELoss(), torch.optim.Adam(model.parameters(), eps=1e-7),
                     xt, yt, 32), len(x) // 32
    if workload == "B":
        model = net(SIZES_B)
        return (train(model, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(),
                                                                     eps=1e-7), xt, yt, 128),
                -(-len(x) // 128))
    if workload == "C":
        model = net(SIZES_C)
        return (train(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.01), xt,
                      yt, 256, shuffle=False), len(x) // 256)
    if workload in ("D", "D1"):
        model = nn.Sequential(net(SIZES_B), nn.Softmax(dim=1)).eval()

        def predict(batch):
            with torch.no_grad():
                return np.concatenate([model(xt[s:s + batch]).numpy()
                                       for s in range(0, len(xt), batch)])
        if workload == "D":
            return lambda: predict(1024), 1
        xt = xt[:1]
        return lambda: [predict(1) for _ in range(D1_CALLS)], D1_CALLS
    if workload == "F":
        from cnn_seed003 import torch_fit

        return torch_fit(x, y), -(-len(x) // 32)
    raise ValueError(workload)


# ---------------------------------------------------------------- scikit-learn
def sklearn_run(workload, x, y):
    import warnings

    from sklearn.neural_network import MLPClassifier, MLPRegressor

    warnings.filterwarnings("ignore")  # one epoch does not converge, on purpose
    if workload == "B":
        def run():
            MLPClassifier(hidden_layer_sizes=SIZES_B[1:-1], batch_size=128, max_iter=1,
                          shuffle=True, random_state=0).fit(x, y)
        return run, -(-len(x) // 128)
    if workload == "C":
        def run():
            MLPRegressor(hidden_layer_sizes=SIZES_C[1:-1], solver="sgd", batch_size=256,
                         max_iter=1, shuffle=False, random_state=0).fit(x, y)
        return run, len(x) // 256
    return None, 0


# ---------------------------------------------------------------- NumPy's GEMM rate
def gemm_run(workload, x, y):
    """The bare NumPy work under a workload, as NumPy's BLAS runs it: C's matrix products
    alone (forward, and both backward products per layer), the rate fcnet's step is
    measured against; D's and D1's forward pass of B's network (three products, bias,
    relu, softmax) at batch 1024 and on one sample, the floor under fcnet's ``predict``."""
    rng = np.random.default_rng(1)
    if workload in ("D", "D1"):
        ws = [(rng.normal(size=(a, b)).astype(np.float32), np.zeros(b, np.float32))
              for a, b in zip(SIZES_B[:-1], SIZES_B[1:])]

        def forward(h):
            for i, (w, b) in enumerate(ws):
                h = h @ w + b
                if i < len(ws) - 1:
                    np.maximum(h, 0, out=h)
            e = np.exp(h - h.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        if workload == "D":
            return lambda: np.concatenate([forward(x[s:s + 1024])
                                           for s in range(0, len(x), 1024)]), 1
        one = x[:1]
        return lambda: [forward(one) for _ in range(D1_CALLS)], D1_CALLS
    if workload != "C":
        return None, 0
    kernels = [rng.normal(size=(a, b)).astype(np.float32)
               for a, b in zip(SIZES_C[:-1], SIZES_C[1:])]
    hs = [np.empty((256, n), np.float32) for n in SIZES_C]
    dks = [np.empty_like(k) for k in kernels]

    def run():
        for start in range(0, len(x), 256):
            hs[0][...] = x[start:start + 256]
            for i, k in enumerate(kernels):
                np.matmul(hs[i], k, out=hs[i + 1])
            for i in reversed(range(len(kernels))):
                np.matmul(hs[i].T, hs[i + 1], out=dks[i])
                if i:
                    np.matmul(hs[i + 1], kernels[i].T, out=hs[i])
        return None
    return run, len(x) // 256


def make(workload: str, framework: str, scale: float):
    x, y = data(workload, scale)
    if framework == "fcnet":
        import fcnet

        return keras_like(fcnet, workload, x, y)
    if framework == "keras3-jax":
        import keras

        return keras_like(keras, workload, x, y)
    if framework == "pytorch":
        return torch_run(workload, x, y)
    if framework == "sklearn":
        return sklearn_run(workload, x, y)
    if framework == "numpy-gemm":
        return gemm_run(workload, x, y)
    raise ValueError(f"Unknown framework {framework!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workload")
    parser.add_argument("framework")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--start-at", type=float, default=0.0,
                        help="wall-clock time (time.time()) to wait for before timing")
    args = parser.parse_args()
    run, units = make(args.workload, args.framework, args.scale)
    if run is None:
        print(json.dumps({"skipped": True}))
        return
    run()  # warm-up: compilation, buffers, caches
    while time.time() < args.start_at:
        time.sleep(0.001)
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    print(json.dumps({"seconds": seconds, "units": units}))


if __name__ == "__main__":
    main()
