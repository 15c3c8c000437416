"""The policy as the rest of lanewarden reads it: frozen, validated, import-light.

The file's contract is defined and validated by the pydantic models in
``workers/schema.py`` (they also give ``policy schema``). Building those
models costs tens of milliseconds on every start, which a pre-commit hook
pays each time, so the loader first tries :func:`strict_policy`: an exact,
hand-written check that accepts only documents the models accept and builds
the same values. Anything it is unsure of goes to pydantic, which decides and
reports. ``tests/test_policy_model.py`` holds the two to the same answers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from lanewarden.workers.layout import POLICY_FILE as POLICY_FILE  # re-exported

if TYPE_CHECKING:
    from lanewarden.workers.codeowners import Parsed

PATTERN_FIELDS = ("allow", "deny", "read_hints", "propose_only", "handoff_required_on")
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
ID_MAX = 100


@dataclass(frozen=True)
class Budgets:
    """Limits for one worker's change and run; None means unlimited."""

    max_files: int | None = None
    max_lines: int | None = None
    timeout_s: int | None = None
    network: bool | None = None  # false: runs of this worker get no network (issue 14)


@dataclass(frozen=True)
class Worker:
    """One service's bounded lane."""

    description: str | None = None
    cwd: str | None = None
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    read_hints: tuple[str, ...] = ()
    propose_only: tuple[str, ...] = ()
    handoff_required_on: tuple[str, ...] = ()
    budgets: Budgets = field(default_factory=Budgets)
    high_risk: bool = False
    depends_on: tuple[str, ...] = ()
    # Agent runtimes' subagent types (Claude Code/Codex ``agent_type``) that work as this worker.
    agents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contract:
    paths: tuple[str, ...]
    description: str | None = None
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    services: tuple[str, ...]
    description: str | None = None
    command: str | None = None
    results: str | None = None


@dataclass(frozen=True)
class Shared:
    """Files every worker shares on fixed terms: ``append_only`` may only grow by added lines."""

    append_only: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ownership:
    """Ordered ownership rules: a CODEOWNERS text kept as written, with its owners mapped to workers.

    ``rules`` is the CODEOWNERS file verbatim (a YAML block scalar: one rule per
    line, line numbers as in CODEOWNERS, a policy that grows with the file);
    ``owners`` maps each owner as written (compared without case) to a worker.
    """

    source: str | None = None
    flavour: str = "github"  # "github" or "gitlab": how the text is read
    owners: dict[str, str] = field(default_factory=dict)
    rules: str = ""

    @cached_property
    def parsed(self) -> Parsed:
        from lanewarden.workers.codeowners import read
        return read(self.rules, self.flavour)

    def worker_of(self, owner: str) -> str | None:
        """The worker an owner (as compared: lower case) maps to."""
        return self._owner_map.get(owner.lower())

    @cached_property
    def _owner_map(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.owners.items()}


@dataclass(frozen=True)
class Reviewer:
    """An external reviewer command; it can only ever add a veto or an abstention."""

    command: tuple[str, ...]
    timeout_s: int = 30
    description: str | None = None
    workers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    version: int
    root: str
    workers: dict[str, Worker]
    contracts: dict[str, Contract] = field(default_factory=dict)
    e2e: dict[str, Suite] = field(default_factory=dict)
    reviewers: dict[str, Reviewer] = field(default_factory=dict)
    shared: Shared = field(default_factory=Shared)
    ownership: Ownership = field(default_factory=Ownership)


class _Unsure(Exception):
    """The document is not of the plain shape: let pydantic decide and explain."""


def _is_id(value: Any) -> bool:
    return type(value) is str and len(value) <= ID_MAX and ID.fullmatch(value) is not None


