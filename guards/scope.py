"""The scope guard: every touched path classified for the worker.

out_of_scope rejects; propose_only and handoff_required ask for revision and
become handoff drafts routed to the path's owner (handoff_required: to root).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from guards.context import GuardContext
from guards.verdict import Vote, VoteValue
from workers.ownership import PathClass, Standing

if TYPE_CHECKING:
    from guards.override import Override

NAME = "scope"
_WRITABLE, _HANDOFF_REQUIRED = PathClass.WRITABLE, PathClass.HANDOFF_REQUIRED  # enum lookups are slow


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
        extra = node.children.get(name) if node is not None else None
        if extra is not None and extra.rules:
            candidates = candidates + extra.rules
            cacheable = False
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
        ctx.standings[path] = known[0]
        if known[1] is not None:
            ctx.routes[path] = known[1]


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


def vote(ctx: GuardContext) -> Vote:
    counts: dict[PathClass, int] = {}
    for change in ctx.changes:
        cls = ctx.standings[change.path].path_class
        counts[cls] = counts.get(cls, 0) + 1
    stray = counts.get(PathClass.OUT_OF_SCOPE, 0)
    handoff = counts.get(PathClass.PROPOSE_ONLY, 0) + counts.get(PathClass.HANDOFF_REQUIRED, 0)
    if stray:
        strays = [c.path for c in ctx.changes if ctx.standings[c.path].path_class == PathClass.OUT_OF_SCOPE]
        return Vote(guard=NAME, vote=VoteValue.REJECT, reasons=(
            f"{stray} path(s) outside the write scope of {ctx.worker_id}: {_sample(strays)}",
            "hand these changes to their owners (laneguard handoff propose) instead of editing them"))
    if handoff:
        return Vote(guard=NAME, vote=VoteValue.ABSTAIN, reasons=(
            f"{handoff} path(s) need a handoff: propose-only or root review required",))
    return Vote(guard=NAME, vote=VoteValue.APPROVE,
                reasons=(f"all {len(ctx.changes)} path(s) are writable for {ctx.worker_id}",))


def _sample(paths: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(p) for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
