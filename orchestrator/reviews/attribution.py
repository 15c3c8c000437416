"""Which lane each commit of a range belongs to: an integration review needs no ``--worker``.

A multi-lane pull request or a merge train mixes commits of several workers
and of people. Each commit is attributed from what lanewarden itself wrote:

- ``Lanewarden-Worker: W`` with ``Lanewarden-Run: R`` (written by
  ``orchestrator/runs/worker_run.py``) counts only when the ledger's record of
  run R landed exactly this commit for W;
- ``Lanewarden-Worker: W`` with ``Lanewarden-Handoff: H`` (written by
  ``handoffs/apply.py``) counts only when handoff H's ``applied_commit`` is this
  commit and its target is W.

A trailer is text anyone can type, so one without such a record is not an
identity (ARCHITECTURE section 8): that commit, like any other, is judged as a
human commit by the owners of what it touches, each owner's lane on its own
paths (a scratch commit holding only that owner's part of the change). A
rebased or cherry-picked run commit has a new id and is judged the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lanewarden.handoffs.queue import Queue
from lanewarden.workers.git import Git
from lanewarden.workers.ledger import Kind, Ledger
from lanewarden.workers.ownership import OwnershipIndex
from lanewarden.workers.policy import Policy

WORKER = "Lanewarden-Worker"
RUN = "Lanewarden-Run"
HANDOFF = "Lanewarden-Handoff"
_AUTHOR = ("lanewarden", "lanewarden@localhost")


@dataclass(frozen=True)
class Part:
    """One commit (or one owner's share of a human commit), to be guarded in its lane."""

    commit: str
    parent: str
    worker: str
    how: str  # "run R", "handoff H" or "human commit"
    head: str  # what the lane's guard reads: the commit itself, or a scratch commit of the owner's paths
    recorded: bool  # attributed by a lanewarden record, not by the owners of the paths

    def as_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "parent": self.parent, "worker": self.worker, "how": self.how,
                "recorded": self.recorded}


def trailers(message: str) -> dict[str, str]:
    """The ``Key: value`` lines of a message's last paragraph (git's trailer block)."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return {}
    found: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        key, sep, value = line.partition(":")
        if sep and key and " " not in key.strip():
            found.setdefault(key.strip(), value.strip())
    return found


def _run_records(git: Git) -> dict[str, tuple[str, str]]:
    """run id -> (worker, landed commit), from the ledger's run entries."""
    out: dict[str, tuple[str, str]] = {}
    for entry in Ledger(git).entries():
        if entry.kind != Kind.RUN.value:
            continue
        run_id, commit = entry.inputs.get("run_id"), entry.outcome.get("commit")
        worker = entry.inputs.get("worker") or entry.outcome.get("worker")
        if isinstance(run_id, str) and isinstance(commit, str) and isinstance(worker, str):
            out[run_id] = (worker, commit)
    return out


def attribute(git: Git, policy: Policy, base: str, head: str) -> tuple[list[Part], list[str]]:
    """Every non-merge commit of base..head as lane parts, oldest first, and notes for the reader."""
    commits, merges = git.commits_between(base, head)
    notes = [f"merge commit {m[:12]} is not judged itself; the commits it brings in are" for m in merges]
    info = git.commit_messages(commits)
    runs = _run_records(git) if commits else {}
    applied = {s.handoff.applied_commit: (s.handoff.id, s.handoff.target_worker)
               for s in Queue(git).all() if s.handoff.applied_commit} if commits else {}
    index = OwnershipIndex(policy)
    parts: list[Part] = []
    for commit in commits:
        parent, message = info.get(commit, (None, ""))
        if parent is None:  # a root commit: everything it holds is new, judged against nothing
            parent = git.commit_tree(git.empty_tree(), [], "lanewarden: nothing\n", _AUTHOR)
        said = trailers(message)
        worker, run, hid = said.get(WORKER), said.get(RUN), said.get(HANDOFF)
        if worker and run and runs.get(run) == (worker, commit):
            parts.append(Part(commit, parent, worker, f"run {run}", commit, True))
            continue
        if worker and hid and applied.get(commit) == (hid, worker):
            parts.append(Part(commit, parent, worker, f"handoff {hid[:12]}", commit, True))
            continue
        if worker:
            notes.append(f"commit {commit[:12]} says {WORKER}: {worker}, but no run record or applied "
                         f"handoff backs it: judged as a human commit")
        owners: dict[str, list[str]] = {}
        for path in git.changed_paths(parent, commit):
            owners.setdefault(index.owner(path), []).append(path)
        for owner, paths in sorted(owners.items()):
            if len(owners) == 1:
                share = commit  # the whole commit is this owner's: guard it as it is
            else:
                tree = git.tree_taking(parent, commit, paths)
                share = git.commit_tree(tree, [parent], f"lanewarden: {owner}'s part of {commit}\n", _AUTHOR)
            parts.append(Part(commit, parent, owner, "human commit", share, False))
    return parts, notes
