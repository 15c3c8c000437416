"""Collecting a run: the one collect of every run, local or portable (:func:`judge`).

A run's execute step leaves one result commit on the pinned base: the clone's
final work tree (untracked and ignored files included, the runtime config
lanewarden installed left out), committed in lanewarden's own git dir, never
the clone's. A portable run hands it over as a bundle (``intake.py`` checks it
and fetches it into quarantine); a local run hands over that git dir itself.
Either way :func:`judge` guards base..result with the trusted policy (the
base's, read from the main repository), rolls the run back or lands the
writable paths as lanewarden's own commit, queues handoffs for the rest,
re-proposes the agent's proposals as new records of the run's worker, and
writes the run's state and ledger entry: a fix here applies to both.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lanewarden.guards import override, redaction
from lanewarden.guards.changes import GITLINK
from lanewarden.guards.engine import FULL_CHANGE, GuardRequest, guard
from lanewarden.guards.recorder import record as record_decision
from lanewarden.guards.sources import scratch
from lanewarden.guards.verdict import Decision, Mode, Verdict, VoteValue
from lanewarden.handoffs import factory as build
from lanewarden.handoffs.model import Handoff, Status
from lanewarden.handoffs.proposals import Proposal, propose
from lanewarden.handoffs.queue import PREFIX as HANDOFF_PREFIX
from lanewarden.handoffs.queue import Queue, Stored, actor
from lanewarden.orchestrator.runs import workspace
from lanewarden.orchestrator.runs.result import RunResult
from lanewarden.workers.errors import LanewardenError
from lanewarden.workers.git import Git
from lanewarden.workers.ledger import Kind, Ledger
from lanewarden.workers.loader import LoadedPolicy, load_revision

# More proposals than this from one run is noise or an attack on the queue.
MAX_PROPOSALS = 50
MAX_HANDOFF_BYTES = 1 << 20
# Where a run's result commit is named: in a bundle from a node, or in a local run's own git dir.
RESULT_REF = "refs/lanewarden/result"
QUARANTINE = "refs/lanewarden/quarantine/"


@dataclass(frozen=True)
class Trusted:
    """Read before the agent starts: what it writes afterwards counts for nothing."""

    overrides: tuple[override.Override, ...]
    ledger: str | None


def open_handoffs(git: Git, worker: str) -> list[dict[str, Any]]:
    """The worker's open and accepted handoffs, for its context pack (prepare)."""
    out = []
    for stored in Queue(git).all():
        h = stored.handoff
        if h.target_worker == worker and h.status in (Status.OPEN, Status.ACCEPTED):
            out.append({"id": h.id, "status": h.status.value, "from": h.source_worker, "problem": h.problem,
                        "paths": list(h.evidence.paths)})
    return out


def attempt_patch(ws: workspace.Workspace) -> bytes:
    """The whole change of the checkout against the base (untracked and ignored files included).

    Built in a scratch index and object directory: nothing is written into any repository.
    """
    reader = ws.reader
    with scratch(reader) as env:
        reader.read_tree(ws.base, env=env)
        reader.stage_all(env)
        return reader.binary_diff(ws.base, env)


def save_attempt(ws: workspace.Workspace, verdict: Verdict | None = None) -> str | None:
    """Keep the change as evidence in the run's folder; the path, or None when there is nothing.

    Secret-like content never lands in clear (guards/redaction.py): the files the verdict's
    secrets guard flagged, or without a verdict (an interrupted run) the files secret-like by
    name, are redacted, and so is every well-known token, in the patch and in the agent's log.
    """
    if ws.log_file.is_file():
        log = ws.log_file.read_text("utf-8", "surrogateescape")
        clean = redaction.scrub(log)
        if clean != log:
            ws.log_file.write_text(clean, "utf-8", "surrogateescape")
    if not ws.checkout.is_dir():
        return None
    patch = attempt_patch(ws)
    if not patch:
        return None
    found = redaction.findings(verdict) if verdict is not None else redaction.by_name(patch)
    workspace.write_attempt(ws.attempt_file, redaction.redact(patch, found).patch)
    return str(ws.attempt_file)


