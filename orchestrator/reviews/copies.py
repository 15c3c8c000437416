"""Copies of contracts kept inside services, and how far each has drifted.

The contract folder is the single source of truth (ARCHITECTURE section 1). A
service that keeps its own copy of a contract (a vendored ``demo.proto``) has
a second truth that drifts: in GoogleCloudPlatform/microservices-demo three
services keep copies of the shared proto and all three differ from it. A copy
is a tracked file outside the contract's paths that is byte-equal to a
contract file, or has the same name and largely the same content.
"""
from __future__ import annotations

import bisect
import difflib
import posixpath
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lanewarden.workers.git import Git
from lanewarden.workers.gitops import fsdecode, fsencode, regular_files
from lanewarden.workers.pattern import compile_pattern
from lanewarden.workers.policy import Policy

_SPACE = re.compile(rb"\s+")
SIMILAR = 0.6  # line similarity above which a same-named file counts as a copy
MAX_DIFF_LINES = 200


@dataclass(frozen=True, slots=True)
class TreeFile:
    path: str
    oid: str


@dataclass(frozen=True)
class Copy:
    contract: str
    canonical: str
    path: str
    identical: bool
    similarity: float
    diff: str  # unified diff canonical -> copy ("" when identical)
    whitespace_only: bool = False  # differs, but not once white space is ignored

    @property
    def state(self) -> str:
        """For people: never "drifted, 100% alike" (a rounded ratio hides a real difference)."""
        if self.identical:
            return "identical"
        if self.whitespace_only:
            return "differs only in white space"
        return f"DRIFTED ({min(99, int(self.similarity * 100))}% alike)"

    def as_json(self) -> dict[str, Any]:
        return {"contract": self.contract, "canonical": self.canonical, "path": self.path,
                "identical": self.identical, "whitespace_only": self.whitespace_only, "state": self.state,
                "similarity": round(self.similarity, 3), "diff": self.diff}


class Tree:
    """A revision's regular files as ``ls-tree -r -z`` lists them, decoded only where looked at.

    50,000 files are 4.5 MB of listing and a review wants a handful of them (the
    contract files and their copies): paths stay bytes, in sorted order, with their
    blob ids beside them. Iterating gives every file as a ``TreeFile``.
    """

    def __init__(self, listing: bytes) -> None:
        self.paths, self.oids = regular_files(listing)
        self._files: list[TreeFile] | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[TreeFile]:
        if self._files is None:
            self._files = [self.file(i) for i in range(len(self.paths))]
        return iter(self._files)

    def file(self, i: int) -> TreeFile:
        return TreeFile(fsdecode(self.paths[i]), self.oids[i].decode("ascii"))

    def under(self, prefix: str) -> range:
        """The positions of the paths starting with ``prefix`` (one bisection: they are adjacent)."""
        raw = fsencode(prefix)
        at = bisect.bisect_left(self.paths, raw)
        end = at
        while end < len(self.paths) and self.paths[end].startswith(raw):
            end += 1
        return range(at, end)


def tree_files(git: Git, rev: str) -> Tree:
    """Every regular file of a revision with its blob id (reads trees only, no blobs)."""
    return Tree(git.ls_tree(rev))


class TreeListing:
    """``tree_files`` of a revision, listed by git in the background while the review does other work.

    A review knows the revision it reads copies from before it runs the lane's guard;
    git lists the tree (0.1 s for 50,000 files) on the other core meanwhile. The output
    goes into a file, not a pipe: a pipe needs this thread to take the GIL for every
    64 KiB while the main thread is busy.
    """

    def __init__(self, git: Git, rev: str) -> None:
        self.rev = rev
        self._out = tempfile.TemporaryFile(prefix="lanewarden-tree-")  # noqa: SIM115 (closed by tree())
        self._error: BaseException | None = None
        self._tree: Tree | None = None
        # A bare handle of its own: nothing it caches is shared with the main thread's.
        self._thread = threading.Thread(target=self._list, args=(git.without_worktree(),), daemon=True)
        self._thread.start()

    def _list(self, git: Git) -> None:
        try:
            git.ls_tree_to_file(self.rev, self._out)
        except BaseException as exc:  # re-raised in the caller's thread by tree()
            self._error = exc

    def tree(self) -> Tree:
        if self._tree is None:
            self._thread.join()
            with self._out:
                if self._error is not None:
                    raise self._error
                self._out.seek(0)
                self._tree = Tree(self._out.read())
        return self._tree


