"""Pictures of training and of what a model computes: curves, surfaces, decision regions.

``plot_history`` draws a ``History``'s loss and metrics per epoch; ``plot_surface`` draws
the output of a model with two input features as a 3-D surface; ``plot_decision_boundary``
colours the plane by the class a model predicts. Each returns a matplotlib ``Figure`` and
writes it to ``to_file`` when given (the format comes from the file's extension: png,
svg, pdf, jpg, ...).

matplotlib is needed (``pip install fcnet[plot]``); it is imported when a plot is made.
A figure drawn with ``to_file`` is not registered with ``pyplot`` (so a loop that saves
many plots keeps no figures alive); without ``to_file`` it is made by ``pyplot.figure``,
so ``plt.show()`` shows it and a notebook displays it.
"""

from __future__ import annotations

import math
import os

import numpy

_DPI = 100  # pixels per inch of saved raster files: figsize (inches) × 100 = pixels


def _matplotlib():
    try:
        import matplotlib
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Plotting needs matplotlib: `pip install matplotlib` (or `pip install fcnet[plot]`)."
        ) from error
    return matplotlib


def _new_figure(figsize, to_file):
    _matplotlib()
    if to_file is None:
        from matplotlib import pyplot

        return pyplot.figure(figsize=figsize, dpi=_DPI)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=_DPI)


def _check_to_file(to_file):
    """The format named by ``to_file``'s extension (png when it has none)."""
    if to_file is None:
        return None
    if not isinstance(to_file, (str, os.PathLike)):
        raise TypeError(
            f"Expected `to_file` to be a file path (str or os.PathLike). Received: {to_file!r}"
        )
    extension = os.path.splitext(os.fspath(to_file))[1].lstrip(".").lower() or "png"
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    supported = FigureCanvasAgg.get_supported_filetypes()
    if extension not in supported:
        raise ValueError(
            f"Expected `to_file` to end with one of {sorted(supported)}. "
            f"Received: to_file={os.fspath(to_file)!r}"
        )
    return extension


def _save(fig, to_file, file_format):
    if to_file is not None:
        fig.savefig(to_file, format=file_format, dpi=_DPI)
    return fig


# ------------------------------------------------------------------------------ history


def _history_dict(history) -> dict:
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise TypeError(
            "Expected `history` to be the History returned by `model.fit` or its "
            f"`.history` dict. Received: {type(history).__name__}"
        )
    if not logs or not any(len(values) for values in logs.values()):
        raise ValueError(
            f"Expected `history` to hold at least one epoch of logs. Received: {logs!r}"
        )
    out = {}
    for key, values in logs.items():
        try:
            out[str(key)] = numpy.asarray(values, dtype="float64").reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(
                f"Expected `history[{key!r}]` to be a list of numbers, one per epoch. "
                f"Received: {values!r}"
            ) from None
    return out


def _quantities(logs: dict) -> list[str]:
    """``loss``, then each metric, once each: ``val_x`` joins ``x``'s panel."""
    names = []
    for key in logs:
        name = key[4:] if key.startswith("val_") and len(key) > 4 else key
        if name not in names:
            names.append(name)
    return names


def plot_history(history, to_file=None):
    """Plots the loss and every metric of a training run, per epoch, one panel each.

    Each panel shows one quantity: the training value (``loss``, ``accuracy``, ...)
    as a solid line and, where ``fit`` had validation data, the validation value
    (``val_loss``, ``val_accuracy``, ...) as a dashed line. Epochs are numbered from
    1, as ``fit`` prints them.

    Args:
        history: the ``History`` returned by ``model.fit`` (or ``model.history``), or
            its ``.history`` dict: ``{"loss": [...], "val_loss": [...], ...}``.
        to_file: optional path to write the figure to; the format comes from the
            extension (``.png``, ``.svg``, ``.pdf``, ...; png when there is none).

    Returns:
        The matplotlib ``Figure``. Its axes hold one line per logged key, labelled
        with that key.

    Raises:
        TypeError: ``history`` is neither a History nor a dict.
        ValueError: ``history`` has no epochs, a value is not numeric, or ``to_file``
            names a format matplotlib cannot write.

    Example:
        ```python
        history = model.fit(x, y, validation_split=0.2, epochs=20, verbose=0)
        fcnet.utils.plot_history(history, to_file="curves.png")
        ```
    """
    logs = _history_dict(history)
    file_format = _check_to_file(to_file)
    from matplotlib.ticker import MaxNLocator

    names = _quantities(logs)
    ncols = min(len(names), 3)
    nrows = math.ceil(len(names) / ncols)
    fig = _new_figure((5.0 * ncols, 3.6 * nrows), to_file)
    for index, name in enumerate(names):
        ax = fig.add_subplot(nrows, ncols, index + 1)
        for key, label, style in ((name, "training", "-"), ("val_" + name, "validation", "--")):
            if key not in logs:
                continue
            values = logs[key]
            epochs = numpy.arange(1, len(values) + 1)
            marker = "o" if len(values) <= 50 else None
            ax.plot(epochs, values, style, marker=marker, markersize=3, label=label, gid=key)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.25
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return _save(fig, to_file, file_format)


