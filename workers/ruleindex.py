"""Ordered ownership rules (CODEOWNERS): last match wins, per section, through a compiled index.

A policy imported from a 16,000-line CODEOWNERS holds 16,000 rules, not the
square of that in ``deny`` carve-outs. Each rule's pattern is translated once
(``codeowners.translate``, exact or refused) and filed where only paths that
can match it will look:

- anchored patterns under their literal directory prefix (a trie, as in
  ``ownership.py``): ``/src/d1/f.c`` is tested only by paths below ``src/d1``;
- unanchored names (``AUTHORS``, ``docs/``) under that name, looked up once
  per component of the path;
- unanchored suffixes (``*.md``) under the suffix, looked up per suffix of a
  component;
- everything else in one short list every path tests.

A path collects the few candidate rules, and walks them from the last rule
backwards: the first one that matches decides, separately in each section
(GitLab evaluates sections independently; GitHub has one). A GitLab exclusion
(``!path``) is final in its section, whatever its position.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from lanewarden.workers.pattern import Pattern, compile_pattern, directory_prefix, has_wildcard

if TYPE_CHECKING:
    from lanewarden.workers.codeowners import OwnershipRule
    from lanewarden.workers.policy import Ownership

# GitLab's exact file, as codeowners.translate_gitlab spells it: one one-character set, no other wildcard.
_EXACT = re.compile(r"[^*?\[\]]*\[[A-Za-z0-9]\][^*?\[\]/]*")


def literal(text: str) -> Pattern:
    """The compiled form of a wildcard-free pattern already checked (what compile_pattern builds)."""
    return Pattern(text=text, literal=text, tree_only=False, dirs=tuple(text.split("/")),
                   specificity=len(text), glob=False, below=None)


@dataclass(frozen=True)
class Compiled:
    """One ordered rule ready to match: its place in the file and its translated patterns.

    Patterns are compiled when first matched: a path tests a handful of rules, so a large file
    never pays for compiling the lines no path in the change reaches. A GitLab line naming one
    exact file (``/src/a.c``, translated ``src/a.[c]``) is compared as text.
    """

    position: int  # index in ownership.rules: later wins
    rule: OwnershipRule

    @property
    def section(self) -> str:
        return self.rule.section or ""

    @cached_property
    def exact(self) -> str | None:
        texts = self.rule.patterns
        if len(texts) == 1 and _EXACT.fullmatch(texts[0]):
            return texts[0].replace("[", "").replace("]", "")
        return None

    @cached_property
    def patterns(self) -> tuple[Pattern, ...]:
        return tuple(compile_pattern(t) if has_wildcard(t) or t.endswith("/") or "/" not in t else literal(t)
                     for t in self.rule.patterns)

    @property
    def shown(self) -> Pattern:
        """A pattern standing for the rule in a hit (its label names the line): never compiles a glob."""
        return literal(self.exact) if self.exact is not None and "/" in self.exact else self.patterns[0]

    def matches(self, path: str) -> bool:
        exact = self.exact
        if exact is not None:
            return path == exact
        return any(p.matches(path) for p in self.patterns)


@dataclass(frozen=True)
class Decided:
    """What one section says about a path: the deciding rule, or an exclusion."""

    section: str  # "" for the rules before any GitLab section header (and all of GitHub's)
    rule: Compiled
    excluded: bool


class _Node:
    __slots__ = ("children", "entries")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.entries: list[Compiled] = []


class OrderedIndex:
    """The compiled rules of ``ownership``; :meth:`decide` is last-match-wins per section."""

    def __init__(self, ownership: Ownership) -> None:
        self.ownership = ownership
        self.sections = ownership.parsed.sections
        self.rules: list[Compiled] = []
        self._trie = _Node()
        self._names: dict[str, list[Compiled]] = {}
        self._suffixes: dict[str, list[Compiled]] = {}
        self._lengths: set[int] = set()
        for position, rule in enumerate(ownership.parsed.rules):
            if not rule.patterns:  # read() keeps translated lines only; this is a bug guard
                raise ValueError(f"ownership rule {position}: {rule.pattern!r} has no translation")
            compiled = Compiled(position, rule)
            self.rules.append(compiled)
            self._file(compiled)

    def _file(self, compiled: Compiled) -> None:
        # File the rule once, under the narrowest key that every matching path must show.
        keys: set[tuple[str, str]] = set()
        for text in compiled.rule.patterns:
            parts = text.split("/")
            unanchored = parts[0] == "**" and len(parts) in (2, 3) and parts[2:] in ([], ["**"])
            if unanchored and not has_wildcard(parts[1]):
                keys.add(("name", parts[1]))
            elif unanchored and parts[1].startswith("*") and not has_wildcard(parts[1][1:]) and parts[1] != "*":
                keys.add(("suffix", parts[1][1:]))
            else:
                keys.add(("dirs", "/".join(directory_prefix(text))))
        for kind, key in keys:
            if kind == "name":
                self._names.setdefault(key, []).append(compiled)
            elif kind == "suffix":
                self._suffixes.setdefault(key, []).append(compiled)
                self._lengths.add(len(key))
            else:
                node = self._trie
                for part in key.split("/") if key else ():
                    node = node.children.setdefault(part, _Node())
                node.entries.append(compiled)

    def candidates(self, path: str) -> list[Compiled]:
        """The rules that can match ``path``, last rule first."""
        parts = path.split("/")
        found: dict[int, Compiled] = {}
        node: _Node | None = self._trie
        for entry in self._trie.entries:
            found[entry.position] = entry
        for part in parts:
            node = node.children.get(part) if node is not None else None
            if node is not None:
                for entry in node.entries:
                    found[entry.position] = entry
            for entry in self._names.get(part, ()):
                found[entry.position] = entry
            if self._suffixes:
                for n in self._lengths:
                    if n <= len(part):  # '*' matches nothing too: '.md' is a '*.md'
                        for entry in self._suffixes.get(part[-n:], ()):
                            found[entry.position] = entry
        return [found[k] for k in sorted(found, reverse=True)]

    def decide(self, path: str) -> list[Decided]:
        """One answer per section that has a matching rule, in the order sections first appear."""
        decided: dict[str, Decided] = {}
        for compiled in self.candidates(path):
            section = compiled.section
            known = decided.get(section)
            if known is not None and (known.excluded or not compiled.rule.exclude):
                continue  # the section already has its last match (or is excluded for good)
            if compiled.matches(path):
                decided[section] = Decided(section, compiled, compiled.rule.exclude)
        return sorted(decided.values(), key=lambda d: self._order(d.section))

    def _order(self, section: str) -> int:
        found = self.sections.get(section) if section else None
        return -1 if found is None else found.line

    def optional(self, section: str) -> bool:
        found = self.sections.get(section) if section else None
        return found is not None and found.optional
