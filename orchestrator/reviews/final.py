"""The final diff review: every worker's lane, their overlaps, what is pending, and one decision.

Over the worker branches (``refs/heads/lanewarden/*``, each attributed to a
worker by lanewarden's own records: the run that created it, or the handoff
``handoffs apply`` applied on it; never by the branch's name) against the base
they come from, over one range for one worker, or over any range without a
worker (an integration review: each commit in the lane ``attribution`` finds
for it). Each part votes and veto consensus decides (ARCHITECTURE sections 1
and 4):

- each lane's guard verdict: accept approves, reject rejects, revision (or a
  guard that could not run) abstains;
- ``conflicts``: git's own merge of every pair of in-flight branches and
  accepted handoffs (``conflicts.py``) reports a conflict: reject; a merge git
  could not compute or a handoff patch that no longer applies abstains;
- ``handoffs``: open or accepted handoffs abstain (work is still pending);
- ``contracts``: a stale ``llm-context/contracts.md`` mapping abstains;
- ``e2e``: a required suite failing rejects; one that did not run abstains
  (residual risk, never a pass).

The policy comes from the base, for every lane alike.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from lanewarden.guards.engine import GuardRequest, guard
from lanewarden.guards.verdict import EXIT_CODES, Decision, Mode, Verdict, Vote, VoteValue, consensus
from lanewarden.handoffs.queue import Queue
from lanewarden.handoffs.states import Status
from lanewarden.orchestrator.reviews import attribution, impact, matrix
from lanewarden.orchestrator.reviews import conflicts as merging
from lanewarden.orchestrator.reviews import graph as g
from lanewarden.orchestrator.reviews.copies import TreeListing
from lanewarden.orchestrator.reviews.inputs import (
    ChangeRef,
    Subject,
    handoff_changes,
    pending_handoffs,
    short,
    trusted_policy,
)
from lanewarden.orchestrator.runs import records
from lanewarden.workers.errors import InputError, LanewardenError
from lanewarden.workers.git import Git
from lanewarden.workers.loader import LoadedPolicy

if TYPE_CHECKING:  # the record's model (pydantic) loads only when a handoff is read
    from lanewarden.handoffs.model import Handoff

SCHEMA = "lanewarden.final-review/1"
BRANCH_PREFIX = "refs/heads/lanewarden/"
_VOTE_OF = {Decision.ACCEPT: VoteValue.APPROVE, Decision.REJECT: VoteValue.REJECT,
            Decision.REVISION: VoteValue.ABSTAIN}


@dataclass(frozen=True)
class Lane:
    """One worker's change: a branch (or the range) guarded against the base."""

    worker: str
    branch: str | None
    head: str
    decision: Decision
    verdict: Verdict | None = None
    error: str | None = None
    via: str | None = None  # integration reviews: "run R", "handoff H" or "human commit"

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(c.path for c in self.verdict.changes) if self.verdict else ()

    def as_json(self) -> dict[str, Any]:
        return {"worker": self.worker, "branch": self.branch, "head": self.head,
                "decision": self.decision.value, "error": self.error, "paths": list(self.paths),
                "via": self.via,
                "verdict": self.verdict.as_json() if self.verdict else None}


@dataclass(frozen=True)
class Conflict:
    """A path git leaves conflicted when in-flight work (branches, accepted handoffs) is merged."""

    path: str
    workers: tuple[str, ...]
    branches: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "workers": list(self.workers), "branches": list(self.branches)}


