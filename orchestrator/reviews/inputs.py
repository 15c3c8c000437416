"""What a review looks at: changed paths from a range or branches, proposed ones from lanewarden.handoffs.

Every path comes with where it came from (``ChangeRef``), so a report can say
"contracts/kms/kms.proto, proposed by handoff 32ae20dd (wallet-api -> contracts)"
rather than just naming a file. The policy always comes from the trusted
revision: the base of a range, else HEAD, never from a change under review.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanewarden.guards.sources import from_range, scratch
from lanewarden.handoffs.queue import Queue
from lanewarden.handoffs.states import Status
from lanewarden.orchestrator.reviews.copies import TreeListing
from lanewarden.workers.errors import InputError, LanewardenError
from lanewarden.workers.git import Git
from lanewarden.workers.layout import POLICY_FILE
from lanewarden.workers.loader import LoadedPolicy, load_file, load_revision

if TYPE_CHECKING:  # the record's model (pydantic) loads only when a handoff is read
    from lanewarden.handoffs.model import Handoff

# Handoffs whose work has not landed yet: an accepted handoff is still work to do.
PENDING = frozenset({Status.OPEN, Status.ACCEPTED})


@dataclass(frozen=True)
class ChangeRef:
    """One path that changes (or is proposed to change), and its source."""

    path: str
    source: str  # range | branch | handoff
    ref: str  # "BASE..HEAD", a branch name, or a handoff id
    status: str  # git's status (added, modified, ...) or "proposed"
    worker: str | None = None  # who changed it or proposes it

    @property
    def proposed(self) -> bool:
        return self.source == "handoff"

    def describe(self) -> str:
        """Where the change comes from, in words."""
        who = f" by {self.worker}" if self.worker else ""
        if self.source == "handoff":
            return f"proposed{who} in handoff {self.ref[:12]}"
        return f"{self.status}{who} in {self.source} {self.ref}"

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "source": self.source, "ref": self.ref, "status": self.status,
                "worker": self.worker, "proposed": self.proposed}


@dataclass(frozen=True)
class Subject:
    """The changes of one review, the trusted policy and where service mappings are read."""

    loaded: LoadedPolicy
    base: str | None
    head: str | None
    mapping_rev: str | None
    changes: tuple[ChangeRef, ...]
    handoffs: tuple[Handoff, ...]
    sources: tuple[str, ...]
    listing: TreeListing | None = None  # mapping_rev's files, being listed in the background

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(c.path for c in self.changes)


def short(rev: str | None) -> str:
    return rev[:12] if rev else "-"


def range_changes(git: Git, base: str, head: str | None) -> tuple[str, str, list[ChangeRef]]:
    """``(base commit, head commit, changes)`` of merge-base(base, head)..head, read as bare."""
    bare = git.without_worktree()
    with scratch(bare) as env:
        changeset = from_range(bare, env, base, head)
        changeset.complete()  # let git's patch reader finish before the scratch folder goes
    assert changeset.base is not None and changeset.head is not None
    ref = f"{short(changeset.base)}..{short(changeset.head)}"
    return changeset.base, changeset.head, [ChangeRef(c.path, "range", ref, c.status.value)
                                             for c in changeset.changes]


def pending_handoffs(git: Git, notes: list[str] | None = None) -> list[Handoff]:
    """Open and accepted handoffs, oldest first; ``notes`` gets a line per damaged handoff ref skipped."""
    found, damaged = Queue(git).scan()
    if notes is not None:
        notes.extend(f"handoff ref skipped: {d.line()}; see `lanewarden handoffs list`" for d in damaged)
    items = [s.handoff for s in found if s.handoff.status in PENDING]
    return sorted(items, key=lambda h: (h.created_at, h.id))


def handoff_changes(h: Handoff) -> list[ChangeRef]:
    return [ChangeRef(p, "handoff", h.id, "proposed", h.source_worker) for p in h.evidence.paths]


def trusted_policy(git: Git, base: str | None, policy_file: Path | None = None) -> tuple[str, LoadedPolicy]:
    """The commit the policy is read from (the base, else HEAD) and the policy itself.

    ``policy_file`` is a dry run (``--policy FILE``, as in ``guard``): the policy then comes from the
    file, its origin says "file", and nothing built on it is a trusted decision.
    """
    if policy_file is not None:
        commit = git.head_commit() if base is None else git.resolve_commit(base, what="base revision")
        if commit is None:
            raise InputError("HEAD has no commit yet, so there is nothing to review", hint="commit your code first")
        return commit, load_file(policy_file)
    if base is None:
        head = git.head_commit()
        if head is None:
            raise InputError("HEAD has no commit yet, so there is no trusted policy",
                             hint=f"commit {POLICY_FILE} first")
        return head, load_revision(git, head)
    commit = git.resolve_commit(base, what="base revision")
    return commit, load_revision(git, commit)


def collect(git: Git, *, base: str | None, head: str | None, handoffs: bool,
            policy_file: Path | None = None) -> Subject:
    """The range (when ``base`` is given) and/or the pending handoffs, with the trusted policy."""
    if base is None and head is not None:
        raise InputError("--head needs --base (the range is merge-base(BASE, HEAD)..HEAD)")
    if base is None and not handoffs:
        raise InputError("nothing to review", hint="pass --base REV [--head REV], or leave out --no-handoffs")
    policy_rev, loaded = trusted_policy(git, base, policy_file)
    changes: list[ChangeRef] = []
    sources: list[str] = []
    head_commit: str | None = None
    base_commit: str | None = None
    listing: TreeListing | None = None
    if base is not None:
        # The review reads contract copies from the head's tree: git lists it while the range is read.
        try:
            listing = TreeListing(git, git.resolve_commit(head or "HEAD", what="head revision"))
        except LanewardenError:
            pass  # range_changes says what is wrong with the head, in its own words
        base_commit, head_commit, found = range_changes(git, base, head)
        changes += found
        sources.append(f"range {short(base_commit)}..{short(head_commit)} ({len(found)} path(s))")
    queued: list[Handoff] = []
    if handoffs:
        queued = pending_handoffs(git)
        for h in queued:
            changes += handoff_changes(h)
        sources.append(f"{len(queued)} open handoff(s)")
    mapping_rev = head_commit or git.head_commit() or policy_rev
    return Subject(loaded=loaded, base=base_commit, head=head_commit, mapping_rev=mapping_rev,
                   changes=tuple(changes), handoffs=tuple(queued), sources=tuple(sources), listing=listing)
