"""A handoff's states and the actions that move it between them.

Kept apart from the record's model (``model.py``) so that code which only
compares states (a review with no handoff to read) does not load pydantic.
"""
from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    OPEN = "open"
    ACCEPTED = "accepted"
    APPLIED = "applied"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


class Action(str, Enum):
    CREATE = "create"
    ACCEPT = "accept"
    APPLY = "apply"
    REJECT = "reject"
    SUPERSEDE = "supersede"
    REOPEN = "reopen"


# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.ACCEPT: (frozenset({Status.OPEN}), Status.ACCEPTED),
    Action.APPLY: (frozenset({Status.ACCEPTED}), Status.APPLIED),
    Action.REJECT: (frozenset({Status.OPEN, Status.ACCEPTED}), Status.REJECTED),
    Action.SUPERSEDE: (frozenset({Status.OPEN, Status.ACCEPTED}), Status.SUPERSEDED),
    Action.REOPEN: (frozenset({Status.REJECTED, Status.SUPERSEDED}), Status.OPEN),
}


def next_status(current: Status, action: Action) -> Status:
    """The state ``action`` leads to from ``current``; ValueError when it is illegal."""
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        starts = ", ".join(sorted(s.value for s in allowed))
        raise ValueError(f"cannot {action.value} a handoff that is {current.value} "
                         f"({action.value} works from: {starts})")
    return target
