"""Render a commented ``lanewarden.yaml`` draft, and check it the way the loader will.

Drafts are written by hand rather than by ``yaml.dump`` so that every worker,
pattern and contract can carry a comment saying why it is there: the draft is
meant to be reviewed line by line. Every pattern is double-quoted (an
unquoted ``*`` starts a YAML alias) and every id that YAML could read as
something else (``no``, ``1.0``) is quoted too.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache

import yaml

from lanewarden.workers.errors import LanewardenError, PolicyError
from lanewarden.workers.loader import parse
from lanewarden.workers.policy import Policy

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9._-]*")


@dataclass
class DraftWorker:
    id: str
    description: str | None = None
    cwd: str | None = None
    comments: list[str] = field(default_factory=list)  # above the worker
    patterns: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)  # field -> [(pattern, note)]
    commented: list[str] = field(default_factory=list)  # suggestions left commented out


@dataclass
class DraftContract:
    id: str
    paths: list[str]
    comments: list[str] = field(default_factory=list)
    producers: list[str] = field(default_factory=list)
    consumers: list[str] = field(default_factory=list)


@cache
def key(text: str) -> str:
    """A mapping key or id as YAML reads it back unchanged (cached: imports quote thousands)."""
    if _PLAIN.fullmatch(text) and yaml.safe_load(text) == text:
        return text
    return quote(text)


def quote(text: str) -> str:
    # JSON strings are YAML double-quoted scalars; ensure_ascii=False keeps names readable.
    return json.dumps(text, ensure_ascii=False)


def _comment(text: str, indent: str) -> str:
    # Leading spaces are kept: commented-out YAML blocks must stay indented.
    return f"{indent}# {' '.join(text.splitlines())}".rstrip()


@dataclass
class DraftOwnership:
    """Ordered ownership rules: the CODEOWNERS text as a literal block, and each owner's worker."""

    source: str
    flavour: str
    owners: list[tuple[str, str]]  # (owner as written, worker id)
    text: str
    comments: list[str] = field(default_factory=list)


def render_ownership(own: DraftOwnership) -> list[str]:
    out = [_comment(c, "") if c else "#" for c in own.comments]
    out += ["ownership:", f"  source: {quote(own.source)}", f"  flavour: {own.flavour}", "  owners:"]
    out += [f"    {quote(owner)}: {key(worker)}" for owner, worker in own.owners]
    # A literal block keeps every line as written; '|+' would keep trailing blank lines, not needed.
    out.append("  rules: |")
    # Lines are stripped (CODEOWNERS ignores the white space around a line): a first line indented
    # deeper than the next would change the block's indentation.
    out += [f"    {line.strip()}" if line.strip() else "" for line in own.text.splitlines()]
    return out


def render(header: list[str], root: str, workers: list[DraftWorker], contracts: list[DraftContract],
           trailer: list[str], ownership: DraftOwnership | None = None,
           shared: list[tuple[str, str]] | None = None) -> str:
    """The policy text: header comments, version/root, workers, contracts, trailing comments."""
    out = [_comment(line, "") if line else "#" for line in header]
    out += ["version: 1", f"root: {key(root)}", "workers:"]
    for worker in workers:
        out += [_comment(c, "  ") for c in worker.comments]
        out.append(f"  {key(worker.id)}:")
        if worker.description is not None:
            out.append(f"    description: {quote(worker.description)}")
        if worker.cwd is not None:
            out.append(f"    cwd: {quote(worker.cwd)}")
        for name, items in worker.patterns.items():
            if not items:
                continue
            if all(note is None for _, note in items) and sum(len(p) + 4 for p, _ in items) < 80:
                out.append(f"    {name}: [{', '.join(quote(p) for p, _ in items)}]")
                continue
            out.append(f"    {name}:")
            for pattern, note in items:
                out.append(f"      - {quote(pattern)}" + (f"  # {' '.join(note.split())}" if note else ""))
        if not any(worker.patterns.values()):
            out.append("    allow: []")
        out += [_comment(c, "    ") for c in worker.commented]
    if contracts:
        out.append("contracts:")
        for contract in contracts:
            out += [_comment(c, "  ") for c in contract.comments]
            out.append(f"  {key(contract.id)}:")
            out.append(f"    paths: [{', '.join(quote(p) for p in contract.paths)}]")
            out.append(f"    producers: [{', '.join(key(p) for p in contract.producers)}]")
            out.append(f"    consumers: [{', '.join(key(c) for c in contract.consumers)}]")
    if shared:
        out += ["# Files most commits only add lines to (read from git history): any worker may add lines;",
                "# any other change stays out of its lane (docs/policy.md \"Shared append-only files\").",
                "shared:", "  append_only:"]
        out += [f"    - {quote(path)}  # {note}" for path, note in shared]
    if ownership is not None:
        out += render_ownership(ownership)
    out += [_comment(line, "") if line else "#" for line in trailer]
    return "\n".join(out) + "\n"


def validate(text: str, source: str) -> Policy:
    """Load the draft exactly as ``lanewarden`` will; a draft that does not load is a bug here."""
    try:
        return parse(text.encode("utf-8"), source)
    except PolicyError as exc:
        raise LanewardenError(f"the generated draft does not validate (a lanewarden bug):\n{exc.message}") from None
