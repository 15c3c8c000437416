"""Secret-like content out of every piece of evidence lanewarden writes.

The ledger is a hash chain pushed to other clones, handoffs travel with
``handoffs sync``, attempt diffs and logs sit on disk: none of them can be
cleaned after the fact. So whatever the secrets guard flags is redacted before
it is written anywhere. A redacted file keeps its diff header (path, modes,
blob ids), its hunk headers, the rule that flagged it and the sha256 of its
original diff section; its lines become ``[redacted: RULE, sha256:...]``.
Well-known tokens elsewhere in a patch are replaced one by one, each with the
sha256 of the token. A redacted patch is evidence, never applied: its
sections no longer apply (replay says so, ``recorder.replay``).
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lanewarden.guards import secrets
from lanewarden.guards.changes import Change
from lanewarden.guards.sections import header_path
from lanewarden.guards.verdict import Verdict

_HEAD = b"diff --git "
_HUNK = b"@@"
_BINARY = (b"GIT binary patch", b"Binary files ")


@dataclass(frozen=True)
class Finding:
    """A path the secrets guard flagged, and why."""

    path: str
    rule: str


@dataclass(frozen=True)
class Redaction:
    """What was taken out of a patch: the path, the rule, the sha256 of what was removed."""

    path: str
    rule: str
    sha256: str
    whole_file: bool  # the file's content was redacted, not just a token in it

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "rule": self.rule, "sha256": self.sha256, "whole_file": self.whole_file}


@dataclass(frozen=True)
class Redacted:
    patch: bytes
    redactions: tuple[Redaction, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.path for r in self.redactions))

    def manifest(self) -> bytes:
        """The redactions as JSON (a ledger attachment next to the redacted patch)."""
        return json.dumps([r.as_json() for r in self.redactions], sort_keys=True, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8", "surrogateescape")


def findings(verdict: Verdict) -> tuple[Finding, ...]:
    """The paths the verdict's secrets guard flagged (from the per-path reasons it left).

    A file a reviewed exception (``secrets.allow``) allowed is public by design, except
    when what was allowed is a well-known token: a token stays a secret in evidence.
    """
    out: list[Finding] = []
    for change in verdict.changes:
        rules = [r[len(secrets.MARK):] for r in change.reasons if r.startswith(secrets.MARK)]
        rules += [f"a {rule} allowed by policy" for rule in map(secrets.allowed_rule, change.reasons)
                  if rule is not None and rule in secrets.TOKEN_RULES]
        if rules:
            out.append(Finding(change.path, "; ".join(rules)))
    return tuple(out)


def public(verdict: Verdict) -> frozenset[str]:
    """Paths secret-like by name that the trusted policy's ``secrets.allow`` made public (see ``findings``)."""
    flagged = {f.path for f in findings(verdict)}
    return frozenset(c.path for c in verdict.changes if c.path not in flagged
                     and any(secrets.allowed_rule(r) is not None for r in c.reasons))


def scan(changes: Sequence[Change]) -> tuple[Finding, ...]:
    """The secrets guard's own checks on changes no verdict judged (a proposed handoff's patch)."""
    out: list[Finding] = []
    for change in changes:
        found = secrets.problems(change)
        if found:
            out.append(Finding(change.path, "; ".join(found)))
    return tuple(out)


def is_flagged(path: str, found: Iterable[Finding]) -> bool:
    """Flagged by the verdict, or secret-like by its name alone (in case the guard itself crashed)."""
    return secrets.file_problem(path) is not None or any(f.path == path for f in found)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _mark(rule: str, digest: str) -> bytes:
    return f"[redacted: {rule}, sha256:{digest}]".encode("utf-8", "surrogateescape")


