"""fcnet.utils.plot_history, plot_surface and plot_decision_boundary draw what they claim.

Each picture is written to a file and read back: PNGs decode to the expected pixel size
and their plot areas are not blank; SVGs parse as XML. The plotted data are read back
from the figure and compared with numbers computed here independently.
"""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

import fcnet

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib import image as mpimg  # noqa: E402
from matplotlib import pyplot  # noqa: E402
from mpl_toolkits.mplot3d import Axes3D  # noqa: E402

from fcnet.utils import plot_decision_boundary, plot_history, plot_surface  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    pyplot.close("all")


def colours_in_axes(png, fig, ax):
    """Distinct RGB colours of the PNG's pixels inside ``ax``'s box."""
    pixels = mpimg.imread(png)[..., :3]
    height = pixels.shape[0]
    box = ax.get_window_extent()  # display pixels, origin bottom-left
    rows = slice(int(height - box.y1) + 1, int(height - box.y0) - 1)
    cols = slice(int(box.x0) + 1, int(box.x1) - 1)
    area = pixels[rows, cols].reshape(-1, 3)
    return len(np.unique(np.round(area * 255).astype(np.uint8), axis=0))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ------------------------------------------------------------------------- history
def trained_history():
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    y = (x[:, :1] + x[:, 1:] > 0).astype("float32")
    model = fcnet.Sequential([fcnet.Input((2,)), fcnet.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    return model.fit(x, y, epochs=4, batch_size=16, validation_split=0.25, verbose=0)


def test_plot_history_draws_every_number_of_the_history(tmp_path):
    history = trained_history()
    path = tmp_path / "curves.png"
    fig = plot_history(history, to_file=path)
    logs = history.history
    assert set(logs) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    for ax, name in zip(fig.axes, ("loss", "accuracy"), strict=True):
        lines = {line.get_gid(): line for line in ax.get_lines()}
        assert set(lines) == {name, "val_" + name}
        for key, line in lines.items():
            np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
            np.testing.assert_allclose(line.get_ydata(), logs[key], rtol=0, atol=0)
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training",
                                                                        "validation"]
    pixels = mpimg.imread(path)
    assert pixels.shape[:2] == (360, 1000)  # figsize (10, 3.6) inches at 100 dpi
    for ax in fig.axes:
        assert colours_in_axes(path, fig, ax) > 2


def test_plot_history_takes_the_dict_and_gives_each_quantity_a_panel(tmp_path):
    logs = {"loss": [1.0, 0.5, 0.25], "mae": [0.9, 0.6, 0.3], "lr": [0.1, 0.1, 0.01],
            "val_loss": [1.2, 0.7, 0.4], "auc": [0.5, 0.7, 0.9]}
    fig = plot_history(logs, to_file=tmp_path / "c.svg")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "mae", "lr", "auc"]
    loss_lines = {line.get_gid(): line.get_ydata() for line in fig.axes[0].get_lines()}
    np.testing.assert_array_equal(loss_lines["val_loss"], [1.2, 0.7, 0.4])
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 1, 1, 1]
    root = ET.parse(tmp_path / "c.svg").getroot()
    assert root.tag.endswith("svg")
    # figsize (15, 7.2) inches for 3 columns × 2 rows, in points (72 per inch)
    assert (root.get("width"), root.get("height")) == ("1080pt", "518.4pt")
    assert len(root.findall(".//{*}path")) > 20  # axes, ticks, lines, markers


def test_plot_history_without_a_file_is_a_pyplot_figure():
    fig = plot_history({"loss": [0.3]})
    assert fig in [pyplot.figure(n) for n in pyplot.get_fignums()]
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), [0.3])


@pytest.mark.parametrize("history, error, words", [
    ([0.1, 0.2], TypeError, "`history`"),
    ({}, ValueError, "at least one epoch"),
    ({"loss": ["a", "b"]}, ValueError, "history['loss']"),
])
def test_plot_history_rejects_what_is_not_a_history(history, error, words):
    with pytest.raises(error, match="Received") as info:
        plot_history(history)
    assert words in str(info.value)


