"""Collecting a run: read the clone's final state, guard it, land what may land.

Nothing of the clone is trusted. Its files are read through lanewarden's own
git dir for the run (HEAD at the pinned base, the main repository's objects,
an index lanewarden wrote), so the agent's refs, index, config and objects
cannot shape what the guard sees. What lands in the main repository is built
by lanewarden from the base plus the writable paths, re-hashed from the
checkout into a scratch index; the agent's commits are never fetched. Handoffs
the agent proposed inside the clone are re-proposed here as new records of
the run's own worker, with the trusted policy.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from lanewarden.guards import override, redaction
from lanewarden.guards.sources import scratch
from lanewarden.guards.verdict import Verdict
from lanewarden.handoffs.model import Handoff
from lanewarden.handoffs.proposals import Proposal, propose
from lanewarden.handoffs.queue import PREFIX as HANDOFF_PREFIX
from lanewarden.handoffs.queue import Stored, actor
from lanewarden.orchestrator.runs import workspace
from lanewarden.workers.errors import LanewardenError
from lanewarden.workers.git import Git
from lanewarden.workers.loader import LoadedPolicy

# More proposals than this from one run is noise or an attack on the queue.
MAX_PROPOSALS = 50
MAX_HANDOFF_BYTES = 1 << 20


@dataclass(frozen=True)
class Trusted:
    """Read before the agent starts: what it writes afterwards counts for nothing."""

    overrides: tuple[override.Override, ...]
    ledger: str | None


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


def land(git: Git, ws: workspace.Workspace, paths: list[str], message: str) -> str:
    """Commit ``paths`` as they are in the checkout on top of the base, in the main repository.

    Only these paths' contents enter the main object store. The branch is
    created with compare-and-swap (it must not exist yet) and recorded in the
    run's state first, so a cleanup knows lanewarden made it.
    """
    lander = Git(git.common_dir, ws.checkout)
    with tempfile.TemporaryDirectory(prefix="lanewarden-land-") as tmp:
        tree = lander.index_paths(ws.base, paths, {"GIT_INDEX_FILE": str(Path(tmp) / "index")})
    commit = git.commit_tree(tree, [ws.base], message, actor(git))
    workspace.write_state(ws, created_branch=ws.branch, commit=commit)
    if not git.update_ref(f"refs/heads/{ws.branch}", commit, None):
        raise LanewardenError(f"branch {ws.branch} already exists; lanewarden did not create it",
                              hint="delete it by hand if it is stale: git branch -D " + ws.branch)
    return commit


def import_proposals(git: Git, loaded: LoadedPolicy, ws: workspace.Workspace,
                     task: str | None) -> tuple[list[Stored], list[str]]:
    """Handoffs the agent queued in its clone, re-proposed as new open records of this run's worker."""
    blobs, notes = read_proposals(Git(ws.checkout / ".git", None, bare=True))
    imported, more = propose_all(git, loaded, ws.worker, ws.base, task, blobs)
    return imported, notes + more


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
