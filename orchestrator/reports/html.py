"""A report ``Document`` as one self-contained HTML page: no scripts, no external assets.

Everything is escaped with ``html.escape``; collapsible parts are native
``<details>``; the graph picture is an inline SVG laid out here (Mermaid needs
a script from the network, which an offline page cannot have).
"""
from __future__ import annotations

import html

import networkx as nx

from lanewarden.orchestrator.reports.document import (
    Block,
    Cell,
    Details,
    Diagram,
    Document,
    Heading,
    Items,
    Para,
    Table,
)
from lanewarden.orchestrator.reviews import graph as g

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:72em;
padding:0 1em;color:#1b1f24;background:#fff}
h1{font-size:1.5em;margin:.2em 0 .6em}h2{font-size:1.2em;margin:1.4em 0 .5em;border-bottom:1px solid #d0d7de}
h3{font-size:1.05em;margin:1.1em 0 .4em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.92em}
th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}
summary,li,code{overflow-wrap:anywhere}
th{background:#f6f8fa}code{font:.92em ui-monospace,Menlo,Consolas,monospace}
.ok{background:#dafbe1}.warn{background:#fff8c5}.bad{background:#ffebe9}
.banner{padding:.6em 1em;border-radius:6px;font-weight:600;border:1px solid #d0d7de}
details{margin:.4em 0;border:1px solid #d0d7de;border-radius:6px;padding:.3em .8em}
summary{cursor:pointer;font-weight:600}svg{max-width:100%;height:auto;border:1px solid #d0d7de;border-radius:6px}
.legend{font-size:.85em;color:#57606a}
@media print{details{border:none}details>*{display:block}}
"""

_EDGE_STYLE = {"produces": 'stroke="#0969da"', "consumes": 'stroke="#8250df"',
               "depends_on": 'stroke="#bf3989" stroke-dasharray="6 4"',
               "exercises": 'stroke="#6e7781" stroke-dasharray="2 3"'}
_FILL = {g.SERVICE: "#ddf4ff", g.CONTRACT: "#fbefff", g.SUITE: "#eaeef2"}
_W, _H, _COL, _ROW = 190, 30, 250, 46


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _layers(graph: nx.DiGraph, nodes: list[str]) -> dict[str, int]:
    """Columns left to right along the direction a change travels; suites after their services."""
    layout = nx.DiGraph()
    layout.add_nodes_from(nodes)
    kinds = {}
    for a, b, attrs in graph.subgraph(nodes).edges(data=True):
        # Suites point at the services they exercise; draw them after those services.
        edge = (b, a) if attrs["kind"] == "exercises" else (a, b)
        layout.add_edge(*edge)
        kinds[edge] = attrs["kind"]
    for _ in range(layout.number_of_edges() + 1):
        try:
            return {n: i for i, gen in enumerate(nx.topological_generations(layout)) for n in gen}
        except nx.NetworkXUnfeasible:
            # A cycle (a producer depending on its own consumer): drop one depends_on edge of it
            # for the layout only; the picture still draws it.
            cycle = [(a, b) for a, b, *_ in nx.find_cycle(layout)]
            layout.remove_edge(*next((e for e in cycle if kinds.get(e) == "depends_on"), cycle[-1]))
    return dict.fromkeys(nodes, 0)  # pragma: no cover - every loop above removes an edge


def svg(d: Diagram) -> str:
    """An inline SVG picture of the diagram's nodes and the edges among them."""
    nodes = sorted(n for n in d.nodes if n in d.graph)
    if not nodes:
        return "<p>(nothing in the graph is affected)</p>"
    layer = _layers(d.graph, nodes)
    columns: dict[int, list[str]] = {}
    for n in nodes:
        columns.setdefault(layer[n], []).append(n)
    pos: dict[str, tuple[int, int]] = {}
    for col, members in sorted(columns.items()):
        for row, n in enumerate(sorted(members)):
            pos[n] = (20 + col * _COL, 20 + row * _ROW)
    width = 40 + max(x for x, _ in pos.values()) + _W
    height = 40 + max(y for _, y in pos.values()) + _H
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="system-ui,sans-serif" font-size="12">',
             "<title>impacted part of the service and contract graph</title>",
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#57606a"/>'
             "</marker></defs>"]
    for a, b, attrs in sorted(d.graph.subgraph(nodes).edges(data=True)):
        (ax, ay), (bx, by) = pos[a], pos[b]
        x1, x2 = (ax + _W, bx) if bx > ax else (ax, bx + _W)
        parts.append(f'<line x1="{x1}" y1="{ay + _H // 2}" x2="{x2}" y2="{by + _H // 2}" '
                     f'{_EDGE_STYLE.get(attrs["kind"], "")} stroke-width="1.5" marker-end="url(#arrow)">'
                     f'<title>{_e(attrs["kind"])}</title></line>')
    for n in nodes:
        x, y = pos[n]
        kind, name = g.split(n)
        stroke = "#e16f24" if n in d.highlight else "#9a6700" if n in d.proposed else "#57606a"
        dash = ' stroke-dasharray="5 3"' if n in d.proposed and n not in d.highlight else ""
        label = f"{kind}: {name}"
        shown = label if len(label) <= 30 else label[:29] + "…"
        parts.append(f'<g><title>{_e(label)}</title><rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="6" '
                     f'fill="{_FILL.get(kind, "#fff")}" stroke="{stroke}" '
                     f'stroke-width="{3 if n in d.highlight or n in d.proposed else 1}"{dash}/>'
                     f'<text x="{x + 8}" y="{y + 19}">{_e(shown)}</text></g>')
    parts.append("</svg>")
    legend = ('<p class="legend">blue: produces · purple: consumes · dashed pink: depends on · dotted grey: '
              "suite exercises · thick orange border: changed · dashed brown border: only proposed (a pending "
              "handoff)</p>")
    return "".join(parts) + legend


def _cell(c: Cell, tag: str = "td") -> str:
    body = f"<code>{_e(c.text)}</code>" if c.code and c.text else _e(c.text)
    cls = f' class="{_e(c.tone)}"' if c.tone else ""
    return f"<{tag}{cls}>{body}</{tag}>"


def _blocks(blocks: tuple[Block, ...]) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            level = min(b.level, 6)
            out.append(f"<h{level}>{_e(b.text)}</h{level}>")
        elif isinstance(b, Para) and b.code:
            out.append(f"<pre>{_e(b.text)}</pre>")
        elif isinstance(b, Para):
            out.append(f'<p class="{_e(b.tone)}">{_e(b.text)}</p>' if b.tone else f"<p>{_e(b.text)}</p>")
        elif isinstance(b, Items):
            out.append("<ul>" + "".join(f"<li>{_e(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{_e(h)}</th>" for h in b.headers)
            rows = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in b.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Diagram):
            out.append(svg(b))
        elif isinstance(b, Details):
            out.append(f"<details{' open' if b.open else ''}><summary>{_e(b.summary)}</summary>"
                       f"{''.join(_blocks(b.blocks))}</details>")
    return out


def to_html(doc: Document) -> str:
    """The whole page, readable offline."""
    banner = ""
    if doc.decision is not None:
        banner = f'<p class="banner {_e(doc.tone)}">decision: {_e(doc.decision.upper())}</p>'
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            f"<title>{_e(doc.title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_e(doc.title)}</h1>{banner}{''.join(_blocks(doc.blocks))}</body></html>\n")


def fragment(blocks: tuple[Block, ...]) -> str:
    """The blocks' HTML without a page around them (the dashboard embeds reports in its own pages)."""
    return "".join(_blocks(blocks))


STYLE = _CSS  # the report's look, for pages that embed fragments
