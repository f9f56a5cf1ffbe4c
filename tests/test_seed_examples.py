"""Seeds 002 and 004 run on fcnet and do what the user's documents promise.

Seed 002: three one-weight networks trained with Adam on ``label = -input`` find the
weights the tutorial shows (``[[-1]]``, ``[[0], [-1]]``, ``-identity``). Seed 004: a
2-4-1 sigmoid network learns AND, both through ``fit`` and through a loop written by
hand over ``layer.forward`` / ``layer.backward`` with an optimizer step, and the two end
on the same weights; the seed's 2-3-1 network gives its 3-D surface, drawn both by the
seed's ``draw3D`` and by ``fcnet.utils.plot_surface``.
"""

import re
import runpy
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SUMMARY_ROW_1 = "Dense_ly (Dense)             (None, 1)                 1         "


def load(name):
    """The example's globals (its ``main`` is not run: ``run_name`` is not __main__)."""
    return runpy.run_path(str(EXAMPLES / name))


@pytest.fixture(scope="module")
def seed002():
    return load("seed002_dense_parameters.py")


@pytest.fixture(scope="module")
def seed004():
    return load("seed004_numpy_fc.py")


# ---------------------------------------------------------------------------- seed 002
def test_seed002_small_run_prints_what_the_tutorial_prints(seed002, capsys):
    models = seed002["main"](["--samples", "20000"])
    out = capsys.readouterr().out
    assert "\b" not in out and "\r" not in out  # capsys is not a terminal: plain lines
    lines = out.splitlines()
    # Example 1: one weight, no bias.
    assert lines.count(SUMMARY_ROW_1) == 1
    assert "Dense_ly (Dense)             (None, 1)                 2         " in lines
    assert "Dense_ly (Dense)             (None, 2)                 4         " in lines
    totals = [line for line in lines if line.startswith("Total params:")]
    assert totals == ["Total params: 1", "Total params: 2", "Total params: 4"]
    # One epoch of batch 32: ceil(20000 / 32) = 625 steps, ceil(10000 / 32) = 313; no
    # "Epoch 1/1" header (tf.keras 2 prints it only when epochs > 1).
    progress = [line for line in lines if re.match(r"\d+/\d+ \[", line)]
    fits = [line for line in progress if not line.startswith("1/1 ")]
    assert len(fits) == 3
    assert re.fullmatch(r"625/625 \[=+\] - \d+s \d+(us|ms)/step - loss: \d+\.\d{4}", fits[0])
    assert fits[0].startswith("625/625 [==============================] - ")
    assert fits[1].startswith("313/313 [==============================] - ")
    assert fits[2].startswith("313/313 [==============================] - ")
    assert not any(line.startswith("Epoch") for line in lines)
    # The seed's print strings, with the initial weight inside glorot's ±sqrt(6/2).
    first = re.search(r"模型随机权重分配为:\[array\(\[\[(-?[\d.e-]+)\]\], dtype=float32\)\]", out)
    assert first and abs(float(first.group(1))) <= np.sqrt(3)
    assert out.count("模型进行预测:[[") == 3 and out.count("训练完成后权重分配为:[array(") == 3
    # predict(np.array([2.5])): a 1-D input of one number is one sample.
    p = models[0].predict(np.array([2.5]), verbose=0)
    assert p.shape == (1, 1) and p.dtype == np.float32
    w = models[0].layers[0].get_weights()
    assert len(w) == 1 and w[0].shape == (1, 1) and w[0].dtype == np.float32
    np.testing.assert_allclose(p, 2.5 * w[0], rtol=1e-6)


def test_seed002_weights_converge_to_the_tutorial_values(seed002, capsys):
    # 400,000 numbers: 12,500 Adam steps for example 1, 6,250 for examples 2 and 3 --
    # enough to converge from any glorot start (the tutorial's 1,000,000 reaches -2.5
    # to float precision; 20,000 samples = 625 steps of lr 0.001 is not enough).
    m1, m2, m3 = seed002["main"](["--samples", "400000"])
    out = capsys.readouterr().out
    assert out.count("12500/12500 [==============================]") == 1
    assert out.count("6250/6250 [==============================]") == 2
    # Example 1: w -> -1, so predict(2.5) -> -2.5.
    p1 = m1.predict(np.array([2.5]), verbose=0)
    assert p1.shape == (1, 1)
    assert abs(p1[0, 0] + 2.5) < 0.01
    np.testing.assert_allclose(m1.layers[0].get_weights()[0], [[-1.0]], atol=0.004)
    # Example 2: labels of shape (n,) are aligned with (n, 1) predictions. Broadcast to
    # (n, n) they would pull both weights toward the mean label (0), not [[0], [-1]].
    np.testing.assert_allclose(m2.layers[0].get_weights()[0], [[0.0], [-1.0]], atol=0.01)
    p2 = m2.predict(np.array([[2.5, 13.5]]), verbose=0)
    assert p2.shape == (1, 1) and abs(p2[0, 0] + 13.5) < 0.05
    # Example 3: a 2x2 kernel -> -identity.
    np.testing.assert_allclose(m3.layers[0].get_weights()[0], -np.eye(2), atol=0.01)
    p3 = m3.predict(np.array([[2.5, 13.5]]), verbose=0)
    np.testing.assert_allclose(p3, [[-2.5, -13.5]], atol=0.05)


