"""Paths no worker may touch through its lane, whatever the policy says.

The policy file itself (a change must never widen its own scope), ``.gitmodules``,
anything named ``.git``, path tricks (``..``, backslashes), embedded
repositories, and symlinks whose target, resolved relative to the link without
touching the filesystem, leaves the repository or the worker's writable set.
"""
from __future__ import annotations

import posixpath
import re

from lanewarden.guards.changes import SYMLINK
from lanewarden.guards.context import GuardContext
from lanewarden.guards.verdict import Vote, VoteValue
from lanewarden.workers.folding import fold
from lanewarden.workers.git import fsdecode
from lanewarden.workers.ownership import PathClass

NAME = "protected"
_ALWAYS = (".gitmodules",)
_SUSPICIOUS = re.compile(r"(?i)git|\\|/\.|//|^[./]")


def _path_problem(path: str, policy_path: str) -> str | None:
    if path == policy_path:
        return f"the policy file {policy_path} (policy changes go to the root through review)"
    if path in _ALWAYS:
        return f"{path} (submodule wiring is repository configuration)"
    if "/" not in path and not (path.isascii() and path.islower()):
        # One file with the policy or .gitmodules on a case-insensitive checkout.
        folded = fold(path)
        for name in (policy_path, *_ALWAYS):
            if folded == fold(name):
                return f"{path!r} collides with {name} when case/Unicode-folded"
    # Fast path: nearly every path has none of the suspicious pieces at all.
    if _SUSPICIOUS.search(path) is None:
        return None
    parts = path.split("/")
    if any(p.lower() == ".git" or p.lower().startswith(".git ") or p.lower() == "git~1" for p in parts):
        return "a '.git' path component"
    if any(p in ("", ".", "..") for p in parts) or path.startswith("/"):
        return "a path with '.', '..' or empty components"
    if "\\" in path:
        return "a backslash in the path (a separator on Windows)"
    return None


def may_change_policy(ctx: GuardContext) -> bool:
    """Root and the trusted policy's ``gate.policy_owners`` may change the policy (with dual control)."""
    policy = ctx.loaded.policy
    return ctx.worker_id == policy.root or ctx.worker_id in policy.gate.policy_owners


def _policy_route(ctx: GuardContext) -> tuple[VoteValue, str] | None:
    """The documented route for a policy change, or None when this worker has none (it is protected).

    By root or a policy owner, with an override for the policy file approved by two people other
    than the requester (dual control, checked against the ledger) for exactly this change: approve.
    Without the approvals: abstain (revision), saying how to get them. The policy diff of the change
    (who got wider) is in the verdict either way.
    """
    if not may_change_policy(ctx):
        return None
    approving = [o for o in ctx.in_force if o.covers(ctx.policy_path)]
    if approving:
        o = approving[0]
        return VoteValue.APPROVE, (f"policy change by {ctx.worker_id}, approved under override {o.id[:12]} by "
                                   f"{', '.join(o.valid_approvers())} (dual control); its policy diff is in "
                                   "this verdict")
    return VoteValue.ABSTAIN, (
        f"policy change by {ctx.worker_id}: it lands only with two approvals: `lanewarden override request "
        f"--worker {ctx.worker_id} --path {ctx.policy_path} --base BASE --head HEAD --reason ...`, then two "
        "other people run `lanewarden override approve ID` (or the code host's required review, docs/ci.md)")


def vote(ctx: GuardContext) -> Vote:
    reasons: list[str] = []
    pending: list[str] = []
    approved: list[str] = []
    policy_path = ctx.policy_path
    for change in ctx.changes:
        if change.path == policy_path:
            route = _policy_route(ctx)
            if route is not None:
                value, why = route
                ctx.flag(change.path, why)
                (approved if value is VoteValue.APPROVE else pending).append(why)
                continue
        problem = _path_problem(change.path, policy_path)
        if problem is None and change.notes and any("embedded git repository" in n for n in change.notes):
            problem = "an embedded git repository"
        if problem is None and change.new_mode == SYMLINK:
            problem = _symlink_problem(ctx, change.path, change.link_target)
        if problem is not None:
            ctx.protected.add(change.path)
            ctx.flag(change.path, f"protected: {problem}")
            reasons.append(f"{change.path!r}: {problem}")
    if reasons:
        return Vote(guard=NAME, vote=VoteValue.REJECT, reasons=tuple(reasons + pending))
    if pending:
        return Vote(guard=NAME, vote=VoteValue.ABSTAIN, reasons=tuple(pending))
    return Vote(guard=NAME, vote=VoteValue.APPROVE,
                reasons=tuple(approved) if approved else ("no protected path touched",))


def _symlink_problem(ctx: GuardContext, path: str, target: bytes | None) -> str | None:
    if target is None:
        return "a symlink whose target cannot be read"
    text = fsdecode(target)
    if not text or text.startswith("/") or "\0" in text:
        return f"a symlink to {text!r}, outside the repository"
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), text))
    if resolved == ".." or resolved.startswith("../"):
        return f"a symlink to {text!r}, which leaves the repository"
    if resolved == "." or any(p.lower() == ".git" for p in resolved.split("/")):
        return f"a symlink to {text!r}, into the repository root or .git"
    standing = ctx.index.standing(resolved, ctx.worker_id)
    if standing.path_class not in (PathClass.WRITABLE, PathClass.HANDOFF_REQUIRED):
        return f"a symlink to {text!r} ({resolved}), outside the write scope of {ctx.worker_id}"
    collided = ctx.index.collision(resolved, ctx.worker_id)
    if collided is not None:
        return f"a symlink to {text!r} ({resolved}), which {collided[0].rule}"
    return None
