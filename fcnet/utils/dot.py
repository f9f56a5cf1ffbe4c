"""A small DOT graph: the diagram of a model as Graphviz reads it, and its rendering.

``model_to_dot`` returns a ``Dot``; it needs neither pydot nor Graphviz. ``to_string()``
gives the DOT text (one node per layer with an HTML-like label, one edge per
connection, nested models as ``subgraph cluster_...``). ``create(prog="dot",
format="svg")`` renders it: through Graphviz's program when it is on the PATH, else
through fcnet's own layered layout (SVG always; PNG and PDF through matplotlib).
"""

from __future__ import annotations

import html
import os
import re
import shutil

HEADER_SIZE = 16  # the point sizes of Keras's labels: 16 for the name, 14 for the rest
ROW_SIZE = 14
BUILTIN_FORMATS = ("svg", "png", "pdf", "dot", "raw")


class Cell:
    """One cell of a node's label: text in ``parts`` of ``(text, bold)``, on ``fill``.

    Args:
        parts: the text as a sequence of ``(text, bold)`` pieces.
        fill: the background colour (a Graphviz / SVG colour name).
        color: the text colour.
        size: the font size in points.
    """

    def __init__(self, parts, fill: str = "white", color: str = "black", size: int = ROW_SIZE):
        self.parts = tuple((str(text), bool(bold)) for text, bold in parts)
        self.fill = fill
        self.color = color
        self.size = size

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.parts)

    def to_html(self, colspan: int = 1) -> str:
        font = f'<font point-size="{self.size}"'
        font += f' color="{self.color}">' if self.color != "black" else ">"
        body = "".join(f"<b>{html.escape(t)}</b>" if b else html.escape(t) for t, b in self.parts)
        span = f' colspan="{colspan}"' if colspan > 1 else ""
        return f'<td{span} bgcolor="{self.fill}">{font}{body}</font></td>'


class Node:
    """A box of the diagram: ``rows`` of cells, drawn as a Graphviz HTML-like table.

    Args:
        name: the node id in the DOT text (Keras uses the layer's ``id``).
        rows: a list of rows, each a list of ``Cell``; the first row is the header.
        attrs: more DOT attributes of the node.
    """

    def __init__(self, name: str, rows, **attrs):
        self.name = str(name)
        self.rows = [list(row) for row in rows]
        self.attrs = {"fontname": "Helvetica", "border": "0", "margin": "0", **attrs}

    def get_name(self) -> str:
        return self.name

    def get_label(self) -> str:
        """The HTML-like label: a table with one row per row of cells."""
        widest = max((len(row) for row in self.rows), default=1)
        rows = []
        for row in self.rows:
            span = widest if len(row) == 1 else 1
            rows.append("<tr>" + "".join(cell.to_html(span) for cell in row) + "</tr>")
        return ('<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
                + "".join(rows) + "</table>>")

    def to_string(self) -> str:
        attrs = {"label": self.get_label(), **self.attrs}
        return f"{quote(self.name)} [{format_attrs(attrs)}];"


class Edge:
    """An arrow from node ``src`` to node ``dst`` (node ids)."""

    def __init__(self, src: str, dst: str, **attrs):
        self.src, self.dst = str(src), str(dst)
        self.attrs = dict(attrs)

    def get_source(self) -> str:
        return self.src

    def get_destination(self) -> str:
        return self.dst

    def to_string(self) -> str:
        attrs = f" [{format_attrs(self.attrs)}]" if self.attrs else ""
        return f"{quote(self.src)} -> {quote(self.dst)}{attrs};"


class Graph:
    """Nodes, edges and nested clusters, with graph attributes (``set``/``get``)."""

    def __init__(self, graph_name: str = "G", **attrs):
        self.graph_name = graph_name
        self.attrs = dict(attrs)
        self.node_defaults: dict = {}
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.subgraphs: list[Cluster] = []
        self._sequence: list = []  # nodes and clusters in the order they were added

    def set(self, name: str, value) -> None:
        self.attrs[name] = value

    def get(self, name: str):
        return self.attrs.get(name)

    def set_node_defaults(self, **attrs) -> None:
        self.node_defaults.update(attrs)

    def add_node(self, node: Node) -> None:
        self.nodes.append(node)
        self._sequence.append(node)

    def add_edge(self, edge: Edge) -> None:
        self.edges.append(edge)

    def add_subgraph(self, graph: Cluster) -> None:
        self.subgraphs.append(graph)
        self._sequence.append(graph)

    def get_nodes(self) -> list[Node]:
        return list(self.nodes)

    def get_edges(self) -> list[Edge]:
        return list(self.edges)

    def get_subgraphs(self) -> list[Cluster]:
        return list(self.subgraphs)

    def get_edge(self, src, dst) -> list[Edge]:
        return [e for e in self.edges if e.src == str(src) and e.dst == str(dst)]

    def _body(self) -> list[str]:
        lines = [f"{key}={format_value(value)};" for key, value in self.attrs.items()]
        if self.node_defaults:
            lines.append(f"node [{format_attrs(self.node_defaults)}];")
        lines += [node.to_string() for node in self.nodes]
        for sub in self.subgraphs:
            lines.append(f"subgraph {quote('cluster_' + sub.graph_name)} {{")
            lines += sub._body()
            lines.append("}")
        lines += [edge.to_string() for edge in self.edges]
        return lines

    def to_string(self) -> str:
        """The graph in the DOT language."""
        return "\n".join([f"digraph {quote(self.graph_name)} {{", *self._body(), "}"]) + "\n"

    def walk(self, path=()):
        """Yields ``(node, cluster path)`` for every node, clusters in the order added."""
        for entry in self._sequence:
            if isinstance(entry, Graph):
                yield from entry.walk(path + (entry,))
            else:
                yield entry, path

    def walk_graphs(self, path=()):
        """Yields ``(graph, cluster path)`` for this graph and every cluster inside it."""
        yield self, path
        for sub in self.subgraphs:
            yield from sub.walk_graphs(path + (sub,))