# ------------------------------------------------------------------ model over a plane


def _bounds(value, argument):
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected `{argument}` to be a pair (low, high) of numbers. Received: {value!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(
            f"Expected `{argument}` to be a finite pair with low < high. Received: {value!r}"
        )
    return low, high


def _check_resolution(resolution):
    if isinstance(resolution, bool) or not isinstance(resolution, (int, numpy.integer)) \
            or resolution < 2:
        raise ValueError(
            f"Expected `resolution` to be an integer >= 2. Received: resolution={resolution!r}"
        )
    return int(resolution)


def _predict(model, points):
    """The model's output on ``points`` (rows of two features), as a NumPy array.

    A model with two separate inputs gets the two columns as two ``(n, 1)`` arrays.
    A plain callable (a hand-written network) is called on the points.
    """
    points = points.astype("float32")
    inputs = getattr(model, "inputs", None)
    if isinstance(inputs, (list, tuple)) and len(inputs) == 2:
        points = [points[:, :1], points[:, 1:]]
    if hasattr(model, "predict"):
        return numpy.asarray(model.predict(points, verbose=0))
    if callable(model):
        return numpy.asarray(model(points))
    raise TypeError(
        "Expected `model` to be a fcnet model (with `predict`) or a callable. "
        f"Received: {type(model).__name__}"
    )


def plot_surface(model, x_range, y_range, to_file=None, resolution=100, *, elev=40.0,
                 azim=-45.0, cmap="rainbow"):
    """Plots the output of a model of two input features as a 3-D surface.

    The model is evaluated on a ``resolution × resolution`` grid: ``x`` runs over
    ``x_range``, ``y`` over ``y_range``, and the height is the model's single output
    ``z = model([x, y])``. Only the input changes between grid points, so the picture
    shows the function the network has learned (or was given).

    Args:
        model: a model taking rows of two features (``Input((2,))``), a model with two
            inputs of one feature each, or a callable on ``(n, 2)`` arrays; its output
            must have one unit.
        x_range: ``(low, high)`` of the first input.
        y_range: ``(low, high)`` of the second input.
        to_file: optional path to write the figure to (format from the extension).
        resolution: grid points along each axis (>= 2).
        elev: elevation of the view, in degrees.
        azim: azimuth of the view, in degrees.
        cmap: matplotlib colormap of the surface.

    Returns:
        The matplotlib ``Figure``, with one 3-D axes.

    Raises:
        ValueError: bad ranges or resolution, a model with more than one output unit,
            or a format matplotlib cannot write.

    Example:
        ```python
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, "sigmoid"),
                                  keras.layers.Dense(1, "sigmoid")])
        fcnet.utils.plot_surface(model, (-10, 10), (-10, 10), to_file="surface.png")
        ```
    """
    x_low, x_high = _bounds(x_range, "x_range")
    y_low, y_high = _bounds(y_range, "y_range")
    resolution = _check_resolution(resolution)
    file_format = _check_to_file(to_file)
    grid_x, grid_y = numpy.meshgrid(numpy.linspace(x_low, x_high, resolution),
                                    numpy.linspace(y_low, y_high, resolution))
    points = numpy.column_stack([grid_x.ravel(), grid_y.ravel()])
    z = _predict(model, points)
    if z.size != points.shape[0]:
        raise ValueError(
            "Expected a model with one output unit (a height per point). "
            f"Received: output of shape {z.shape} for {points.shape[0]} points"
        )
    grid_z = z.reshape(resolution, resolution)
    fig = _new_figure((9.0, 7.0), to_file)
    # Axes3D(fig) no longer adds itself to the figure (matplotlib >= 3.6); this does.
    ax = fig.add_subplot(projection="3d")
    ax.view_init(elev, azim)
    ax.plot_surface(grid_x, grid_y, grid_z, rstride=1, cstride=1, cmap=cmap)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("output")
    return _save(fig, to_file, file_format)


def _classes(scores):
    """Class per row: ``score > 0.5`` for one unit (sigmoid), else the argmax."""
    scores = scores.reshape(scores.shape[0], -1)
    if scores.shape[1] == 1:
        return (scores[:, 0] > 0.5).astype("int64")
    return scores.argmax(axis=1)


def plot_decision_boundary(model, x, y, to_file=None, *, resolution=200, margin=0.1,
                           cmap="coolwarm"):
    """Colours the plane by the class a 2-feature classifier predicts, with the data on top.

    The plane around the samples (their range widened by ``margin`` on each side) is
    cut into a ``resolution × resolution`` grid; each cell gets the class the model
    predicts at its centre: ``output > 0.5`` for a model with one (sigmoid) unit, the
    argmax otherwise. The samples are drawn over it, coloured by their true class, so
    the boundary between the coloured regions is the decision boundary.

    Args:
        model: a model (or callable) taking rows of two features.
        x: samples, shape ``(n, 2)``.
        y: their labels: integers of shape ``(n,)`` or ``(n, 1)``, or one-hot ``(n, k)``.
        to_file: optional path to write the figure to (format from the extension).
        resolution: grid cells along each axis (>= 2).
        margin: fraction of each range added on both sides.
        cmap: matplotlib colormap of the classes.

    Returns:
        The matplotlib ``Figure``. Its axes hold the class grid as an image and the
        samples as a scatter.

    Raises:
        ValueError: ``x`` is not ``(n, 2)``, ``y`` does not hold ``n`` labels, bad
            resolution, or a format matplotlib cannot write.
    """
    x = numpy.asarray(x, dtype="float32")
    if x.ndim != 2 or x.shape[1] != 2 or x.shape[0] == 0:
        raise ValueError(
            f"Expected `x` of shape (n, 2), two features per sample. Received: x.shape={x.shape}"
        )
    labels = numpy.asarray(y)
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)
    labels = labels.reshape(-1)
    if labels.shape[0] != x.shape[0]:
        raise ValueError(
            f"Expected `y` to hold one label per sample ({x.shape[0]}). "
            f"Received: y.shape={numpy.shape(y)}"
        )
    resolution = _check_resolution(resolution)
    file_format = _check_to_file(to_file)
    low, high = x.min(axis=0).astype("float64"), x.max(axis=0).astype("float64")
    pad = numpy.maximum(high - low, 1e-6) * margin
    low, high = low - pad, high + pad
    # Cell centres of a regular grid, so the image's extent is exactly the plotted area.
    step = (high - low) / resolution
    centres_x = low[0] + step[0] * (numpy.arange(resolution) + 0.5)
    centres_y = low[1] + step[1] * (numpy.arange(resolution) + 0.5)
    grid_x, grid_y = numpy.meshgrid(centres_x, centres_y)
    points = numpy.column_stack([grid_x.ravel(), grid_y.ravel()])
    predicted = _classes(_predict(model, points)).reshape(resolution, resolution)
    num_classes = int(max(predicted.max(), labels.max() if labels.size else 0)) + 1
    fig = _new_figure((7.0, 6.0), to_file)
    ax = fig.add_subplot()
    ax.imshow(predicted, origin="lower", extent=(low[0], high[0], low[1], high[1]),
              aspect="auto", cmap=cmap, vmin=0, vmax=max(num_classes - 1, 1), alpha=0.35,
              interpolation="nearest")
    ax.scatter(x[:, 0], x[:, 1], c=labels, cmap=cmap, vmin=0,
               vmax=max(num_classes - 1, 1), edgecolors="black", linewidths=0.5, s=25)
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_xlabel("x[:, 0]")
    ax.set_ylabel("x[:, 1]")
    ax.set_title("decision regions (background) and samples")
    return _save(fig, to_file, file_format)


__all__ = ["plot_decision_boundary", "plot_history", "plot_surface"]
