"""Contract impact: for each contract whose files change, who moves with it and what is at risk.

A contract is in the review when one of its paths changes (in a range or on a
worker branch) or is proposed to change (in a pending handoff). For each one:
its producers and direct consumers, the services that depend on them
(transitively, along ``depends_on``: one traversal for all contracts), the
service mappings in ``<cwd>/llm-context/contracts.md`` that name it and are not
updated in the same review (stale), the e2e suites that must run, and a risk
level with its reasons.

Contract chains are not followed: a consumer is not assumed to change the
contracts it produces. If it does, that is a contract change of its own and
appears in the review as such.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from lanewarden.orchestrator.reviews import graph as g
from lanewarden.orchestrator.reviews.breaking import Compat, Finding, findings, worst
from lanewarden.orchestrator.reviews.consumers import Consumer
from lanewarden.orchestrator.reviews.copies import Copy
from lanewarden.orchestrator.reviews.inputs import ChangeRef, Subject
from lanewarden.workers.git import Git
from lanewarden.workers.ownership import OwnershipIndex
from lanewarden.workers.pattern import Pattern, compile_pattern, directory_prefix
from lanewarden.workers.policy import Policy

SCHEMA = "lanewarden.contract-impact/1"
MAPPING_FILE = "llm-context/contracts.md"
RISK_ORDER = {"low": 0, "medium": 1, "high": 2}

_HEADING = re.compile(r"^##\s+(.+?)\s*$")
_FIELD = re.compile(r"^\s*[-*]\s*([A-Za-z ]+?)\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class Mapping:
    """A section of a service's ``llm-context/contracts.md`` that names a contract."""

    service: str
    file: str
    section: str
    role: str | None
    stale_when: str | None
    updated: bool  # the file changes in the same review

    def as_json(self) -> dict[str, Any]:
        return {"service": self.service, "file": self.file, "section": self.section, "role": self.role,
                "stale_when": self.stale_when, "updated": self.updated, "stale": not self.updated}


@dataclass(frozen=True)
class Validation:
    suite: str
    command: str | None
    services: tuple[str, ...]  # the affected services it exercises

    def as_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "command": self.command, "services": list(self.services)}


@dataclass(frozen=True)
class ContractImpact:
    contract: str
    changes: tuple[ChangeRef, ...]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    dependents: tuple[tuple[str, str], ...]  # (service, the service it depends on that brought it in)
    mappings: tuple[Mapping, ...]
    unmapped: tuple[str, ...]  # producers/consumers with no mapping section for this contract
    validations: tuple[Validation, ...]
    risk: str
    risk_reasons: tuple[str, ...]
    copies: tuple[Copy, ...] = ()  # copies of its files kept inside services
    breaking: tuple[Finding, ...] = ()  # each changed file: breaking, compatible or unknown (breaking.py)

    @property
    def compat(self) -> str | None:
        """The worst class of its changes: breaking > unknown > compatible."""
        found = worst(self.breaking)
        return found.value if found else None

    @property
    def stale(self) -> tuple[Mapping, ...]:
        return tuple(m for m in self.mappings if not m.updated)

    @property
    def services(self) -> tuple[str, ...]:
        """Everything this change reaches: producers, consumers and dependents."""
        return tuple(sorted({*self.producers, *self.consumers, *(d for d, _ in self.dependents)}))

    def as_json(self) -> dict[str, Any]:
        return {"contract": self.contract, "changes": [c.as_json() for c in self.changes],
                "producers": list(self.producers), "consumers": list(self.consumers),
                "dependents": [{"service": s, "via": v} for s, v in self.dependents],
                "mappings": [m.as_json() for m in self.mappings],
                "stale_mappings": [m.as_json() for m in self.stale], "unmapped": list(self.unmapped),
                "validations": [v.as_json() for v in self.validations],
                "risk": self.risk, "risk_reasons": list(self.risk_reasons),
                "copies": [c.as_json() for c in self.copies],
                "compatibility": self.compat, "breaking": [f.as_json() for f in self.breaking]}


