"""Ordered ownership rules (CODEOWNERS): last match wins, per section, through a compiled index.

A policy's ``ownership.rules`` are CODEOWNERS lines kept as they are: one rule
per line, so a policy imported from a 16,000-line CODEOWNERS holds 16,000
rules, not the square of that in ``deny`` carve-outs. Each rule's pattern is
translated once into our glob language (:func:`translate`, exact or refused)
and filed where only paths that can match it will look:

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
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from lanewarden.workers.pattern import Pattern, compile_pattern, has_wildcard, problems

if TYPE_CHECKING:
    from lanewarden.workers.policy import Ownership

_GITHUB_OWNER = re.compile(r"@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?|[^@\s]+@[^@\s]+\.[^@\s]+")
# GitLab: users may hold dots and underscores, groups nest, roles are '@@developer'.
_GITLAB_OWNER = re.compile(r"@@?[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*|[^@\s]+@[^@\s]+\.[^@\s]+")
# GitLab: "[Section]", "^[Optional]", "[Section][2]", optionally followed by default owners.
SECTION = re.compile(r"^(\^)?\[([^\]]+)\](?:\[(\d+)\])?(?:\s+(.*))?$")
_SPLIT = re.compile(r"(?<!\\)\s+")  # GitLab escapes spaces in paths with '\ '


@dataclass(frozen=True)
class OwnershipRule:
    """One ordered ownership rule: a CODEOWNERS line (the last matching line of a section decides).

    ``owners`` are the owners as written, compared without case; none: the
    section owns nothing there. ``exclude`` is GitLab's ``!path``: the section
    owns nothing there, whatever order its lines are in.
    """

    pattern: str  # CODEOWNERS syntax, escapes resolved
    owners: tuple[str, ...] = ()
    line: int | None = None
    section: str | None = None
    exclude: bool = False
    defaulted: bool = False  # owners came from the section header


@dataclass
class Section:
    """A GitLab section: optional sections and approval counts are review metadata only."""

    name: str  # first spelling; sections with one name in any case are one section
    line: int
    optional: bool = False
    approvals: int | None = None
    default_owners: tuple[str, ...] = ()


@dataclass(frozen=True)
class Issue:
    """A line that is not a rule (``skipped``) or one read with a caveat (``note``)."""

    line: int
    text: str
    reason: str
    kind: str = "skipped"

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind}: {self.text!r}: {self.reason}"


@dataclass
class Parsed:
    rules: list[OwnershipRule] = field(default_factory=list)
    sections: dict[str, Section] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    spelling: dict[str, str] = field(default_factory=dict)  # owner as compared (lower case) -> as first written


def _owners(tokens: list[str]) -> list[str]:
    out = []
    for token in tokens:
        if token.startswith("#"):
            break  # the rest of the line is a comment
        out.append(token)
    return out


def read(text: str, flavour: str) -> Parsed:
    """Every line of a CODEOWNERS text in its dialect ("github" or "gitlab"); lines that are
    not exact rules become ``skipped`` issues, never approximations."""
    gitlab = flavour == "gitlab"
    skips = "GitLab" if gitlab else "GitHub"
    owner_rx = _GITLAB_OWNER if gitlab else _GITHUB_OWNER
    out = Parsed()
    issues = out.issues
    current: Section | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        header = SECTION.match(stripped) if gitlab else None
        if header is not None:
            optional, name, approvals, rest = header.groups()
            defaults = _owners((rest or "").split())
            bad = [o for o in defaults if not owner_rx.fullmatch(o)]
            if bad:
                issues.append(Issue(number, stripped, f"default owner {bad[0]!r} is not a GitLab owner"))
                continue
            name = name.strip()
            known = next((s for s in out.sections.values() if s.name.lower() == name.lower()), None)
            if known is None:
                known = out.sections[name] = Section(name, number, bool(optional),
                                                     int(approvals) if approvals else None, tuple(defaults))
            else:  # GitLab combines sections of one name
                issues.append(Issue(number, stripped, f"section {known.name!r} (line {known.line}) continues here: "
                                                      "GitLab combines sections with one name", "note"))
                known.default_owners = tuple(defaults) or known.default_owners
            for owner in defaults:
                out.spelling.setdefault(owner.lower(), owner)
            current = known
            continue
        tokens = _SPLIT.split(stripped) if gitlab else stripped.split()
        raw, owners = tokens[0], _owners(tokens[1:])
        if gitlab:
            raw = raw.replace("\\ ", " ").replace("\\#", "#")
        exclude = gitlab and raw.startswith("!")
        if exclude:
            raw = raw[1:]
            if owners:
                issues.append(Issue(number, stripped, "owners on an exclusion are ignored by GitLab", "note"))
            owners = []
        bad_owner = next((o for o in owners if not owner_rx.fullmatch(o)), None)
        if bad_owner is not None:
            what = "an @user, @group/sub/team, @@role or e-mail" if gitlab else "an @user, @org/team or e-mail"
            issues.append(Issue(number, stripped, f"{bad_owner!r} is not {what} owner ({skips} skips this line)"))
            continue
        _, reason = translate(raw)
        if reason is not None:
            usual = not gitlab and (raw.startswith("!") or "[" in raw or "\\" in raw)
            issues.append(Issue(number, stripped, reason + (f" ({skips} skips this line)" if usual else
                                                            " (left out: its paths keep the earlier owners)")))
            continue
        defaulted = False
        if not owners and not exclude and current is not None and current.default_owners:
            owners, defaulted = list(current.default_owners), True
        if "?" in raw:
            issues.append(Issue(number, stripped, "'?' matches one byte in lanewarden (git's rule) and one "
                                                  f"character on {skips}: they differ on non-ASCII names", "note"))
        if not owners and not exclude and gitlab and current is not None:
            issues.append(Issue(number, stripped, f"no owners and section {current.name!r} has no default owners: "
                                                  "the section owns nothing here", "note"))
        if len({o.lower() for o in owners}) > 1:
            issues.append(Issue(number, stripped, "several owners: each may write these paths; handoffs route to "
                                                  "the first one", "note"))
        for owner in owners:
            out.spelling.setdefault(owner.lower(), owner)
        out.rules.append(OwnershipRule(raw, tuple(dict.fromkeys(o.lower() for o in owners)), number,
                                       current.name if current is not None else None, exclude, defaulted))
    return out


# Plain anchored paths are most of a large CODEOWNERS ('/src/d1/f.c'): checked by this alone.
_PLAIN = re.compile(r"/?[A-Za-z0-9_+=,%@~-][A-Za-z0-9._+=,%@~-]*(/[A-Za-z0-9_+=,%@~-][A-Za-z0-9._+=,%@~-]*)*/?")


def literal(text: str) -> Pattern:
    """The compiled form of a wildcard-free pattern already checked (what compile_pattern builds)."""
    return Pattern(text=text, literal=text, tree_only=False, dirs=tuple(text.split("/")),
                   specificity=len(text), spec=None, below=None)


@cache
def translate(raw: str) -> tuple[tuple[str, ...], str | None]:
    """lanewarden patterns covering exactly the files the CODEOWNERS pattern ``raw`` owns, or why not.

    Reasons name the problem only; callers add what GitHub or GitLab does with such a line.
    """
    if "/" in raw.strip("/") and _PLAIN.fullmatch(raw) and not raw.endswith("/"):
        # anchored, no wildcard, no '.'-led component (so no '.', '..' or '.git'): the path and below
        return (raw.lstrip("/"),), None
    if raw.startswith("!"):
        return (), "'!' negation does not work in CODEOWNERS"
    if "\\" in raw:
        return (), "'\\' escapes are not translated"
    if "[" in raw or "]" in raw:
        return (), "'[ ]' character ranges are not translated"
    if "***" in raw:
        return (), "'***' is not a valid pattern"
    if raw.strip("/") == "":
        return (), "the pattern matches no file"
    dir_only = raw.endswith("/")
    body = raw[1:] if raw.startswith("/") else raw
    body = body[:-1] if dir_only else body
    # A slash at the start or in the middle anchors at the root; otherwise any depth.
    anchored = raw.startswith("/") or "/" in body
    glob = body if anchored or body.split("/")[0] == "**" else "**/" + body
    last = glob.split("/")[-1]
    if dir_only and last == "**":
        return (), "a trailing '**/' means different things to GitHub and to gitignore"
    if dir_only:
        out = [glob + "/**"]  # files below a matching folder
    elif last in ("**", "*"):
        # '**' already spans everything below; a lone final '*' owns direct entries only
        # (GitHub: 'docs/*' does not own 'docs/a/b').
        out = ["**"] if glob in ("**", "**/*") else [glob]
    elif not has_wildcard(glob):
        out = [glob]  # a literal covers the path and everything below it
    else:
        out = [glob, glob + "/**"]  # the path itself, or anything inside a matching folder
    for pattern in out:
        bad = problems(pattern)
        if bad:
            return (), f"lanewarden cannot express {pattern!r}: {'; '.join(bad)}"
    return tuple(out), None


@dataclass(frozen=True)
class Compiled:
    """One ordered rule ready to match: its place in the file and its translated patterns."""

    position: int  # index in ownership.rules: later wins
    rule: OwnershipRule
    patterns: tuple[Pattern, ...]

    @property
    def section(self) -> str:
        return self.rule.section or ""

    def matches(self, path: str) -> bool:
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
            texts, reason = translate(rule.pattern)
            if reason is not None:  # the loader refuses such a policy first; this is a bug guard
                raise ValueError(f"ownership rule {position}: {rule.pattern!r}: {reason}")
            compiled = Compiled(position, rule, tuple(compile_pattern(t) if has_wildcard(t) or t.endswith("/")
                                                      or "/" not in t else literal(t) for t in texts))
            self.rules.append(compiled)
            self._file(compiled)

    def _file(self, compiled: Compiled) -> None:
        # File the rule once, under the narrowest key that every matching path must show.
        keys: set[tuple[str, str]] = set()
        for pattern in compiled.patterns:
            parts = pattern.text.split("/")
            unanchored = parts[0] == "**" and len(parts) in (2, 3) and parts[2:] in ([], ["**"])
            if unanchored and not has_wildcard(parts[1]):
                keys.add(("name", parts[1]))
            elif unanchored and parts[1].startswith("*") and not has_wildcard(parts[1][1:]) and parts[1] != "*":
                keys.add(("suffix", parts[1][1:]))
            else:
                keys.add(("dirs", "/".join(pattern.dirs)))
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
