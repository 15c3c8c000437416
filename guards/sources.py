"""The four change sources, each reduced to a pair of trees.

Range, index, work tree and patch all become ``(base tree, head tree)``, so
one exact diff (``changes.read_changes``) serves every mode. Trees for the
index, the work tree and a patch are written into a scratch object directory
(the work tree's and a patch's through a scratch index; the index's from the
entries it changes, ``guards/indextree.py``): the repository's index, work
tree and object store are never written.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from lanewarden.guards import indextree
from lanewarden.guards.changes import Change, ChangeSet, Status, read_changes
from lanewarden.guards.mode import Mode
from lanewarden.workers.errors import GitError, InputError, RevisionError
from lanewarden.workers.git import Git


@contextmanager
def scratch(git: Git) -> Iterator[dict[str, str]]:
    """A temporary index and object directory; the repository's objects stay readable."""
    with tempfile.TemporaryDirectory(prefix="lanewarden-") as tmp:
        objects = Path(tmp) / "objects"
        objects.mkdir()
        yield {
            "GIT_INDEX_FILE": str(Path(tmp) / "index"),
            "GIT_OBJECT_DIRECTORY": str(objects),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": _alternates(git),
        }


def _alternates(git: Git) -> str:
    """The repository's object directory plus its own alternates (worktrees share them)."""
    common = git.common_dir / "objects"
    dirs = [str(common)]
    info = common / "info" / "alternates"
    if info.is_file():
        for line in info.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                dirs.append(str((common / line).resolve()) if not os.path.isabs(line) else line)
    return os.pathsep.join(dirs)


def from_range(git: Git, env: dict[str, str], base: str, head: str | None) -> ChangeSet:
    """merge-base(base, head)..head; never a guess when the base is ambiguous or missing."""
    base_commit = git.resolve_commit(base, what="base revision")
    head_commit = git.resolve_commit(head or "HEAD", what="head revision")
    bases = git.merge_bases(base_commit, head_commit)
    if not bases:
        if git.is_shallow():
            raise RevisionError(
                f"no merge base between {base} and {head or 'HEAD'}: this is a shallow clone "
                "and the common history is cut off",
                hint="fetch the full history (git fetch --unshallow, or fetch-depth: 0 in CI)")
        raise RevisionError(f"{base} and {head or 'HEAD'} share no history (no merge base)",
                            hint="pass a base that the head branch was created from")
    if len(bases) > 1:
        raise RevisionError(
            f"{base} and {head or 'HEAD'} have {len(bases)} merge bases (criss-cross history): "
            + ", ".join(b[:12] for b in bases),
            hint="guard against one explicit base commit, or merge the base into the branch first")
    mb = bases[0]
    base_tree, head_tree = git.tree_of(mb), git.tree_of(head_commit)
    changes, digest, pending = read_changes(git, base_tree, head_tree, env=env)
    notes = [f"merge base {mb}"] if mb != base_commit else []
    if (git.common_dir / "info" / "grafts").exists():
        # Never read (GIT_GRAFT_FILE points elsewhere), but worth a reviewer's look: it rewrites history.
        notes.append("the repository has an info/grafts file; lanewarden ignored it (plain git would not)")
    return ChangeSet(Mode.RANGE, base_commit, head_commit, base_tree, head_tree, changes, digest,
                     notes=notes, pending=pending)


def _head_tree(git: Git) -> tuple[str | None, str]:
    head = git.head_commit()
    return head, (git.tree_of(head) if head else git.empty_tree())


