"""fcnet's own diagram layout, used when Graphviz is not installed.

A layered drawing, as Graphviz's ``dot`` makes: every box gets a rank (the longest
path to it from an input), an arrow spanning several ranks passes through a point in
each rank between, boxes of a rank are ordered to keep branches side by side (a few
sweeps of the barycentre rule, keeping the order with the fewest crossings, a nested
model's boxes together), and then placed as near as they may be to the boxes they
connect to (an isotonic least-squares fit that keeps the order and the gaps).
Lengths are in points (1/72 inch); text widths come from DejaVu Sans's metrics.
"""

from __future__ import annotations

PAD_X, PAD_Y = 10.0, 7.0  # cell padding
GAP = 30.0  # between two boxes of one rank
RANK_GAP = 46.0  # between ranks
FRAME_PAD, FRAME_LABEL = 12.0, 18.0  # a nested model's frame: padding, label height
MARGIN = 10.0
ARROW = 10.0
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"

# DejaVu Sans advance widths of ASCII 32..126, in hundredths of the font size.
_WIDTHS = {
    False: (32, 40, 46, 84, 64, 95, 78, 27, 39, 39, 50, 84, 32, 36, 32, 34, 64, 64, 64, 64,
            64, 64, 64, 64, 64, 64, 34, 34, 84, 84, 84, 53, 100, 68, 69, 70, 77, 63, 58, 77,
            75, 29, 29, 66, 56, 86, 75, 79, 60, 79, 69, 63, 61, 73, 68, 99, 69, 61, 69, 39,
            34, 39, 84, 50, 50, 61, 63, 55, 63, 62, 35, 63, 63, 28, 28, 58, 28, 97, 63, 61,
            63, 63, 41, 52, 39, 63, 59, 82, 59, 59, 52, 64, 34, 64, 84),
    True: (35, 46, 52, 84, 70, 100, 87, 31, 46, 46, 52, 84, 38, 42, 38, 37, 70, 70, 70, 70,
           70, 70, 70, 70, 70, 70, 40, 40, 84, 84, 84, 58, 100, 77, 76, 73, 83, 68, 68, 82,
           84, 37, 37, 77, 64, 100, 84, 85, 73, 85, 77, 72, 68, 81, 77, 110, 77, 72, 73, 46,
           37, 46, 84, 50, 50, 67, 72, 59, 72, 68, 44, 72, 71, 34, 34, 67, 34, 104, 71, 69,
           72, 72, 49, 60, 48, 71, 65, 92, 65, 65, 58, 71, 37, 71, 84),
}


def text_width(parts, size: float) -> float:
    """The width of ``(text, bold)`` pieces at ``size`` points (wide glyphs: one em)."""
    total = 0
    for text, bold in parts:
        table = _WIDTHS[bool(bold)]
        total += sum(table[ord(c) - 32] if 32 <= ord(c) < 127 else 100 for c in text)
    return total * size / 100.0


class Item:
    """A box of the drawing, or a point an arrow passes through (``node`` None)."""

    def __init__(self, node, path, order: float):
        self.node, self.path, self.order = node, path, order
        self.rank, self.pos, self.up, self.down = 0, 0.0, [], []
        self.w = self.h = self.along = self.across = 0.0
        self.rows = []  # per row: (height, [cell widths])
        if node is not None:
            self._measure()

    def _measure(self) -> None:
        for row in self.node.rows:
            widths = [text_width(c.parts, c.size) + 2 * PAD_X for c in row]
            self.rows.append([max(c.size for c in row) * 1.25 + 2 * PAD_Y, widths])
        self.w = max(sum(widths) for _, widths in self.rows)
        self.h = sum(height for height, _ in self.rows)
        for row in self.rows:  # a row narrower than the box shares out the rest
            extra = (self.w - sum(row[1])) / len(row[1])
            row[1] = [w + extra for w in row[1]]


class Layout:
    """The geometry of a drawing, in points, origin at the top left.

    Attributes:
        width, height: the size of the drawing.
        boxes: ``(node, [(x, y, w, h, cell), ...])`` per box.
        frames: ``(x, y, w, h, label)`` per nested model.
        edges: ``(source id, destination id, [(p0, c1, c2, p3), ...], arrowhead)``.
    """

    def __init__(self):
        self.width = self.height = 0.0
        self.boxes, self.frames, self.edges = [], [], []