def _text(value: Any, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if type(value) is not str:
        raise _Unsure
    return value


def _strings(value: Any, *, ids: bool = False, non_empty: bool = False) -> tuple[str, ...]:
    if type(value) is not list or (non_empty and not value):
        raise _Unsure
    for item in value:
        if type(item) is not str or (ids and not _is_id(item)):
            raise _Unsure
    return tuple(value)


def _mapping(value: Any, allowed: frozenset[str]) -> dict[str, Any]:
    if type(value) is not dict or not set(value) <= allowed:
        raise _Unsure
    return value


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < 1:
        raise _Unsure
    return value


_TOP = frozenset({"version", "root", "workers", "contracts", "e2e", "reviewers", "shared", "ownership"})
_OWNERSHIP = frozenset({"source", "flavour", "owners", "rules"})
FLAVOURS = ("github", "gitlab")
_SHARED = frozenset({"append_only"})
_WORKER = frozenset({"description", "cwd", *PATTERN_FIELDS, "budgets", "high_risk", "depends_on", "agents"})
_REVIEWER = frozenset({"description", "command", "timeout_s", "workers"})
_BUDGETS = frozenset({"max_files", "max_lines", "timeout_s", "network"})
_CONTRACT = frozenset({"description", "paths", "producers", "consumers"})
_SUITE = frozenset({"description", "services", "command", "results"})


def _worker(raw: Any) -> Worker:
    w = _mapping(raw, _WORKER)
    budgets = Budgets()
    if "budgets" in w:
        b = _mapping(w["budgets"], _BUDGETS)
        network = b.get("network")
        if network is not None and type(network) is not bool:
            raise _Unsure
        budgets = Budgets(_count(b.get("max_files")), _count(b.get("max_lines")), _count(b.get("timeout_s")),
                          network)
    high_risk = w.get("high_risk", False)
    if type(high_risk) is not bool:
        raise _Unsure
    lists = {name: _strings(w[name]) for name in PATTERN_FIELDS if name in w}
    return Worker(description=_text(w.get("description")), cwd=_text(w.get("cwd")), budgets=budgets,
                  high_risk=high_risk, depends_on=_strings(w.get("depends_on", []), ids=True),
                  agents=_strings(w.get("agents", []), ids=True), **lists)


def _ownership(raw: Any) -> Ownership:
    """The ``ownership`` block (its text is read, line by line, by the loader's checks)."""
    o = _mapping(raw, _OWNERSHIP)
    flavour = o.get("flavour", "github")
    owners = _mapping(o.get("owners", {}), frozenset(o.get("owners") or {}))
    if flavour not in FLAVOURS or type(o.get("rules", "")) is not str:
        raise _Unsure
    if not all(type(k) is str and k and _is_id(v) for k, v in owners.items()):
        raise _Unsure
    return Ownership(source=_text(o.get("source")), flavour=flavour, owners=dict(owners), rules=o.get("rules", ""))


def strict_policy(data: Any) -> Policy | None:
    """The policy when ``data`` has exactly the plain shape the schema accepts; else None."""
    try:
        top = _mapping(data, _TOP)
        if not {"version", "root", "workers"} <= set(top):
            raise _Unsure
        if type(top["version"]) is not int or top["version"] != 1 or not _is_id(top["root"]):
            raise _Unsure
        workers_raw = _mapping(top["workers"], frozenset(top["workers"]) if type(top["workers"]) is dict
                               else frozenset())
        if not workers_raw or not all(_is_id(k) for k in workers_raw):
            raise _Unsure
        workers = {k: _worker(v) for k, v in workers_raw.items()}
        contracts: dict[str, Contract] = {}
        for cid, raw in _mapping(top.get("contracts", {}), frozenset(top.get("contracts") or {})).items():
            c = _mapping(raw, _CONTRACT)
            if not _is_id(cid) or "paths" not in c:
                raise _Unsure
            contracts[cid] = Contract(paths=_strings(c["paths"], non_empty=True),
                                      description=_text(c.get("description")),
                                      producers=_strings(c.get("producers", []), ids=True),
                                      consumers=_strings(c.get("consumers", []), ids=True))
        suites: dict[str, Suite] = {}
        for sid, raw in _mapping(top.get("e2e", {}), frozenset(top.get("e2e") or {})).items():
            s = _mapping(raw, _SUITE)
            if not _is_id(sid) or "services" not in s:
                raise _Unsure
            suites[sid] = Suite(services=_strings(s["services"], ids=True, non_empty=True),
                                description=_text(s.get("description")), command=_text(s.get("command")),
                                results=_text(s.get("results")))
        reviewers: dict[str, Reviewer] = {}
        for rid, raw in _mapping(top.get("reviewers", {}), frozenset(top.get("reviewers") or {})).items():
            r = _mapping(raw, _REVIEWER)
            timeout = _count(r.get("timeout_s", 30))
            if not _is_id(rid) or "command" not in r or timeout is None:
                raise _Unsure
            reviewers[rid] = Reviewer(command=_strings(r["command"], non_empty=True), timeout_s=timeout,
                                      description=_text(r.get("description")),
                                      workers=_strings(r.get("workers", []), ids=True))
        shared = _mapping(top.get("shared", {}), _SHARED)
        ownership = _ownership(top["ownership"]) if "ownership" in top else Ownership()
        return Policy(version=1, root=top["root"], workers=workers, contracts=contracts, e2e=suites,
                      reviewers=reviewers, shared=Shared(append_only=_strings(shared.get("append_only", []))),
                      ownership=ownership)
    except (_Unsure, TypeError):
        return None
