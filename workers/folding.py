"""Case and Unicode folding: paths and patterns as a case-insensitive, normalising checkout sees them.

Matching is byte-exact (as git's), so ``secrets/`` denied leaves ``SECRETS/``
open, yet on a case-insensitive checkout (macOS, Windows) both are one folder.
The ownership index checks a path in a worker's lane once more with the path
and the patterns folded (``OwnershipIndex.collision``); the exact answer stays
the answer, folding can only take a path out of a lane.

The folded patterns are the plain trie seen folded (:class:`FoldedNode`): a
folded folder merges the plain folders whose names fold alike, and folds and
compiles their patterns when a path first enters it. A change that reaches
three folders folds the patterns of those folders, not the whole policy.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable

from lanewarden.workers.pattern import compile_pattern, problems
from lanewarden.workers.trie import Node, Rule, rules_along


def fold(path: str) -> str:
    """A path as a case-insensitive, Unicode-normalising file system sees it: NFC, case-folded.

    Two paths with the same fold are one file on such a checkout (macOS, Windows).
    """
    if path.isascii():
        return path.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def fold_pattern(text: str) -> str:
    """A pattern folded like the paths it is compared with.

    Folding can turn a valid bracket range into a reversed one (``[Z-a]`` -> ``[z-a]``);
    then the brackets are kept as written and only the rest is folded.
    """
    folded = fold(text)
    if folded == text:  # most patterns: nothing to fold, and the pattern was checked on load
        return text
    if not problems(folded):
        return folded
    out: list[str] = []
    depth = 0
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
            out.append(ch)
            continue
        out.append(ch if depth else fold(ch))
    return "".join(out)


def folds(texts: Iterable[str]) -> bool:
    """Whether any of the patterns changes when folded."""
    # fold_pattern changes only what fold changes; for ASCII that is what lower() changes (C speed).
    return any((not t.isascii() or t.lower() != t) and fold_pattern(t) != t for t in texts)


def _folded(rule: Rule) -> Rule:
    text = rule.pattern.text
    folded = fold_pattern(text)
    if folded == text:
        return rule
    return Rule(rule.worker, rule.field, rule.index, compile_pattern(folded))


class FoldedNode:
    """A node of the folded trie: the plain trie's nodes whose names fold alike, read on first visit.

    A pattern's literal folders fold one by one as its text does (folding never makes or
    unmakes a wildcard, nor crosses a '/'), so filing it under its plain folders and then
    merging folders by their folded names files it where the folded pattern belongs.
    """

    __slots__ = ("_children", "_made", "_nodes", "_rank", "_rules")

    def __init__(self, nodes: list[Node], rank: Callable[[Rule], tuple[int, int, int]]) -> None:
        self._nodes = nodes
        self._rank = rank  # a rule's place in the policy (worker, field, index)
        self._rules: list[Rule] | None = None
        self._children: dict[str, list[Node]] | None = None
        self._made: dict[str, FoldedNode] = {}

    @property
    def rules(self) -> list[Rule]:
        # Built whole, then published: threads sharing an index see all of it or recompute it.
        rules = self._rules
        if rules is None:
            merged = [r for node in self._nodes for r in node.rules]
            if len(self._nodes) > 1:
                merged.sort(key=self._rank)  # each node keeps the policy's order; so must their union
            rules = self._rules = [_folded(r) for r in merged]
        return rules

    def child(self, name: str) -> FoldedNode | None:
        """The folded folder ``name`` (already folded) below this one."""
        made = self._made.get(name)
        if made is not None:
            return made
        groups = self._children
        if groups is None:
            groups = {}
            for node in self._nodes:
                for plain, below in node.children.items():
                    groups.setdefault(fold(plain), []).append(below)
            self._children = groups
        nodes = groups.get(name)
        if nodes is None:
            return None
        made = self._made[name] = FoldedNode(nodes, self._rank)
        return made

    def candidates(self, path: str) -> list[Rule]:
        """Folded rules whose folders contain the folded ``path`` (the only ones that can match it)."""
        return rules_along(self, path)
