"""CODEOWNERS, read exactly: its pattern language translated into ours, and its two dialects.

A policy's ``ownership.rules`` is a CODEOWNERS text kept as written (one rule
per line). :func:`read` reads it line by line in its dialect: GitHub's one
list, or GitLab's sections (``[Name]``, optional ``^[Name]``, approval counts
``[Name][2]``, default owners on the header), ``!path`` exclusions and owner
syntax (nested groups, dotted user names, bots, ``@@role``). :func:`translate`
turns each pattern into our glob language, exactly or not at all. The compiled
index that answers "which line decides this path" lives in ``ruleindex.py``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache

from lanewarden.workers.pattern import has_wildcard, problems

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
    patterns: tuple[str, ...] = ()  # the same paths in our glob language, in the file's dialect
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


@lru_cache(maxsize=8)  # the loader checks the text and the index reads it again: read it once
def read(text: str, flavour: str) -> Parsed:
    """Every line of a CODEOWNERS text in its dialect ("github" or "gitlab"); lines that are
    not exact rules become ``skipped`` issues, never approximations. The result is shared: never
    change it."""
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
                # One header saying optional makes the whole section review-only here: fewer lanes, never more.
                known.optional = known.optional or bool(optional)
                known.approvals = int(approvals) if approvals else known.approvals
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
        patterns, reason = translate_gitlab(raw) if gitlab else translate(raw)
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
        out.rules.append(OwnershipRule(raw, tuple(dict.fromkeys(o.lower() for o in owners)), patterns, number,
                                       current.name if current is not None else None, exclude, defaulted))
    return out


# Plain anchored paths are most of a large CODEOWNERS ('/src/d1/f.c'): checked by this alone.
_PLAIN = re.compile(r"/?[A-Za-z0-9_+=,%@~-][A-Za-z0-9._+=,%@~-]*(/[A-Za-z0-9_+=,%@~-][A-Za-z0-9._+=,%@~-]*)*/?")


@cache
def translate_gitlab(raw: str) -> tuple[tuple[str, ...], str | None]:
    """Our patterns for GitLab's reading of ``raw``, which is not gitignore's.

    GitLab (``Gitlab::CodeOwners::File``) matches ``/PATH`` with Ruby's
    ``File.fnmatch?`` (``FNM_PATHNAME | FNM_DOTMATCH``) against the pattern
    normalised as: ``*`` -> ``/**/*``; no leading ``/`` -> ``/**/`` in front
    (so ``docs/api`` matches at any depth, unlike GitHub); a trailing ``/`` ->
    ``**/*`` behind (everything below). Anything else matches the whole path
    only: ``/docs`` owns the file ``docs``, nothing below it, and a final
    ``**`` not followed by ``/`` is one level, like ``*``.
    """
    if raw == "*":
        return ("**",), None
    if "[" in raw or "]" in raw or "\\" in raw:
        return (), "'[ ]' character ranges and '\\' escapes are not translated"
    if "***" in raw:
        return (), "'***' is not a valid pattern"
    if raw.strip("/") == "":
        return (), "the pattern matches no file"
    anchored = raw.startswith("/")
    body = raw[1:] if anchored else raw
    dir_only = body.endswith("/")
    body = body[:-1] if dir_only else body
    parts = body.split("/")
    if not dir_only and parts[-1] == "**":
        parts[-1] = "*"  # fnmatch: '**' not followed by '/' is '*'
    glob = "/".join(parts)
    if not anchored and parts[0] != "**":
        glob = "**/" + glob
    if dir_only:
        out = glob if glob.split("/")[-1] == "**" else glob + "/**"
    elif has_wildcard(glob):
        out = glob  # a glob with wildcards matches whole paths only, as fnmatch does
    else:
        # An anchored path with no wildcard owns that file only. Our literal covers what lies
        # below too, so one character becomes a one-character set: a glob of the same path.
        last = parts[-1]
        at = next((i for i in range(len(last) - 1, -1, -1) if last[i].isascii() and last[i].isalnum()), None)
        if at is None:
            return (), "an exact file name without a letter or digit cannot be expressed"
        out = "/".join([*parts[:-1], last[:at] + "[" + last[at] + "]" + last[at + 1:]])
    bad = problems(out)
    if bad:
        return (), f"lanewarden cannot express {out!r}: {'; '.join(bad)}"
    return (out,), None


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