def layout(dot) -> Layout:
    """Lays out a ``Dot`` graph (see the module docstring)."""
    rankdir = str(dot.get("rankdir") or "TB").upper()
    vertical = rankdir in ("TB", "BT")
    items, frames = {}, []
    for _, path in dot.walk_graphs():
        if path:
            frames.append(path)
    for node, path in dot.walk():
        items.setdefault(node.name, Item(node, tuple(id(g) for g in path), len(items)))
    for item in items.values():
        item.along, item.across = (item.h, item.w) if vertical else (item.w, item.h)
    edges = []
    for graph, _ in dot.walk_graphs():
        for edge in graph.edges:
            pair = (edge.src, edge.dst)
            if pair not in edges and edge.src in items and edge.dst in items \
                    and edge.src != edge.dst:
                edges.append(pair)
    if not items:
        empty = Layout()
        empty.width = empty.height = 2 * MARGIN
        return empty
    _rank(items, edges)
    chains = _chains(items, edges)
    ranks = _order(items, chains)
    _place_across(ranks)
    starts, thick = _place_along(ranks, items, frames)
    return _geometry(rankdir, items, chains, ranks, starts, thick, frames, edges)


def _rank(items, edges) -> None:
    """Rank = longest path from a box without inputs (edges closing a cycle are ignored)."""
    preds = {k: [] for k in items}
    succs = {k: [] for k in items}
    for src, dst in edges:
        preds[dst].append(src)
        succs[src].append(dst)
    waiting = {k: len(v) for k, v in preds.items()}
    ready = [k for k in items if not waiting[k]]
    done = set()
    while len(done) < len(items):
        if not ready:  # a cycle (never in a model graph): break it at the first box left
            ready.append(next(k for k in items if k not in done))
        key = ready.pop(0)
        if key in done:
            continue
        done.add(key)
        for dst in succs[key]:
            items[dst].rank = max(items[dst].rank, items[key].rank + 1)
            waiting[dst] -= 1
            if waiting[dst] == 0:
                ready.append(dst)
    for key in sorted(items, key=lambda k: -items[k].rank):  # outputs first
        # A box with at least as many arrows out as in moves down next to its first
        # consumer (an input feeding a late merge sits beside it, as Graphviz draws it).
        below = [items[dst].rank for dst in succs[key]]
        if below and len(below) >= len(preds[key]) and min(below) - 1 > items[key].rank:
            items[key].rank = min(below) - 1


def _chains(items, edges) -> list:
    """Per edge, the items it passes through, one per rank (points between the boxes)."""
    chains = []
    for src, dst in edges:
        a, b = items[src], items[dst]
        chain = [a]
        common = _common(a.path, b.path)
        for rank in range(a.rank + 1, b.rank):
            point = Item(None, common, a.order + 0.5)
            point.rank = rank
            chain.append(point)
        chain.append(b)
        for u, v in zip(chain, chain[1:]):
            if v.rank > u.rank:
                u.down.append(v)
                v.up.append(u)
        chains.append(chain)
    return chains


def _common(p, q) -> tuple:
    n = 0
    while n < min(len(p), len(q)) and p[n] == q[n]:
        n += 1
    return p[:n]


def _order(items, chains) -> list:
    """Items per rank, ordered to keep crossings few and nested models together."""
    all_items = list(items.values()) + [p for chain in chains for p in chain[1:-1]]
    seen = {}  # depth-first order from the inputs: branches start out side by side
    for start in sorted(all_items, key=lambda i: i.order):
        stack = [start] if not start.up else []
        while stack:
            item = stack.pop()
            if id(item) not in seen:
                seen[id(item)] = len(seen)
                stack += [n for n in reversed(item.down) if id(n) not in seen]
    ranks = [[] for _ in range(max((i.rank for i in all_items), default=0) + 1)]
    for item in sorted(all_items, key=lambda i: seen.get(id(i), len(seen))):
        ranks[item.rank].append(item)
    for rank in ranks:
        rank[:] = _group(rank)
    best, best_crossings = [list(r) for r in ranks], _crossings(ranks)
    for sweep in range(8):
        sequence = range(1, len(ranks)) if sweep % 2 == 0 else range(len(ranks) - 2, -1, -1)
        for r in sequence:
            _sort(ranks[r], ranks[r - 1] if sweep % 2 == 0 else ranks[r + 1],
                  "up" if sweep % 2 == 0 else "down")
        crossings = _crossings(ranks)
        if crossings < best_crossings:
            best, best_crossings = [list(r) for r in ranks], crossings
    return best