@dataclass(frozen=True)
class FinalReview:
    mode: str  # branches | range | integration
    base: str
    policy_rev: str | None
    policy_sha256: str
    lanes: tuple[Lane, ...]
    conflicts: tuple[Conflict, ...]
    handoffs: tuple[Handoff, ...]
    impact: impact.ImpactReview
    matrix: matrix.Matrix
    votes: tuple[Vote, ...]
    notes: tuple[str, ...] = ()
    graph: nx.DiGraph | None = field(default=None, compare=False, repr=False)
    merges: merging.Merges | None = None

    @property
    def covered(self) -> tuple[str, ...]:
        """The lanes this one decision covers."""
        return tuple(sorted({lane.worker for lane in self.lanes}))

    @property
    def decision(self) -> Decision:
        return consensus(list(self.votes))

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]

    def as_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "decision": self.decision.value, "exit_code": self.exit_code,
                "mode": self.mode, "base": self.base,
                "policy": {"rev": self.policy_rev, "sha256": self.policy_sha256},
                "votes": [{"guard": v.guard, "vote": v.vote.value, "reasons": list(v.reasons)} for v in self.votes],
                "lanes": [lane.as_json() for lane in self.lanes],
                "conflicts": [c.as_json() for c in self.conflicts],
                "handoffs": [{"id": h.id, "status": h.status.value, "source_worker": h.source_worker,
                              "target_worker": h.target_worker, "problem": h.problem,
                              "paths": list(h.evidence.paths), "contracts": list(h.contracts)}
                             for h in self.handoffs],
                "contract_impact": self.impact.as_json(), "e2e": self.matrix.as_json(),
                "notes": list(self.notes), "lanes_covered": list(self.covered),
                "merges": self.merges.as_json() if self.merges else None}


def worker_branches(git: Git) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """Every ``lanewarden/*`` branch: (attributed: name -> (worker, commit), unattributed: name -> (commit, why)).

    The worker comes from lanewarden's record of the run that created the
    branch, never from the branch's name (anyone can name a branch
    ``lanewarden/<someone-else>/x``). A branch without a record, or one that
    moved since its run recorded it, is unattributed: reported, never approved.
    """
    known = records.branch_records(git)
    applied = _applied(git)
    attributed: dict[str, tuple[str, str]] = {}
    unattributed: dict[str, tuple[str, str]] = {}
    for ref, commit in sorted(git.refs(BRANCH_PREFIX).items()):
        name = ref.removeprefix("refs/heads/")
        why = _unattributed(known.get(name), commit)
        if why is None:
            attributed[name] = (known[name].worker, commit)
        elif commit in applied:
            attributed[name] = (applied[commit], commit)
        else:
            unattributed[name] = (commit, why)
    return attributed, unattributed


def _applied(git: Git) -> dict[str, str]:
    """commit -> target worker, for handoffs lanewarden applied (``handoffs apply`` makes their branch)."""
    return {s.handoff.applied_commit: s.handoff.target_worker for s in Queue(git).all()
            if s.handoff.status == Status.APPLIED and s.handoff.applied_commit}


def _unattributed(record: records.BranchRecord | None, commit: str) -> str | None:
    if record is None:
        return "no lanewarden run record created this branch"
    if record.commit != commit:
        return f"moved since run {record.run_id} created it at {record.commit[:12]}"
    return None


def worker_of(git: Git, head: str | None) -> str | None:
    """The worker whose run created branch ``head`` (by lanewarden's record), or None."""
    if head is None:
        return None
    name = head.removeprefix("refs/heads/")
    record = records.branch_records(git).get(name)
    commit = git.ref_value(f"refs/heads/{name}")
    if commit is None:
        return None
    if _unattributed(record, commit) is None and record is not None:
        return record.worker
    return _applied(git).get(commit)


def _lane(git: Git, loaded: LoadedPolicy, worker: str, branch: str | None, base: str, head: str) -> Lane:
    try:
        verdict = guard(git, GuardRequest(mode=Mode.RANGE, worker=worker, base=base, head=head),
                        loaded=loaded).verdict
    except LanewardenError as exc:  # fail closed: a lane that cannot be guarded abstains
        return Lane(worker, branch, head, Decision.REVISION, error=exc.message)
    return Lane(worker, branch, head, verdict.decision, verdict=verdict)


def overlaps_of(lanes: tuple[Lane, ...]) -> tuple[Conflict, ...]:
    """Paths changed by more than one worker (git may still merge them cleanly)."""
    touched: dict[str, dict[str, list[str]]] = {}
    for lane in lanes:
        for path in lane.paths:
            touched.setdefault(path, {}).setdefault(lane.worker, []).append(lane.branch or lane.head[:12])
    return tuple(Conflict(path, tuple(sorted(by)), tuple(sorted(b for bs in by.values() for b in bs)))
                 for path, by in sorted(touched.items()) if len(by) > 1)


def conflicts_of(merges: merging.Merges) -> tuple[Conflict, ...]:
    return tuple(Conflict(path, workers, names) for path, workers, names in merging.by_path(merges))


