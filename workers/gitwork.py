"""What lanewarden asks git for worker runs and reviews: run checkouts, bundles, merges in memory.

A mixin of ``Git`` (workers/git.py starts git, and makes the run's clone and
its own reading git dir); like ``workers/gitops.py`` it is one of the few
modules allowed to build a git command line.
"""
from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from lanewarden.workers.errors import GitError, InputError
from lanewarden.workers.gitops import (
    _EOO,
    _PATHS,
    Operations,
    _plain,
    fsdecode,
    fsencode,
    is_object_id,
)


class Workspaces(Operations):
    """Typed git operations for runs (their checkouts and bundles) and reviews (merges, scratch trees)."""

    git_dir: Path  # Git's

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

        listed = self._run([*_PATHS, "ls-tree", "-r", "-z", "--full-tree", _EOO, source, "--", *paths])
        present = {line.split(b"\t", 1)[1] for line in listed.split(b"\0") if b"\t" in line}
        gone = b"".join(b"0 " + b"0" * 40 + b"\t" + fsencode(p) + b"\0" for p in paths if fsencode(p) not in present)
        with tempfile.TemporaryDirectory(prefix="lanewarden-index-") as tmp:
            env = {"GIT_INDEX_FILE": f"{tmp}/index"}
            self.read_tree(base, env=env)
            self._run(["update-index", "-z", "--index-info"], input=listed + gone, env=env)
            return self.write_tree(env=env)

    def checkout_branch(self, branch: str, commit: str, *, sparse: list[str] | None = None) -> None:
        """Check out ``commit`` on a new ``branch`` (sparse, non-cone, with these patterns if given).

        The sparse settings are written into the repository's own config so the
        agent's git in the clone keeps honouring them.
        """
        if sparse is not None:
            info = self.git_dir / "info"
            info.mkdir(exist_ok=True)
            (info / "sparse-checkout").write_text("\n".join(sparse) + "\n")
            self._run(["config", "core.sparseCheckout", "true"])
            self._run(["config", "core.sparseCheckoutCone", "false"])
        sparse_flags = ["-c", "core.sparseCheckout=true", "-c", "core.sparseCheckoutCone=false"] if sparse else []
        self._run([*sparse_flags, "checkout", "-q", "--no-recurse-submodules", "-B", branch, commit])

    def set_ref(self, ref: str, new: str) -> None:
        """Point ``ref`` at ``new`` whatever it holds now (restoring a ref an agent moved)."""
        self._run(["update-ref", "--no-deref", ref, new])

    def index_paths(self, base: str, paths: Sequence[str], env: dict[str, str]) -> str:
        """A tree: ``base`` with ``paths`` re-hashed from the work tree (absent ones removed).

        Uses the index named in ``env`` (``GIT_INDEX_FILE``), never the repository's own.
        """
        self._run(["read-tree", base], env=env)
        if paths:
            self._run(["update-index", "--add", "--remove", "-z", "--stdin"], env=env,
                     input=b"".join(fsencode(p) + b"\0" for p in paths))
        return self._run(["write-tree"], env=env).decode().strip()

    def binary_diff(self, base: str, env: dict[str, str] | None = None) -> bytes:
        """The index (``env``'s) against ``base`` as a binary patch ``git apply`` takes."""
        return self._run(["diff", "--cached", "--binary", "--no-ext-diff", "--no-textconv", "--no-color",
                         "--no-renames", base], env=env)

    def stage_all(self, env: dict[str, str]) -> None:
        """Every file of the work tree, ignored ones included, into ``env``'s index."""
        self._run(["add", "-A", "-f"], env=env)