def _sort(rank, other, side) -> None:
    index = {id(item): i for i, item in enumerate(other)}
    for i, item in enumerate(rank):
        near = [index[id(n)] for n in getattr(item, side) if id(n) in index]
        item.key = sum(near) / len(near) if near else float(i)
    rank[:] = _group(sorted(rank, key=lambda item: item.key))


def _group(rank, depth: int = 0) -> list:
    """Keeps the boxes of one nested model next to each other (recursively)."""
    out, seen = [], set()
    for item in rank:
        if len(item.path) <= depth:
            out.append(item)
        elif item.path[depth] not in seen:
            frame = item.path[depth]
            seen.add(frame)
            out += _group([j for j in rank if len(j.path) > depth and j.path[depth] == frame],
                          depth + 1)
    return out


def _crossings(ranks) -> int:
    count = 0
    for upper in ranks[:-1]:
        pos = {id(item): i for i, item in enumerate(upper)}
        lower = {}
        for rank in ranks:
            lower.update({id(item): i for i, item in enumerate(rank)})
        segments = [(pos[id(u)], lower[id(v)]) for u in upper for v in u.down]
        for i, (a, b) in enumerate(segments):
            count += sum(1 for c, d in segments[i + 1:] if (a - c) * (b - d) < 0)
    return count


def _gap(a, b) -> float:
    """The least distance between the centres of neighbours ``a`` and ``b`` of a rank."""
    frames = len(a.path) + len(b.path) - 2 * len(_common(a.path, b.path))
    gap = GAP if a.node is not None and b.node is not None else GAP / 2
    return (a.across + b.across) / 2 + gap + frames * (FRAME_PAD + FRAME_LABEL)


def _place_across(ranks) -> None:
    for rank in ranks:
        x = 0.0
        for i, item in enumerate(rank):
            x += _gap(rank[i - 1], item) if i else 0.0
            item.pos = x
        for item in rank:
            item.pos -= x / 2
    for sweep in range(13):  # the last sweep aligns each box with the boxes feeding it
        order = range(len(ranks)) if sweep % 2 == 0 else range(len(ranks) - 1, -1, -1)
        for r in order:
            _fit(ranks[r], "up" if sweep % 2 == 0 else "down")


def _fit(rank, side) -> None:
    """Places a rank's items nearest to their neighbours' mean, keeping order and gaps."""
    if not rank:
        return
    offsets, wanted, weights = [0.0], [], []
    for i in range(1, len(rank)):
        offsets.append(offsets[-1] + _gap(rank[i - 1], rank[i]))
    for item, offset in zip(rank, offsets):
        near = getattr(item, side)
        target = sum(n.pos for n in near) / len(near) if near else item.pos
        wanted.append(target - offset)
        weights.append(1.0 if item.node is not None else 0.3)
    for item, offset, value in zip(rank, offsets, _isotonic(wanted, weights)):
        item.pos = value + offset