def read_proposals(clone: Git) -> tuple[list[tuple[str, bytes]], list[str]]:
    """``(name, handoff.json)`` of each handoff queued in a run's clone; nothing else of it is read.

    Only ``refs/lanewarden/handoffs/*`` of the clone is read (no branches,
    overrides or ledger). On a remote node this is what ``run execute``
    exports as files; on the orchestrator :func:`propose_all` judges them.
    """
    notes: list[str] = []
    try:
        refs = clone.refs(HANDOFF_PREFIX)
    except LanewardenError as exc:
        return [], [f"could not read handoffs proposed in the run's clone: {exc.message}"]
    if len(refs) > MAX_PROPOSALS:
        notes.append(f"the agent proposed {len(refs)} handoffs; only the first {MAX_PROPOSALS} were imported")
    found: list[tuple[str, bytes]] = []
    for ref, commit in sorted(refs.items())[:MAX_PROPOSALS]:
        name = ref[len(HANDOFF_PREFIX):]
        try:
            blob = clone.read_paths([f"{commit}:handoff.json"])[0]
        except LanewardenError as exc:
            notes.append(f"proposed handoff {name[:12]} not imported: {exc.message}")
            continue
        if blob is None or len(blob) > MAX_HANDOFF_BYTES:
            notes.append(f"proposed handoff {name[:12]} not imported: no readable handoff.json")
            continue
        found.append((name, blob))
    return found, notes


def propose_all(git: Git, loaded: LoadedPolicy, worker: str, base: str, task: str | None,
                blobs: list[tuple[str, bytes]]) -> tuple[list[Stored], list[str]]:
    """Proposals re-proposed as new open records of ``worker``, with the trusted policy.

    Of each only what a proposal says is kept (problem, target, paths, patch,
    evidence, risk, validation); status, history, source and id are recomputed.
    """
    notes: list[str] = []
    imported: list[Stored] = []
    for name, blob in blobs[:MAX_PROPOSALS]:
        try:
            if len(blob) > MAX_HANDOFF_BYTES:
                raise ValueError("too large")
            h = Handoff.from_json(blob)
        except (LanewardenError, ValueError) as exc:
            notes.append(f"proposed handoff {name[:12]} not imported: {str(exc).splitlines()[0]}")
            continue
        target = h.target_worker if h.target_worker in loaded.policy.workers else None
        patch = h.proposed_change.encode("utf-8", "surrogateescape") if h.proposed_change else None
        try:
            results = propose(git, loaded, Proposal(
                source=worker, problem=h.problem, target=target, patch=patch, paths=h.evidence.paths,
                evidence=h.evidence.notes, risk=h.risk_if_ignored, task=task, base=base,
                validation=h.suggested_validation.commands))
        except LanewardenError as exc:
            notes.append(f"proposed handoff {name[:12]} not imported: {exc.message}")
            continue
        for stored, created in results:
            if created:
                imported.append(stored)
            else:
                notes.append(f"proposed handoff {stored.handoff.id[:12]} was already queued: left as it is")
    return imported, notes


