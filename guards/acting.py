"""Who is acting: the worker a guard request acts as, and how a change no worker made is judged.

ARCHITECTURE section 8: a lane is bound to an identity the change cannot choose.
A CI identity maps to a worker through the trusted policy's ``actors``; a change
with no worker is judged by the trusted policy's ``gate.unattributed`` (docs/guard.md,
"Who is acting").
"""
from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from lanewarden.guards.changes import Change, ChangeSet
from lanewarden.guards.verdict import PolicyRef, Verdict, Vote, VoteValue, consensus
from lanewarden.workers.errors import InputError
from lanewarden.workers.layout import POLICY_FILE
from lanewarden.workers.ownership import OwnershipIndex

if TYPE_CHECKING:
    from lanewarden.guards.engine import GuardRequest
    from lanewarden.guards.override import Override
    from lanewarden.workers.loader import LoadedPolicy


def acting_worker(req: GuardRequest, loaded: LoadedPolicy) -> tuple[str | None, list[str]]:
    """The worker a request acts as (None: unattributed) and notes on how it was decided.

    With an actor (a CI identity), the trusted policy decides through each worker's
    ``actors``; a ``worker`` given beside it must be one the actor may act as.
    """
    if req.actor is None:
        return req.worker, []
    who = req.actor.lower()
    allowed = sorted(w for w, spec in loaded.policy.workers.items() if who in {a.lower() for a in spec.actors})
    if req.worker is not None:
        if req.worker not in allowed:
            raise InputError(f"{req.actor!r} may not act as worker {req.worker!r}: the trusted policy's "
                             f"workers.{req.worker}.actors does not name it",
                             hint="add the identity to that worker's actors in the policy (through its review), "
                                  "or leave --worker out and let the identity decide")
        return req.worker, [f"acting as {req.worker}: {req.actor} is one of its actors"]
    if len(allowed) > 1:
        raise InputError(f"{req.actor!r} may act as {', '.join(allowed)}: the trusted policy does not say which",
                         hint="give each CI identity one worker in workers.<id>.actors, or pass --worker")
    if allowed:
        return allowed[0], [f"acting as {allowed[0]}: {req.actor} is one of its actors"]
    return None, [f"{req.actor} is no worker's actor: judged as an unattributed change "
                  f"(gate.unattributed: {loaded.policy.gate.unattributed})"]


def policy_ref(loaded: LoadedPolicy) -> PolicyRef:
    """Where a verdict's policy came from (a file is a dry run, never trusted)."""
    trusted = loaded.origin == "revision"
    return PolicyRef(source=loaded.origin, rev=loaded.rev, path=POLICY_FILE if trusted else loaded.source,
                     sha256=loaded.sha256, trusted=trusted)


UNATTRIBUTED = "(unattributed)"  # a verdict's worker when no worker acted (never a worker id)


def unattributed(changeset: ChangeSet, loaded: LoadedPolicy,
                 overrides: Callable[[str], Sequence[Override]] | None = None, *,
                 at: datetime.datetime | None = None) -> Verdict:
    """A change no worker made (a person's commit), judged by the trusted policy's ``gate.unattributed``.

    ``owners``: every path is judged in its owner's lane, each lane on its own paths (a
    person may change what its owners may; protected paths, secrets, budgets and the policy
    route still apply), and the votes merge by veto consensus. ``skip``: accepted with a note.
    ``reject``: rejected.
    """
    rule = loaded.policy.gate.unattributed
    if rule != "owners" or not changeset.changes:
        value = VoteValue.REJECT if rule == "reject" else VoteValue.APPROVE
        why = ("no worker acted and the trusted policy rejects unattributed changes (gate.unattributed: reject)"
               if rule == "reject" else
               "no worker acted; the trusted policy lets unattributed changes through unguarded "
               "(gate.unattributed: skip)" if changeset.changes else "nothing changed")
        changeset.complete()
        vote = Vote("identity", value, (why,))
        return Verdict(
            decision=consensus([vote]), worker=UNATTRIBUTED, mode=changeset.mode,
            base=changeset.base, head=changeset.head, head_tree=changeset.head_tree, policy=policy_ref(loaded),
            diff_sha256=changeset.diff_sha256, changes=(), votes=(vote,), handoffs=(),
            notes=(*changeset.notes, why))
    changeset.complete()  # one patch, read once, shared by every owner's part
    index = OwnershipIndex(loaded.policy)
    parts: dict[str, list[Change]] = {}
    for change in changeset.changes:
        parts.setdefault(index.owner(change.path), []).append(change)
    from lanewarden.guards.panel import judge  # the panel calls in here: imported when used

    verdicts = [judge(replace(changeset, changes=changes, notes=[]), loaded, owner,
                      overrides=_bound(overrides, owner), at=at)
                for owner, changes in sorted(parts.items())]
    return _merge(verdicts, changeset)


def _bound(overrides: Callable[[str], Sequence[Override]] | None,
           owner: str) -> Callable[[], Sequence[Override]] | None:
    if overrides is None:
        return None
    return lambda: overrides(owner)


_WORST = {VoteValue.APPROVE: 0, VoteValue.ABSTAIN: 1, VoteValue.REJECT: 2}


def _merge(verdicts: list[Verdict], changeset: ChangeSet) -> Verdict:
    """One verdict of the owners' parts: each guard's worst vote, every reason with its lane."""
    votes: dict[str, tuple[VoteValue, list[str]]] = {}
    for v in verdicts:
        for vote in v.votes:
            worst, reasons = votes.get(vote.guard, (VoteValue.APPROVE, []))
            if _WORST[vote.vote] > _WORST[worst]:
                worst = vote.vote
            if vote.vote is not VoteValue.APPROVE or not reasons:
                reasons = reasons + [f"[{v.worker}] {r}" for r in vote.reasons]
            votes[vote.guard] = (worst, reasons)
    merged = tuple(Vote(g, value, tuple(reasons)) for g, (value, reasons) in votes.items())
    lanes = ", ".join(f"{v.worker} ({len(v.changes)} path{'s' if len(v.changes) != 1 else ''})" for v in verdicts)
    first = verdicts[0]
    return replace(first, decision=consensus(list(merged)), worker=UNATTRIBUTED,
                   changes=tuple(c for v in verdicts for c in v.changes), votes=merged,
                   handoffs=tuple(h for v in verdicts for h in v.handoffs),
                   notes=(*changeset.notes, f"no worker acted: judged by the owners of what it touches: {lanes}",
                          *(n for v in verdicts for n in v.notes)),
                   overrides=tuple(dict.fromkeys(o for v in verdicts for o in v.overrides)))
