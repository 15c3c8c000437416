"""The panel: every guard votes on one worker's change, and the votes become a verdict.

``engine.guard`` (the one entry point) imports this module once git is already
reading the change: the guards, the ownership index and the policy's types are
most of the guard's own import time, and loading them then overlaps git's work.
"""
from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lanewarden.guards import budget, protected, scope, secrets
from lanewarden.guards.acting import policy_ref
from lanewarden.guards.changes import ChangeSet, Status
from lanewarden.guards.context import GuardContext
from lanewarden.guards.verdict import ChangeReport, HandoffDraft, Verdict, Vote, VoteValue, consensus
from lanewarden.workers.ownership import OwnershipIndex, PathClass

if TYPE_CHECKING:
    from lanewarden.guards.override import Override
    from lanewarden.workers.loader import LoadedPolicy

GUARDS: tuple[tuple[str, Callable[[GuardContext], Vote]], ...] = (
    (scope.NAME, scope.vote),
    (protected.NAME, protected.vote),
    (secrets.NAME, secrets.vote),
    (budget.NAME, budget.vote),
)
# Guards that read added lines or line counts; the ones before them run on paths alone.
_NEED_LINES = frozenset({secrets.NAME, budget.NAME})

# Enum .value is a descriptor lookup; a verdict reads it for every path.
_STATUS_TEXT = {s: s.value for s in Status}
_PROTECTED, _OUT_OF_SCOPE = PathClass.PROTECTED, PathClass.OUT_OF_SCOPE
_CLASS_TEXT = {c: c.value for c in PathClass}

_HANDOFF_REASON = {
    PathClass.PROPOSE_ONLY: "propose-only for the worker: the owner applies it",
    PathClass.HANDOFF_REQUIRED: "writable, but changes here need root review",
    PathClass.OUT_OF_SCOPE: "outside the worker's write scope: the owner decides",
    PathClass.PROTECTED: "protected path: only the root changes it, through review",
}


def judge(changeset: ChangeSet, loaded: LoadedPolicy, worker: str, *,
          overrides: Callable[[], Sequence[Override]] | None = None,
          at: datetime.datetime | None = None) -> Verdict:
    ctx = GuardContext(changeset=changeset, worker_id=worker, loaded=loaded,
                       index=OwnershipIndex(loaded.policy))
    votes: list[Vote] = []
    used: list[str] = []
    try:
        scope.classify(ctx)  # needs only the paths: runs while git still writes the patch
        # A policy change needs dual control even where the worker's lane covers the file.
        touches_policy = any(c.path == ctx.policy_path for c in changeset.changes)
        if overrides is not None and (touches_policy or scope.needs_override(ctx)):
            from lanewarden.guards.override import in_force

            moment = at or datetime.datetime.now(datetime.timezone.utc)
            consulted = overrides()
            items = in_force(consulted, worker, changeset.diff_sha256, moment)
            ctx.in_force = tuple(items)
            used = scope.apply_overrides(ctx, items) if items else []
            if touches_policy:
                used += [o.id for o in items if o.covers(ctx.policy_path) and o.id not in used]
            ctx.notes.extend(scope.override_near_misses(ctx, consulted, changeset.diff_sha256, moment))
        if loaded.policy.shared.append_only and scope.needs_override(ctx):
            scope.apply_shared(ctx)
    except Exception as exc:
        votes.append(Vote(guard="classify", vote=VoteValue.ABSTAIN,
                          reasons=(f"classification crashed: {type(exc).__name__}: {exc}",)))
    for name, run in GUARDS:
        if name in _NEED_LINES and changeset.pending is not None:
            changeset.complete()  # the guards before this one need only paths and modes
        try:
            votes.append(run(ctx))
        except Exception as exc:
            votes.append(Vote(guard=name, vote=VoteValue.ABSTAIN,
                              reasons=(f"guard crashed: {type(exc).__name__}: {exc}",)))
    changeset.complete()
    reports = _reports(ctx)
    trusted = loaded.origin == "revision"
    notes = [*changeset.notes, *ctx.notes]  # near misses the guards explained
    if not trusted:
        notes.append(f"policy read from the file {loaded.source}, not from a trusted revision: "
                     "a dry run, not a gate")
    return Verdict(
        decision=consensus(votes), worker=worker, mode=changeset.mode, base=changeset.base,
        head=changeset.head, head_tree=changeset.head_tree,
        policy=policy_ref(loaded), diff_sha256=changeset.diff_sha256, changes=tuple(reports), votes=tuple(votes),
        handoffs=tuple(_drafts(reports)), notes=tuple(notes), overrides=tuple(used))


def _reports(ctx: GuardContext) -> list[ChangeReport]:
    """One report per change; written as one loop with local names (it runs per path)."""
    out: list[ChangeReport] = []
    append = out.append
    standings, routes, protected, found_reasons = ctx.standings, ctx.routes, ctx.protected, ctx.reasons
    root = ctx.index.root_worker
    status_text, class_text = _STATUS_TEXT, _CLASS_TEXT
    route: str | None
    new = tuple.__new__  # a report made in C, without the named tuple's Python-level __new__
    for change in ctx.changes:
        path = change.path
        standing = standings.get(path)
        if path in protected:
            cls, rule, route = _PROTECTED, "protected path", root
        elif standing is None:  # classification crashed: nothing is writable
            cls, rule, route = _OUT_OF_SCOPE, "unclassified", root
        else:
            cls, rule, route = standing.path_class, standing.rule, routes.get(path)
        found = found_reasons.get(path)
        notes = change.notes
        reasons = tuple(notes + found) if found else tuple(notes) if notes else ()
        append(new(ChangeReport, (path, status_text[change.status], change.old_mode, change.new_mode,
                                  change.renamed_from, change.renamed_to, class_text[cls], rule, route, reasons,
                                  change.added_lines, change.deleted_lines)))
    return out


def _drafts(reports: list[ChangeReport]) -> list[HandoffDraft]:
    groups: dict[tuple[str, str], list[str]] = {}
    mark, writable = secrets.MARK, _CLASS_TEXT[PathClass.WRITABLE]  # an enum's .value is slow per path
    for r in reports:
        if r.path_class == writable or r.route_to is None:
            continue
        if r.reasons and any(x.startswith(mark) for x in r.reasons):
            continue  # a secret-like file is never handed on (its patch would carry the secret)
        groups.setdefault((r.route_to, r.path_class), []).append(r.path)
    return [HandoffDraft(target_worker=target, path_class=cls, reason=_HANDOFF_REASON[PathClass(cls)],
                         paths=tuple(paths))
            for (target, cls), paths in sorted(groups.items())]