def judge(git: Git, ws: workspace.Workspace, source: Git, head: str, result: RunResult, started: float, *,
          overrides: tuple[override.Override, ...], proposals: list[tuple[str, bytes]],
          attempt: Callable[[Verdict, bytes], None] | None = None) -> RunResult:
    """Guard the run's result ``head`` (one commit on ``ws.base``) with the trusted policy, then roll it
    back or land it; the run's state and ledger entry are written either way.

    ``source`` reads ``head``: the main repository for a portable run (the bundle fetched into
    quarantine), lanewarden's own git dir for a local run (nothing of the clone is in the main
    repository yet: it is fetched only to land, when nothing of it is rejected). ``result.reasons``
    already holds the execute step's reasons to roll back (exit code, timeout); ``attempt`` keeps the
    rejected change as evidence (default: the guarded change, redacted).
    """
    loaded = load_revision(git, ws.base)  # the trusted policy: the base's, read from this repository
    guarded = guard(source, GuardRequest(mode=Mode.RANGE, worker=ws.worker, base=ws.base, head=head,
                                         overrides=overrides, keep_change=True), cut=True, loaded=loaded)
    verdict = guarded.verdict
    quarantine = None
    may_land = not result.reasons and verdict.decision != Decision.REJECT
    if source.git_dir != git.git_dir and (may_land or not redaction.findings(verdict)
                                          or verdict.policy_diff is not None):
        # A local run's result enters the main repository only now, and a secret-like one only when it
        # may land: the ledger keeps the result commit as evidence (never a secret's), landing reads it.
        quarantine = _hand_over(git, ws, source, head)
    try:
        return _settle(git, ws, loaded, head, guarded.verdict, dict(guarded.patches), result, started,
                       overrides, proposals, attempt)
    finally:
        if quarantine is not None:
            git.delete_ref(quarantine)


def _hand_over(git: Git, ws: workspace.Workspace, source: Git, head: str) -> str:
    """Fetch a local run's result from lanewarden's own git dir into quarantine; the quarantine ref."""
    quarantine = f"{QUARANTINE}{ws.run_id}"
    git.fetch(str(source.git_dir), [f"+{RESULT_REF}:{quarantine}"])
    if git.ref_value(quarantine) != head:
        git.delete_ref(quarantine)
        raise LanewardenError("the run's result moved while it was collected; nothing was landed")
    return quarantine


def _settle(git: Git, ws: workspace.Workspace, loaded: LoadedPolicy, head: str, verdict: Verdict,
            patches: dict[str, bytes], result: RunResult, started: float, overrides: tuple[override.Override, ...],
            proposals: list[tuple[str, bytes]], attempt: Callable[[Verdict, bytes], None] | None) -> RunResult:
    change = patches.pop(FULL_CHANGE, b"")
    (ws.folder / "verdict.json").write_text(json.dumps(verdict.as_json(), indent=2) + "\n")
    result.verdict = verdict
    result.changed_files = len(verdict.changes)
    for vote in verdict.votes:
        if vote.guard != "scope" and vote.vote != VoteValue.APPROVE:
            result.reasons.extend(f"{vote.guard}: {r}" for r in vote.reasons)  # a crashed guard fails closed
    # Staging the work tree turns an embedded repository into a gitlink. Range mode allows submodule
    # bumps in ordinary history; a run never may add one.
    result.reasons.extend(f"protected: {c.path!r}: an embedded git repository (a gitlink in the result)"
                          for c in verdict.changes if c.new_mode == GITLINK)
    evidence = {"change": change, "overrides": overrides}
    if result.reasons:
        if attempt is not None:
            attempt(verdict, change)
        elif change:
            workspace.write_attempt(ws.attempt_file, redaction.redact(change, redaction.findings(verdict)).patch)
        return finish(ws, result, started, git, evidence)
    task = task_of(ws)
    queue = Queue(git)
    who = actor(git)[0]
    queued = [queue.create(r)[0] for r in build.from_verdict(loaded.policy, verdict, patches, who=who, task=task)]
    proposed, notes = propose_all(git, loaded, ws.worker, ws.base, task, proposals)
    result.notes.extend(notes)
    result.proposed = [s.handoff.id for s in proposed]
    kept = [c.path for c in verdict.changes if c.path_class in ("writable", "handoff_required", "shared_append")]
    commit = None
    if kept:
        commit = _land(git, ws, head, kept)
        check = guard(git, GuardRequest(mode=Mode.RANGE, worker=ws.worker, base=ws.base, head=commit)).verdict
        if check.decision == Decision.REJECT:  # fail closed: what we committed must pass on its own
            git.delete_ref(f"refs/heads/{ws.branch}", commit)
            result.reasons.append("the kept commit did not pass the guard on its own; rolled back")
            return finish(ws, result, started, git, evidence)
    result.commit = commit
    result.branch = ws.branch if commit else None
    result.handoffs = [s.handoff.id for s in queued]
    result.outcome = "split" if queued else "accepted"
    result.exit_code = 3 if queued else 0
    return finish(ws, result, started, git, evidence)


