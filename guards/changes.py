"""What git really changed between two trees, read once, in bytes.

The path set comes from ``diff-tree --raw -z --no-renames`` (a rename is a
delete plus an add, so a move out of a protected path can never hide its
source); added lines come from one ``-U0 --text`` patch of the same pair of
trees, used for line budgets and the secrets scan, never for the path set.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from enum import Enum

from lanewarden.guards.mode import Mode
from lanewarden.guards.sections import HEAD, Cut, PendingPatch, cut_whole
from lanewarden.workers.errors import LanewardenError
from lanewarden.workers.git import Git, fsdecode, split_z

ZERO_MODE = "000000"
GITLINK = "160000"
SYMLINK = "120000"


class Status(str, Enum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    TYPE_CHANGED = "type_changed"
    MODE_CHANGED = "mode_changed"
    SUBMODULE = "submodule"
    UNTRACKED = "untracked"


@dataclass(slots=True)
class Change:
    """One touched path. Renames are two Changes linked by renamed_from/renamed_to."""

    path: str
    status: Status
    old_mode: str | None
    new_mode: str | None
    old_oid: str | None
    new_oid: str | None
    renamed_from: str | None = None
    renamed_to: str | None = None
    added_lines: int = 0
    deleted_lines: int = 0
    hunks: list[bytes] = field(default_factory=list, repr=False)  # raw -U0 hunk bodies
    link_target: bytes | None = None  # the new side's target when it is a symlink
    notes: list[str] = field(default_factory=list)

    @property
    def writes_content(self) -> bool:
        """True when the new side has content (everything but a deletion)."""
        return self.new_mode not in (None, ZERO_MODE)


@dataclass
class ChangeSet:
    mode: Mode
    base: str | None  # base commit (None for an unborn HEAD)
    head: str | None  # head commit in range mode; None for index/work tree/patch
    base_tree: str
    head_tree: str
    changes: list[Change]
    diff_sha256: str
    notes: list[str] = field(default_factory=list)
    pending: PendingPatch | None = field(default=None, repr=False)

    def complete(self) -> None:
        """Attach added lines and line counts; waits for git's patch if it is still coming."""
        if self.pending is not None:
            patch, self.pending = self.pending.wait(), None
            attach(self.changes, patch)


def _status(letter: str, old_mode: str, new_mode: str, old_oid: str, new_oid: str) -> Status:
    if letter == "A":
        return Status.SUBMODULE if new_mode == GITLINK else Status.ADDED
    if letter == "D":
        return Status.SUBMODULE if old_mode == GITLINK else Status.DELETED
    if letter == "T":
        return Status.TYPE_CHANGED
    if letter == "M":
        if old_mode == GITLINK or new_mode == GITLINK:
            return Status.SUBMODULE
        if old_mode != new_mode and old_oid == new_oid:
            return Status.MODE_CHANGED
        return Status.MODIFIED
    # U (unmerged), X (unknown) and anything new: refuse rather than guess.
    raise LanewardenError(f"git reported change status {letter!r}, which lanewarden does not know")


def parse_raw(raw: bytes) -> list[Change]:
    """Parse ``--raw -z --no-renames`` output."""
    fields = split_z(raw)
    if len(fields) % 2:
        raise LanewardenError("truncated git diff output; refusing to guess")
    changes: list[Change] = []
    for meta_raw, path_raw in zip(fields[::2], fields[1::2], strict=False):
        meta = meta_raw.decode("ascii")
        if not meta.startswith(":"):
            raise LanewardenError(f"unexpected git diff output near {meta[:40]!r}")
        old_mode, new_mode, old_oid, new_oid, letter = meta[1:].split(" ")
        old_none = old_oid.count("0") == len(old_oid)
        new_none = new_oid.count("0") == len(new_oid)
        changes.append(Change(
            fsdecode(path_raw), _status(letter[0], old_mode, new_mode, old_oid, new_oid),
            None if old_mode == ZERO_MODE else old_mode, None if new_mode == ZERO_MODE else new_mode,
            None if old_none else old_oid, None if new_none else new_oid))
    return changes