def contract_files(policy: Policy, tree: Tree) -> dict[str, list[TreeFile]]:
    """contract id -> its tracked files, in tree order.

    Each pattern is matched only against the paths under its wildcard-free folder
    prefix, found by bisecting the sorted paths: 500 contracts over 50,000 files cost
    500 short scans, not 25 million matches. A pattern with no literal folder
    (``**/*.proto``) still reads every path.
    """
    out: dict[str, list[TreeFile]] = {}
    for cid, contract in policy.contracts.items():
        hits: set[int] = set()
        for text in contract.paths:
            pattern = compile_pattern(text)
            hits.update(i for i in tree.under("/".join(pattern.dirs)) if pattern.matches(fsdecode(tree.paths[i])))
        out[cid] = [tree.file(i) for i in sorted(hits)]
    return out


def _similarity(a: bytes, b: bytes) -> float:
    # Lines compared with their white space collapsed: re-indenting a copy does not make it another file.
    left = [" ".join(line.split()) for line in a.decode("utf-8", "replace").splitlines()]
    right = [" ".join(line.split()) for line in b.decode("utf-8", "replace").splitlines()]
    return difflib.SequenceMatcher(None, left, right, autojunk=False).ratio()


def find_copies(git: Git, policy: Policy, tree: Tree) -> list[Copy]:
    """Every copy of every contract file, identical or drifted, with the drift as a diff."""
    by_contract = contract_files(policy, tree)
    canonical = {f.path: cid for cid, fs in by_contract.items() for f in fs}
    wanted_names = {posixpath.basename(f.path) for fs in by_contract.values() for f in fs}
    wanted_oids = {f.oid for fs in by_contract.values() for f in fs}
    # Over the raw listing, without decoding 50,000 paths: same blob, or same name (a path
    # ending in "/name", or the name itself at the top).
    names = {fsencode(n) for n in wanted_names}
    tails = tuple(b"/" + n for n in names)
    oids = {o.encode("ascii") for o in wanted_oids}
    found = [i for i, p in enumerate(tree.paths) if p.endswith(tails) or p in names]
    found += [i for i, o in enumerate(tree.oids) if o in oids]
    candidates = [f for f in map(tree.file, sorted(set(found))) if f.path not in canonical]
    if not candidates:
        return []
    blobs = git.read_blobs(sorted({f.oid for f in candidates} | wanted_oids))
    copies: list[Copy] = []
    for cand in candidates:
        best: tuple[float, str, TreeFile] | None = None
        for cid, fs in sorted(by_contract.items()):
            for src in fs:
                if src.oid == cand.oid:
                    score = 1.0
                elif posixpath.basename(src.path) == posixpath.basename(cand.path):
                    score = _similarity(blobs.get(src.oid, b""), blobs.get(cand.oid, b""))
                else:
                    continue
                if best is None or score > best[0]:
                    best = (score, cid, src)
        if best is None or best[0] < SIMILAR:
            continue
        score, cid, src = best
        identical = src.oid == cand.oid
        a, b = blobs.get(src.oid, b""), blobs.get(cand.oid, b"")
        diff = "" if identical else _diff(src.path, cand.path, a, b)
        blank = not identical and _SPACE.sub(b"", a) == _SPACE.sub(b"", b)
        copies.append(Copy(cid, src.path, cand.path, identical, score, diff, blank))
    return sorted(copies, key=lambda c: (c.contract, c.path))


def _diff(a_path: str, b_path: str, a: bytes, b: bytes) -> str:
    lines = list(difflib.unified_diff(a.decode("utf-8", "replace").splitlines(),
                                      b.decode("utf-8", "replace").splitlines(),
                                      fromfile=a_path, tofile=b_path, lineterm=""))
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more diff lines"]
    return "\n".join(lines)