@dataclass(frozen=True)
class ImpactReview:
    """The contract-impact review (``review contracts``)."""

    policy_rev: str | None
    base: str | None
    head: str | None
    sources: tuple[str, ...]
    contracts: tuple[ContractImpact, ...]
    changed_services: tuple[str, ...]  # owners of the paths that really change (range, branches)
    notes: tuple[str, ...] = field(default=())
    copies: tuple[Copy, ...] = ()  # every copy of every contract, identical or drifted
    inferred: tuple[Consumer, ...] | None = None  # with --infer: consumers found in the tree
    # What an e2e suite must exercise: owners of changed non-contract paths and the consumers of
    # changed contracts (a contract's own folder owner and the root lane are not services to test).
    must_cover: tuple[str, ...] = ()
    proposed_services: tuple[str, ...] = ()  # owners of paths only proposed to change (pending handoffs)
    # Each reviewed path's owner, looked up once here for every caller (plan counts them): not output.
    owners: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def affected_services(self) -> tuple[str, ...]:
        """Owners of changed paths plus every service a changed contract reaches."""
        return tuple(sorted({*self.changed_services, *self.proposed_services,
                             *(s for c in self.contracts for s in c.services)}))

    @property
    def stale(self) -> tuple[Mapping, ...]:
        return tuple(m for c in self.contracts for m in c.stale)

    @property
    def exit_code(self) -> int:
        """3 (revision) while a mapping is stale: the services' context no longer matches."""
        return 3 if self.stale else 0

    def as_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "policy_rev": self.policy_rev, "base": self.base, "head": self.head,
                "sources": list(self.sources), "changed_services": list(self.changed_services),
                "proposed_services": list(self.proposed_services),
                "affected_services": list(self.affected_services),
                "contracts": [c.as_json() for c in self.contracts],
                "stale_mappings": len(self.stale), "notes": list(self.notes), "exit_code": self.exit_code,
                "copies": [c.as_json() for c in self.copies],
                "inferred_consumers": None if self.inferred is None else [c.as_json() for c in self.inferred]}


def mapping_file(policy: Policy, service: str) -> str | None:
    """Where a service keeps its contract map: ``<cwd>/llm-context/contracts.md`` (None without a cwd)."""
    cwd = policy.workers[service].cwd
    if not cwd:
        return None
    return f"{cwd.strip('/')}/{MAPPING_FILE}"


def parse_mapping(text: str) -> list[tuple[str, dict[str, list[str]]]]:
    """The ``## section`` headings of a mapping file with their ``- key: value`` fields."""
    sections: list[tuple[str, dict[str, list[str]]]] = []
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            sections.append((heading.group(1).strip("` "), {}))
            continue
        found = _FIELD.match(line)
        if found and sections:
            sections[-1][1].setdefault(found.group(1).strip().lower(), []).append(found.group(2))
    return sections


def _names(policy: Policy, cid: str, section: str, fields: dict[str, list[str]]) -> bool:
    """A section names a contract by its id as heading, or by a ``path:`` one of its patterns matches."""
    if section == cid:
        return True
    patterns = [compile_pattern(p) for p in policy.contracts[cid].paths]
    for value in fields.get("path", []) + fields.get("paths", []):
        for part in value.replace("`", "").split(","):
            if part.strip() and any(p.matches(part.strip()) for p in patterns):
                return True
    return False


def read_mappings(git: Git, policy: Policy, rev: str | None, contracts: list[str],
                  changed: frozenset[str]) -> dict[str, list[Mapping]]:
    """contract -> the mapping sections naming it, read from ``rev`` with one ``cat-file``."""
    files = {w: f for w in sorted(policy.workers) if (f := mapping_file(policy, w)) is not None}
    out: dict[str, list[Mapping]] = {c: [] for c in contracts}
    if rev is None or not files or not contracts:
        return out
    blobs = git.read_paths([f"{rev}:{path}" for path in files.values()])
    for (service, path), blob in zip(files.items(), blobs, strict=False):
        if blob is None:
            continue
        for section, fields in parse_mapping(blob.decode("utf-8", "replace")):
            for cid in contracts:
                if _names(policy, cid, section, fields):
                    role = next(iter(fields.get("role", [])), None)
                    stale_when = next(iter(fields.get("stale when", [])), None)
                    out[cid].append(Mapping(service, path, section, role, stale_when, path in changed))
    return out


