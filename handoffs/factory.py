"""Handoffs from a guard verdict (with the out-of-scope patch cut per target) and from agents."""
from __future__ import annotations

from lanewarden.guards import redaction
from lanewarden.guards.verdict import Verdict
from lanewarden.handoffs.model import Action, Evidence, Handoff, Scope, Transition, Validation, handoff_id
from lanewarden.handoffs.queue import now
from lanewarden.handoffs.routing import impact, route
from lanewarden.workers.ownership import OwnershipIndex
from lanewarden.workers.policy import Policy


def _scope(policy: Policy, worker: str) -> Scope:
    w = policy.workers.get(worker)
    return Scope(allow=w.allow, deny=w.deny) if w else Scope()


def make(policy: Policy, *, source: str, target: str, routing_reason: str, problem: str, paths: list[str],
         patch: str | None, who: str, task: str | None = None, evidence_notes: tuple[str, ...] = (),
         base: str | None = None, head: str | None = None, diff_sha256: str | None = None,
         risk: str | None = None, validation: tuple[str, ...] = ()) -> Handoff:
    effect = impact(policy, target, source, paths)
    stamp = now()
    return Handoff(
        id=handoff_id(source, target, tuple(paths), problem, patch),
        source_worker=source, task=task, source_scope=_scope(policy, source), target_worker=target,
        routing_reason=routing_reason, problem=problem,
        evidence=Evidence(paths=tuple(paths), base=base, head=head, diff_sha256=diff_sha256,
                          notes=evidence_notes),
        proposed_change=patch or None, risk_if_ignored=risk or effect.risk,
        suggested_validation=Validation(commands=validation + effect.commands, e2e=effect.suites),
        contracts=effect.contracts, e2e=effect.suites, created_at=stamp, created_by=who,
        history=(Transition(who=who, when=stamp, action=Action.CREATE),))


def from_verdict(policy: Policy, verdict: Verdict, patches: dict[str, bytes], *, who: str,
                 task: str | None = None) -> list[Handoff]:
    """One handoff per target of the verdict's drafts, carrying exactly its part of the change.

    A secret-like file never becomes a handoff: the guard leaves it out of the drafts, and
    a path secret-like by its name alone is dropped here too (in case the guard crashed).
    """
    by_target: dict[str, list[str]] = {}
    classes: dict[str, set[str]] = {}
    found = redaction.findings(verdict)
    for draft in verdict.handoffs:
        kept = [p for p in draft.paths if not redaction.is_flagged(p, found)]
        if not kept:
            continue
        by_target.setdefault(draft.target_worker, []).extend(kept)
        classes.setdefault(draft.target_worker, set()).add(draft.path_class)
    index = OwnershipIndex(policy)
    out = []
    for target, paths in sorted(by_target.items()):
        reasons = "; ".join(r.reason for r in route(index, paths) if r.target == target) or \
            "routed by the guard"
        kinds = ", ".join(sorted(classes[target]))
        problem = (f"{verdict.worker} changed {len(paths)} path(s) it may not land itself ({kinds}): "
                   + ", ".join(paths[:10]) + (" ..." if len(paths) > 10 else ""))
        # Tokens on added lines go (removed lines stay: a handoff deleting a leaked key must apply).
        clean = redaction.redact(patches.get(target, b""), found, everywhere=False).patch
        patch = clean.decode("utf-8", "surrogateescape")
        out.append(make(policy, source=verdict.worker, target=target, routing_reason=reasons, problem=problem,
                        paths=paths, patch=patch, who=who, task=task, base=verdict.base,
                        head=verdict.head or verdict.head_tree, diff_sha256=verdict.diff_sha256,
                        evidence_notes=(f"guard verdict {verdict.decision.value} in {verdict.mode.value} mode",)))
    return out
