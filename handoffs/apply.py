"""Apply an accepted handoff's patch on a branch of its target worker, guarded first.

Only the patch that was accepted is ever applied. The accept pinned its
sha256 in the record's history and in the ledger entry of the accept; the
newest record, its accept state in the ref's history and the ledger must all
agree before anything is written. Anyone who can write refs can swap the
patch in the newest record: that record then no longer matches the ledger.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass

from lanewarden.guards.engine import GuardRequest, guard
from lanewarden.guards.verdict import Decision, Mode, Verdict
from lanewarden.handoffs.model import Action, Status
from lanewarden.handoffs.queue import Queue, Stored, actor
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git
from lanewarden.workers.ledger import Kind, Ledger


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
    check_accepted(git, stored)
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


def check_accepted(git: Git, stored: Stored) -> None:
    """Refuse (InputError) unless the patch is exactly the one the newest accept pinned, per the ledger."""
    h = stored.handoff
    short = h.id[:12]
    have = h.patch_sha256()
    pinned = h.accepted_patch()
    tip = "reject it, then reopen it and have the patch reviewed and accepted again " \
          f"(lanewarden handoffs show {short}; git log -p refs/lanewarden/handoffs/{h.id})"
    if pinned is None:
        raise InputError(f"handoff {short}: its accept pinned no patch (accepted by an older lanewarden, "
                         "or the record was altered); nothing applied", hint=tip)
    if pinned != have:
        raise InputError(f"handoff {short}: its patch (sha256 {str(have)[:16]}) is not the one that was "
                         f"accepted (sha256 {pinned[:16]}); nothing applied", hint=tip)
    accepts = [e for e in Ledger(git).entries()
               if e.kind == Kind.HANDOFF.value and e.inputs.get("handoff") == h.id
               and e.inputs.get("action") == Action.ACCEPT.value and e.holds()]
    if not accepts:
        raise InputError(f"handoff {short}: no ledger entry records its accept; nothing applied",
                         hint=tip + "; run `lanewarden ledger verify`")
    entry = accepts[-1]
    if entry.inputs.get("patch_sha256") != have:
        raise InputError(f"handoff {short}: ledger entry {entry.seq} accepted patch sha256 "
                         f"{str(entry.inputs.get('patch_sha256'))[:16]}, the record now holds "
                         f"{str(have)[:16]}; nothing applied", hint=tip)
    state = entry.inputs.get("commit")
    if not isinstance(state, str) or not git.is_first_parent_ancestor(state, stored.commit):
        raise InputError(f"handoff {short}: the accepted state {str(state)[:12]} recorded in ledger entry "
                         f"{entry.seq} is not in the handoff's history: the ref was rewritten; nothing applied",
                         hint=tip)