def link_renames(changes: list[Change]) -> None:
    """Pair exact moves (same blob deleted at one path, added at another) for display.

    This never changes which paths are reported: both sides stay, each classified.
    """
    deleted: dict[str, list[Change]] = {}
    for ch in changes:
        if ch.status == Status.DELETED and ch.old_oid:
            deleted.setdefault(ch.old_oid, []).append(ch)
    for ch in changes:
        if ch.status in (Status.ADDED, Status.UNTRACKED) and ch.new_oid in deleted:
            sources = deleted[ch.new_oid]
            if sources:
                src = sources.pop(0)
                src.renamed_to, ch.renamed_from = ch.path, src.path


def apply_patch_lines(changes: list[Change], patch: bytes) -> None:
    """Attach hunks and line counts from a whole ``-U0 --text`` patch to the changes."""
    attach(changes, cut_whole(patch))


def attach(changes: list[Change], patch: Cut) -> None:
    """Attach a cut ``-U0 --text`` patch's hunks and line counts to the changes.

    The sections must cover exactly the changes with an object on either side,
    each section naming a listed path: anything else is refused, never guessed.
    """
    # An entry in neither tree (an embedded repository, reported by the work-tree source and
    # rejected by the protected guard) has no patch section to find.
    changes = [ch for ch in changes if ch.old_oid is not None or ch.new_oid is not None]
    if not patch.size:
        if changes:
            raise LanewardenError("git produced no patch for a non-empty change; refusing to guess")
        return
    if not patch.starts_with_head:
        raise LanewardenError("unexpected patch output from git; refusing to guess")
    by_path = {ch.path: ch for ch in changes}
    # git writes the sections in the raw list's order, so section k is usually change k: found
    # without a lookup while that holds (and no path is listed twice, where by_path would pick the
    # last). The first section out of that order switches to lookups by path for the rest.
    in_order, k, count = len(by_path) == len(changes), 0, len(changes)
    seen: set[str] | None = None  # the paths met so far, kept once out of order
    for section in patch.sections:
        if section.error is not None:
            raise section.error
        path = section.path
        if in_order and k < count and changes[k].path == path:
            change = changes[k]
            k += 1
        else:
            if seen is None:
                in_order, seen = False, {ch.path for ch in changes[:k]}
            found = by_path.get(path)
            if found is None:
                raise LanewardenError("patch and path list disagree; refusing to guess "
                                      f"(header {(HEAD + section.first)[:120]!r})")
            change = found
            seen.add(path)
        if section.body is not None:
            change.added_lines += section.added
            change.deleted_lines += section.deleted
            change.hunks.append(section.body)
    if (k < count) if seen is None else (len(seen) < len(by_path)):
        # A path without a patch section would hide its added lines from the secrets scan.
        met = seen if seen is not None else {ch.path for ch in changes[:k]}
        missing = [ch.path for ch in changes if ch.path not in met]
        raise LanewardenError(f"git's patch leaves out {len(missing)} changed path(s), e.g. {missing[0]!r}; "
                             "refusing to guess")


def added_lines(change: Change) -> list[bytes]:
    """The lines a change adds (without the leading '+')."""
    out: list[bytes] = []
    for body in change.hunks:
        out.extend(line[1:] for line in body.split(b"\n") if line.startswith(b"+"))
    return out


def read_changes(git: Git, base_tree: str, head_tree: str, *,
                 env: dict[str, str] | None = None) -> tuple[list[Change], str, PendingPatch]:
    """Every touched path between two trees, the diff's sha256, and the patch still on its way.

    Two git processes run concurrently: the raw path list, read here, and the
    -U0 patch, which ``ChangeSet.complete`` attaches once the paths are classified.
    """
    import hashlib  # here, not at the top: the engine starts this thread before its slower imports

    # apply_patch_lines checks the patch covers exactly the raw path list.
    pending = PendingPatch(git, base_tree, head_tree, env)
    with tempfile.TemporaryFile(prefix="lanewarden-raw-") as out:
        git.diff_tree_raw_to_file(base_tree, head_tree, out, env=env)  # no pipe for the GIL to starve
        out.seek(0)
        raw = out.read()
    changes = parse_raw(raw)
    link_renames(changes)
    links = [ch for ch in changes if ch.new_mode == SYMLINK and ch.new_oid]
    if links:
        targets = git.read_blobs([ch.new_oid for ch in links if ch.new_oid], env=env)
        for ch in links:
            ch.link_target = targets.get(ch.new_oid or "")
    return changes, hashlib.sha256(raw).hexdigest(), pending
