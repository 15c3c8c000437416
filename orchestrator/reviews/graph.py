"""The service and contract graph of a policy (networkx), built once per review.

Nodes are strings with a kind prefix, so a service and a contract may share a
name (the fixture has a worker and a contract both called ``wallet-api``):
``service:ID``, ``contract:ID``, ``suite:ID``. Edges point the way a change
travels, each with a ``kind``:

- ``produces``: producer service -> contract;
- ``consumes``: contract -> consumer service;
- ``depends_on``: dependency -> dependent (``A.depends_on: [B]`` gives B -> A,
  because a change in B reaches A, which calls it);
- ``exercises``: e2e suite -> a service it exercises. Impact never walks these:
  a suite is affected when one of its services is, not the other way round.

networkx is imported here and in the review modules only, never on the guard's path.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

import networkx as nx

from lanewarden.workers.policy import Policy

SERVICE, CONTRACT, SUITE = "service", "contract", "suite"
KINDS = (SERVICE, CONTRACT, SUITE)
EDGE_KINDS = ("produces", "consumes", "depends_on", "exercises")
# Edges point the way a change travels; in pictures they read as the arrow says.
EDGE_LABEL = {"produces": "produces", "consumes": "consumed by", "depends_on": "used by",
              "exercises": "exercises"}


def node(kind: str, name: str) -> str:
    """The graph key of a service, contract or suite."""
    return f"{kind}:{name}"


def split(key: str) -> tuple[str, str]:
    """``(kind, name)`` of a graph key."""
    kind, _, name = key.partition(":")
    return kind, name


def build(policy: Policy) -> nx.DiGraph:
    """The whole graph of a (trusted) policy."""
    g = nx.DiGraph()
    for wid, worker in policy.workers.items():
        g.add_node(node(SERVICE, wid), kind=SERVICE, name=wid, high_risk=worker.high_risk)
    for cid, contract in policy.contracts.items():
        c = node(CONTRACT, cid)
        g.add_node(c, kind=CONTRACT, name=cid, paths=list(contract.paths))
        g.add_edges_from(((node(SERVICE, p), c) for p in contract.producers), kind="produces")
        g.add_edges_from(((c, node(SERVICE, s)) for s in contract.consumers), kind="consumes")
    for wid, worker in policy.workers.items():
        g.add_edges_from(((node(SERVICE, dep), node(SERVICE, wid)) for dep in worker.depends_on),
                         kind="depends_on")
    for sid, suite in policy.e2e.items():
        s = node(SUITE, sid)
        g.add_node(s, kind=SUITE, name=sid, command=suite.command, results=suite.results)
        g.add_edges_from(((s, node(SERVICE, svc)) for svc in suite.services), kind="exercises")
    return g


def dependents(g: nx.DiGraph, seeds: Mapping[str, Iterable[str]]) -> dict[str, dict[str, str]]:
    """Services reached from ``seeds`` along ``depends_on`` edges, in one multi-source traversal.

    ``seeds`` maps a service key to the labels it carries (e.g. the contracts
    that put it in the review). The answer maps each reached service key to
    ``{label: the service key it was first reached from for that label}``.
    Labels travel as bit masks, so many changed contracts cost one walk, not
    one walk each (NOTES.md: ten ``ancestors()`` calls cost ten times one
    walk). A seed appears only for labels it did not carry itself.
    """
    bit: dict[str, int] = {}
    seen: dict[str, int] = {}
    for key, labels in seeds.items():
        for label in labels:
            seen[key] = seen.get(key, 0) | 1 << bit.setdefault(label, len(bit))
    names = sorted(bit, key=bit.__getitem__)
    via: dict[str, dict[str, str]] = {}
    work = deque(seen)
    succ = g.succ
    while work:
        here = work.popleft()
        carry = seen[here]
        for nxt, attrs in succ[here].items():
            if attrs["kind"] != "depends_on":
                continue
            old = seen.get(nxt, 0)
            fresh = carry & ~old
            if not fresh:
                continue
            seen[nxt] = old | fresh
            firsts = via.setdefault(nxt, {})
            while fresh:
                low = fresh & -fresh
                firsts[names[low.bit_length() - 1]] = here
                fresh ^= low
            work.append(nxt)
    return via


def suite_map(g: nx.DiGraph) -> dict[str, tuple[str, ...]]:
    """Service name -> the suites exercising it (computed once, asked many times in a review)."""
    out: dict[str, list[str]] = {}
    for a, b, kind in g.edges(data="kind"):
        if kind == "exercises":
            out.setdefault(split(b)[1], []).append(split(a)[1])
    return {svc: tuple(sorted(suites)) for svc, suites in out.items()}


def suites_of(g: nx.DiGraph, services: Iterable[str],
              index: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, set[str]]:
    """Suite name -> the given services it exercises (only suites exercising at least one)."""
    if index is None:
        index = suite_map(g)
    out: dict[str, set[str]] = {}
    for svc in services:
        for suite in index.get(svc, ()):
            out.setdefault(suite, set()).add(svc)
    return out


# -- rendering (pure text; the CLI prints it) ---------------------------------

def as_json(g: nx.DiGraph) -> dict[str, object]:
    """Nodes and edges, sorted, for tools (schema ``lanewarden.graph/1``)."""
    nodes = [{"id": key, **dict(attrs.items())} for key, attrs in sorted(g.nodes(data=True))]
    edges = [{"source": a, "target": b, "kind": attrs["kind"]} for a, b, attrs in sorted(g.edges(data=True))]
    return {"schema": "lanewarden.graph/1", "nodes": nodes, "edges": edges}


_MERMAID_SHAPE = {SERVICE: ('["', '"]'), CONTRACT: ('{{"', '"}}'), SUITE: ('(["', '"])')}


def _mermaid_label(text: str) -> str:
    # Mermaid reads entity codes inside quoted labels; quotes and angle brackets would end or inject.
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;"))


def to_mermaid(g: nx.DiGraph, only: Iterable[str] | None = None, highlight: Iterable[str] = ()) -> str:
    """A Mermaid flowchart of the graph, or of the nodes in ``only`` (with the edges among them)."""
    keys = sorted(g) if only is None else sorted(k for k in set(only) if k in g)
    ids = {key: f"n{i}" for i, key in enumerate(keys)}
    lines = ["flowchart LR"]
    for key in keys:
        kind, name = split(key)
        left, right = _MERMAID_SHAPE[kind]
        lines.append(f"  {ids[key]}{left}{_mermaid_label(f'{kind}: {name}')}{right}")
    for a, b, attrs in sorted(g.subgraph(keys).edges(data=True)):
        lines.append(f"  {ids[a]} -->|{EDGE_LABEL[attrs['kind']]}| {ids[b]}")
    marked = [ids[k] for k in sorted(set(highlight)) if k in ids]
    if marked:
        lines.append("  classDef changed fill:#ffe0b2,stroke:#e65100,stroke-width:2px")
        lines.append(f"  class {','.join(marked)} changed")
    return "\n".join(lines)


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPE = {SERVICE: "box", CONTRACT: "hexagon", SUITE: "ellipse"}


def to_dot(g: nx.DiGraph) -> str:
    """Graphviz DOT text of the whole graph."""
    lines = ["digraph lanewarden {", "  rankdir=LR;"]
    for key, attrs in sorted(g.nodes(data=True)):
        lines.append(f"  {_dot_quote(key)} [label={_dot_quote(attrs.get('name', key))}, "
                     f"shape={_DOT_SHAPE.get(attrs.get('kind', SERVICE), 'box')}];")
    for a, b, attrs in sorted(g.edges(data=True)):
        lines.append(f"  {_dot_quote(a)} -> {_dot_quote(b)} [label={_dot_quote(EDGE_LABEL[attrs['kind']])}];")
    lines.append("}")
    return "\n".join(lines)


def to_text(g: nx.DiGraph) -> str:
    """One line per service, contract and suite with its neighbours, in words."""
    def names(keys: Iterable[str]) -> str:
        return ", ".join(sorted(split(k)[1] for k in keys))

    def edges(key: str, kind: str, outgoing: bool) -> list[str]:
        found = g.out_edges(key, data="kind") if outgoing else g.in_edges(key, data="kind")
        return [b if outgoing else a for a, b, k in found if k == kind]

    lines: list[str] = []
    for kind in KINDS:
        keys = sorted(k for k, a in g.nodes(data=True) if a.get("kind") == kind)
        lines.append(f"{kind}s ({len(keys)}):")
        for key in keys:
            if kind == SERVICE:
                parts = [("produces", edges(key, "produces", True)), ("consumes", edges(key, "consumes", False)),
                         ("depends on", edges(key, "depends_on", False)),
                         ("used by", edges(key, "depends_on", True)),
                         ("exercised by", edges(key, "exercises", False))]
            elif kind == CONTRACT:
                parts = [("producers", edges(key, "produces", False)), ("consumers", edges(key, "consumes", True))]
            else:
                parts = [("exercises", edges(key, "exercises", True))]
            said = "; ".join(f"{label} {names(found)}" for label, found in parts if found)
            lines.append(f"  {split(key)[1]}" + (f"  {said}" if said else ""))
    return "\n".join(lines)