def from_index(git: Git, env: dict[str, str], index_file: Path | None = None) -> ChangeSet:
    """What would be committed: the index against HEAD, read where it changes (guards/indextree.py)."""
    head, base_tree = _head_tree(git)
    # Absolute: git runs in the repository, while a hook may have named the index relative to here.
    source = (index_file or git.git_dir / "index").absolute()
    raw = git.diff_index_cached_raw(base_tree, env={**env, "GIT_INDEX_FILE": str(source)})
    tree = indextree.build(git, env, base_tree, raw)
    if tree is not None:
        changes, digest, pending = read_changes(git, base_tree, tree, env=env)
        import hashlib  # here, not at the top: the guard's start-up imports it while git works

        # The built tree is used only when git's own diff of it is exactly what diff-index listed.
        if digest == hashlib.sha256(raw).hexdigest():
            return ChangeSet(Mode.STAGED, head, None, base_tree, tree, changes, digest, pending=pending)
        with suppress(Exception):
            pending.wait()  # its answer is not used; let git finish before the scratch index is written
    return _index_written(git, env, source, head, base_tree)


def _index_written(git: Git, env: dict[str, str], source: Path, head: str | None, base_tree: str) -> ChangeSet:
    """The whole index written as a tree (from a copy: the user's index is never written)."""
    if source.exists():
        shutil.copyfile(source, env["GIT_INDEX_FILE"])
    # The staged blobs are read by the diff that follows, which fails on a missing one.
    tree = git.write_tree(env=env, hint="resolve merge conflicts in the index first", missing_ok=True)
    changes, digest, pending = read_changes(git, base_tree, tree, env=env)
    return ChangeSet(Mode.STAGED, head, None, base_tree, tree, changes, digest, pending=pending)


def from_worktree(git: Git, env: dict[str, str], sparse_set: tuple[str, ...] | None = None,
                  installed: Mapping[str, str] | None = None) -> ChangeSet:
    """Tracked edits, untracked files and flagged entries, all re-hashed from disk.

    ``installed``: untracked files lanewarden wrote itself (path -> sha256), left out while
    they are exactly as written (:func:`as_installed`).
    """
    if git.top is None:
        raise InputError("--worktree needs a work tree; this repository is bare")
    head, base_tree = _head_tree(git)
    notes: list[str] = []
    git.read_tree(base_tree, env=env)
    # Entries from read-tree carry no stat data, so refresh re-hashes every file:
    # stat tricks, assume-unchanged and skip-worktree flags cannot hide an edit.
    git.refresh_index(env=env)
    changed: list[str] = []
    deleted: list[str] = []
    for status, name in git.diff_files_raw(env=env):
        changed.append(name)
        if status == "D":
            deleted.append(name)
    if deleted:
        sparse = _sparse_absent(git, set(deleted))
        if sparse and sparse_set is None and (git.own_config("core.sparseCheckout") or "").lower() != "true":
            # Without a sparse checkout, a flagged file that is gone was deleted: the flag
            # is an old trick to hide exactly that.
            sparse = set()
        if sparse_set is not None:
            # Inside a lanewarden sparse worktree only paths outside the sparse set were never
            # checked out; a flagged file inside it that is gone was deleted by the agent.
            from lanewarden.workers.pattern import compile_pattern

            inside = [compile_pattern(p) for p in sparse_set]
            sparse = {p for p in sparse if not any(m.matches(p) for m in inside)}
        if sparse:
            notes.append(f"{len(sparse)} sparse (skip-worktree) file(s) absent from disk: unchanged")
            changed = [p for p in changed if p not in sparse]
    # Listed against the scratch index (= HEAD): a file staged in the real index but
    # not in HEAD is new here too, and so is a staged .gitignore.
    untracked, embedded, ignore_note = _untracked(git, env, changed)
    if ignore_note:
        notes.append(ignore_note)
    if installed:
        # Only untracked paths: a file the base tracks is never lanewarden's to install.
        untracked = [p for p in untracked if not as_installed(git.top, p, installed)]
    paths = changed + untracked
    git.update_index_add(paths, env=env)
    tree = git.write_tree(env=env)
    changes, digest, pending = read_changes(git, base_tree, tree, env=env)
    fresh = set(untracked)
    if fresh:
        # New relative to HEAD: "added" when staged in the real index, else "untracked".
        staged = set(git.ls_files_cached())
        fresh -= staged
    for ch in changes:
        if ch.path in fresh and ch.status == Status.ADDED:
            ch.status = Status.UNTRACKED
    for nested in embedded:
        changes.append(Change(path=nested, status=Status.UNTRACKED, old_mode=None, new_mode="160000",
                              old_oid=None, new_oid=None,
                              notes=["an embedded git repository (its own .git inside the work tree)"]))
    return ChangeSet(Mode.WORKTREE, head, None, base_tree, tree, changes, digest, notes=notes, pending=pending)


