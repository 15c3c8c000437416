"""What lanewarden asks git, each command line built once, here.

``workers/git.py`` starts git (a rebuilt environment, pinned settings); this
module decides the argv of every operation the rest of the code needs, so the
flags that keep output exact are decided in one place rather than at each call
site (tests/test_codebase.py refuses raw argv anywhere else):

- ``-z`` on every listing of paths, parsed as bytes and decoded losslessly
  (``surrogateescape``): a path may hold a newline, a tab or non-UTF-8 bytes;
- ``--end-of-options`` before any revision, ref or remote, and a remote that
  starts with ``-`` is refused outright, so a name can never be read as an
  option (``--upload-pack=...`` runs a command);
- ``--literal-pathspecs`` before pathspecs, so ``*`` or ``:(glob)`` in a file
  name means that file only;
- the diff flags that keep git from hiding or rewriting a change.

The methods live in a mixin that ``Git`` inherits, so callers keep writing
``git.ls_files_cached()``; the three runners are Git's.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import IO, NamedTuple

from lanewarden.workers.errors import InputError

_HEX = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")

# Every diff lanewarden reads: rename detection off (a move is a delete plus an add, so
# the source of a move out of a protected path is never dropped), submodule bumps shown,
# no external diff or textconv program, no colour, full blob ids.
DIFF_FLAGS = ("--no-renames", "--ignore-submodules=none", "--no-ext-diff", "--no-textconv",
              "--no-color", "--full-index")
_PATHS = ("--literal-pathspecs",)  # a global option: it goes before the subcommand
_EOO = "--end-of-options"


def split_z(data: bytes) -> list[bytes]:
    """Split NUL-terminated git output into its fields."""
    if not data:
        return []
    parts = data.split(b"\0")
    if parts[-1] == b"":
        parts.pop()
    return parts


def fsdecode(raw: bytes) -> str:
    """Paths are bytes in git; keep undecodable bytes round-trippable."""
    return raw.decode("utf-8", "surrogateescape")


def fsencode(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def is_object_id(text: str) -> bool:
    return bool(_HEX.match(text))


def _names(out: bytes) -> list[str]:
    return [fsdecode(p) for p in split_z(out)]


def _plain(name: str, what: str, hint: str) -> str:
    """A name git must never read as an option (a remote, a branch): refused, not escaped."""
    if not name:
        problem = "is empty"
    elif name.startswith("-"):
        problem = "starts with '-': git would read it as an option"
    elif any(c in name for c in "\0\n\r"):
        problem = "holds a control character"
    else:
        return name
    raise InputError(f"{what} {name!r} {problem}", hint=hint)


class TreeEntry(NamedTuple):
    mode: str
    kind: str  # blob, tree or commit (a submodule)
    oid: str
    path: str


class Operations:
    """Typed git operations; ``Git`` (workers/git.py) supplies the hardened runners."""

    def _run(self, args: Sequence[str], *, input: bytes | None = None,
             env: dict[str, str] | None = None, ok: Sequence[int] = (0,), hint: str | None = None) -> bytes:
        raise NotImplementedError  # Git's

    def _run_rc(self, args: Sequence[str], *, input: bytes | None = None,
                env: dict[str, str] | None = None) -> tuple[int, bytes, bytes]:
        raise NotImplementedError  # Git's

    def _run_to_file(self, args: Sequence[str], out: IO[bytes], *, env: dict[str, str] | None = None) -> None:
        raise NotImplementedError  # Git's

    def _stream(self, args: Sequence[str], stdin: IO[bytes] | None = None, *,
                env: dict[str, str] | None = None) -> AbstractContextManager[IO[bytes]]:
        raise NotImplementedError  # Git's

    # -- listing paths -----------------------------------------------------
    def ls_tree_names(self, treeish: str, paths: Sequence[str] = (), *,
                      env: dict[str, str] | None = None) -> list[str]:
        """Every file path of a tree (recursively), or only those under ``paths`` (taken literally)."""
        spec = ["--", *paths] if paths else []
        return _names(self._run([*_PATHS, "ls-tree", "-r", "-z", "--name-only", "--full-tree", _EOO, treeish,
                                 *spec], env=env))

    def ls_tree_entries(self, treeish: str, *, recursive: bool = True,
                        env: dict[str, str] | None = None) -> list[TreeEntry]:
        """Mode, type, object id and path of each entry (no blob is read)."""
        out = self._run(["ls-tree", *(["-r"] if recursive else []), "-z", "--full-tree", _EOO, treeish], env=env)
        entries = []
        for item in split_z(out):
            # "<mode> SP <type> SP <oid> TAB <path>": slicing at the known separators costs half
            # of splitting each entry, which shows on a 100,000-file tree.
            sp = item.index(b" ")
            sp2 = item.index(b" ", sp + 1)
            tab = item.index(b"\t", sp2 + 1)
            entries.append(TreeEntry(item[:sp].decode("ascii"), item[sp + 1:sp2].decode("ascii"),
                                     item[sp2 + 1:tab].decode("ascii"), fsdecode(item[tab + 1:])))
        return entries

    def ls_files_cached(self, *, env: dict[str, str] | None = None) -> list[str]:
        """Paths in the index (``env`` may point GIT_INDEX_FILE at a scratch index)."""
        return _names(self._run(["ls-files", "-z", "--cached"], env=env))

    def ls_files_tagged(self, *, env: dict[str, str] | None = None) -> list[tuple[str, str]]:
        """``(tag, path)`` per index entry; ``h``/``S`` mark assume-unchanged/skip-worktree."""
        out = []
        for entry in split_z(self._run(["ls-files", "-v", "-z"], env=env)):
            tag, _, path = entry.partition(b" ")
            out.append((tag.decode("ascii", "replace"), fsdecode(path)))
        return out

    def ls_files_others(self, *, gitignore: bool, env: dict[str, str] | None = None) -> list[str]:
        """Untracked paths, ignoring only what ``.gitignore`` files ignore when ``gitignore``.

        No other exclude source is passed (``info/exclude``, ``core.excludesFile``
        and status settings are never used). An embedded repository shows as
        one entry ending in ``/``.
        """
        rules = ["--exclude-per-directory=.gitignore"] if gitignore else []
        return _names(self._run(["ls-files", "-o", "-z", *rules], env=env))

    def ls_files_ignored(self, *, env: dict[str, str] | None = None) -> list[str]:
        """Untracked paths a ``.gitignore`` ignores (whole ignored folders as one ``dir/`` entry)."""
        return _names(self._run(["ls-files", "-o", "-i", "-z", "--directory",
                                 "--exclude-per-directory=.gitignore"], env=env))

    def diff_files_raw(self, *, env: dict[str, str] | None = None) -> list[tuple[str, str]]:
        """``(status letter, path)`` for each tracked path whose work-tree file differs from the index."""
        fields = split_z(self._run(["diff-files", "-z", "--raw", *DIFF_FLAGS], env=env))
        # With --no-renames every entry is exactly two fields: ":modes oids STATUS" and one path.
        return [(meta.split()[-1].decode("ascii")[:1], fsdecode(path))
                for meta, path in zip(fields[::2], fields[1::2], strict=True)]

    # -- diffs between two trees -------------------------------------------
    def diff_tree_raw_to_file(self, base_tree: str, head_tree: str, out: IO[bytes], *,
                              env: dict[str, str] | None = None) -> None:
        """The raw ``-z`` path list between two trees, written straight into ``out``."""
        self._run_to_file(["diff-tree", "-r", *DIFF_FLAGS, "--raw", "-z", _EOO, base_tree, head_tree], out,
                          env=env)

    def diff_zero_context_to_file(self, base_tree: str, head_tree: str, out: IO[bytes], *,
                                  env: dict[str, str] | None = None) -> None:
        """A ``-U0 --text`` patch between two trees (added lines for budgets and the secrets scan).

        Porcelain ``diff`` writes a large patch about twice as fast as ``diff-tree
        -p``; every setting that shapes it is pinned by a flag here, and the
        reader checks it covers exactly the raw path list.
        """
        self._run_to_file(["diff", *DIFF_FLAGS, "--no-relative", "-p", "-U0", "--inter-hunk-context=0",
                           "--text", "--src-prefix=a/", "--dst-prefix=b/", _EOO, base_tree, head_tree], out,
                          env=env)

    def diff_tree_patch(self, base_tree: str, head_tree: str, paths: Sequence[str], *,
                        env: dict[str, str] | None = None) -> bytes:
        """A ``git apply``-able patch of exactly ``paths`` (binary-safe, names taken literally)."""
        return self._run([*_PATHS, "diff-tree", "-r", "-p", "--binary", *DIFF_FLAGS, "--src-prefix=a/",
                          "--dst-prefix=b/", _EOO, base_tree, head_tree, "--", *paths], env=env)

    # -- scratch indexes and trees -----------------------------------------
    def read_tree(self, tree: str, *, env: dict[str, str] | None = None) -> None:
        """Load ``tree`` into the index ``env`` names (a scratch index, never the user's)."""
        self._run(["read-tree", _EOO, tree], env=env)

    def apply_cached(self, patch: bytes, *, env: dict[str, str] | None = None) -> None:
        """Apply a patch to the index only; GitError carries git's reason when it does not apply."""
        self._run(["apply", "--cached", "--whitespace=nowarn"], input=patch, env=env)

    def refresh_index(self, *, env: dict[str, str] | None = None) -> None:
        """Re-stat (and re-hash where stat data are missing) every index entry; exit 1 means changes."""
        self._run(["update-index", "-q", "--refresh"], env=env, ok=(0, 1))

    def update_index_add(self, paths: Sequence[str], *, env: dict[str, str] | None = None) -> None:
        """Add, update or remove ``paths`` in the index from the work tree (names on stdin, NUL-separated)."""
        if paths:
            self._run(["update-index", "--add", "--remove", "-z", "--stdin"], env=env,
                      input=b"".join(fsencode(p) + b"\0" for p in paths))

    def index_forget(self, paths: Sequence[str], *, env: dict[str, str] | None = None) -> None:
        """Drop ``paths`` from the index ``env`` names, whatever the work tree holds (names on stdin)."""
        if paths:
            self._run(["update-index", "--force-remove", "-z", "--stdin"], env=env,
                      input=b"".join(fsencode(p) + b"\0" for p in paths))

    def write_tree(self, *, env: dict[str, str] | None = None, hint: str | None = None) -> str:
        """The index as a tree object; its id."""
        return self._run(["write-tree"], env=env, hint=hint).decode().strip()

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

    def first_parents_to_file(self, tip: str, out: IO[bytes], *, reverse: bool = False) -> None:
        """The commits on ``tip``'s first-parent line, one per line (oldest first with ``reverse``)."""
        self._run_to_file(["rev-list", "--first-parent", *(["--reverse"] if reverse else []), _EOO, tip], out)

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

    def fetch(self, remote: str, specs: Sequence[str], *, prune: bool = False) -> None:
        """Fetch refspecs from ``remote`` (no tags); ``prune``: drop destination refs the remote no longer has
        (only refs the refspecs' destinations match). A GitError carries git's stderr."""
        name = _plain(remote, "remote", "pass the name of a configured remote (git remote -v)")
        self._run(["fetch", "--no-tags", "--quiet", *(["--prune"] if prune else []), _EOO, name, *specs])

    def push(self, remote: str, specs: Sequence[str]) -> None:
        """Push refspecs to ``remote``; a GitError carries git's stderr."""
        name = _plain(remote, "remote", "pass the name of a configured remote (git remote -v)")
        self._run(["push", "--porcelain", "--quiet", _EOO, name, *specs])


    # -- portable runs: bundles carry a run's base and its result between machines ------
    def bundle_create(self, path: str, refs: Sequence[str], exclude: Sequence[str] = ()) -> None:
        """Write a bundle of ``refs`` (their history minus ``exclude``'s) to ``path`` (absolute)."""
        target = _plain(path, "bundle path", "pass an absolute path")
        for rev in (*refs, *exclude):
            _plain(rev, "revision", "pass a ref name or a commit id")
        self._run(["bundle", "create", "-q", target, *refs, *(f"^{e}" for e in exclude)])

    def bundle_heads(self, path: str) -> list[tuple[str, str]]:
        """``(commit id, ref name)`` of every ref a bundle carries, as the bundle says (not yet trusted)."""
        target = _plain(path, "bundle path", "pass an absolute path")
        out = self._run(["bundle", "list-heads", target])
        heads = []
        for line in out.decode("utf-8", "surrogateescape").splitlines():
            oid, _, name = line.partition(" ")
            heads.append((oid, name))
        return heads

    def bundle_verify(self, path: str) -> str | None:
        """None when the bundle is whole and this repository has its prerequisites, else git's words."""
        target = _plain(path, "bundle path", "pass an absolute path")
        code, _, err = self._run_rc(["bundle", "verify", "-q", target])
        return None if code == 0 else (err.decode("utf-8", "replace").strip() or f"git bundle verify exit {code}")

    # -- reviews: merges in memory, scratch trees, a range's commits ----------
    def merge_trees(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, tuple[str, ...]]]:
        """Merge each pair of commits in memory: ``(merged tree, conflicted paths)`` per pair.

        One ``git merge-tree --write-tree --stdin`` process (git 2.38+) for every
        pair: git's own merge (merge-ort, renames included), no work tree or
        index touched; the trees it writes are unreferenced objects. Pass commit
        ids only: one bad name ends git's whole batch (``--stdin`` takes no
        ``--end-of-options``, so names starting with '-' are refused here).
        """
        if not pairs:
            return []
        for a, b in pairs:
            if not (is_object_id(a) and is_object_id(b)):
                raise InputError(f"merge_trees takes commit ids, not {a!r} and {b!r}")
        lines = "".join(f"{a} {b}\n" for a, b in pairs).encode()
        fields = self._run(["merge-tree", "--write-tree", "--name-only", "-z", "--no-messages", "--stdin"],
                           input=lines).split(b"\0")
        # Per merge: "<1 clean | 0 conflicted>\0<tree>\0<path>\0...\0\0".
        results: list[tuple[str, tuple[str, ...]]] = []
        pos = 0
        for _ in pairs:
            status, tree = fields[pos], fields[pos + 1].decode()
            pos += 2
            paths: list[str] = []
            while fields[pos] != b"":
                paths.append(fsdecode(fields[pos]))
                pos += 1
            pos += 1
            if status not in (b"0", b"1"):
                raise InputError(f"git merge-tree gave an unexpected status {status!r}")
            results.append((tree, tuple(dict.fromkeys(paths)) if status == b"0" else ()))
        return results

    def tree_with_patch(self, base: str, patch: bytes) -> str | None:
        """``base``'s tree with a unified diff applied in a scratch index; None if it does not apply."""
        import tempfile

        from lanewarden.workers.errors import GitError

        with tempfile.TemporaryDirectory(prefix="lanewarden-index-") as tmp:
            env = {"GIT_INDEX_FILE": f"{tmp}/index"}
            self.read_tree(base, env=env)
            try:
                self.apply_cached(patch, env=env)
            except GitError:
                return None
            return self.write_tree(env=env)

    def tree_taking(self, base: str, source: str, paths: Sequence[str]) -> str:
        """``base``'s tree with ``paths`` as they are in ``source`` (absent there: removed), in a scratch index."""
        import tempfile

        listed = self._run([*_PATHS, "ls-tree", "-r", "-z", "--full-tree", _EOO, source, "--", *paths])
        present = {line.split(b"\t", 1)[1] for line in listed.split(b"\0") if b"\t" in line}
        gone = b"".join(b"0 " + b"0" * 40 + b"\t" + fsencode(p) + b"\0" for p in paths if fsencode(p) not in present)
        with tempfile.TemporaryDirectory(prefix="lanewarden-index-") as tmp:
            env = {"GIT_INDEX_FILE": f"{tmp}/index"}
            self.read_tree(base, env=env)
            self._run(["update-index", "-z", "--index-info"], input=listed + gone, env=env)
            return self.write_tree(env=env)

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