def _land(git: Git, ws: workspace.Workspace, head: str, kept: list[str]) -> str:
    """lanewarden's own commit: the base plus ``kept`` as they are in ``head``, on the run's branch.

    The result commit (a node's or this machine's) is never a branch. The branch
    is created with compare-and-swap (it must not exist yet) and recorded in the
    run's state first, so a cleanup knows lanewarden made it.
    """
    tree = git.tree_taking(ws.base, head, kept)
    commit = git.commit_tree(tree, [ws.base], message(ws), actor(git))
    workspace.write_state(ws, created_branch=ws.branch, commit=commit)
    if not git.update_ref(f"refs/heads/{ws.branch}", commit, None):
        raise LanewardenError(f"branch {ws.branch} already exists; lanewarden did not create it",
                              hint="delete it by hand if it is stale: git branch -D " + ws.branch)
    return commit


def task_of(ws: workspace.Workspace) -> str | None:
    state = json.loads(ws.state_file.read_text())
    task = state.get("task")
    return task if isinstance(task, str) and task else None


def message(ws: workspace.Workspace) -> str:
    state = json.loads(ws.state_file.read_text())
    task = state.get("task") or "(no task given)"
    return (f"{ws.worker}: {task}\n\nLanewarden-Worker: {ws.worker}\nLanewarden-Run: {ws.run_id}\n"
            f"Lanewarden-Context: {state.get('context_hash')}\n")


def ledger_run(git: Git, ws: workspace.Workspace, outcome: dict[str, Any]) -> None:
    """A run that ended without a verdict (could not start, interrupted, lost) is still an entry."""
    state = json.loads(ws.state_file.read_text())
    Ledger(git).append(Kind.RUN, {"worker": ws.worker, "run_id": ws.run_id, "base": ws.base,
                                  "task": task_of(ws), "confined": state.get("confined", True)}, outcome)


def rolled_back(git: Git, ws: workspace.Workspace, result: RunResult, started: float) -> RunResult:
    """Nothing was guarded (no result to read): a rejected run with the reasons, in the ledger."""
    result.seconds = time.monotonic() - started
    ledger_run(git, ws, {"outcome": "rejected", "reasons": result.reasons})
    workspace.write_state(ws, status="rejected", outcome="rejected", reasons=result.reasons, notes=result.notes,
                          exit_code=1, seconds=result.seconds, finished=time.time())
    return result


def finish(ws: workspace.Workspace, result: RunResult, started: float, git: Git,
           evidence: dict[str, Any]) -> RunResult:
    """Write the run's state and its ledger entry (with the change, so it can be replayed)."""
    if result.verdict is not None:
        state = json.loads(ws.state_file.read_text())
        record_decision(git, result.verdict, kind=Kind.RUN, change=evidence["change"],
                        overrides=evidence["overrides"], handoff_ids=result.handoffs + result.proposed,
                        keep=tuple(c for c in (result.commit,) if c),
                        inputs={"run_id": ws.run_id, "task": state.get("task"),
                                "context_hash": state.get("context_hash"), "branch": ws.branch,
                                "confinement": "bubblewrap" if result.confined else "unconfined",
                                "network": state.get("network", True),
                                "agent_runtime": result.agent_runtime, "agent_config": result.agent_config},
                        outcome={"outcome": result.outcome, "run_exit_code": result.exit_code,
                                 "commit": result.commit, "reasons": result.reasons,
                                 "proposed": result.proposed})
    result.seconds = time.monotonic() - started
    workspace.write_state(ws, status=result.outcome, outcome=result.outcome, commit=result.commit,
                          branch=result.branch or ws.branch, handoffs=result.handoffs, proposed=result.proposed,
                          reasons=result.reasons, notes=result.notes, seconds=result.seconds,
                          exit_code=result.exit_code, changed_files=result.changed_files, finished=time.time())
    return result