def test_an_unknown_extension_names_to_file(tmp_path):
    with pytest.raises(ValueError, match="to_file.*Received: to_file=.*curves.xyz"):
        plot_history({"loss": [1.0]}, to_file=tmp_path / "curves.xyz")
    assert not (tmp_path / "curves.xyz").exists()


# ------------------------------------------------------------------------- surface
def seed004_network():
    """Seed 004's FC(2, 3) and FC(3, 1) with the weights the seed sets."""
    w1 = np.array([[0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])  # (out, in), as the seed stores it
    b1 = np.array([0.5, 0.5, 0.5])
    w2 = np.array([0.3, 0.2, 0.1])
    b2 = np.array([0.5])
    model = fcnet.Sequential([fcnet.Input((2,)), fcnet.layers.Dense(3, activation="sigmoid"),
                              fcnet.layers.Dense(1, activation="sigmoid")])
    model.set_weights([w1.T, b1, w2.reshape(3, 1), b2])
    return model, (w1, b1, w2, b2)


@pytest.fixture
def surface_calls(monkeypatch):
    """The arrays handed to Axes3D.plot_surface (which is still called through)."""
    calls = []
    original = Axes3D.plot_surface

    def spy(self, X, Y, Z, *args, **kwargs):
        calls.append((np.array(X), np.array(Y), np.array(Z)))
        return original(self, X, Y, Z, *args, **kwargs)

    monkeypatch.setattr(Axes3D, "plot_surface", spy)
    return calls


def test_plot_surface_draws_the_model_output_over_the_grid(tmp_path, surface_calls):
    model, (w1, b1, w2, b2) = seed004_network()
    path = tmp_path / "surface.png"
    fig = plot_surface(model, (-10, 10), (-10, 10), to_file=path, resolution=40)
    (X, Y, Z), = surface_calls
    axis = np.linspace(-10, 10, 40)
    np.testing.assert_array_equal(X[0], axis)
    np.testing.assert_array_equal(Y[:, 0], axis)
    # The seed's own forward, one point at a time, in float64.
    want = np.array([sigmoid(w2 @ sigmoid(w1 @ p + b1) + b2)[0]
                     for p in zip(X.ravel(), Y.ravel(), strict=True)]).reshape(40, 40)
    np.testing.assert_allclose(Z, want, rtol=0, atol=1e-6)
    grid = np.column_stack([X.ravel(), Y.ravel()]).astype("float32")
    np.testing.assert_array_equal(Z, model.predict(grid, verbose=0).reshape(40, 40))
    ax, = fig.axes
    assert ax.name == "3d"
    assert ax.get_zlim()[0] <= Z.min() and Z.max() <= ax.get_zlim()[1]
    pixels = mpimg.imread(path)
    assert pixels.shape[:2] == (700, 900)
    assert colours_in_axes(path, fig, ax) > 50  # a rainbow-coloured surface


def test_plot_surface_of_a_model_with_two_inputs(surface_calls):
    a, b = fcnet.Input((1,)), fcnet.Input((1,))
    out = fcnet.layers.Dense(1)(fcnet.layers.Concatenate()([a, b]))
    model = fcnet.Model([a, b], out)
    model.set_weights([np.array([[2.0], [-3.0]]), np.array([1.0])])
    plot_surface(model, (0, 1), (-1, 1), resolution=5)
    (X, Y, Z), = surface_calls
    np.testing.assert_allclose(Z, 2 * X - 3 * Y + 1, atol=1e-6)


def test_plot_surface_of_a_plain_function(surface_calls):
    plot_surface(lambda p: p[:, 0] * p[:, 1], (-1, 1), (0, 2), resolution=3)
    (X, Y, Z), = surface_calls
    np.testing.assert_allclose(Z, X * Y, atol=1e-6)


@pytest.mark.parametrize("kwargs, words", [
    ({"x_range": (1, 0)}, "`x_range`"),
    ({"y_range": "ab"}, "`y_range`"),
    ({"resolution": 1}, "`resolution`"),
    ({"resolution": 2.5}, "`resolution`"),
])
def test_plot_surface_rejects_bad_grids(kwargs, words):
    model, _ = seed004_network()
    args = {"x_range": (0, 1), "y_range": (0, 1)} | kwargs
    with pytest.raises(ValueError, match="Received") as info:
        plot_surface(model, **args)
    assert words in str(info.value)


def test_plot_surface_needs_one_output_unit():
    model = fcnet.Sequential([fcnet.Input((2,)), fcnet.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"one output unit.*Received: output of shape \(9, 3\)"):
        plot_surface(model, (0, 1), (0, 1), resolution=3)


# ------------------------------------------------------------------------ decision
def cell_centres(ax, image):
    x0, x1, y0, y1 = image.get_extent()
    rows, cols = image.get_array().shape
    cx = x0 + (x1 - x0) * (np.arange(cols) + 0.5) / cols
    cy = y0 + (y1 - y0) * (np.arange(rows) + 0.5) / rows
    return np.meshgrid(cx, cy)


def test_decision_regions_are_the_predicted_classes(tmp_path):
    # softmax(x · K): class 1 exactly where x1 > x0.
    model = fcnet.Sequential([fcnet.Input((2,)), fcnet.layers.Dense(2, activation="softmax")])
    model.set_weights([np.array([[5.0, -5.0], [-5.0, 5.0]]), np.zeros(2)])
    x = np.random.default_rng(1).uniform(-1, 1, size=(30, 2)).astype("float32")
    y = (x[:, 1] > x[:, 0]).astype(int)
    path = tmp_path / "regions.png"
    fig = plot_decision_boundary(model, x, fcnet.utils.to_categorical(y), to_file=path,
                                 resolution=50)
    ax, = fig.axes
    image, = ax.get_images()
    grid = np.asarray(image.get_array())
    assert grid.shape == (50, 50)
    cx, cy = cell_centres(ax, image)
    np.testing.assert_array_equal(grid, (cy > cx).astype(int))
    points, = ax.collections
    np.testing.assert_allclose(points.get_offsets(), x)
    np.testing.assert_array_equal(points.get_array(), y)
    assert (ax.get_xlim(), ax.get_ylim()) == tuple(
        (e[0], e[1]) for e in (image.get_extent()[:2], image.get_extent()[2:]))
    assert mpimg.imread(path).shape[:2] == (600, 700)
    assert colours_in_axes(path, fig, ax) > 4  # two regions, a diagonal, the points


def test_decision_regions_of_one_sigmoid_unit():
    model = fcnet.Sequential([fcnet.Input((2,)), fcnet.layers.Dense(1, activation="sigmoid")])
    model.set_weights([np.array([[1.0], [0.0]]), np.array([-0.25])])  # x0 > 0.25
    x = np.array([[0, 0], [1, 1], [0.5, 0], [0, 1]], dtype="float32")
    fig = plot_decision_boundary(model, x, [0, 1, 1, 0], resolution=40)
    image, = fig.axes[0].get_images()
    cx, _ = cell_centres(fig.axes[0], image)
    want = (sigmoid(cx - 0.25) > 0.5).astype(int)
    np.testing.assert_array_equal(np.asarray(image.get_array()), want)
    assert 0 < want.mean() < 1  # both classes are on the picture


@pytest.mark.parametrize("x, y, words", [
    (np.zeros((4, 3)), [0, 1, 0, 1], "`x` of shape (n, 2)"),
    (np.zeros((4, 2)), [0, 1, 0], "`y` to hold one label per sample (4)"),
])
def test_decision_boundary_rejects_mismatched_data(x, y, words):
    model = fcnet.Sequential([fcnet.Input((2,)), fcnet.layers.Dense(1)])
    with pytest.raises(ValueError, match="Received") as info:
        plot_decision_boundary(model, x, y)
    assert words in str(info.value)