def contracts_touched(policy: Policy, changes: tuple[ChangeRef, ...]) -> dict[str, list[ChangeRef]]:
    """contract -> the changes to its paths (a path may belong to several contracts).

    Patterns are filed under their wildcard-free directory prefix, so a path is
    tested only against the contracts filed along its own folders (500
    contracts cost a few pattern tests per path, not 500).
    """
    filed: dict[tuple[str, ...], list[tuple[str, Pattern]]] = {}
    for cid, c in policy.contracts.items():
        for text in c.paths:
            filed.setdefault(directory_prefix(text), []).append((cid, compile_pattern(text)))
    out: dict[str, list[ChangeRef]] = {}
    along: dict[str, list[tuple[str, Pattern]]] = {}  # folder -> the patterns filed on the way down to it
    for change in changes:
        folder, _, _ = change.path.rpartition("/")
        candidates = along.get(folder)
        if candidates is None:
            parts = tuple(folder.split("/")) if folder else ()
            candidates = along[folder] = [item for depth in range(len(parts) + 1)
                                          for item in filed.get(parts[:depth], ())]
        # A literal pattern naming the file itself is filed under the whole path.
        mine = filed.get(tuple(change.path.split("/")), ()) if filed else ()
        found = {cid for cid, pattern in (*candidates, *mine) if pattern.matches(change.path)}
        for cid in sorted(found):
            out.setdefault(cid, []).append(change)
    return out


def _risk(policy: Policy, cid: str, changes: list[ChangeRef], services: set[str],
          consumers: tuple[str, ...], dependents: int, stale: int,
          validations: list[Validation], copies: list[Copy],
          judged: tuple[Finding, ...] = ()) -> tuple[str, list[str]]:
    reasons: list[tuple[str, str]] = []
    for f in judged:
        if f.compat == Compat.BREAKING:
            suites = sorted({v.suite for v in validations if set(v.services) & set(consumers)})
            reasons.append(("high", f"breaking change in {f.path}: {f.reasons[0]}; its consumers' e2e suites "
                                    f"are required ({', '.join(suites) or 'none exercises them'})"))
        elif f.compat == Compat.UNKNOWN:
            reasons.append(("medium", f"compatibility of {f.path} unknown: {f.reasons[0]}"))
    copy_paths = {c.path for c in copies}
    forked = sorted({c.path for c in changes if c.path in copy_paths})
    if forked:
        reasons.append(("high", f"a service's copy of the contract changed ({', '.join(forked)}): the "
                                "contract folder is the single source of truth"))
    drifted = [c.path for c in copies if not c.identical]
    if drifted:
        reasons.append(("medium", f"{len(drifted)} copy(ies) drifted from the contract: {', '.join(drifted)}"))
    deleted = sorted({c.path for c in changes if c.status == "deleted"})
    if deleted:
        reasons.append(("high", f"contract file(s) deleted: {', '.join(deleted)}"))
    risky = sorted(s for s in services if s in policy.workers and policy.workers[s].high_risk)
    if risky:
        reasons.append(("high", f"reaches high-risk service(s): {', '.join(risky)}"))
    tested = {s for v in validations for s in v.services}
    untested = sorted(set(consumers) - tested)
    if untested:
        reasons.append(("high", f"no e2e suite exercises consumer(s) {', '.join(untested)}"))
    if consumers:
        reasons.append(("medium", f"{len(consumers)} consumer(s) must move with it"))
    if dependents:
        reasons.append(("medium", f"{dependents} transitive dependent(s)"))
    if stale:
        reasons.append(("medium", f"{stale} stale llm-context mapping(s)"))
    if not reasons:
        return "low", ["no consumers and no dependents: the change stays with its producers"]
    level = max((r[0] for r in reasons), key=RISK_ORDER.__getitem__)
    return level, [f"{lvl}: {text}" for lvl, text in reasons]


