"""PNG and PDF of fcnet's own diagram layout, drawn with matplotlib.

Used when Graphviz is not installed. One layout point is one typographic point, so
the image is ``width / 72 * dpi`` pixels wide. matplotlib's Figure is used directly
(no pyplot), so nothing is shown and no global figure state changes.
"""

from __future__ import annotations

import io


def _matplotlib():
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "Drawing a model diagram as PNG or PDF without Graphviz needs matplotlib: "
            "`pip install matplotlib` (or `pip install fcnet[plot]`), or install Graphviz "
            "(https://graphviz.gitlab.io/download/). SVG needs neither.") from None
    return Figure, FigureCanvasAgg


def render(layout, fmt: str, dpi: float = 96.0) -> bytes:
    """The drawing as ``fmt`` (``png`` or ``pdf``) bytes, ``dpi`` dots per inch."""
    Figure, FigureCanvasAgg = _matplotlib()
    from matplotlib.patches import PathPatch, Polygon, Rectangle
    from matplotlib.path import Path

    width, height = layout.width, layout.height
    fig = Figure(figsize=(width / 72.0, height / 72.0), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    family = "DejaVu Sans"  # matplotlib's own font, the one the layout measured
    for x, y, w, h, label in layout.frames:
        ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="black", linewidth=1,
                               linestyle=(0, (5, 2))))
        ax.text(x + 6, y + 14, label, fontsize=12, family=family, va="baseline")
    for _, _, pieces, head in layout.edges:
        vertices = [pieces[0][0]]
        for piece in pieces:
            vertices += list(piece[1:])
        codes = [Path.MOVETO] + [Path.CURVE4] * (len(vertices) - 1)
        ax.add_patch(PathPatch(Path(vertices, codes), fill=False, edgecolor="black",
                               linewidth=2, capstyle="butt"))
        ax.add_patch(Polygon(head, closed=True, facecolor="black", edgecolor="black",
                             linewidth=1))
    renderer = canvas.get_renderer()
    for _, cells in layout.boxes:
        for x, y, w, h, cell in cells:
            ax.add_patch(Rectangle((x, y), w, h, facecolor=cell.fill, edgecolor="black",
                                   linewidth=1))
            _text(ax, renderer, cell, x, y, w, h, family)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi, facecolor="white")
    return buffer.getvalue()


def _text(ax, renderer, cell, x, y, w, h, family) -> None:
    """A cell's text, its bold and regular pieces side by side, centred in the cell."""
    size = cell.size
    pieces = [ax.text(0, y + h / 2, text, fontsize=size, family=family, color=cell.color,
                      fontweight="bold" if bold else "normal", va="center", ha="left")
              for text, bold in cell.parts if text]
    to_points = 72.0 / ax.figure.dpi
    widths = [p.get_window_extent(renderer).width * to_points for p in pieces]
    total = sum(widths)
    if total > w - 4 and total > 0:  # a font wider than the layout assumed: shrink to fit
        scale = (w - 4) / total
        for p in pieces:
            p.set_fontsize(size * scale)
        widths = [width * scale for width in widths]
        total = sum(widths)
    at = x + (w - total) / 2
    for piece, width in zip(pieces, widths):
        piece.set_x(at)
        at += width
