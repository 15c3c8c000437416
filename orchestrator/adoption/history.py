"""Shared append-only files, proposed from history: files most commits only add lines to.

A changelog is touched by a quarter of all commits in some monorepos (530 of
2,141 in opentelemetry-demo), nearly always by adding an entry. Such a file
fits ``shared.append_only`` (docs/policy.md): any worker may add lines,
nothing else. The proposal reads ``git log --numstat`` (through
``Git.numstat_history``) and keeps files that are both frequent and nearly
always appended to; a person confirms it in the draft.
"""
from __future__ import annotations

from lanewarden.workers.errors import GitError
from lanewarden.workers.git import Git

LIMIT = 3000  # recent commits read: enough to see a habit, bounded on huge histories
MIN_COMMITS = 3  # a file touched by fewer commits than this is no habit yet
MIN_SHARE = 0.05  # ... nor one touched by less than this share of the commits read
APPEND_SHARE = 0.8  # of the commits touching it, this many must only add lines


def append_only(git: Git, tracked: set[str], limit: int = LIMIT) -> tuple[list[tuple[str, int, int]], str | None]:
    """([(path, commits touching it, of which only added lines)], a note when history cannot be read)."""
    head = git.head_commit()
    if head is None:
        return [], None
    try:
        history = git.numstat_history(head, limit)
    except GitError as exc:  # a partial clone without some blobs: propose nothing rather than guess
        return [], f"history not read for shared append-only files ({exc.message})"
    touched: dict[str, int] = {}
    appended: dict[str, int] = {}
    for files in history:
        for added, deleted, path in files:
            touched[path] = touched.get(path, 0) + 1
            if added and deleted == 0:
                appended[path] = appended.get(path, 0) + 1
    floor = max(MIN_COMMITS, int(len(history) * MIN_SHARE))
    out = [(path, count, appended.get(path, 0)) for path, count in touched.items()
           if path in tracked and count >= floor and appended.get(path, 0) >= APPEND_SHARE * count]
    return sorted(out, key=lambda item: (-item[1], item[0])), None
