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
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import IO, NamedTuple

from lanewarden.workers.errors import InputError

_HEX = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_REGULAR_HEADS = (b"100644 blob ", b"100755 blob ")


def regular_files(listing: bytes) -> tuple[list[bytes], list[bytes]]:
    """(paths, blob ids) of the regular files in ``ls-tree -r -z`` output, as bytes, sorted by path.

    One entry per NUL, "<mode> <type> <oid>\t<path>": a path holds no NUL, so text inside
    a path that looks like an entry stays inside its own entry.
    """
    entries = listing.split(b"\0")[:-1]  # the listing ends with a NUL
    # An entry starts the listing or follows a NUL: counting the heads there counts regular files.
    regular = sum(listing.count(b"\0" + head) + listing.startswith(head) for head in _REGULAR_HEADS)
    if regular != len(entries):  # a symbolic link or a submodule among them
        entries = [e for e in entries if e[:12] in _REGULAR_HEADS]
    tab = entries[0].find(b"\t") if entries else 52  # 52 for SHA-1 ids, 76 for SHA-256
    paths = [e[tab + 1:] for e in entries]
    oids = [e[12:tab] for e in entries]
    if paths != sorted(paths):  # git's order is sorted; a hand-made tree need not be
        order = sorted(range(len(paths)), key=paths.__getitem__)
        paths, oids = [paths[i] for i in order], [oids[i] for i in order]
    return paths, oids

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

    def ls_tree_files(self, treeish: str) -> list[tuple[str, str]]:
        """``(path, blob id)`` of every regular file (mode 100644 or 100755) of ``treeish``, recursively,
        sorted by path (``regular_files`` decoded)."""
        paths, oids = regular_files(self.ls_tree(treeish))
        return [(fsdecode(path), oid.decode("ascii")) for path, oid in zip(paths, oids, strict=True)]

    def ls_tree(self, treeish: str) -> bytes:
        """``ls-tree -r -z`` of ``treeish``, as git writes it."""
        return self._run(["ls-tree", "-r", "-z", "--full-tree", _EOO, treeish])

    def ls_tree_to_file(self, treeish: str, out: IO[bytes]) -> None:
        """``ls_tree`` written into a file, for a listing made in the background."""
        self._run_to_file(["ls-tree", "-r", "-z", "--full-tree", _EOO, treeish], out)

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

    def diff_index_cached_raw(self, tree: str, *, env: dict[str, str] | None = None) -> bytes:
        """The raw ``-z`` list of what the index (``GIT_INDEX_FILE`` in ``env``) changes against ``tree``.

        Reads the index once and never writes it. Intent-to-add entries are left out, as
        ``write-tree`` (and so a commit) leaves them out; unmerged paths show as status ``U``.
        """
        return self._run(["diff-index", "--cached", *DIFF_FLAGS, "--ita-invisible-in-index", "--raw", "-z",
                          _EOO, tree], env=env)

    # -- scratch indexes and trees -----------------------------------------
    def write_objects(self, kind: str, files: Sequence[str], *, env: dict[str, str] | None = None) -> list[str]:
        """Write each file's bytes as an object of ``kind`` with one ``hash-object``; their ids, in order.

        The bytes are taken as they are (``--no-filters``); for trees git checks they parse as one.
        Names come on stdin, one per line: only lanewarden's own scratch files, never a user's path.
        """
        if not files:
            return []
        if any("\n" in f for f in files):
            raise InputError("a scratch file name holds a newline")
        out = self._run(["hash-object", "-t", kind, "-w", "--no-filters", "--stdin-paths"],
                        input="".join(f + "\n" for f in files).encode(), env=env)
        return out.decode("ascii").split()

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

    def write_tree(self, *, env: dict[str, str] | None = None, hint: str | None = None,
                   missing_ok: bool = False) -> str:
        """The index as a tree object; its id.

        ``missing_ok`` skips git's lookup of every entry's object (200,000 of them in a big
        repository's index). Only for a tree that is then diffed: a missing blob among the
        changed paths fails the patch read, and unchanged entries are HEAD's own objects.
        """
        return self._run(["write-tree", *(["--missing-ok"] if missing_ok else [])],
                         env=env, hint=hint).decode().strip()


