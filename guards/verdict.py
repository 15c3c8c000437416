"""Votes, veto consensus and the verdict (ARCHITECTURE sections 1 and 5, a contract)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, NamedTuple

from lanewarden.guards.mode import Mode as Mode  # re-exported: the verdict names its mode

SCHEMA = "lanewarden.verdict/1"


class VoteValue(str, Enum):
    APPROVE = "approve"
    REJECT = "reject"
    ABSTAIN = "abstain"


class Decision(str, Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    REVISION = "revision"


EXIT_CODES: dict[Decision, int] = {Decision.ACCEPT: 0, Decision.REJECT: 1, Decision.REVISION: 3}


# Plain frozen dataclasses, not pydantic: a verdict holds one report per changed
# path (tens of thousands on a large range) and is built on every hook run.


@dataclass(frozen=True, slots=True)
class Vote:
    guard: str
    vote: VoteValue
    reasons: tuple[str, ...] = ()


class ChangeReport(NamedTuple):
    """One changed path in the verdict. A named tuple, not a frozen dataclass: one is built per path
    (100,000 on a large range), and a tuple is made in C where a frozen dataclass sets each field
    through ``object.__setattr__`` (five times slower). Immutable either way."""

    path: str
    status: str
    old_mode: str | None
    new_mode: str | None
    renamed_from: str | None
    renamed_to: str | None
    path_class: str
    rule: str
    route_to: str | None
    reasons: tuple[str, ...] = ()
    added_lines: int = 0
    deleted_lines: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "old_mode": self.old_mode,
                "new_mode": self.new_mode, "renamed_from": self.renamed_from, "renamed_to": self.renamed_to,
                "class": self.path_class, "rule": self.rule, "route_to": self.route_to,
                "reasons": list(self.reasons), "added_lines": self.added_lines,
                "deleted_lines": self.deleted_lines}


@dataclass(frozen=True, slots=True)
class HandoffDraft:
    """Out-of-lane work found by the guard; the handoffs layer stores and routes it."""

    target_worker: str
    reason: str
    path_class: str
    paths: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"target_worker": self.target_worker, "reason": self.reason, "class": self.path_class,
                "paths": list(self.paths)}


@dataclass(frozen=True, slots=True)
class PolicyRef:
    source: str  # "revision" or "file"
    rev: str | None
    path: str
    sha256: str
    trusted: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    worker: str
    mode: Mode
    base: str | None
    head: str | None
    head_tree: str
    policy: PolicyRef
    diff_sha256: str
    changes: tuple[ChangeReport, ...]
    votes: tuple[Vote, ...]
    handoffs: tuple[HandoffDraft, ...]
    notes: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()  # ids of the overrides that made paths writable
    policy_diff: dict[str, Any] | None = None  # when the change touches the policy file

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "decision": self.decision.value,
            "exit_code": self.exit_code,
            "worker": self.worker,
            "mode": self.mode.value,
            "base": self.base,
            "head": self.head,
            "head_tree": self.head_tree,
            "policy": asdict(self.policy),
            "diff_sha256": self.diff_sha256,
            "changes": [c.as_json() for c in self.changes],
            "votes": [{"guard": v.guard, "vote": v.vote.value, "reasons": list(v.reasons)} for v in self.votes],
            "handoffs": [h.as_json() for h in self.handoffs],
            "notes": list(self.notes),
            "overrides": list(self.overrides),
            "policy_diff": self.policy_diff,
        }


def consensus(votes: list[Vote]) -> Decision:
    """Veto consensus: any reject rejects; else any abstain asks for revision; else accept.

    No votes at all is not an approval.
    """
    if not votes:
        return Decision.REVISION
    values = {v.vote for v in votes}
    if VoteValue.REJECT in values:
        return Decision.REJECT
    if VoteValue.ABSTAIN in values:
        return Decision.REVISION
    return Decision.ACCEPT
