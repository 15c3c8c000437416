"""The pattern language: git's glob pathspec, root-anchored, no negation.

A pattern ``P`` matches a repository-relative path ``X`` exactly when
``git ls-files -- ':(glob)P'`` would list ``X``. git decides that in two steps
(``dir.c: match_pathspec_item``), and so do we:

1. literally: ``X == P``, or ``X`` lies below ``P`` (``P`` ends with ``/`` or
   ``X`` continues with ``/``);
2. for a pattern with wildcards, ``wildmatch(P, X, WM_PATHNAME)`` over the
   whole path: ``*``/``?``/``[..]`` never cross ``/``, ``**`` as a whole
   component spans directories.

Step 2 uses pathspec's translation of git wildmatch segments (pinned release,
backend ``simple`` chosen explicitly: other backends have changed verdicts,
see NOTES.md) with its "directory carries down" suffix removed, because a
glob pathspec must match the whole path. Syntax where git and pathspec
disagree is rejected by :func:`problems`, so both always give one answer.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pathspec

BACKEND = "simple"
_WILDCARDS = frozenset("*?[")
# pathspec marks "the rest is below a matched directory" with this group.
_CARRY = "(?:(?P<ps_d>/)|$)"


def byte_view(text: str) -> str:
    """One character per UTF-8 byte: git's wildmatch compares bytes, so '?' matches
    one byte of 'é', not the letter. Matching this view gives git's answers."""
    return text if text.isascii() else text.encode("utf-8", "surrogateescape").decode("latin-1")


def has_wildcard(text: str) -> bool:
    # Three substring scans in C: called once per pattern component when a trie node expands.
    return "*" in text or "?" in text or "[" in text


def problems(pattern: object) -> list[str]:
    """Why ``pattern`` is not in our language (empty when it is)."""
    if not isinstance(pattern, str):
        return [f"a pattern must be a string, not {type(pattern).__name__} "
                "(quote it in YAML: \"...\")"]
    out: list[str] = []
    if not pattern:
        return ["empty pattern"]
    if pattern != pattern.strip() or any(c in pattern for c in "\0\n\r\t"):
        out.append("leading/trailing white space or control characters")
    if pattern.startswith("!"):
        out.append("'!' negation is not supported: put carve-outs in deny")
    if pattern.startswith("/"):
        out.append("patterns are already anchored at the repository root: drop the leading '/'")
    if "\\" in pattern:
        out.append("backslashes are not supported (use '/' as separator; no escapes)")
    body = pattern.strip("/") if pattern.startswith("/") else pattern.removesuffix("/")
    parts = body.split("/")
    for part in parts:
        if part == "":
            out.append("empty path component ('//')")
        elif part in (".", ".."):
            out.append(f"'{part}' components are not allowed")
        elif part.lower() == ".git":
            out.append("'.git' components are not allowed")
        elif "**" in part and part != "**":
            out.append(f"'**' must be a whole path component, not part of {part!r}")
    if any(a == b == "**" for a, b in itertools.pairwise(parts)):
        out.append("repeated '**/**' components")
    if pattern.endswith("/") and has_wildcard(pattern):
        out.append("a trailing '/' after a wildcard matches nothing in git: "
                   "write 'dir/*/**' for everything below")
    out.extend(_bracket_problems(pattern))
    return out


def _bracket_problems(pattern: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] != "[":
            i += 1
            continue
        j = pattern.find("]", i + 1)
        if j < 0:
            out.append("unclosed '[' bracket")
            break
        inner = pattern[i + 1:j]
        if inner == "":
            out.append("'[]' or a bracket starting with ']' is not supported")
        elif inner[0] in "!^":
            out.append("negated brackets '[!..]' are not supported")
        elif "[" in inner or ":" in inner:
            out.append("nested '[' or POSIX classes '[[:alpha:]]' are not supported")
        elif "/" in inner:
            out.append("'/' inside a bracket is not supported")
        else:
            k = 0
            while k + 2 < len(inner):
                if inner[k + 1] == "-" and inner[k] > inner[k + 2]:
                    out.append(f"reversed range '{inner[k:k + 3]}'")
                    break
                k += 1
        i = j + 1
    return out


def literal_prefix(pattern: str) -> str:
    """The text before the first wildcard (the whole pattern when it has none)."""
    for i, c in enumerate(pattern):
        if c in _WILDCARDS:
            return pattern[:i]
    return pattern


def directory_prefix(pattern: str) -> tuple[str, ...]:
    """Leading wildcard-free components every matching path must start with."""
    body = pattern.rstrip("/")
    parts = body.split("/")
    if not has_wildcard(body):
        return tuple(parts)
    out: list[str] = []
    for part in parts[:-1]:
        if has_wildcard(part):
            break
        out.append(part)
    return tuple(out)


@cache
def _glob_regex(pattern: str) -> str:
    # pathspec (and typing_extensions under it) is imported on the first wildcard match: a
    # change whose paths meet only literal and 'dir/**' patterns (most hook runs) never needs it.
    from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

    regex, include = GitIgnoreSpecPattern.pattern_to_regex("/" + pattern)
    assert include is True and isinstance(regex, str), pattern
    if regex.endswith(_CARRY):
        regex = regex[: -len(_CARRY)] + "$"
    return regex


@dataclass(frozen=True, eq=False)  # identity: compile_pattern caches one object per text
class Pattern:
    """One compiled pattern; ``matches`` answers exactly as git's glob pathspec."""

    text: str
    literal: str  # the pattern without a trailing '/'
    tree_only: bool  # True for 'dir/': the path itself is not matched, only below
    dirs: tuple[str, ...]
    specificity: int
    glob: bool  # needs git's wildmatch (a wildcard that the 'dir/**' fast path does not cover)
    below: str | None  # fast path for 'dir/**': everything strictly below 'dir/'

    @cached_property
    def spec(self) -> pathspec.PathSpec[Any] | None:
        """The wildmatch regex, compiled on first use: a policy of 20,000 patterns is loaded
        for a change that reaches a handful of them, and re.compile is most of a pattern's cost."""
        if not self.glob:
            return None
        import pathspec

        regex = _glob_regex(byte_view(self.text))
        return pathspec.PathSpec([pathspec.RegexPattern(regex)], backend=BACKEND)

    def matches(self, path: str) -> bool:
        lit = self.literal
        if path.startswith(lit):
            rest = path[len(lit):]
            if rest == "":
                if not self.tree_only:
                    return True
            elif rest[0] == "/":
                return True
        if self.below is not None:
            return path.startswith(self.below)
        spec = self.spec
        if spec is None:
            return False
        return spec.check_file(byte_view(path)).include is True


@cache
def compile_pattern(text: str) -> Pattern:
    """Compile a pattern already accepted by :func:`problems`."""
    bad = problems(text)
    if bad:
        raise ValueError(f"invalid pattern {text!r}: {'; '.join(bad)}")
    tree_only = text.endswith("/")
    literal = text[:-1] if tree_only else text
    glob = False
    below = None
    if has_wildcard(text):
        head, _, tail = text.rpartition("/")
        if tail == "**" and head and not has_wildcard(head):
            below = head + "/"
        else:
            glob = True
    return Pattern(text=text, literal=literal, tree_only=tree_only,
                   dirs=directory_prefix(text), specificity=len(literal_prefix(literal)),
                   glob=glob, below=below)


def regex_of(text: str) -> re.Pattern[str] | None:
    """The compiled glob regex (for diagnostics); None for literal patterns."""
    return re.compile(_glob_regex(byte_view(text))) if has_wildcard(text) else None
