"""The scope guard: every touched path classified for the worker.

out_of_scope rejects; propose_only and handoff_required ask for revision and
become handoff drafts routed to the path's owner (handoff_required: to root).
"""
from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lanewarden.guards.changes import Change, Status
from lanewarden.guards.context import GuardContext
from lanewarden.guards.verdict import Vote, VoteValue
from lanewarden.workers.ownership import PathClass, Standing

if TYPE_CHECKING:
    from lanewarden.guards.override import Override

NAME = "scope"
_WRITABLE, _HANDOFF_REQUIRED = PathClass.WRITABLE, PathClass.HANDOFF_REQUIRED  # enum lookups are slow
_IN_LANE = (_WRITABLE, _HANDOFF_REQUIRED)


def classify(ctx: GuardContext) -> None:
    """Fill ``ctx.standings`` and ``ctx.routes`` once for every path.

    When every pattern that could match a path is a ``dir/**`` pattern, the
    answer depends only on the path's folder, so it is computed once per folder.
    """
    index = ctx.index
    by_folder: dict[str, tuple[Standing, str | None]] = {}
    only_below: dict[str, bool] = {}
    for change in ctx.changes:
        path = change.path
        folder, _, name = path.rpartition("/")
        node, candidates = index.folder(folder)
        extra = node.child(name) if node is not None else None
        if extra is not None and extra.rules:
            candidates = candidates + extra.rules
            cacheable = False
        elif index.ordered is not None:
            cacheable = False  # ordered rules (CODEOWNERS) decide file by file
        else:
            cacheable = only_below.get(folder)  # type: ignore[assignment]
            if cacheable is None:
                cacheable = only_below[folder] = all(r.pattern.below is not None for r in candidates)
        known = by_folder.get(folder) if cacheable else None
        if known is None:
            hits = index.hits(path, index.matching(path, candidates))
            standing = index.standing_from(hits.get(ctx.worker_id, {}))
            route: str | None = None
            if standing.path_class is _HANDOFF_REQUIRED:
                route = index.root_worker
            elif standing.path_class is not _WRITABLE:
                route = index.owner_from(hits)
            known = (standing, route)
            if cacheable:
                by_folder[folder] = known
        if known[0].path_class in _IN_LANE and index.needs_fold_check(path):
            collided = index.collision(path, ctx.worker_id)
            if collided is not None:  # one file with a denied or foreign path on a case-insensitive checkout
                known = collided
        ctx.standings[path] = known[0]
        if known[1] is not None:
            ctx.routes[path] = known[1]
    policy = ctx.loaded.policy
    if ctx.policy_path in ctx.standings and (ctx.worker_id == policy.root
                                             or ctx.worker_id in policy.gate.policy_owners):
        # Root and the policy owners change the policy through its own route, never through their
        # lane: the protected guard approves it only with dual-control approvals (guards/protected.py).
        ctx.standings[ctx.policy_path] = Standing(_WRITABLE, "policy route: dual control (protected guard)", None)
        ctx.routes.pop(ctx.policy_path, None)


def needs_override(ctx: GuardContext) -> bool:
    """Whether any path is not writable, the only case in which overrides matter."""
    return any(s.path_class is not _WRITABLE for s in ctx.standings.values())


def apply_overrides(ctx: GuardContext, items: Sequence[Override]) -> list[str]:
    """Make the paths an override in force covers writable; returns the ids used.

    Only the scope class changes: the protected-path and secrets guards vote on
    their own afterwards, so an override can never pass them.
    """
    used: list[str] = []
    for path, standing in list(ctx.standings.items()):
        if standing.path_class is _WRITABLE:
            continue
        for item in items:
            if item.covers(path):
                ctx.standings[path] = Standing(_WRITABLE, f"override {item.id}", None)
                ctx.routes.pop(path, None)
                ctx.flag(path, f"writable by override {item.id} ({item.reason}); "
                               f"approved by {', '.join(item.valid_approvers())}")
                if item.id not in used:
                    used.append(item.id)
                break
    return used


def override_near_misses(ctx: GuardContext, consulted: Sequence[Override], diff_sha256: str,
                         at: datetime.datetime) -> list[str]:
    """Notes on the overrides that almost made the still-blocked paths writable, and why not."""
    if not consulted:  # the usual case: no list of blocked paths to build
        return []
    blocked = [c.path for c in ctx.changes if ctx.standings[c.path].path_class is not _WRITABLE]
    if not blocked:
        return []
    from lanewarden.guards.override import near_misses

    try:
        return near_misses(consulted, ctx.worker_id, diff_sha256, at, blocked)
    except Exception as exc:  # an explanation that fails must not change how paths were classified
        return [f"near misses not explained: {type(exc).__name__}: {exc}"]


_APPENDABLE_MODES = ("100644", "100755")


