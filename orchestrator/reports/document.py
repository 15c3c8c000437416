"""Reports as a small document model, rendered as text, Markdown and (``html.py``) HTML.

The review modules return data; ``builders.py`` turns that data into one
``Document`` of headings, paragraphs, tables, collapsible details and a graph
picture; each format renders the same document, so the Markdown comment on a
pull request, the HTML page and the terminal say the same thing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from lanewarden.orchestrator.reviews import graph as g

TONES = ("", "ok", "warn", "bad")
_MARK = {"ok": "✅", "warn": "⚠️", "bad": "⛔"}


@dataclass(frozen=True)
class Cell:
    text: str
    tone: str = ""  # "", ok, warn, bad
    code: bool = False  # a path or an id: monospace where the format has it


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str
    tone: str = ""
    code: bool = False  # preformatted (a diff): kept verbatim


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True)
class Diagram:
    """The part of the service/contract graph a review touches."""

    graph: nx.DiGraph = field(compare=False)
    nodes: frozenset[str]
    highlight: frozenset[str] = frozenset()
    proposed: frozenset[str] = frozenset()  # only proposed to change (a pending handoff), not changed


@dataclass(frozen=True)
class Details:
    summary: str
    blocks: tuple[Block, ...]
    open: bool = False


Block = Heading | Para | Items | Table | Diagram | Details


@dataclass(frozen=True)
class Document:
    title: str
    blocks: tuple[Block, ...]
    decision: str | None = None
    tone: str = ""


def cell(text: object, tone: str = "", code: bool = False) -> Cell:
    return Cell("" if text is None else str(text), tone, code)


# -- text ----------------------------------------------------------------------

def _text_table(t: Table, indent: str) -> list[str]:
    rows = [t.headers, *(tuple(c.text for c in row) for row in t.rows)]
    widths = [min(max(len(r[i]) for r in rows), 48) for i in range(len(t.headers))]
    out = []
    for r in rows:
        out.append(indent + "  ".join(r[i].ljust(widths[i]) for i in range(len(r))).rstrip())
    return out


def _text_blocks(blocks: tuple[Block, ...], indent: str = "") -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out += ["", indent + ("== " if b.level <= 2 else "-- ") + b.text]
        elif isinstance(b, Para):
            out.extend(indent + line for line in b.text.splitlines()) if b.code else out.append(indent + b.text)
        elif isinstance(b, Items):
            out += [indent + "  - " + item for item in b.items]
        elif isinstance(b, Table):
            out += _text_table(b, indent + "  ")
        elif isinstance(b, Details):
            if all(isinstance(inner, Diagram) for inner in b.blocks):
                continue
            out.append(indent + b.summary + ":")
            out += _text_blocks(b.blocks, indent + "    ")
        # A Diagram has no text form: `lanewarden graph` prints the graph itself.
    return out


def to_text(doc: Document) -> str:
    lines = [doc.title + (f": {doc.decision.upper()}" if doc.decision else ""), *_text_blocks(doc.blocks)]
    return "\n".join(lines).strip("\n")


# -- Markdown (a pull-request comment) ------------------------------------------

def md_escape(text: str) -> str:
    """Plain text for a Markdown table cell: no pipes, no raw HTML, one line."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("\n", " ").replace("\r", " "))


def _md_cell(c: Cell) -> str:
    if c.code and c.text and "`" not in c.text and "\n" not in c.text:
        return "`" + c.text.replace("|", "\\|") + "`"
    return md_escape(c.text)


def _md_blocks(blocks: tuple[Block, ...]) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out += ["#" * min(b.level + 1, 6) + " " + md_escape(b.text), ""]
        elif isinstance(b, Para) and b.code:
            fence = "~~~~" if "```" in b.text else "```"
            out += [fence + "diff", b.text.replace("~~~~", "~ ~~~"), fence, ""]
        elif isinstance(b, Para):
            mark = _MARK.get(b.tone, "")
            out += [(mark + " " if mark else "") + md_escape(b.text), ""]
        elif isinstance(b, Items):
            out += ["- " + md_escape(item) for item in b.items] + [""]
        elif isinstance(b, Table):
            out.append("| " + " | ".join(md_escape(h) for h in b.headers) + " |")
            out.append("|" + "---|" * len(b.headers))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("")
        elif isinstance(b, Diagram):
            out += ["```mermaid", g.to_mermaid(b.graph, b.nodes, b.highlight), "```", ""]
        elif isinstance(b, Details):
            out += [f"<details{' open' if b.open else ''}><summary>{md_escape(b.summary)}</summary>", "",
                    *_md_blocks(b.blocks),
                    "</details>", ""]
    return out


def to_markdown(doc: Document) -> str:
    mark = _MARK.get(doc.tone, "")
    decision = f": {doc.decision.upper()}" if doc.decision else ""
    title = f"### {mark + ' ' if mark else ''}{md_escape(doc.title)}{decision}"
    return "\n".join([title, "", *_md_blocks(doc.blocks)]).rstrip() + "\n"