def _conflicts_vote(conflicts: tuple[Conflict, ...], merges: merging.Merges,
                    overlaps: tuple[Conflict, ...]) -> Vote:
    if conflicts:
        return Vote("conflicts", VoteValue.REJECT,
                    tuple(f"{c.path}: {' and '.join(c.branches)} conflict (git merge-tree)" for c in conflicts))
    doubts = [f"{c.name}: {c.problem}" for c in merges.broken]
    if merges.error:
        doubts.append(f"git could not merge the in-flight work: {merges.error}")
    if doubts:
        return Vote("conflicts", VoteValue.ABSTAIN, tuple(doubts))
    return Vote("conflicts", VoteValue.APPROVE,
                tuple(f"{o.path} changed by {', '.join(o.workers)}; git merges them cleanly" for o in overlaps))


def _votes(lanes: tuple[Lane, ...], conflicts: Vote, handoffs: tuple[Handoff, ...],
           review: impact.ImpactReview, mx: matrix.Matrix) -> list[Vote]:
    votes = []
    for lane in lanes:
        if lane.verdict is None:
            reasons: tuple[str, ...] = (f"the guard could not run: {lane.error}",)
        else:
            reasons = tuple(f"{v.guard}: {r}" for v in lane.verdict.votes if v.vote != VoteValue.APPROVE
                            for r in v.reasons)
        where = lane.branch or (f"{lane.head[:12]}, {lane.via}" if lane.via else None)
        votes.append(Vote(f"lane {lane.worker}" + (f" ({where})" if where else ""),
                          _VOTE_OF[lane.decision], reasons))
    votes.append(conflicts)
    votes.append(Vote("handoffs", VoteValue.ABSTAIN if handoffs else VoteValue.APPROVE,
                      tuple(f"{h.id[:12]} {h.source_worker} -> {h.target_worker} ({h.status.value})"
                            for h in handoffs)))
    votes.append(Vote("contracts", VoteValue.ABSTAIN if review.stale else VoteValue.APPROVE,
                      tuple(f"stale mapping {m.file} ({m.section})" for m in review.stale)))
    e2e = {Decision.REJECT: VoteValue.REJECT, Decision.REVISION: VoteValue.ABSTAIN,
           Decision.ACCEPT: VoteValue.APPROVE}[mx.decision]
    votes.append(Vote("e2e", e2e, tuple([f"{r.suite} failed: {r.result.detail}" for r in mx.failed]
                                        + [f"residual risk: {r.suite} did not run ({r.result.detail})"
                                           for r in mx.residual])))
    return votes