def apply_shared(ctx: GuardContext) -> None:
    """Lines added to a shared append-only file are open to every worker; nothing else about it is.

    Decided from the real hunks of the change (read with unidiff): every hunk
    must insert lines and remove none, on a file that stays where it is with
    the same mode. Anything else keeps the worker's own class for the path
    (out of scope, routed to the owner), with the reason.
    """
    from lanewarden.workers.pattern import compile_pattern

    patterns = [compile_pattern(p) for p in ctx.loaded.policy.shared.append_only]
    if not patterns:
        return
    candidates = [c for c in ctx.changes if ctx.standings[c.path].path_class in (PathClass.OUT_OF_SCOPE,
                                                                                  PathClass.PROPOSE_ONLY)
                  and any(p.matches(c.path) for p in patterns)]
    if not candidates:
        return
    ctx.changeset.complete()  # the hunks are needed now
    for change in candidates:
        problem = _append_problem(change)
        if problem is None:
            ctx.standings[change.path] = Standing(PathClass.SHARED_APPEND, "shared append-only file", None)
            ctx.routes.pop(change.path, None)
            ctx.flag(change.path, f"shared append-only file: {change.added_lines} line(s) added, none changed")
        else:
            ctx.flag(change.path, f"shared append-only file: only added lines are open to every worker, "
                                  f"but this change {problem}")
            rule = next(p.text for p in patterns if p.matches(change.path))
            ctx.notes.append(f"near miss: shared.append_only {rule!r} covers {change.path!r}, but the change "
                             f"{problem}: only a change that adds lines and alters none is open to every worker")


def _append_problem(change: Change) -> str | None:
    """Why the change is not a pure addition of lines, or None when it is."""
    from unidiff.errors import UnidiffParseError
    from unidiff.patch import PatchSet

    if change.status is not Status.MODIFIED:
        return {Status.DELETED: "deletes the file", Status.ADDED: "creates the file (a rename moves it)",
                Status.UNTRACKED: "creates the file"}.get(change.status, f"is a {change.status.value} change")
    if change.old_mode != change.new_mode or change.new_mode not in _APPENDABLE_MODES:
        return f"changes its mode ({change.old_mode} -> {change.new_mode})"
    if not change.hunks:
        return "has no line changes to check"
    text = b"--- a/f\n+++ b/f\n" + b"".join(h.lstrip(b"\n") + (b"" if h.endswith(b"\n") else b"\n")
                                          for h in change.hunks)
    try:
        files = PatchSet(text.decode("utf-8", "surrogateescape"))
    except UnidiffParseError as exc:
        return f"has hunks that cannot be read ({exc}); refusing to guess"
    hunks = [h for f in files for h in f]
    removed = sum(h.removed for h in hunks)
    added = sum(h.added for h in hunks)
    if removed or any(h.source_length for h in hunks):
        lines = [ln.source_line_no for h in hunks for ln in h if ln.is_removed and ln.source_line_no]
        where = f" (line{'s' if len(lines) != 1 else ''} {_spans(lines)} of the old file)" if lines else ""
        return f"deletes or alters {removed or 'existing'} line(s){where}"
    if added != change.added_lines or added == 0:
        return "has hunks that do not add up; refusing to guess"
    return None


def _spans(numbers: list[int]) -> str:
    """1, 2, 3, 7 -> '1-3, 7' (which lines an edit of a shared file touched)."""
    out: list[str] = []
    for n in sorted(set(numbers)):
        if out and out[-1].rpartition("-")[2] == str(n - 1):
            out[-1] = f"{out[-1].partition('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)


def vote(ctx: GuardContext) -> Vote:
    standings = ctx.standings
    classes = [standings[c.path].path_class for c in ctx.changes]
    counts = Counter(classes)  # counted in C: this runs per path
    stray = counts.get(PathClass.OUT_OF_SCOPE, 0)
    handoff = counts.get(PathClass.PROPOSE_ONLY, 0) + counts.get(PathClass.HANDOFF_REQUIRED, 0)
    if stray:
        out = PathClass.OUT_OF_SCOPE
        strays = [c.path for c, cls in zip(ctx.changes, classes, strict=True) if cls == out]
        return Vote(guard=NAME, vote=VoteValue.REJECT, reasons=(
            f"{stray} path(s) outside the write scope of {ctx.worker_id}: {_sample(strays)}",
            "hand these changes to their owners (lanewarden handoff propose) instead of editing them"))
    if handoff:
        return Vote(guard=NAME, vote=VoteValue.ABSTAIN, reasons=(
            f"{handoff} path(s) need a handoff: propose-only or root review required",))
    return Vote(guard=NAME, vote=VoteValue.APPROVE,
                reasons=(f"all {len(ctx.changes)} path(s) are writable for {ctx.worker_id}",))


def _sample(paths: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(p) for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
