"""Read a GitHub CODEOWNERS file and turn it into lanewarden workers, exactly or not at all.

CODEOWNERS patterns are gitignore-style, with one documented difference
(``docs/*`` owns the direct files of ``docs`` only), and the **last** matching
line decides the owners. lanewarden's owner is the most specific writer, and a
worker's writable set is ``allow`` minus ``deny``. So each line becomes allow
patterns in our language (:func:`translate`), and every later line that takes
paths away from an earlier owner becomes a ``deny`` carve-out for that owner.

A worker has one deny list for all its allow patterns, so an owner who regains
paths inside a carve-out (A owns ``/a/``, B owns ``*.md``, A owns ``/a/docs/``)
cannot be one worker: such lines go to a second *lane* of the same owner
(``a.2``), so every path keeps exactly the owner CODEOWNERS gives it. Deny
patterns are narrowed to the lane's own folders where that is exact, so they
are filed deep in the ownership index and stay cheap to route through.

Lines that cannot be translated exactly are never approximated: they are left
out and listed with their line number and reason, and the draft then behaves
exactly like the file without them.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from lanewarden.orchestrator.adoption.overlap import FEW, Cover, Trie, compact, depths, may_overlap, narrow, shape
from lanewarden.workers.pattern import has_wildcard, problems

SEARCH_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")  # GitHub's own order
RESERVED = frozenset({"root"})
_OWNER = re.compile(r"@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?|[^@\s]+@[^@\s]+\.[^@\s]+")
# GitLab: "[Section]", "^[Optional]", "[Section][2]", optionally followed by default owners.
_SECTION = re.compile(r"^\^?\[[^\]]+\](\[\d+\])?(\s|$)")


@dataclass(frozen=True)
class Issue:
    """A line left out of the draft (``skipped``) or translated with a caveat (``note``)."""

    line: int
    text: str
    reason: str
    kind: str = "skipped"

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind}: {self.text!r}: {self.reason}"


@dataclass(frozen=True)
class Rule:
    """One translated CODEOWNERS line: its owners (none un-owns) and lanewarden patterns."""

    line: int
    text: str
    owners: tuple[str, ...]
    patterns: tuple[str, ...]


@dataclass
class Lane:
    """One worker of the draft: the lines of one owner that share one deny list."""

    owner: str
    number: int
    lines: list[int] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)
    allow_lines: list[int] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    deny_lines: list[int] = field(default_factory=list)
    worker_id: str = ""


@dataclass(frozen=True)
class Imported:
    lanes: list[Lane]
    rules: list[Rule]
    issues: list[Issue]
    source: str
    spelling: dict[str, str]  # owner as compared (lower case) -> as first written

    @property
    def skipped(self) -> list[Issue]:
        return [i for i in self.issues if i.kind == "skipped"]


def translate(raw: str) -> tuple[tuple[str, ...], str | None]:
    """lanewarden patterns covering exactly the files ``raw`` owns, or a reason it cannot be done."""
    if raw.startswith("!"):
        return (), "'!' negation does not work in CODEOWNERS (GitHub skips this line)"
    if "\\" in raw:
        return (), "'\\' escapes do not work in CODEOWNERS (GitHub skips this line)"
    if "[" in raw or "]" in raw:
        return (), "'[ ]' character ranges do not work in CODEOWNERS (GitHub skips this line)"
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
    elif last == "**" or last == "*":
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


def parse(text: str) -> tuple[list[Rule], list[Issue], dict[str, str]]:
    """The translated lines, the issues (file order) and each owner's first spelling.

    GitHub compares owners without regard to case, so ``@Org/Team`` and
    ``@org/team`` are one owner (one worker).
    """
    rules: list[Rule] = []
    issues: list[Issue] = []
    spelling: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if _SECTION.match(stripped):
            issues.append(Issue(number, stripped, "a GitLab section header: sections are not GitHub syntax; "
                                                  "the lines below it are read as one GitHub list"))
            continue
        tokens = stripped.split()
        raw, owners = tokens[0], []
        for token in tokens[1:]:
            if token.startswith("#"):
                break  # the rest of the line is a comment
            owners.append(token)
        bad_owner = next((o for o in owners if not _OWNER.fullmatch(o)), None)
        if bad_owner is not None:
            issues.append(Issue(number, stripped, f"{bad_owner!r} is not an @user, @org/team or e-mail owner "
                                                  "(GitHub skips this line)"))
            continue
        patterns, reason = translate(raw)
        if reason is not None:
            issues.append(Issue(number, stripped, reason))
            continue
        if "?" in raw:
            issues.append(Issue(number, stripped, "'?' matches one byte in lanewarden (git's rule) and one "
                                                  "character on GitHub: they differ on non-ASCII names", "note"))
        if len({o.lower() for o in owners}) > 1:
            issues.append(Issue(number, stripped, "several owners: each may write these paths; lanewarden routes "
                                                  "handoffs to one of them (policy check reports the tie)", "note"))
        for owner in owners:
            spelling.setdefault(owner.lower(), owner)
        rules.append(Rule(number, stripped, tuple(dict.fromkeys(o.lower() for o in owners)), patterns))
    return rules, issues, spelling


def dead_lines(rules: list[Rule]) -> dict[int, int]:
    """line -> the later line that takes every path it names: such lines own nothing."""
    cover = Cover()
    latest: dict[str, int] = {}
    dead: dict[int, int] = {}
    for rule in reversed(rules):
        if rule.patterns and all(cover.covers(p) for p in rule.patterns):
            dead[rule.line] = min(latest.values(), default=rule.line)
        for p in rule.patterns:
            cover.add(p)
            latest.setdefault(p, rule.line)
    return dead


def assign(rules: list[Rule]) -> list[Lane]:
    """Lanes that reproduce last-match-wins exactly (see the module docstring)."""
    lanes: list[Lane] = []
    by_owner: dict[str, list[int]] = {}
    allows, denies = Trie(), Trie()
    dead = dead_lines(rules)
    for rule in rules:
        if rule.line in dead:
            continue  # a later line takes all of it: it decides nothing, as an owner or as a carve-out
        chosen: set[int] = set()
        blocked = {lane for q in rule.patterns for lane, d in denies.near(q) if may_overlap(d, q)} \
            if rule.owners else set()
        for owner in rule.owners:
            index = next((i for i in by_owner.get(owner, []) if i not in blocked), None)
            if index is None:
                index = len(lanes)
                lanes.append(Lane(owner, len(by_owner.get(owner, [])) + 1))
                by_owner.setdefault(owner, []).append(index)
            lane = lanes[index]
            lane.lines.append(rule.line)
            lane.allow.extend(rule.patterns)
            lane.allow_lines.extend([rule.line] * len(rule.patterns))
            chosen.add(index)
        carve: dict[int, list[str]] = {}
        for q in rule.patterns:
            hits = [(index, p) for index, p in allows.near(q) if index not in chosen and may_overlap(p, q)]
            # A carve-out from a few lanes is filed as is (one shared pattern, compiled once);
            # one from many lanes is cut down to each lane's folder, so it is not tested on
            # every path below q's folder once per lane.
            cut_at = depths(hits, len(shape(q)[1])) if len({index for index, _ in hits}) > FEW else {}
            for index, p in hits:
                cut = narrow(p, q, cut_at[p]) if cut_at else q
                if cut not in carve.setdefault(index, []):
                    carve[index].append(cut)
        for index, cuts in carve.items():
            for cut in cuts:
                lanes[index].deny.append(cut)
                lanes[index].deny_lines.append(rule.line)
                denies.add(cut, index)
        for index in chosen:
            for q in rule.patterns:
                allows.add(q, index)
    for lane in lanes:
        lane.allow, lane.allow_lines = compact(lane.allow, lane.allow_lines)
        lane.deny, lane.deny_lines = compact(lane.deny, lane.deny_lines)
    return lanes


def _clean(text: str) -> str:
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:90]
    return out or "owner"


def _names(owner: str) -> tuple[str, str]:
    """(short, long) id candidates: '@org/team' -> team, org-team; 'a@x.io' -> a, a-x.io."""
    if owner.startswith("@"):
        handle = owner[1:]
        org, _, team = handle.partition("/")
        return (_clean(team), _clean(f"{org}-{team}")) if team else (_clean(org), _clean(org))
    local, _, domain = owner.partition("@")
    return _clean(local), _clean(f"{local}-{domain}")


def name_lanes(lanes: list[Lane], taken: set[str]) -> None:
    """Give every lane a valid, deterministic worker id (one base id per owner, '.N' per extra lane)."""
    owners = sorted({lane.owner for lane in lanes})
    shorts = Counter(_names(o)[0] for o in owners)
    base: dict[str, str] = {}
    for owner in owners:
        short, long = _names(owner)
        wanted = short if shorts[short] == 1 and short not in RESERVED else long
        candidate, n = wanted, 2
        while candidate in taken or candidate in RESERVED:
            candidate, n = f"{wanted}-{n}", n + 1
        taken.add(candidate)
        base[owner] = candidate
    for lane in lanes:
        if lane.number == 1:
            lane.worker_id = base[lane.owner]
            continue
        candidate, n = f"{base[lane.owner]}.{lane.number}", lane.number
        while candidate in taken:
            n += 1
            candidate = f"{base[lane.owner]}.{n}"
        taken.add(candidate)
        lane.worker_id = candidate


def import_codeowners(text: str, source: str) -> Imported:
    """Parse, translate and assign lanes; worker ids are set on each lane."""
    rules, issues, spelling = parse(text)
    lanes = assign(rules)
    name_lanes(lanes, set(RESERVED))
    return Imported(lanes=lanes, rules=rules, issues=issues, source=source, spelling=spelling)
