"""What lanewarden asks git about objects: blobs and trees read and written, commits made, refs moved.

A mixin of ``Git`` (workers/git.py starts git and keeps the revision caches);
like ``workers/gitops.py`` it is one of the few modules allowed to build a git
command line.
"""
from __future__ import annotations

from collections.abc import Sequence

from lanewarden.workers.errors import GitError, InputError
from lanewarden.workers.gitops import Operations, fsdecode, fsencode, split_z


class Objects(Operations):
    """Typed git operations on objects and refs."""

    _files: dict[tuple[str, str], bytes | None]  # Git's cache of files read at revisions

    def batch(self, specs: Sequence[str], *,
              env: dict[str, str] | None = None) -> list[tuple[str, str, bytes] | None]:  # Git's
        raise NotImplementedError

    def refs(self, prefix: str) -> dict[str, str]:  # Git's
        raise NotImplementedError

    def gitignored(self, paths: Sequence[str]) -> set[str]:
        """Which of ``paths`` (existing or not) a ``.gitignore`` file ignores; tracked paths never are.

        Only ``.gitignore`` files count, as in the work-tree guard: ``info/exclude`` and
        ``core.excludesFile`` belong to this clone or this user, not to the repository.
        """
        if not paths:
            return set()
        code, out, err = self._run_rc(["check-ignore", "-v", "-z", "--stdin"],
                                      input=b"".join(fsencode(p) + b"\0" for p in paths))
        if code not in (0, 1):  # 1: nothing is ignored
            raise GitError("git check-ignore failed", args=("check-ignore",), stderr=err.decode("utf-8", "replace"))
        fields = split_z(out)
        found: set[str] = set()
        # -v -z prints SOURCE, LINE, PATTERN, PATH per path; a '!' pattern re-includes the path.
        for source, _line, pattern, path in zip(*[iter(fields)] * 4, strict=False):
            if source.rsplit(b"/", 1)[-1] == b".gitignore" and not pattern.startswith(b"!"):
                found.add(fsdecode(path))
        return found

    # -- objects ---------------------------------------------------------
    def read_file_at(self, commit: str, path: str, *, env: dict[str, str] | None = None) -> bytes | None:
        """Contents of ``path`` in ``commit`` (or a tree), or None when it does not exist there.

        ``env`` may name a scratch object directory; such reads bypass the cache.
        """
        if env is None and (commit, path) in self._files:
            return self._files[(commit, path)]
        code, out, _ = self._run_rc(["cat-file", "blob", "--end-of-options", f"{commit}:{path}"], env=env)
        return out if code == 0 else None

    def read_blobs(self, oids: Sequence[str], *, env: dict[str, str] | None = None) -> dict[str, bytes]:
        """Read many blobs with one ``cat-file --batch`` process."""
        wanted = [o for o in dict.fromkeys(oids) if o]
        if not wanted:
            return {}
        batch = self.batch(wanted, env=env)
        return {oid: found[2] for oid, found in zip(wanted, batch, strict=False) if found is not None}

    # -- writing ---------------------------------------------------------
    def commit_all(self, message: str, *, author: tuple[str, str] = ("lanewarden", "lanewarden@localhost")) -> str:
        """Stage everything in the work tree and commit it; returns the new commit id."""
        name, email = author
        identity = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                    "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        self._run(["add", "-A"])
        self._run(["-c", "commit.gpgSign=false", "commit", "-q", "--no-verify", "-m", message], env=identity)
        return self._run(["rev-parse", "HEAD"]).decode().strip()

    def write_blob(self, data: bytes) -> str:
        return self._run(["hash-object", "-w", "--stdin", "--no-filters"], input=data).decode().strip()

    def make_tree(self, entries: dict[str, bytes], blobs: dict[str, str] | None = None) -> str:
        """A flat tree of regular files ``name -> content`` (plus ``name -> blob id`` already written)."""
        oids = {name: self.write_blob(data) for name, data in entries.items()}
        oids.update(blobs or {})
        lines = b"".join(f"100644 blob {oid}\t{name}\0".encode() for name, oid in sorted(oids.items()))
        return self._run(["mktree", "-z"], input=lines).decode().strip()

    def commit_tree(self, tree: str, parents: Sequence[str], message: str,
                    author: tuple[str, str], when: str | None = None) -> str:
        name, email = author
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        if when:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = when
        args = ["-c", "commit.gpgSign=false", "commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self._run(args, input=message.encode(), env=env).decode().strip()

    def update_ref(self, ref: str, new: str, old: str | None) -> bool:
        """Compare-and-swap: move ``ref`` to ``new`` only if it is still ``old`` (None: absent)."""
        expected = old or "0" * len(new)
        code, _, _ = self._run_rc(["update-ref", "--no-deref", "--end-of-options", ref, new, expected])
        return code == 0

    def resolve_id(self, ref_prefix: str, abbrev: str, *, noun: str, listing: str) -> str:
        """The full id of the one ref under ``ref_prefix`` that starts with ``abbrev`` (like git's
        abbreviated object names): unique, or an InputError that says what to do."""
        if not abbrev or any(c not in "0123456789abcdef" for c in abbrev):
            raise InputError(f"{abbrev!r} is not {noun} id", hint=f"ids are hex; see {listing}")
        ids = [ref[len(ref_prefix):] for ref in self.refs(ref_prefix)]
        matches = [i for i in ids if i.startswith(abbrev)]
        if not matches:
            raise InputError(f"no {noun.split()[-1]} {abbrev!r}", hint=f"see {listing}")
        if len(matches) > 1:
            raise InputError(f"{noun.split()[-1]} id {abbrev!r} is ambiguous: {', '.join(sorted(matches)[:5])}",
                             hint="type more characters of the id")
        return matches[0]

    def read_paths(self, specs: Sequence[str]) -> list[bytes | None]:
        """Contents of many ``<rev>:<path>`` objects with one ``cat-file --batch``."""
        if not specs:
            return []
        return [found[2] if found is not None else None for found in self.batch(specs)]

    def remote_has_branches(self, remote: str) -> bool:
        """Whether ``remote`` (a configured remote's name or a URL) has any branch; asks the remote."""
        if not remote or remote.startswith("-"):
            raise InputError(f"remote {remote!r} is not a remote name or URL")
        code, out, err = self._run_rc(["ls-remote", "--heads", "--end-of-options", remote])
        if code != 0:
            raise GitError(f"cannot list the branches of remote {remote!r}: {err.decode(errors='replace').strip()}")
        return bool(out.strip())