class Cluster(Graph):
    """A nested model drawn inside a dashed frame labelled with its name."""

    def __init__(self, graph_name: str, label: str | None = None, **attrs):
        super().__init__(graph_name, style="dashed", label=label or graph_name,
                         labeljust="l", **attrs)

    def create(self, prog="dot", format="svg") -> bytes:  # noqa: A002 (pydot's name)
        return _as_dot(self).create(prog, format)

    def write(self, path, prog="dot", format="raw") -> None:  # noqa: A002
        _as_dot(self).write(path, prog, format)


class Dot(Graph):
    """A model diagram: ``to_string()`` (DOT text), ``create(...)`` (bytes), ``write(...)``.

    Example:
        >>> dot = fcnet.utils.model_to_dot(model, show_shapes=True)
        >>> svg = dot.create(prog="dot", format="svg")   # bytes of an SVG document
        >>> dot.write("model.png", format="png")
    """

    def create(self, prog="dot", format="svg") -> bytes:  # noqa: A002 (pydot's name)
        """The diagram rendered as ``format`` (``svg``, ``png``, ``pdf``, ``dot``).

        Graphviz's ``prog`` renders it when it is on the PATH (any format Graphviz
        knows); otherwise fcnet's own layout does (svg, png and pdf; png and pdf need
        matplotlib). ``dot`` and ``raw`` give the DOT text itself.
        """
        if not isinstance(prog, str) or not prog:
            raise TypeError(f"Argument `prog` must be the name of a Graphviz program, such as "
                            f"'dot'. Received: prog={prog!r}")
        if not isinstance(format, str) or not re.fullmatch(r"[a-z0-9_:]+", format.lower()):
            raise ValueError("Argument `format` must be an image format such as 'svg', 'png', "
                             f"'pdf' or 'dot'. Received: format={format!r}")
        fmt = format.lower()
        if fmt in ("dot", "raw"):
            return self.to_string().encode("utf-8")
        exe = shutil.which(prog)
        if exe is not None:
            return _run_graphviz(exe, prog, fmt, self.to_string())
        if fmt not in BUILTIN_FORMATS:
            raise ValueError(
                f"Without Graphviz ('{prog}' is not on the PATH) a diagram can be made as "
                f"{', '.join(BUILTIN_FORMATS[:4])}. Install Graphviz for other formats. "
                f"Received: format={format!r}")
        from fcnet.utils import svg_layout

        layout = svg_layout.layout(self)
        if fmt == "svg":
            from fcnet.utils.diagram_svg import to_svg

            return to_svg(layout).encode("utf-8")
        from fcnet.utils import diagram_raster

        return diagram_raster.render(layout, fmt, dpi=_dpi(self.get("dpi")))

    def write(self, path, prog="dot", format="raw") -> None:  # noqa: A002
        """Writes the diagram to ``path`` as ``format`` (``raw`` / ``dot``: DOT text)."""
        data = self.create(prog, format)
        with open(os.fspath(path), "wb") as f:
            f.write(data)

    def __getattr__(self, name):
        # pydot's shortcuts: create_svg(), write_png(path), ...
        for verb in ("create", "write"):
            if name.startswith(verb + "_") and name != verb + "_":
                fmt = name[len(verb) + 1:]
                method = getattr(self, verb)
                if verb == "create":
                    return lambda prog="dot": method(prog, fmt)
                return lambda path, prog="dot": method(path, prog, fmt)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")


def _as_dot(cluster: Cluster) -> Dot:
    dot = Dot()
    dot.add_subgraph(cluster)
    return dot


def _dpi(value) -> float:
    try:
        return float(value) if value is not None else 96.0
    except (TypeError, ValueError):
        return 96.0


def _run_graphviz(exe: str, prog: str, fmt: str, source: str) -> bytes:
    """Runs Graphviz on ``source`` (no shell) and returns what it wrote."""
    # Graphviz scales an SVG's content by dpi/72 inside a viewBox it does not scale,
    # which crops the picture in every viewer: vector output is drawn at 72 dpi.
    import subprocess  # here, not at import: it costs `import fcnet` 15 ms

    options = ["-Gdpi=72"] if fmt in ("svg", "pdf", "ps", "eps") else []
    result = subprocess.run([exe, f"-T{fmt}", *options], input=source.encode("utf-8"),
                            capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise OSError(f'Graphviz "{prog}" could not render the diagram as {fmt} (exit status '
                      f"{result.returncode}): {message}")
    return result.stdout


# ---------------------------------------------------------------------------- DOT syntax
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|-?(\.[0-9]+|[0-9]+(\.[0-9]*)?)")


def quote(value) -> str:
    """A DOT id: bare when it may be, else double-quoted with quotes escaped."""
    text = str(value)
    if _ID.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text.startswith("<") and text.endswith(">"):
        return text  # an HTML-like label
    return quote(text)


def format_attrs(attrs: dict) -> str:
    return ", ".join(f"{key}={format_value(value)}" for key, value in attrs.items())