def review(git: Git, *, base: str | None = None, head: str | None = None, worker: str | None = None,
           results_dir: Path | None = None, run: bool = False, timeout: int | None = None,
           echo: Callable[[bytes], None] = lambda b: None, policy_file: Path | None = None) -> FinalReview:
    """The final review of the worker branches (no ``head``) or of one worker's range.

    Returns data with ``decision`` and ``exit_code``; it never prints. This is
    the function a ledger records.
    """
    if head is None and worker is not None:
        raise InputError("--worker goes with --head (one worker's range); worker branches name their worker")
    base_commit, loaded = trusted_policy(git, base or "HEAD", policy_file)
    policy = loaded.policy
    notes: list[str] = []
    lanes: list[Lane] = []
    unattributed: list[str] = []
    candidates: list[merging.Candidate] = []
    head_commit: str | None = None
    listing: TreeListing | None = None
    if head is not None:
        recorded = worker_of(git, head)
        who = worker or recorded
        head_commit = git.resolve_commit(head, what="head revision")
        listing = TreeListing(git, head_commit)  # copies are read from the head: git lists it meanwhile
        if who is None:
            # No record says who made it: an integration review, each commit in the lane its own
            # record (or, for a person's commit, the owners of what it touches) puts it in.
            mode = "integration"
            parts, found = attribution.attribute(git, policy, base_commit, head_commit)
            notes += found
            for part in parts:
                lane = _lane(git, loaded, part.worker, None, part.parent, part.head)
                lanes.append(replace(lane, head=part.commit, via=part.how))
            if not lanes:
                raise InputError(f"{head} has no commits beyond {short(base_commit)}",
                                 hint="pass --base with the branch the range starts from")
        else:
            lanes.append(_lane(git, loaded, who, head if recorded else None, base_commit, head_commit))
            mode = "range"
        candidates.append(merging.Candidate(head, "range", who or "integration", head_commit))
    else:
        mode = "branches"
        attributed, stray = worker_branches(git)
        for branch, (who, commit) in attributed.items():
            if git.is_ancestor(commit, base_commit):
                notes.append(f"{branch} is already in the base {short(base_commit)}: not reviewed")
                continue
            lanes.append(_lane(git, loaded, who, branch, base_commit, commit))
            candidates.append(merging.Candidate(branch, "branch", who, commit))
        for branch, (commit, why) in stray.items():
            if not git.is_ancestor(commit, base_commit):
                unattributed.append(f"{branch} ({commit[:12]}): {why}")
                # Whoever made it, it is in flight: it can still conflict with the others.
                candidates.append(merging.Candidate(branch, "branch", "unattributed", commit))
        if not lanes and not unattributed:
            raise InputError(f"no worker branch (lanewarden/<worker>/...) has commits beyond {short(base_commit)}",
                             hint="pass --base with the branch the workers started from, "
                                  "or --head REV [--worker ID] for one range")
    lanes_t = tuple(lanes)
    queued = tuple(pending_handoffs(git, notes))
    changes = [ChangeRef(c.path, "branch" if lane.branch else "range", lane.branch or short(lane.head),
                         c.status, lane.worker) for lane in lanes_t if lane.verdict for c in lane.verdict.changes]
    for h in queued:
        changes += handoff_changes(h)
    ranged = head_commit if mode != "branches" else None
    subject = Subject(loaded=loaded, base=base_commit, head=ranged,
                      mapping_rev=ranged or base_commit, changes=tuple(changes),
                      handoffs=queued, sources=(f"{len(lanes_t)} lane(s)", f"{len(queued)} open handoff(s)"),
                      listing=listing)
    graph = g.build(policy)
    contract_review = impact.review(git, subject, graph)
    runner = matrix.runner_for(git, policy, run=run, results_dir=results_dir, timeout=timeout, echo=echo)
    mx = matrix.build(policy, graph, contract_review.affected_services, results_dir=results_dir,
                      top=git.top, run=runner,
                      must_cover=contract_review.must_cover)
    merges = merging.check(git, [*candidates, *merging.accepted_handoffs(git, queued, base_commit)])
    conflicts = conflicts_of(merges)
    votes = _votes(lanes_t, _conflicts_vote(conflicts, merges, overlaps_of(lanes_t)), queued, contract_review, mx)
    if unattributed:
        # Not approved, not guarded as anyone's lane: a person must say whose work it is.
        votes.append(Vote("unattributed", VoteValue.ABSTAIN, tuple(unattributed)))
        notes += [f"unattributed branch {u}; review it with --head BRANCH --worker ID" for u in unattributed]
    return FinalReview(mode=mode, base=base_commit, policy_rev=loaded.rev, policy_sha256=loaded.sha256,
                       lanes=lanes_t, conflicts=conflicts, handoffs=queued, impact=contract_review, matrix=mx,
                       votes=tuple(votes), notes=tuple(notes), graph=graph, merges=merges)


def record_review(git: Git, result: FinalReview) -> None:
    """Every lane's guard decision and the review's own decision go into the ledger."""
    from lanewarden.guards.override import load
    from lanewarden.guards.recorder import record
    from lanewarden.workers.ledger import Kind, Ledger

    overrides = load(git)
    ledger = Ledger(git)  # one handle: the identity and the head are looked up once
    lanes = []
    for lane in result.lanes:
        seq = None
        if lane.verdict is not None:
            seq = record(git, lane.verdict, overrides=overrides,
                         inputs={"review": "final", "branch": lane.branch}, ledger=ledger)[0].seq
        lanes.append({"worker": lane.worker, "branch": lane.branch, "decision": lane.decision.value,
                      "guard_seq": seq, "error": lane.error})
    ledger.append(Kind.REVIEW, {
        "review": "final", "mode": result.mode, "base": result.base,
        "policy": {"rev": result.policy_rev, "sha256": result.policy_sha256},
    }, {
        "decision": result.decision.value, "exit_code": result.exit_code,
        "votes": [{"guard": v.guard, "vote": v.vote.value} for v in result.votes], "lanes": lanes,
        "conflicts": [c.path for c in result.conflicts], "handoffs": [h.id for h in result.handoffs],
    })
