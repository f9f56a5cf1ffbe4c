"""The SVG of fcnet's own diagram layout: boxes, frames and arrows, text as text."""

from __future__ import annotations

from html import escape

from fcnet.utils.svg_layout import FONT, Layout, text_width


def _f(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def to_svg(layout: Layout) -> str:
    """The drawing as a standalone SVG document."""
    w, h = layout.width, layout.height
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(w)}pt" height="{_f(h)}pt" '
           f'viewBox="0 0 {_f(w)} {_f(h)}" font-family="{FONT}">',
           f'<rect x="0" y="0" width="{_f(w)}" height="{_f(h)}" fill="white"/>']
    for x, y, fw, fh, label in layout.frames:
        out.append(f'<g class="cluster"><title>{escape(label)}</title>'
                   f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(fw)}" height="{_f(fh)}" '
                   'fill="none" stroke="black" stroke-dasharray="5,2"/>'
                   f'<text x="{_f(x + 6)}" y="{_f(y + 14)}" font-size="12">{escape(label)}'
                   "</text></g>")
    for src, dst, pieces, head in layout.edges:
        d = f"M{_f(pieces[0][0][0])},{_f(pieces[0][0][1])}" + "".join(
            "C" + " ".join(f"{_f(x)},{_f(y)}" for x, y in piece[1:]) for piece in pieces)
        points = " ".join(f"{_f(x)},{_f(y)}" for x, y in head)
        out.append(f'<g class="edge"><title>{escape(src)}-&gt;{escape(dst)}</title>'
                   f'<path d="{d}" fill="none" stroke="black" stroke-width="2"/>'
                   f'<polygon points="{points}" fill="black" stroke="black"/></g>')
    for node, cells in layout.boxes:
        title = cells[0][4].text if cells else node.name
        out.append(f'<g class="node" id="node{escape(node.name)}"><title>{escape(title)}'
                   "</title>")
        for x, y, cw, ch, cell in cells:
            out.append(f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(cw)}" height="{_f(ch)}" '
                       f'fill="{cell.fill}" stroke="black"/>')
            spans = "".join(f'<tspan font-weight="bold">{escape(t)}</tspan>' if b
                            else f"<tspan>{escape(t)}</tspan>" for t, b in cell.parts)
            # Centred by the measured width, not text-anchor: renderers differ on
            # anchoring text split into bold and regular pieces.
            start = x + (cw - text_width(cell.parts, cell.size)) / 2
            out.append(f'<text xml:space="preserve" x="{_f(start)}" '
                       f'y="{_f(y + ch / 2 + cell.size * 0.35)}" '
                       f'font-size="{cell.size}" fill="{cell.color}">{spans}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