def _isotonic(values, weights) -> list:
    """The non-decreasing sequence nearest to ``values`` (weighted least squares)."""
    blocks = []  # [weighted sum, weight, count]
    for v, w in zip(values, weights):
        blocks.append([v * w, w, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, w2, n = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += w2
            blocks[-1][2] += n
    out = []
    for s, w, n in blocks:
        out += [s / w] * n
    return out


def _place_along(ranks, items, frames):
    """The start and thickness of each rank along the direction of the arrows."""
    spans = {}
    for item in items.values():
        for frame in item.path:
            low, high = spans.get(frame, (item.rank, item.rank))
            spans[frame] = (min(low, item.rank), max(high, item.rank))
    starts, thick, at = [], [], 0.0
    for r, rank in enumerate(ranks):
        if r:
            opened = sum(1 for low, _ in spans.values() if low == r)
            closed = sum(1 for _, high in spans.values() if high == r - 1)
            at += RANK_GAP + opened * (FRAME_PAD + FRAME_LABEL) + closed * FRAME_PAD
        starts.append(at)
        thick.append(max((item.along for item in rank), default=0.0))
        at += thick[-1]
    return starts, thick


def _geometry(rankdir, items, chains, ranks, starts, thick, frames, edges) -> Layout:
    """Boxes, frames and arrows in page coordinates."""
    vertical = rankdir in ("TB", "BT")
    boxes = {}  # key -> (across low, along low, across size, along size) in layout space
    for key, item in items.items():
        a0 = starts[item.rank] + (thick[item.rank] - item.along) / 2
        boxes[key] = (item.pos - item.across / 2, a0, item.across, item.along)
    frame_rects = {}  # frame path (ids) -> (across low, along low, across, along, label)
    for path in sorted(frames, key=len, reverse=True):  # innermost first
        ids = tuple(id(g) for g in path)
        inner = [boxes[k] for k, it in items.items() if it.path[:len(ids)] == ids]
        inner += [r[:4] for p, r in frame_rects.items() if p[:len(ids)] == ids]
        if not inner:
            continue
        c0 = min(b[0] for b in inner) - FRAME_PAD - (0.0 if vertical else FRAME_LABEL)
        c1 = max(b[0] + b[2] for b in inner) + FRAME_PAD
        a0 = min(b[1] for b in inner) - FRAME_PAD - FRAME_LABEL
        a1 = max(b[1] + b[3] for b in inner) + FRAME_PAD
        frame_rects[ids] = (c0, a0, c1 - c0, a1 - a0, str(path[-1].get("label")))
    every = list(boxes.values()) + [r[:4] for r in frame_rects.values()]
    lo_c = min(b[0] for b in every)
    hi_c = max(b[0] + b[2] for b in every)
    hi_a = max(b[1] + b[3] for b in every)
    lo_a = min(b[1] for b in every)

    def page(c, a):
        c, a = c - lo_c + MARGIN, a - lo_a + MARGIN
        if rankdir in ("BT", "RL"):
            a = hi_a - lo_a + 2 * MARGIN - a
        return (c, a) if vertical else (a, c)

    def rect(c0, a0, cw, aw):
        (x0, y0), (x1, y1) = page(c0, a0), page(c0 + cw, a0 + aw)
        return min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)

    out = Layout()
    span_c, span_a = hi_c - lo_c + 2 * MARGIN, hi_a - lo_a + 2 * MARGIN
    out.width, out.height = (span_c, span_a) if vertical else (span_a, span_c)
    for c0, a0, cw, aw, label in frame_rects.values():
        x, y, w, h = rect(c0, a0, cw, aw)
        out.frames.append((x, y, w, h, label))
    for key, item in items.items():
        x, y, _, _ = rect(*boxes[key])
        cells = []
        for row, (height, widths) in zip(item.node.rows, item.rows):
            cx = x
            for cell, width in zip(row, widths):
                cells.append((cx, y, width, height, cell))
                cx += width
            y += height
        out.boxes.append((item.node, cells))
    out.edges = _arrows(chains, starts, thick, boxes, page)
    return out


def _arrows(chains, starts, thick, boxes, page) -> list:
    """Each edge as cubic Bézier pieces plus an arrowhead, ends spread along the box side."""
    ports_out, ports_in = {}, {}
    for n, chain in enumerate(chains):
        ports_out.setdefault(chain[0].node.name, []).append((chain[1].pos, n))
        ports_in.setdefault(chain[-1].node.name, []).append((chain[-2].pos, n))
    offset = {}
    for side, ports in (("out", ports_out), ("in", ports_in)):
        for key, ends in ports.items():
            ends.sort()
            width = boxes[key][2]
            spread = min(width * 0.6, 24.0 * (len(ends) - 1))
            for i, (_, n) in enumerate(ends):
                offset[side, n] = -spread / 2 + (spread * i / (len(ends) - 1) if len(ends) > 1
                                                 else 0.0)
    edges = []
    for n, chain in enumerate(chains):
        src, dst = chain[0], chain[-1]
        sb, db = boxes[src.node.name], boxes[dst.node.name]
        points = [(src.pos + offset["out", n], sb[1] + sb[3])]
        for point in chain[1:-1]:
            points += [(point.pos, starts[point.rank]),
                       (point.pos, starts[point.rank] + thick[point.rank])]
        end = (dst.pos + offset["in", n], db[1])
        points.append((end[0], end[1] - ARROW))
        pieces = []
        for (c0, a0), (c1, a1) in zip(points, points[1:]):
            middle = (a0 + a1) / 2
            pieces.append(tuple(page(c, a) for c, a in
                                ((c0, a0), (c0, middle), (c1, middle), (c1, a1))))
        head = tuple(page(c, a) for c, a in ((end[0], end[1]), (end[0] - ARROW / 2,
                                                                 end[1] - ARROW),
                                             (end[0] + ARROW / 2, end[1] - ARROW)))
        edges.append((src.node.name, dst.node.name, pieces, head))
    return edges
