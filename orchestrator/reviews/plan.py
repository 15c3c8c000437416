"""``plan``: which workers, contracts and e2e suites a range affects, also as a CI matrix.

A worker is affected when it owns a changed path, produces or consumes a
changed contract, or depends (transitively) on one that does. The policy comes
from the base, like every review.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanewarden.orchestrator.reviews import graph as g
from lanewarden.orchestrator.reviews import impact
from lanewarden.orchestrator.reviews.impact import Validation
from lanewarden.orchestrator.reviews.inputs import collect
from lanewarden.workers.git import Git

SCHEMA = "lanewarden.plan/1"


@dataclass(frozen=True)
class PlannedWorker:
    worker: str
    cwd: str | None
    reasons: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"worker": self.worker, "cwd": self.cwd, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Plan:
    base: str | None
    head: str | None
    paths: int
    workers: tuple[PlannedWorker, ...]
    contracts: tuple[str, ...]
    suites: tuple[Validation, ...]

    def as_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "base": self.base, "head": self.head, "changed_paths": self.paths,
                "workers": [w.as_json() for w in self.workers], "contracts": list(self.contracts),
                "e2e": [s.as_json() for s in self.suites]}

    def github_matrix(self) -> str:
        """``{"include": [{"worker": ..., "cwd": ...}, ...]}`` on one line, for ``fromJSON`` in a workflow."""
        include = [{"worker": w.worker, "cwd": w.cwd or "."} for w in self.workers]
        return json.dumps({"include": include}, separators=(",", ":"))


def plan(git: Git, base: str, head: str | None = None, policy_file: Path | None = None) -> Plan:
    """The workers, contracts and suites the range merge-base(base, head)..head affects
    (``policy_file``: a dry run with an untrusted policy)."""
    subject = collect(git, base=base, head=head, handoffs=False, policy_file=policy_file)
    policy = subject.loaded.policy
    graph = g.build(policy)
    review = impact.review(git, subject, graph)
    owned = Counter(review.owners[p] for p in subject.paths)
    reasons: dict[str, list[str]] = {}
    for owner, count in sorted(owned.items()):
        reasons.setdefault(owner, []).append(f"owns {count} changed path(s)")
    for c in review.contracts:
        for p in c.producers:
            reasons.setdefault(p, []).append(f"produces contract {c.contract}")
        for s in c.consumers:
            reasons.setdefault(s, []).append(f"consumes contract {c.contract}")
        for d, via in c.dependents:
            reasons.setdefault(d, []).append(f"depends on {via} (contract {c.contract})")
    workers = tuple(PlannedWorker(w, policy.workers[w].cwd if w in policy.workers else None,
                                  tuple(dict.fromkeys(rs)))
                    for w, rs in sorted(reasons.items()))
    suites = tuple(Validation(sid, policy.e2e[sid].command, tuple(sorted(svcs)))
                   for sid, svcs in sorted(g.suites_of(graph, review.affected_services).items()))
    return Plan(base=subject.base, head=subject.head, paths=len(subject.paths), workers=workers,
                contracts=tuple(c.contract for c in review.contracts), suites=suites)