def review(git: Git, subject: Subject, graph: nx.DiGraph | None = None, *, infer: bool = False) -> ImpactReview:
    """The contract-impact review of a subject (one dependents traversal for every contract).

    Copies of contracts inside services are found in the reviewed tree; a
    change to a copy counts as a change to its contract. With ``infer`` the
    consumers evident in the tree are listed too (orchestrator/reviews/consumers.py).
    """
    from lanewarden.orchestrator.reviews.consumers import infer as infer_consumers
    from lanewarden.orchestrator.reviews.copies import Tree, find_copies, tree_files

    policy = subject.loaded.policy
    if graph is None:
        graph = g.build(policy)
    touched = contracts_touched(policy, subject.changes)
    files: Tree | None = None
    if subject.listing is not None and subject.listing.rev == subject.mapping_rev:
        files = subject.listing.tree()
    elif subject.mapping_rev:
        files = tree_files(git, subject.mapping_rev)
    copies = find_copies(git, policy, files) if files else []
    copy_of = {c.path: c.contract for c in copies}
    for change in subject.changes:
        cid = copy_of.get(change.path)
        if cid is not None and change not in touched.setdefault(cid, []):
            touched[cid].append(change)
    seeds: dict[str, set[str]] = {}
    for cid in touched:
        c = policy.contracts[cid]
        for svc in (*c.producers, *c.consumers):
            seeds.setdefault(g.node(g.SERVICE, svc), set()).add(cid)
    reach = g.dependents(graph, seeds)
    by_contract: dict[str, list[tuple[str, str]]] = {}
    for key, labels in reach.items():
        for cid, via in labels.items():
            by_contract.setdefault(cid, []).append((g.split(key)[1], g.split(via)[1]))
    mappings = read_mappings(git, policy, subject.mapping_rev, sorted(touched), subject.paths)
    index = OwnershipIndex(policy)
    real = {c.path for c in subject.changes if not c.proposed}
    owner = index.owners(subject.paths | real)
    changed_services = sorted({owner[p] for p in real})
    proposed_services = sorted({owner[p] for p in subject.paths - real} - set(changed_services))
    suites = g.suite_map(graph)
    order = sorted(touched)
    every = findings(git, subject, [c for cid in order for c in touched[cid]])  # one read for all contracts
    judged_of: dict[str, tuple[Finding, ...]] = {}
    at = 0
    for cid in order:
        judged_of[cid], at = every[at:at + len(touched[cid])], at + len(touched[cid])
    impacts = []
    for cid in order:
        c = policy.contracts[cid]
        direct = {*c.producers, *c.consumers}
        deps = tuple(sorted(d for d in by_contract.get(cid, []) if d[0] not in direct))
        services = direct | {d for d, _ in deps}
        validations = [Validation(sid, policy.e2e[sid].command, tuple(sorted(svcs)))
                       for sid, svcs in sorted(g.suites_of(graph, services, suites).items())]
        found = mappings[cid]
        mapped = {m.service for m in found}
        stale = [m for m in found if not m.updated]
        own_copies = [cp for cp in copies if cp.contract == cid]
        judged = judged_of[cid]
        risk, reasons = _risk(policy, cid, touched[cid], services, c.consumers, len(deps), len(stale),
                              validations, own_copies, judged)
        impacts.append(ContractImpact(
            contract=cid, changes=tuple(touched[cid]), producers=c.producers, consumers=c.consumers,
            dependents=deps, mappings=tuple(found), unmapped=tuple(sorted(direct - mapped)),
            validations=tuple(validations), risk=risk, risk_reasons=tuple(reasons), copies=tuple(own_copies),
            breaking=judged))
    in_contracts = {c.path for cs in touched.values() for c in cs}
    owners = {owner[p] for p in subject.paths if p not in in_contracts}
    must_cover = (owners | {s for cid in touched for s in policy.contracts[cid].consumers}) - {policy.root}
    notes = [] if subject.changes else ["nothing changes and nothing is proposed: no contract is affected"]
    inferred = tuple(infer_consumers(git, policy, files, copies)) if infer and files else (() if infer else None)
    return ImpactReview(policy_rev=subject.loaded.rev, base=subject.base, head=subject.head,
                        sources=subject.sources, contracts=tuple(impacts),
                        changed_services=tuple(changed_services), notes=tuple(notes), copies=tuple(copies),
                        inferred=inferred, must_cover=tuple(sorted(must_cover)),
                        proposed_services=tuple(proposed_services), owners=owner)
