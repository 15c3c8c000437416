"""Set geometry for the CODEOWNERS import: which patterns may overlap, which surely cover others.

Answers are conservative in the safe direction: :func:`may_overlap` says False
only when no path can match both patterns, and :class:`Cover` records only
coverage that is certain (a folder, ``**``, or the same text). The trie files
patterns by their literal directory key, so finding the patterns that may
overlap one pattern never scans the whole file.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from lanewarden.workers.pattern import directory_prefix, has_wildcard

FEW = 8  # lanes a carve-out may be shared by before it is narrowed per lane

_SHAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]] = {}


def shape(pattern: str) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(components, literal directory key, is literal) of a pattern, cached."""
    found = _SHAPES.get(pattern)
    if found is None:
        found = _SHAPES[pattern] = (tuple(pattern.split("/")), directory_prefix(pattern), not has_wildcard(pattern))
    return found


@lru_cache(maxsize=65536)
def _wild(component: str) -> bool:
    return has_wildcard(component)


def _may_match(name: str, glob: str) -> bool:
    if not _wild(glob):
        return name == glob
    if not _wild(name):
        # fnmatch counts characters, git bytes: only trust it on ASCII.
        return fnmatchcase(name, glob) if name.isascii() and glob.isascii() else True
    return True


def may_overlap(a: str, b: str) -> bool:
    """False only when no path can match both patterns."""
    pa, _, lit_a = shape(a)
    pb, _, lit_b = shape(b)
    for x, y in zip(pa, pb, strict=False):
        if x == "**" or y == "**":
            return True
        if not (_may_match(x, y) if _wild(y) else _may_match(y, x)):
            return False
    if len(pa) == len(pb):
        return True
    # The shorter pattern still matches deeper paths only when it is a literal (covers below).
    return lit_a if len(pa) < len(pb) else lit_b


def narrow(p: str, q: str, depth: int | None = None) -> str:
    """A pattern between ``p & q`` and ``q``: ``q`` cut down to ``p``'s folder (its first ``depth``
    components, when given) where that is exact."""
    kp, kq = shape(p)[1], shape(q)[1]
    if depth is not None:
        kp = kp[:depth]
    if len(kp) <= len(kq) or kp[:len(kq)] != kq:
        return q
    rest = shape(q)[0][len(kq):]
    folder = "/".join(kp)
    if not rest or rest == ("**",):
        return folder  # q covers everything below its key, so all of p's folder
    # q = key/**/t[/**]: exact below p's folder unless a folder name on the way could match t.
    if (len(rest) in (2, 3) and rest[0] == "**" and rest[1] != "**" and rest[2:] in ((), ("**",))
            and not any(_may_match(c, rest[1]) for c in kp[len(kq):])):
        return folder + "/" + "/".join(rest)
    return q


class Trie:
    """Entries filed by a pattern's literal directory key, to find the ones that may overlap."""

    __slots__ = ("children", "entries")

    def __init__(self) -> None:
        self.children: dict[str, Trie] = {}
        self.entries: list[tuple[int, str]] = []  # (lane index, pattern)

    def add(self, pattern: str, lane: int) -> None:
        node = self
        for part in shape(pattern)[1]:
            node = node.children.setdefault(part, Trie())
        node.entries.append((lane, pattern))

    def near(self, pattern: str) -> Iterator[tuple[int, str]]:
        """Entries on the way to the pattern's key and below it: the only ones that can overlap."""
        node: Trie | None = self
        for part in shape(pattern)[1]:
            assert node is not None
            yield from node.entries
            node = node.children.get(part)
            if node is None:
                return
        stack = [node]
        while stack:
            current = stack.pop()
            assert current is not None
            yield from current.entries
            stack.extend(current.children.values())


def depths(hits: list[tuple[int, str]], start: int) -> dict[str, int]:
    """For each carved pattern, the shallowest folder depth (below ``start``) holding at most
    ``FEW`` of the carved lanes: lanes in one folder then share one narrowed pattern."""
    counts: Counter[tuple[str, ...]] = Counter()
    for _index, key in {(i, shape(p)[1]) for i, p in hits}:
        for d in range(start + 1, len(key) + 1):
            counts[key[:d]] += 1
    out: dict[str, int] = {}
    for _, p in hits:
        key = shape(p)[1]
        out[p] = next((d for d in range(start + 1, len(key) + 1) if counts[key[:d]] <= FEW), len(key))
    return out


class Cover:
    """Which paths a set of patterns surely covers: whole folders, everything, or exact texts.

    Only certain coverage is recorded (a folder pattern, ``**``, or the very same
    pattern text), so "covered" is never a guess.
    """

    def __init__(self) -> None:
        self.texts: set[str] = set()
        self.trie: dict[str, Any] = {}  # component -> node; node["\0"] = 2 (path and below) or 1 (below only)

    def add(self, pattern: str) -> None:
        self.texts.add(pattern)
        parts, key, literal = shape(pattern)
        if literal or (parts[-1] == "**" and len(key) == len(parts) - 1):
            node = self.trie
            for part in key:
                node = node.setdefault(part, {})
            node["\0"] = max(node.get("\0", 0), 2 if literal else 1)

    def covers(self, pattern: str) -> bool:
        if pattern in self.texts or "**" in self.texts:
            return True
        _, key, literal = shape(pattern)
        node = self.trie
        for depth in range(len(key) + 1):
            flag = node.get("\0", 0)
            # a folder covers what lies below it; the pattern's own top needs flag 2 when it is literal
            if flag == 2 or (flag == 1 and (depth < len(key) or not literal)):
                return True
            if depth == len(key) or key[depth] not in node:
                return False
            node = node[key[depth]]
        return False


def compact(patterns: list[str], lines: list[int]) -> tuple[list[str], list[int]]:
    """Drop patterns another pattern of the same list surely covers (the union is unchanged)."""
    keep: list[tuple[int, str, int]] = []
    cover = Cover()
    seen: set[str] = set()
    # Shallow patterns first, so a folder is recorded before the patterns inside it.
    ordered = sorted(zip(range(len(patterns)), patterns, lines, strict=True), key=lambda x: (len(shape(x[1])[1]), x[0]))
    for i, p, n in ordered:
        if p in seen:
            continue
        seen.add(p)
        if not cover.covers(p):
            keep.append((i, p, n))
            cover.add(p)
    keep.sort()
    return [p for _, p, _ in keep], [n for _, _, n in keep]
