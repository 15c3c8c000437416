"""Who receives a handoff, and why; what is at risk, and how to validate it.

Routing follows ownership (ARCHITECTURE section 3) with two overrides: a
change to the policy file always goes to the root, and a contract path goes
to the worker owning it (the contracts worker) or else to the root. Paths with
different owners split into one handoff per owner.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lanewarden.workers.layout import POLICY_FILE
from lanewarden.workers.ownership import OwnershipIndex
from lanewarden.workers.pattern import compile_pattern
from lanewarden.workers.policy import Policy


@dataclass
class Route:
    target: str
    reasons: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "; ".join(dict.fromkeys(self.reasons))


def contracts_of(policy: Policy, path: str) -> list[str]:
    return [cid for cid, c in policy.contracts.items()
            if any(compile_pattern(p).matches(path) for p in c.paths)]


def route(index: OwnershipIndex, paths: list[str]) -> list[Route]:
    policy = index.policy
    routes: dict[str, Route] = {}
    for path in paths:
        if path == POLICY_FILE:
            target, why = index.root_worker, "the policy file: policy changes go to the root"
        else:
            exp = index.explain(path)
            contracts = contracts_of(policy, path)
            if contracts and exp.writers:
                target, why = exp.owner, f"contract {', '.join(contracts)}: its owner {exp.owner} ({exp.rule})"
            elif contracts:
                target, why = index.root_worker, f"contract {', '.join(contracts)} has no owning worker: root"
            elif exp.writers:
                target, why = exp.owner, f"owned by {exp.owner} ({exp.rule})"
                if exp.tie:
                    why += f"; ownership tie with {', '.join(t for t in exp.tie if t != exp.owner)}"
            else:
                target, why = index.root_worker, "owned by no worker: root"
        entry = routes.setdefault(target, Route(target))
        entry.paths.append(path)
        entry.reasons.append(why)
    return [routes[t] for t in sorted(routes)]


@dataclass(frozen=True)
class Impact:
    contracts: tuple[str, ...]
    services: tuple[str, ...]
    suites: tuple[str, ...]
    risk: str
    commands: tuple[str, ...]


def impact(policy: Policy, target: str, source: str, paths: list[str]) -> Impact:
    """Contracts touched, the services they reach, the e2e suites covering them."""
    contracts = sorted({cid for p in paths for cid in contracts_of(policy, p)})
    services = {target, source}
    consumers: set[str] = set()
    for cid in contracts:
        consumers.update(policy.contracts[cid].consumers)
        services.update(policy.contracts[cid].producers)
    services |= consumers
    suites = sorted(sid for sid, s in policy.e2e.items() if services & set(s.services))
    parts = []
    if contracts:
        parts.append(f"contract(s) {', '.join(contracts)} stay out of step with what {source} needs; "
                     f"consumers {', '.join(sorted(consumers)) or 'none'} may break")
    parts.append(f"{source} stays blocked on work only {target} may do")
    commands = tuple(policy.e2e[s].command or f"run e2e suite {s}" for s in suites)
    return Impact(contracts=tuple(contracts), services=tuple(sorted(services)), suites=tuple(suites),
                  risk="; ".join(parts), commands=commands)