def _sections(patch: bytes) -> list[bytes]:
    """The patch cut before every ``diff --git`` line (a hunk line never starts with it)."""
    cuts = [0] if patch.startswith(_HEAD) else []
    at = patch.find(b"\n" + _HEAD)
    while at >= 0:
        cuts.append(at + 1)
        at = patch.find(b"\n" + _HEAD, at + 1)
    if not cuts or cuts[0] != 0:
        cuts.insert(0, 0)
    return [patch[a:b] for a, b in zip(cuts, [*cuts[1:], len(patch)], strict=False) if a != b]


def _whole(section: bytes, rule: str) -> tuple[bytes, str]:
    """Keep the header and hunk headers; every content line and any binary payload become one mark."""
    digest = _sha(section)
    mark = _mark(rule, digest)
    out: list[bytes] = []
    in_body = False
    for line in section.split(b"\n"):
        if line.startswith(_HUNK):
            in_body = True
            out.append(line)
            out.append(b"+" + mark)
        elif line.startswith(_BINARY):
            out.append(b"GIT binary patch " + mark)
            break  # the rest is the encoded content
        elif not in_body:
            out.append(line)
    text = b"\n".join(out)
    return (text + b"\n" if section.endswith(b"\n") else text), digest


def redact(patch: bytes, found: Iterable[Finding], *, everywhere: bool = True,
           allowed: frozenset[str] = frozenset()) -> Redacted:
    """``patch`` with the flagged files' content and every well-known token redacted.

    ``everywhere`` False leaves tokens on removed and context lines (a handoff that
    deletes a leaked key must still apply); tokens on added lines always go.
    ``allowed``: paths a verdict judged public by the trusted policy (``public``): their
    content is kept, not redacted by name; well-known tokens in them still are.
    """
    rules = {f.path: f.rule for f in found}
    if not patch:
        return Redacted(patch, ())
    out: list[bytes] = []
    done: list[Redaction] = []
    for section in _sections(patch):
        path = _section_path(section)
        rule = rules.get(path) if path else None
        if rule is None and path and path not in allowed:
            rule = secrets.file_problem(path)  # by name alone: even when the guard crashed
        if rule is not None:
            text, digest = _whole(section, rule)
            out.append(text)
            done.append(Redaction(path, rule, digest, True))
            continue
        if not secrets.might_hold_token(section):
            out.append(section)
            continue
        lines = section.split(b"\n")
        for i, line in enumerate(lines):
            if everywhere or (line.startswith(b"+") and not line.startswith(b"+++ ")):
                lines[i] = _swap_tokens(line, path, done)
        out.append(b"\n".join(lines))
    return Redacted(b"".join(out), tuple(done))


def _swap_tokens(line: bytes, path: str, done: list[Redaction]) -> bytes:
    def swap(match: re.Match[bytes]) -> bytes:
        kind, digest = secrets.token_kind(match), _sha(match.group(0))
        done.append(Redaction(path, kind, digest, False))
        return _mark(kind, digest)

    return secrets.token_pattern().sub(swap, line)


def without(patch: bytes, paths: Iterable[str]) -> bytes:
    """``patch`` minus the sections of ``paths`` (what a replay can still apply)."""
    drop = set(paths)
    return b"".join(s for s in _sections(patch) if _section_path(s) not in drop)


def by_name(patch: bytes) -> tuple[Finding, ...]:
    """Files of ``patch`` that are secret-like by name alone (an interrupted run has no verdict)."""
    out = []
    for section in _sections(patch):
        path = _section_path(section)
        problem = secrets.file_problem(path) if path else None
        if problem is not None:
            out.append(Finding(path, problem))
    return tuple(out)


def _section_path(section: bytes) -> str:
    """The path a ``diff --git`` section is about ("" for anything before the first one)."""
    if not section.startswith(_HEAD):
        return ""
    nl = section.find(b"\n")
    return header_path(section[:nl] if nl >= 0 else section)


def scrub(text: str) -> str:
    """A log or message with every well-known token replaced (crash logs, agent logs)."""
    raw = text.encode("utf-8", "surrogateescape")
    if not secrets.might_hold_token(raw):
        return text
    return redact(raw, ()).patch.decode("utf-8", "surrogateescape")
