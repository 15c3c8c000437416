"""Apply an accepted handoff's patch on a branch of its target worker, guarded first."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass

from lanewarden.guards.engine import GuardRequest, guard
from lanewarden.guards.verdict import Decision, Mode, Verdict
from lanewarden.handoffs.model import Action, Status
from lanewarden.handoffs.queue import Queue, Stored, actor
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git


@dataclass(frozen=True)
class Applied:
    stored: Stored | None
    verdict: Verdict
    branch: str | None
    commit: str | None


def apply(git: Git, queue: Queue, prefix: str, *, branch: str | None = None,
          base: str | None = None) -> Applied:
    stored = queue.get(prefix)
    h = stored.handoff
    if h.status != Status.ACCEPTED:
        raise InputError(f"handoff {h.id[:12]} is {h.status.value}; only accepted handoffs are applied",
                         hint=f"lanewarden handoffs accept {h.id[:12]}")
    if not h.proposed_change:
        raise InputError(f"handoff {h.id[:12]} carries no patch to apply",
                         hint="the target worker makes the change itself; then reject or supersede it")
    base_commit = git.resolve_commit(base or "HEAD", what="base revision")
    patch = h.proposed_change.encode("utf-8", "surrogateescape")
    # The target's own lane decides: the patch must be an accepted change for it.
    verdict = guard(git, GuardRequest(mode=Mode.PATCH, worker=h.target_worker, patch=patch,
                                      base=base_commit)).verdict
    if verdict.decision != Decision.ACCEPT:
        return Applied(None, verdict, None, None)
    name = branch or f"lanewarden/{h.target_worker}/handoff-{h.id[:12]}"
    ref = f"refs/heads/{name}"
    if git.ref_value(ref) is not None:
        raise InputError(f"branch {name} already exists", hint="pass --branch with a new name")
    with tempfile.TemporaryDirectory(prefix="lanewarden-apply-") as tmp:
        env = {"GIT_INDEX_FILE": f"{tmp}/index"}
        git.read_tree(base_commit, env=env)
        git.apply_cached(patch, env=env)
        tree = git.write_tree(env=env)
    if tree != verdict.head_tree:
        raise InputError(f"handoff {h.id[:12]}: the applied tree differs from the guarded one; nothing written")
    message = (f"{h.target_worker}: apply handoff {h.id[:12]} from {h.source_worker}\n\n{h.problem}\n\n"
               f"Lanewarden-Handoff: {h.id}\nLanewarden-Worker: {h.target_worker}\n")
    commit = git.commit_tree(tree, [base_commit], message, actor(git))
    if not git.update_ref(ref, commit, None):
        raise InputError(f"branch {name} appeared meanwhile; nothing applied")
    done = queue.transition(h.id, Action.APPLY, reason=f"applied on {name}", commit=commit)
    return Applied(done, verdict, name, commit)
