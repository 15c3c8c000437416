"""What a policy change means: pattern edits per worker, and whose writable set grew.

A widening is not always visible in the text: removing a ``deny`` line, or an
``allow`` pattern whose glob reaches further than it reads, grows a lane just
as well as a new ``allow`` line. So besides the textual difference, every
worker whose patterns changed is checked on the tracked files: the paths it
may write under the new policy and could not under the old one.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from lanewarden.workers.keys import keys_of
from lanewarden.workers.ownership import OwnershipIndex, PathClass
from lanewarden.workers.policy import DECIDING_FIELDS, PATTERN_FIELDS, Policy, Worker

_MAY_WRITE = (PathClass.WRITABLE, PathClass.HANDOFF_REQUIRED)
SAMPLE = 20


@dataclass(frozen=True)
class WorkerChange:
    worker: str
    added: dict[str, list[str]] = field(default_factory=dict)  # field -> patterns
    removed: dict[str, list[str]] = field(default_factory=dict)
    settings: list[str] = field(default_factory=list)  # every key that holds no patterns: cwd, budgets, ...
    newly_writable: int = 0
    no_longer_writable: int = 0
    newly_writable_sample: list[str] = field(default_factory=list)

    @property
    def grew(self) -> bool:
        return self.newly_writable > 0

    @property
    def widened_by_text(self) -> bool:
        """A new allow, or a removed deny/propose-only: wider on paper, tracked files or not."""
        return bool(self.added.get("allow") or self.removed.get("deny") or self.removed.get("propose_only"))


@dataclass(frozen=True)
class PolicyDiff:
    old: str
    new: str
    workers_added: list[str]
    workers_removed: list[str]
    workers: list[WorkerChange]
    root: tuple[str, str] | None
    contracts: dict[str, list[str]]  # added / removed / changed -> ids
    e2e: dict[str, list[str]]
    reviewers: dict[str, list[str]]
    files_checked: int

    @property
    def grown(self) -> list[str]:
        """Workers that may write tracked paths they could not write before."""
        return [w.worker for w in self.workers if w.grew]

    @property
    def empty(self) -> bool:
        return not (self.workers_added or self.workers_removed or self.workers or self.root
                    or any(self.contracts.values()) or any(self.e2e.values()) or any(self.reviewers.values()))

    def as_json(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "workers_added": self.workers_added,
                "workers_removed": self.workers_removed, "grown": self.grown,
                "workers": [{**asdict(w), "grew": w.grew, "widened_by_text": w.widened_by_text}
                            for w in self.workers],
                "root": list(self.root) if self.root else None, "contracts": self.contracts, "e2e": self.e2e,
                "reviewers": self.reviewers, "files_checked": self.files_checked}


def _sections(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str]]:
    return {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
            "changed": sorted(k for k in set(old) & set(new) if old[k] != new[k])}


_SETTINGS = tuple(k.name for k in keys_of(Worker) if k.name not in PATTERN_FIELDS)


def _settings(old: Worker, new: Worker) -> list[str]:
    out = []
    for name in _SETTINGS:
        if getattr(old, name) != getattr(new, name):
            out.append(f"{name}: {getattr(old, name)!r} -> {getattr(new, name)!r}")
    return out


def compare(old: Policy, new: Policy, files: Iterable[str], *, old_name: str = "old",
            new_name: str = "new") -> PolicyDiff:
    """The difference between two valid policies, checked on ``files`` (the tracked paths)."""
    paths = sorted(set(files))
    old_index, new_index = OwnershipIndex(old), OwnershipIndex(new)
    changes: list[WorkerChange] = []
    empty = Worker()
    for wid in sorted(set(old.workers) | set(new.workers)):
        before, after = old.workers.get(wid, empty), new.workers.get(wid, empty)
        added = {f: [p for p in getattr(after, f) if p not in getattr(before, f)] for f in PATTERN_FIELDS}
        removed = {f: [p for p in getattr(before, f) if p not in getattr(after, f)] for f in PATTERN_FIELDS}
        added = {f: v for f, v in added.items() if v}
        removed = {f: v for f, v in removed.items() if v}
        settings = _settings(before, after) if wid in old.workers and wid in new.workers else []
        # Ordered ownership rules grant writes too: when they change, every worker's lane is checked.
        reowned = old.ownership != new.ownership
        if not (added or removed or settings or reowned):
            continue
        grown: list[str] = []
        shrunk = 0
        if reowned or any(f in added or f in removed for f in DECIDING_FIELDS):
            for path in paths:
                was = wid in old.workers and old_index.standing(path, wid).path_class in _MAY_WRITE
                now = wid in new.workers and new_index.standing(path, wid).path_class in _MAY_WRITE
                if now and not was:
                    grown.append(path)
                elif was and not now:
                    shrunk += 1
        if reowned and not (added or removed or settings or grown or shrunk):
            continue
        if reowned:
            settings.append("ownership rules changed (ownership:)")
        changes.append(WorkerChange(worker=wid, added=added, removed=removed, settings=settings,
                                    newly_writable=len(grown), no_longer_writable=shrunk,
                                    newly_writable_sample=grown[:SAMPLE]))
    return PolicyDiff(
        old=old_name, new=new_name,
        workers_added=sorted(set(new.workers) - set(old.workers)),
        workers_removed=sorted(set(old.workers) - set(new.workers)),
        workers=changes, root=(old.root, new.root) if old.root != new.root else None,
        contracts=_sections(old.contracts, new.contracts), e2e=_sections(old.e2e, new.e2e),
        reviewers=_sections(old.reviewers, new.reviewers), files_checked=len(paths))
