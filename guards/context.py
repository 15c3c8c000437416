"""What every guard sees: the change set, the worker, the trusted policy, and shared findings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lanewarden.guards.changes import Change, ChangeSet
from lanewarden.workers.layout import POLICY_FILE
from lanewarden.workers.ownership import OwnershipIndex, Standing

if TYPE_CHECKING:
    from lanewarden.guards.override import Override
    from lanewarden.workers.loader import LoadedPolicy
    from lanewarden.workers.policy import Worker


@dataclass
class GuardContext:
    changeset: ChangeSet
    worker_id: str
    loaded: LoadedPolicy
    index: OwnershipIndex
    standings: dict[str, Standing] = field(default_factory=dict)
    routes: dict[str, str] = field(default_factory=dict)
    # Filled by guards as they find things; shown per path in the verdict.
    reasons: dict[str, list[str]] = field(default_factory=dict)
    protected: set[str] = field(default_factory=set)
    # Verdict-wide notes guards leave (near misses: an exception that almost applied, and why not).
    notes: list[str] = field(default_factory=list)
    policy_path: str = POLICY_FILE
    # Overrides in force for this worker and this exact change (dual-control approvals).
    in_force: tuple[Override, ...] = ()

    @property
    def worker(self) -> Worker:
        return self.loaded.policy.workers[self.worker_id]

    @property
    def changes(self) -> list[Change]:
        return self.changeset.changes

    def flag(self, path: str, reason: str) -> None:
        self.reasons.setdefault(path, []).append(reason)