def as_installed(top: Path, path: str, installed: Mapping[str, str]) -> bool:
    """Whether ``path`` is still exactly the file lanewarden installed: a regular file (no symlink
    as its last component; git lists a symlinked folder itself, never a path below it), not
    executable, with the sha256 recorded. Anything else, or any doubt, is the agent's change."""
    import hashlib

    digest = installed.get(path)
    if digest is None:
        return False
    try:
        fd = os.open(top / path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o111:
            return False
        sha = hashlib.sha256()
        while chunk := os.read(fd, 1 << 16):
            sha.update(chunk)
    except OSError:
        return False
    finally:
        os.close(fd)
    return sha.hexdigest() == digest


def _sparse_absent(git: Git, deleted: set[str]) -> set[str]:
    """Deleted-looking paths that are skip-worktree in the real index and absent on disk."""
    out: set[str] = set()
    assert git.top is not None
    for tag, name in git.ls_files_tagged():
        if tag == "S" and name in deleted and not os.path.lexists(git.top / name):
            out.add(name)
    return out


def _untracked(git: Git, env: dict[str, str], changed: list[str]) -> tuple[list[str], list[str], str | None]:
    """Untracked files, ignoring only what the committed .gitignore files ignore.

    ``info/exclude``, ``core.excludesFile`` and status settings are never used.
    When any .gitignore differs from HEAD (edited, deleted, or new, even one
    that hides itself) no ignore rule is trusted and every untracked file counts.
    """
    trusted = not any(p == ".gitignore" or p.endswith("/.gitignore") for p in changed)
    listed = git.ls_files_others(gitignore=True, env=env)
    note = None
    if trusted:
        ignored = git.ls_files_ignored(env=env)
        hidden_ignore = any(e == ".gitignore" or e.endswith("/.gitignore") for e in ignored)
        fresh_ignore = any(p == ".gitignore" or p.endswith("/.gitignore") for p in listed)
        trusted = not hidden_ignore and not fresh_ignore
    if not trusted:
        note = "a .gitignore differs from HEAD: no ignore rule is trusted, every untracked file counts"
        listed = git.ls_files_others(gitignore=False, env=env)
    files = [p for p in listed if not p.endswith("/")]
    embedded = [p.rstrip("/") for p in listed if p.endswith("/")]
    return files, embedded, note


def from_patch(git: Git, env: dict[str, str], patch: bytes, base: str | None) -> ChangeSet:
    """The patch applied by git itself to a scratch index on ``base``; its headers are not trusted."""
    base_commit = git.resolve_commit(base or "HEAD", what="base revision")
    base_tree = git.tree_of(base_commit)
    if not patch.strip():
        raise InputError("the patch is empty", hint="pass a unified diff (git diff > change.patch)")
    git.read_tree(base_tree, env=env)
    try:
        git.apply_cached(patch, env=env)
    except GitError as exc:
        raise InputError(f"the patch does not apply to {base or 'HEAD'} ({base_commit[:12]}): "
                         f"{exc.stderr.strip()}",
                         hint="regenerate it against that base, or pass the right --base") from None
    tree = git.write_tree(env=env)
    changes, digest, pending = read_changes(git, base_tree, tree, env=env)
    return ChangeSet(Mode.PATCH, base_commit, None, base_tree, tree, changes, digest, pending=pending)
