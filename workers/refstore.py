"""Many ref updates at once, each a compare-and-swap, and the locks interrupted writers leave behind.

Sync moves thousands of refs; one ``git update-ref`` process per ref cost
minutes. ``update`` sends them all to one ``update-ref --stdin`` transaction
(ARCHITECTURE section 6: every ref update is a compare-and-swap). A transaction
is all or nothing, so when it fails the refs that lost a race are found by
re-reading (their value is no longer the expected old one) or from git's own
words (a ref whose lock it could not take), set aside and reported, and the rest
is retried: a constant number of processes unless races keep happening, and a
ref that lost is never overwritten.

git takes ``<ref>.lock`` for the milliseconds of an update and removes it; a
process killed in between leaves it, and from then on every update of that ref
fails. ``recover_stale_locks`` removes such a lock once it is old enough that no
live git process can still be holding it (git writes no process id into a ref
lock, so age is the only evidence there is).
"""
from __future__ import annotations

import os
import posixpath
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lanewarden.workers.git import Git

# A git ref update holds its lock for milliseconds; ten minutes leaves room for a slow disk.
STALE_AFTER = 600.0
_NAMED = re.compile(r"'(refs/[^']+?)(?:\.lock)?'")


@dataclass(frozen=True)
class Update:
    ref: str
    new: str
    old: str | None  # None: the ref must not exist yet


@dataclass
class Outcome:
    done: list[Update] = field(default_factory=list)
    lost: list[tuple[Update, str]] = field(default_factory=list)  # with why


def _namespace(refs: Sequence[str]) -> str:
    """The deepest folder holding every ref, for one ``for-each-ref`` after a failure."""
    return posixpath.commonpath(list(refs)).rsplit("/", 1)[0] + "/"


def update(git: Git, updates: Sequence[Update]) -> Outcome:
    """Apply ``updates``; the ones that lost a race (or a lock) come back in ``lost``, untouched."""
    outcome = Outcome()
    pending = list(updates)
    while pending:
        ok, err = git.update_refs([(u.ref, u.new, u.old) for u in pending])
        if ok:
            outcome.done.extend(pending)
            return outcome
        current = git.refs(_namespace([u.ref for u in pending]))
        moved = {u.ref for u in pending if current.get(u.ref) != u.old}
        named = set(_NAMED.findall(err)) - moved
        for u in pending:
            if u.ref in moved:
                now = current.get(u.ref)
                outcome.lost.append((u, f"changed meanwhile (now {now[:12] if now else 'deleted'}, "
                                        f"expected {u.old[:12] if u.old else 'no ref'})"))
            elif u.ref in named:
                outcome.lost.append((u, f"git could not update it: {err.strip().splitlines()[-1]}"))
        if not moved and not named:  # a failure that names nothing: report all, change nothing
            outcome.lost.extend((u, f"git refused the update: {err.strip()}") for u in pending)
            return outcome
        pending = [u for u in pending if u.ref not in moved and u.ref not in named]
    return outcome


def recover_stale_locks(git: Git, namespaces: Sequence[str], *, older_than: float = STALE_AFTER,
                        now: float | None = None) -> tuple[list[str], list[str]]:
    """Remove ``<ref>.lock`` files under ``namespaces`` older than ``older_than`` seconds.

    Returns (what was removed, what was left because it is recent), as messages.
    """
    removed: list[str] = []
    kept: list[str] = []
    clock = time.time() if now is None else now
    root = git.common_dir
    for namespace in namespaces:
        base = root / namespace
        if not base.is_dir():
            continue
        for folder, _, files in os.walk(base):
            for name in files:
                if not name.endswith(".lock"):
                    continue
                path = Path(folder) / name
                ref = path.relative_to(root).as_posix()[:-len(".lock")]
                try:
                    age = clock - path.stat().st_mtime
                    if age < older_than:
                        kept.append(f"{ref} is locked ({path} is {age:.0f}s old): another git process may be "
                                    f"updating it; if none is, remove that file")
                        continue
                    path.unlink()
                except FileNotFoundError:
                    continue  # its writer finished meanwhile
                removed.append(f"removed a stale lock on {ref} ({path}, {age / 60:.0f} min old, left by an "
                               "interrupted git process)")
    return removed, kept
