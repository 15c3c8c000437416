"""What lanewarden asks git about history and refs: walks, ref transactions, remotes.

A mixin of ``Git`` (workers/git.py starts git); like ``workers/gitops.py`` it
is one of the few modules allowed to build a git command line, with the same
rules: ``-z`` for paths, ``--end-of-options`` before revisions, refs and
remotes, names that start with ``-`` refused.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import IO

from lanewarden.workers.errors import InputError
from lanewarden.workers.gitops import (
    _EOO,
    _PATHS,
    DIFF_FLAGS,
    Operations,
    _names,
    _plain,
    fsdecode,
    fsencode,
    is_object_id,
    split_z,
)


class History(Operations):
    """Typed git operations on history, refs and remotes."""

    def ref_value(self, ref: str) -> str | None:  # Git's
        raise NotImplementedError

    def batch(self, specs: Sequence[str], *,
              env: dict[str, str] | None = None) -> list[tuple[str, str, bytes] | None]:  # Git's
        raise NotImplementedError

    # -- history and refs ---------------------------------------------------
    def parents(self, commit: str) -> list[str]:
        """The parents of ``commit`` as this hardened git reads them (no grafts, no commit-graph)."""
        return self._run(["rev-list", "--parents", "-n", "1", _EOO, commit]).decode().split()[1:]

    def rev_list(self, rev: str, *, first_parent: bool = False, reverse: bool = False) -> list[str]:
        """Commit ids reachable from ``rev``, newest first unless ``reverse``."""
        flags = [*(["--first-parent"] if first_parent else []), *(["--reverse"] if reverse else [])]
        return self._run(["rev-list", *flags, _EOO, rev]).decode().split()

    def log_authors(self, base: str, head: str, path: str) -> list[str]:
        """``Name <email>`` of each author of ``base..head`` commits touching ``path``, newest first, once each."""
        out = self._run([*_PATHS, "log", "-z", "--format=%an <%ae>", _EOO, f"{base}..{head}", "--", path])
        return list(dict.fromkeys(fsdecode(a).strip("\n") for a in split_z(out)))

    def delete_ref(self, ref: str, old: str | None = None) -> bool:
        """Delete ``ref`` (only if it still points at ``old`` when given); False when git refuses."""
        code, _, _ = self._run_rc(["update-ref", "--no-deref", "-d", _EOO, ref, *([old] if old else [])])
        return code == 0

    def symbolic_ref(self, name: str, target: str) -> None:
        """Point ``name`` (HEAD) at the ref ``target`` (``refs/heads/...``)."""
        self._run(["symbolic-ref", _EOO, name, target])

    def checkout(self, branch: str, *, create_at: str | None = None) -> None:
        """Switch the work tree to ``branch``; ``create_at``: create it there first.

        ``checkout`` has no ``--end-of-options`` on git 2.39: names that start
        with ``-`` are refused and ``--`` ends the revisions.
        """
        hint = "pass a branch name that does not start with '-'"
        name = _plain(branch, "branch", hint)
        start = [_plain(create_at, "start commit", hint)] if create_at is not None else []
        self._run(["checkout", "-q", *(["-b"] if create_at is not None else []), name, *start, "--"])

    def update_refs(self, updates: Sequence[tuple[str, str, str | None]]) -> tuple[bool, str]:
        """Move many refs in ONE transaction, each only if it still holds its old value (None: absent).

        ``git update-ref --stdin -z``: all or nothing; on failure git's stderr
        names the ref that failed (the caller finds the others by re-reading).
        """
        lines = []
        for ref, new, old in updates:
            if not ref.startswith("refs/") or not is_object_id(new) or (old is not None and not is_object_id(old)):
                raise InputError(f"refusing to update {ref!r}: not a ref name with object ids")
            lines.append(b"update " + fsencode(ref) + b"\0" + new.encode() + b"\0"
                         + (old or "0" * len(new)).encode() + b"\0")
        if not lines:
            return True, ""
        code, _, err = self._run_rc(["update-ref", "--no-deref", "--stdin", "-z"], input=b"".join(lines))
        return code == 0, err.decode("utf-8", "replace")

    def delete_refs(self, refs: Sequence[str]) -> None:
        """Delete many refs (whatever they hold) in one transaction."""
        payload = b"".join(b"delete " + fsencode(r) + b"\0\0" for r in refs if r.startswith("refs/"))
        if payload:
            self._run(["update-ref", "--no-deref", "--stdin", "-z"], input=payload)

    def refs_to_file(self, prefix: str, out: IO[bytes]) -> None:
        """``<oid> SP <ref> LF`` for every ref under ``prefix``, written into ``out`` (any number of refs)."""
        self._run_to_file(["for-each-ref", "--format=%(objectname) %(refname)", _EOO, prefix], out)

    def first_parents_to_file(self, tip: str, out: IO[bytes], *, reverse: bool = False,
                              parents: bool = False) -> None:
        """The commits on ``tip``'s first-parent line, one per line (oldest first with ``reverse``);
        ``parents``: each followed by all its parents, space-separated (only the first is walked)."""
        self._run_to_file(["rev-list", "--first-parent", *(["--reverse"] if reverse else []),
                           *(["--parents"] if parents else []), _EOO, tip], out)

    def cat_file_stream(self, names: IO[bytes]) -> Iterator[tuple[str, str, bytes] | None]:
        """``(oid, type, content)`` per line of ``names`` (None: git found nothing), one object at a time.

        One ``cat-file --batch`` reads every object; the caller holds only the
        current one.
        """
        # --buffer: the names come from a file, so nothing waits on a flush per object.
        with self._stream(["cat-file", "--batch", "--buffer"], names) as out:
            while True:
                header = out.readline()
                if not header:
                    return
                parts = header.split()
                if len(parts) != 3 or not parts[2].isdigit():
                    yield None  # "<name> missing", "<name> ambiguous"
                    continue
                size = int(parts[2])
                data = out.read(size + 1)
                yield parts[0].decode(), parts[1].decode(), data[:size]

    # -- remotes -------------------------------------------------------------
    @staticmethod
    def remote_name(remote: str) -> str:
        """``remote`` if git can never read it as an option; an InputError otherwise."""
        return _plain(remote, "remote", "pass the name of a configured remote (git remote -v)")

    def fetch(self, remote: str, specs: Sequence[str]) -> None:
        """Fetch refspecs from ``remote`` (no tags); a GitError carries git's stderr."""
        name = _plain(remote, "remote", "pass the name of a configured remote (git remote -v)")
        self._run(["fetch", "--no-tags", "--quiet", _EOO, name, *specs])

    def remote_refs(self, remote: str, prefix: str) -> dict[str, str]:
        """ref name -> object id for every ref under ``prefix`` on ``remote`` (``git ls-remote``).

        Parsed by lines: a ref name holds no tab or newline (git check-ref-format);
        ``^{}`` lines (what an annotated tag points at) are not refs and are left out.
        """
        name = _plain(remote, "remote", "pass the name of a configured remote (git remote -v)")
        out = self._run(["ls-remote", "--quiet", _EOO, name, f"{prefix}*"])
        refs: dict[str, str] = {}
        for line in out.decode("utf-8", "surrogateescape").splitlines():
            oid, _, ref = line.partition("\t")
            if ref.startswith(prefix) and not ref.endswith("^{}") and is_object_id(oid):
                refs[ref] = oid
        return refs

    def fetch_objects(self, remote: str, oids: Sequence[str]) -> None:
        """Fetch the objects ``oids`` need from ``remote`` without writing any ref (not even FETCH_HEAD).

        The ids come from ``remote_refs``: ref tips, which every server lets a
        client ask for by id. A tip that moved in between is refused by some
        servers ("not our ref"): the GitError says so and the caller reads again.
        """
        name = _plain(remote, "remote", "pass the name of a configured remote (git remote -v)")
        wanted = [o for o in dict.fromkeys(oids) if is_object_id(o)]
        if wanted:
            self._run(["fetch", "--no-tags", "--quiet", "--no-write-fetch-head", "--recurse-submodules=no",
                       "--stdin", _EOO, name], input=("\n".join(wanted) + "\n").encode())

    def push(self, remote: str, specs: Sequence[str]) -> None:
        """Push refspecs to ``remote``; a GitError carries git's stderr."""
        name = _plain(remote, "remote", "pass the name of a configured remote (git remote -v)")
        self._run(["push", "--porcelain", "--quiet", _EOO, name, *specs])

    def commits_between(self, base: str, head: str) -> tuple[list[str], list[str]]:
        """``(commits, merges)`` reachable from ``head`` and not from ``base``, oldest first."""
        out = self._run(["rev-list", "--reverse", "--parents", _EOO, head, f"^{base}", "--"]).decode()
        commits: list[str] = []
        merges: list[str] = []
        for line in out.split("\n"):
            ids = line.split()
            if ids:
                (merges if len(ids) > 2 else commits).append(ids[0])
        return commits, merges

    def changed_paths(self, old: str, new: str) -> list[str]:
        """Paths that differ between two commits or trees (a rename is a delete plus an add)."""
        return _names(self._run(["diff-tree", "-r", "-z", "--name-only", *DIFF_FLAGS, _EOO, old, new]))

    def numstat_history(self, commit: str, limit: int) -> list[list[tuple[int | None, int | None, str]]]:
        """Per commit (newest first, at most ``limit``, merges left out): (added, deleted, path) of each
        file it modified (a file's creation or deletion says nothing of how it is edited); None counts
        for binary files. Reads blobs: a partial clone can make it fail."""
        out = self._run(["log", "--no-renames", "--no-merges", "--diff-filter=M", "--numstat", "-z",
                         "--format=%x01%H", f"--max-count={limit}", "--end-of-options", commit, "--"])
        commits: list[list[tuple[int | None, int | None, str]]] = []
        for chunk in out.split(b"\x01")[1:]:
            _, _, rest = chunk.partition(b"\0")
            files: list[tuple[int | None, int | None, str]] = []
            for entry in rest.lstrip(b"\n").split(b"\0"):
                added, _, more = entry.partition(b"\t")
                deleted, _, path = more.partition(b"\t")
                if path:
                    files.append((int(added) if added.isdigit() else None,
                                  int(deleted) if deleted.isdigit() else None, fsdecode(path)))
            commits.append(files)
        return commits

    def is_ancestor(self, older: str, newer: str) -> bool:
        code, _, _ = self._run_rc(["merge-base", "--is-ancestor", "--end-of-options", older, newer])
        return code == 0

    def is_first_parent_ancestor(self, older: str, newer: str) -> bool:
        """Whether ``older`` is on ``newer``'s first-parent line (``newer`` itself included).

        ``is_ancestor`` follows every parent, so a rewritten chain that keeps the
        old head as an extra parent still "contains" it; a hash chain's history is
        its first-parent line only.
        """
        old = self.ref_value(older) if not is_object_id(older) else older
        new = self.ref_value(newer) if not is_object_id(newer) else newer
        if old is None or new is None:
            return False
        return old in self.first_parents(new)

    def first_parent_reach(self, pairs: Sequence[tuple[str, str]], *, steps: int = 32) -> set[tuple[str, str]]:
        """The pairs ``(older, newer)`` of commit ids where ``older`` is on ``newer``'s first-parent line.

        Every chain is walked a step at a time, one ``cat-file --batch`` per step
        for all of them together, so many short chains (a handoff's few states)
        cost a handful of git processes whatever their number. A chain not
        settled after ``steps`` steps (a long ledger) is asked of
        ``is_first_parent_ancestor`` on its own.
        """
        reached: set[tuple[str, str]] = set()
        walking = {pair: pair[1] for pair in pairs}
        for _ in range(steps):
            for pair, at in list(walking.items()):
                if at == pair[0]:
                    reached.add(pair)
                    del walking[pair]
            if not walking:
                return reached
            read = self.commit_messages(list(dict.fromkeys(walking.values())))
            for pair, at in list(walking.items()):
                parent = read[at][0] if at in read else None
                if parent is None:
                    del walking[pair]  # a root (or no commit) reached without meeting ``older``
                else:
                    walking[pair] = parent
        reached.update(pair for pair in walking if self.is_first_parent_ancestor(*pair))
        return reached

    def first_parents(self, tip: str) -> list[str]:
        """The commits on ``tip``'s first-parent line, newest first."""
        return self._run(["rev-list", "--first-parent", "--end-of-options", tip]).decode().split()

    def roots(self, tips: Sequence[str]) -> list[str]:
        """The parentless commits ``tips`` (commit ids) reach through any parent."""
        if not tips:
            return []
        return self._run(["rev-list", "--max-parents=0", "--stdin"],
                         input="".join(f"{t}\n" for t in tips if is_object_id(t)).encode()).decode().split()

    def descendants(self, tips: Sequence[str], bottoms: Sequence[str]) -> list[str]:
        """Commits reachable from ``tips`` that descend from one of ``bottoms`` (``--ancestry-path``)."""
        if not tips or not bottoms:
            return []
        # '^<id>' lines: git 2.39 takes no options (such as --not) on rev-list's stdin.
        ask = [*(t for t in tips if is_object_id(t)), *(f"^{b}" for b in bottoms if is_object_id(b))]
        out = self._run(["rev-list", "--ancestry-path", "--stdin"], input="\n".join([*ask, ""]).encode())
        return out.decode().split()

    def object_types(self, oids: Sequence[str]) -> dict[str, str | None]:
        """``oid -> type`` (commit, blob, tree, tag) or None when the object is missing."""
        wanted = [o for o in dict.fromkeys(oids) if o]
        if not wanted:
            return {}
        out = self._run(["cat-file", "--batch-check"], input=("\n".join(wanted) + "\n").encode())
        types: dict[str, str | None] = {}
        for oid, line in zip(wanted, out.decode("utf-8", "replace").splitlines(), strict=False):
            parts = line.split()
            types[oid] = parts[1] if len(parts) == 3 and parts[1] != "missing" else None
        return types

    def commit_messages(self, commits: Sequence[str]) -> dict[str, tuple[str | None, str]]:
        """commit id -> (first parent, message), read with one ``cat-file --batch``."""
        out: dict[str, tuple[str | None, str]] = {}
        for commit, found in zip(commits, self.batch(list(commits)), strict=False):
            if found is None or found[1] != "commit":
                continue
            header, _, message = found[2].partition(b"\n\n")
            parents = [ln[7:].decode() for ln in header.split(b"\n") if ln.startswith(b"parent ")]
            out[commit] = (parents[0] if parents else None, message.decode("utf-8", "replace"))
        return out
