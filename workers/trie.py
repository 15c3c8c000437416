"""The pattern trie: every worker's pattern filed under its wildcard-free folders.

``services/wallet-api/**`` is filed under ``services`` -> ``wallet-api``, so a
path is only tested against the patterns filed along its own folders: a policy
of thousands of workers costs a few pattern tests per path, not thousands.
The ownership index (``workers/ownership.py``) decides with it; its case- and
Unicode-folded view is ``workers/folding.py``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Protocol

from lanewarden.workers.pattern import Pattern, compile_pattern, has_wildcard
from lanewarden.workers.policy import DECIDING_FIELDS, PATTERN_FIELDS

# Every pattern key of a worker, those that decide a class first; read_hints are indexed too
# (for lints and context packs), but never decide a class.
FIELDS = DECIDING_FIELDS + tuple(f for f in PATTERN_FIELDS if f not in DECIDING_FIELDS)
OWNS = "owns"  # the field of a hit from an ordered ownership rule (never a field of a worker)


@dataclass(frozen=True)
class Rule:
    """One pattern of one worker's field, with its position for messages."""

    worker: str
    field: str
    index: int
    pattern: Pattern
    note: str = dataclass_field(default="", compare=False, repr=False)  # an ordered rule's own label
    rank: int = 0  # ordered rules: the first owner of a line ranks highest
    label: str = dataclass_field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Rendered once: verdicts quote the deciding rule for every path.
        label = self.note or f"workers.{self.worker}.{self.field}[{self.index}] {self.pattern.text!r}"
        object.__setattr__(self, "label", label)

    def __str__(self) -> str:
        return self.label


# A pattern not yet placed in the trie: its components, its text and who it belongs to.
Pending = tuple[tuple[str, ...], str, str, str, int]
_EXPANDING = threading.Lock()


class Node:
    """A trie node, expanded on first visit.

    A big policy (20,000 patterns) is loaded for a change that reaches a few folders, and
    compiling a pattern is most of its cost; so a node keeps the patterns below it unplaced
    until a path enters it, and compiles only the patterns that end there. The order of
    rules in a node is the policy's order either way (ties between rules depend on it).
    """

    __slots__ = ("_children", "_depth", "_pending", "_rules")

    def __init__(self, depth: int = 0, pending: list[Pending] | None = None) -> None:
        self._children: dict[str, Node] = {}
        self._rules: list[Rule] = []
        self._pending: list[Pending] = pending if pending is not None else []
        self._depth = depth

    def _expand(self) -> None:
        # One index can serve several threads (the dashboard): a node is filled under a lock and
        # its pending list is emptied only at the end, so a reader that sees it empty never sees
        # half a node's rules.
        with _EXPANDING:
            if self._pending:
                self._place(self._pending)
                self._pending = []

    def _place(self, pending: list[Pending]) -> None:
        # One pass over the patterns below the node (20,000 of them at the top of a big policy),
        # grouped by the component they descend by.
        d = self._depth
        here: list[Pending] = []
        below: dict[str, list[Pending]] = {}
        for entry in pending:
            parts = entry[0]
            # directory_prefix's rule, one level at a time: descend while the component is literal.
            if d < len(parts) and not has_wildcard(parts[d]):
                group = below.get(parts[d])
                if group is None:
                    below[parts[d]] = [entry]
                else:
                    group.append(entry)
            else:
                here.append(entry)
        # May raise on an invalid pattern: nothing of the node has changed yet.
        rules = [Rule(entry[2], entry[3], entry[4], compile_pattern(entry[1])) for entry in here]
        for name, entries in below.items():
            self._children[name] = Node(d + 1, entries)
        self._rules.extend(rules)

    @property
    def children(self) -> dict[str, Node]:
        if self._pending:
            self._expand()
        return self._children

    def child(self, name: str) -> Node | None:
        return self.children.get(name)

    @property
    def rules(self) -> list[Rule]:
        if self._pending:
            self._expand()
        return self._rules

    def every_rule(self) -> list[Rule]:
        """All rules at and below this node (expands everything)."""
        out = list(self.rules)
        for child in self.children.values():
            out.extend(child.every_rule())
        return out


class Walkable(Protocol):
    """A trie node, plain (``Node``) or folded (``folding.FoldedNode``)."""

    @property
    def rules(self) -> list[Rule]: ...

    def child(self, name: str) -> Walkable | None: ...


def rules_along(root: Walkable, path: str) -> list[Rule]:
    """The rules of every node from ``root`` down the folders of ``path``: the only ones that can match it."""
    node = root
    out = list(node.rules)
    for part in path.split("/"):
        child = node.child(part)
        if child is None:
            break
        node = child
        out.extend(node.rules)
    return out