# ---------------------------------------------------------------------------- seed 004
def test_seed004_both_ways_learn_and_and_agree(seed004, capsys):
    net_a, net_b, initial = seed004["main"]([])
    out = capsys.readouterr().out
    # The seed's four print lines, once for (a) and once for (b).
    for key in ("X=", "t=", "y=", "loss="):
        assert sum(line.startswith(key) for line in out.splitlines()) == 2
    X = seed004["X"]
    for net in (net_a, net_b):
        y = net.predict(X, verbose=0).ravel()
        assert y[3] > 0.5 and (y[:3] < 0.5).all(), y  # AND: only (1, 1) is true
    # Training moved the weights, and the hand loop ends where fit ends.
    final_a, final_b = net_a.get_weights(), net_b.get_weights()
    assert max(np.abs(a - w0).max() for a, w0 in zip(final_a, initial, strict=True)) > 0.5
    for a, b in zip(final_a, final_b, strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_seed004_hand_loop_matches_a_float64_numpy_loop(seed004):
    """(b)'s loop against the textbook backward written in float64 NumPy."""
    import fcnet

    fcnet.utils.set_random_seed(0)
    net = seed004["make_net"]()
    w1, b1, w2, b2 = (w.astype(np.float64) for w in net.get_weights())
    steps, lr = 50, 0.2
    seed004["train_by_hand"](net, steps, lr)
    x, t = seed004["X"].astype(np.float64), seed004["T"].astype(np.float64)
    for _ in range(steps):
        h = 1 / (1 + np.exp(-(x @ w1 + b1)))
        y = 1 / (1 + np.exp(-(h @ w2 + b2)))
        dz2 = 2 * (y - t) / y.size * y * (1 - y)  # d mse / dz2 through the sigmoid
        dz1 = (dz2 @ w2.T) * h * (1 - h)  # back through w2 (not through grad_w2)
        w2, b2 = w2 - lr * h.T @ dz2, b2 - lr * dz2.sum(axis=0)  # bias: sum over samples
        w1, b1 = w1 - lr * x.T @ dz1, b1 - lr * dz1.sum(axis=0)
    for got, want in zip(net.get_weights(), (w1, b1, w2, b2), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def seed004_fc_forward(w, b, x):
    """The seed's FC.forward on one sample, in float64: sigmoid(dot(w, x) + b)."""
    return 1 / (1 + np.exp(-(np.dot(w, x) + b)))


def test_seed004_surface_is_the_seeds_two_layer_network(seed004):
    X, Y, z2 = seed004["surface_grid"]()
    assert X.shape == Y.shape == z2.shape == (100, 100) and z2.dtype == np.float32
    np.testing.assert_array_equal(X[0], np.linspace(-10, 10, 100))
    w1 = np.array([[0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
    w2, b2 = np.array([0.3, 0.2, 0.1]), np.array([0.5])
    # The seed's own loop over zip(X_f, Y_f), one sample at a time.
    z1 = [seed004_fc_forward(w1, np.full(3, 0.5), d) for d in zip(X.flatten(), Y.flatten())]
    want = np.array([seed004_fc_forward(w2, b2, d) for d in z1]).reshape(100, 100)
    np.testing.assert_allclose(z2, want, rtol=0, atol=1e-6)
    # The same network as a model, through predict.
    points = np.column_stack([X.ravel(), Y.ravel()]).astype("float32")
    model = seed004["surface_model"]()
    np.testing.assert_allclose(model.predict(points, verbose=0).reshape(100, 100), z2,
                               atol=1e-7)


def test_seed004_draw3d_needs_the_axes_added_on_current_matplotlib():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from mpl_toolkits.mplot3d import Axes3D

    fig = plt.figure(figsize=(15, 7))
    ax = Axes3D(fig)  # the seed's line
    major, minor = (int(v) for v in matplotlib.__version__.split(".")[:2])
    assert (ax in fig.axes) == ((major, minor) < (3, 6))
    plt.close(fig)


def test_seed004_pictures_are_real_images(seed004, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from matplotlib import image as mpimg

    seed004["main"](["--steps", "200", "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    sizes = {"seed004_draw3D.png": (700, 1500), "seed004_plot_surface.png": (700, 900),
             "seed004_and_surface.png": (700, 900)}
    for name, size in sizes.items():
        assert f"wrote {tmp_path / name}" in out
        pixels = mpimg.imread(tmp_path / name)[..., :3]
        assert pixels.shape[:2] == size
        # The middle of the picture (the surface) holds many colours: the rainbow map.
        h, w = size
        middle = pixels[h // 4: 3 * h // 4, w // 4: 3 * w // 4].reshape(-1, 3)
        assert len(np.unique(np.round(middle * 255), axis=0)) > 50, name


@pytest.mark.parametrize("name", ["seed002_dense_parameters.py", "seed004_numpy_fc.py"])
def test_examples_run_as_scripts(name, capsys, monkeypatch):
    args = ["--samples", "3200"] if name.startswith("seed002") else ["--steps", "20"]
    monkeypatch.setattr("sys.argv", [name] + args)
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    assert capsys.readouterr().out
