"""The only module that spawns git (``workers/gitops.py`` builds the argv of its operations).

A guard that reads git through the repository's own configuration can be
fooled by it (see NOTES.md): ``diff.relative`` hides paths, ``core.fsmonitor``
and clean filters run code, replace refs rewrite history, submodule ignore
settings hide bumps. So every git process started here gets:

- an environment rebuilt from scratch: inherited ``GIT_*`` variables dropped
  (hooks leak ``GIT_DIR``/``GIT_INDEX_FILE``), no system or global config,
  no optional locks, no replace objects;
- explicit ``--git-dir`` and ``--work-tree`` (``core.worktree`` is ignored);
- ``-c`` overrides for everything in repository config that can run code or
  hide a change;
- byte output, ``-z`` wherever paths are listed.

User-supplied revisions are resolved once with ``rev-parse --verify
--end-of-options`` into full object ids; only those ids reach other commands.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from lanewarden.workers.errors import GitError, NotARepositoryError, RevisionError
from lanewarden.workers.githistory import History
from lanewarden.workers.gitobjects import Objects
from lanewarden.workers.gitops import TreeEntry, fsdecode, fsencode, is_object_id, split_z
from lanewarden.workers.gitwork import Workspaces

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

# Re-exported: callers import the path helpers from here, next to Git.
__all__ = ["EMPTY_TREE_SHA1", "Git", "TreeEntry", "clean_env", "fsdecode", "fsencode", "is_object_id", "split_z"]

# Settings that can hide a change or run code, pinned to safe values.
_SAFE_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("core.ignoreCase", "false"),
    ("core.fileMode", "true"),
    ("core.symlinks", "true"),
    ("core.trustctime", "true"),
    ("core.checkStat", "default"),
    ("core.ignoreStat", "false"),
    ("core.untrackedCache", "false"),
    ("core.splitIndex", "false"),
    ("core.excludesFile", "/dev/null"),
    ("core.attributesFile", "/dev/null"),
    ("core.autocrlf", "false"),
    ("core.safecrlf", "false"),
    ("core.quotePath", "true"),
    ("core.precomposeUnicode", "false"),
    ("core.protectNTFS", "true"),
    # A tiny threshold would make every file "binary" and blind the secrets scan.
    ("core.bigFileThreshold", "512m"),
    ("core.pager", "cat"),
    ("core.sparseCheckout", "false"),
    ("index.sparse", "false"),
    ("diff.relative", "false"),
    ("diff.ignoreSubmodules", "none"),
    ("diff.renames", "false"),
    ("diff.noprefix", "false"),
    ("diff.mnemonicPrefix", "false"),
    ("diff.submodule", "short"),
    ("status.showUntrackedFiles", "all"),
    ("submodule.recurse", "false"),
    ("color.ui", "false"),
    ("log.showSignature", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    # A commit-graph file (or chain) is a cache of parents git trusts without
    # reading the commits: a forged one moves merge bases. Read the commits.
    ("core.commitGraph", "false"),
    # Same for the multi-pack index: an index of objects git would trust over the packs' own.
    ("core.multiPackIndex", "false"),
    # Speed, not safety: a full object id always means that object; with the warning on, git first
    # looks for a ref of that name under six prefixes (a ref update of 10,000 refs: 280,000 stat calls).
    ("core.warnAmbiguousRefs", "false"),
)

# info/grafts rewrites parents as git reads history (still honoured by git 2.39):
# a planted root given to both sides moves the merge base. A file below
# /dev/null can never exist, so no grafts file is ever read.
NO_GRAFTS = os.path.join(os.devnull, "lanewarden-no-grafts")

_DROP_ENV_PREFIXES = ("GIT_",)

# Commands after which a cached HEAD or branch may be stale.
_MOVES_REFS = frozenset({"checkout", "switch", "commit", "reset", "merge", "rebase", "update-ref", "fetch",
                         "pull", "cherry-pick", "revert", "am", "stash", "branch", "tag", "replace",
                         "worktree", "symbolic-ref"})

# The empty tree's id in a SHA-1 repository; computed per repository below.
EMPTY_TREE_SHA1 = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _widen(pipe: IO[bytes]) -> None:
    """Let git write up to 1 MiB ahead of us (Linux; elsewhere, or when refused, the default stays).

    With the default 64 KiB, streaming 75 MB of objects costs tens of thousands of
    sleeps and wake-ups on both sides.
    """
    setter = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setter is not None:
        with suppress(OSError):
            fcntl.fcntl(pipe.fileno(), setter, 1 << 20)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every git process gets: the caller's, minus git's, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_ENV_PREFIXES)}
    env.update({
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_GRAFT_FILE": NO_GRAFTS,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ATTR_NOSYSTEM": "1",
        "LC_ALL": "C",
        "LANGUAGE": "C",
    })
    if extra:
        env.update(extra)
    return env


def _subcommand(args: Sequence[str]) -> str:
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "-c":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return ""


def _batchable(spec: str) -> bool:
    """cat-file --batch reads one name per line; anything else goes through rev-parse."""
    return "\n" not in spec and "\r" not in spec and "\0" not in spec and not spec.startswith("-")


def _find_top(start: Path) -> Path | None:
    """Walk up to the folder holding ``.git``: never trust ``core.worktree`` for this."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


class Git(Objects, History, Workspaces):
    """A hardened handle on one repository (its git dir and, unless bare, its work tree).

    Only this class and its ``Operations`` build git command lines; the runners
    are private (tests/test_codebase.py checks no other module calls them).
    """

    def __init__(self, git_dir: Path, top: Path | None, *, bare: bool = False) -> None:
        self.git_dir = git_dir
        self.top = top
        self.bare = bare
        self._prefix: list[str] | None = None
        self._filters: list[str] | None = None
        self._empty_tree: str | None = None
        # rev or commit id -> (commit id, raw commit); (rev, path) -> blob or None.
        self._commits: dict[str, tuple[str, bytes]] = {}
        self._files: dict[tuple[str, str], bytes | None] = {}

    @property
    def common_dir(self) -> Path:
        """The git dir shared by every worktree (objects, refs, config, hooks)."""
        commondir = self.git_dir / "commondir"
        if commondir.is_file():
            return (self.git_dir / commondir.read_text().strip()).resolve()
        return self.git_dir

    def without_worktree(self) -> Git:
        """The same repository opened as bare: git cannot read, hash or filter a work-tree file.

        Range, index and patch guards need only objects; reading them this way
        also saves looking up the filter drivers to neutralise.
        """
        return Git(self.git_dir, None, bare=True)

    # -- discovery -------------------------------------------------------
    @classmethod
    def discover(cls, start: Path | str | None = None) -> Git:
        """Find the repository containing ``start`` (default: the current folder)."""
        begin = Path(start) if start is not None else Path.cwd()
        if not begin.exists():
            raise NotARepositoryError(f"{begin}: no such folder",
                                      hint="pass --repo with the path of a git checkout")
        top = _find_top(begin)
        if top is not None and (top / ".git").is_dir():
            return cls((top / ".git").resolve(), top)  # the common case needs no git process
        if top is None:
            bare = begin.resolve()
            if (bare / "HEAD").is_file() and (bare / "objects").is_dir():
                return cls(bare, None)
            raise NotARepositoryError(
                f"{begin}: not inside a git repository",
                hint="run lanewarden inside a git checkout, or pass --repo DIR")
        proc = subprocess.run(
            ["git", "-c", f"safe.directory={top}", f"--work-tree={top}",
             "rev-parse", "--absolute-git-dir"],
            cwd=top, env=clean_env(), capture_output=True, check=False)
        if proc.returncode != 0:
            raise NotARepositoryError(
                f"{top}: git cannot open this repository: {proc.stderr.decode(errors='replace').strip()}",
                hint="check that the .git folder or file is intact")
        git_dir = Path(fsdecode(proc.stdout.strip()))
        return cls(git_dir, top)

    @classmethod
    def init(cls, folder: Path, *, branch: str = "main", bare: bool = False) -> Git:
        """Create a repository in ``folder`` (used by the demo and by worker runs)."""
        folder.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["git", "-c", f"init.defaultBranch={branch}", "-c", "init.templateDir=",
                               "init", "-q", *(["--bare"] if bare else []), "--end-of-options", str(folder)],
                              env=clean_env(), capture_output=True, check=False)
        if proc.returncode != 0:
            raise GitError("git init failed", args=("init",), stderr=proc.stderr.decode("utf-8", "replace"))
        if bare:  # never discovered: a folder inside another repository's .git would find that one
            return cls(folder.resolve(), None, bare=True)
        return cls.discover(folder)

    # -- running ---------------------------------------------------------
    def _base_args(self) -> list[str]:
        if self._prefix is None:
            prefix = ["git", "--no-pager", f"--git-dir={self.git_dir}"]
            if self.top is not None:
                prefix.append(f"--work-tree={self.top}")
            if self.bare:
                prefix += ["-c", "core.bare=true"]
            prefix += ["-c", f"safe.directory={self.top or self.git_dir}"]
            for key, value in _SAFE_CONFIG:
                prefix += ["-c", f"{key}={value}"]
            self._prefix = prefix
        return self._prefix

    def _filter_env(self) -> dict[str, str]:
        """Config overrides emptying every filter driver the repository configures.

        Passed as ``GIT_CONFIG_COUNT``/``KEY``/``VALUE`` variables, not ``-c``: git
        splits ``-c`` at the first '=', so a driver named ``x=y`` would escape it.
        Every command gets them: even ``diff-tree`` between two trees reads a
        work-tree file instead of a blob when their stat data match, and then
        runs its clean filter.
        """
        if self._filters is None:
            proc = subprocess.run(
                [*self._base_args(), "config", "--name-only", "--get-regexp", r"^filter\."],
                cwd=self.top or self.git_dir, env=clean_env(), capture_output=True, check=False)
            names: set[str] = set()
            for line in proc.stdout.decode("utf-8", "replace").splitlines():
                # filter.<name>.<key>; the name itself may contain dots.
                if line.count(".") >= 2:
                    names.add(line[len("filter."):line.rindex(".")])
            self._filters = sorted(names)
        env: dict[str, str] = {}
        count = 0
        for name in self._filters:
            for part, value in (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")):
                env[f"GIT_CONFIG_KEY_{count}"] = f"filter.{name}.{part}"
                env[f"GIT_CONFIG_VALUE_{count}"] = value
                count += 1
        env["GIT_CONFIG_COUNT"] = str(count)
        return env

    def _argv(self, args: Sequence[str]) -> list[str]:
        return [*self._base_args(), *args]

    def _env(self, args: Sequence[str], extra: dict[str, str] | None) -> dict[str, str]:
        # The filter lookup itself; without a work tree no filter can run; check-ignore reads ignore
        # files and the index, never a file's content, so it runs no filter either.
        if (args and args[0] in ("config", "check-ignore")) or self.top is None:
            return clean_env(extra)
        return clean_env({**self._filter_env(), **(extra or {})})

    def _run(self, args: Sequence[str], *, input: bytes | None = None,
             env: dict[str, str] | None = None, ok: Sequence[int] = (0,),
             hint: str | None = None) -> bytes:
        """Run git and return stdout; any exit code outside ``ok`` raises GitError."""
        if _subcommand(args) in _MOVES_REFS:
            self.forget_names()
        proc = subprocess.run(self._argv(args), input=input, cwd=self.top or self.git_dir,
                              env=self._env(args, env), capture_output=True, check=False)
        if proc.returncode not in ok:
            raise GitError(f"git {_subcommand(args)} failed", args=tuple(args),
                           stderr=proc.stderr.decode("utf-8", "replace"), hint=hint)
        return proc.stdout

    def _run_rc(self, args: Sequence[str], *, input: bytes | None = None,
                env: dict[str, str] | None = None) -> tuple[int, bytes, bytes]:
        if _subcommand(args) in _MOVES_REFS:
            self.forget_names()
        proc = subprocess.run(self._argv(args), input=input, cwd=self.top or self.git_dir,
                              env=self._env(args, env), capture_output=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def _run_to_file(self, args: Sequence[str], out: IO[bytes], *, env: dict[str, str] | None = None) -> None:
        """Run git with its output going straight into a file.

        For large outputs read in the background: a pipe needs a reader holding
        the GIL, and a busy main thread starves it until git blocks on a full pipe.
        """
        if _subcommand(args) in _MOVES_REFS:
            self.forget_names()
        proc = subprocess.run(self._argv(args), stdout=out, stderr=subprocess.PIPE, cwd=self.top or self.git_dir,
                              env=self._env(args, env), check=False)
        if proc.returncode != 0:
            raise GitError(f"git {_subcommand(args)} failed", args=tuple(args),
                           stderr=proc.stderr.decode("utf-8", "replace"))


    @contextmanager
    def _stream(self, args: Sequence[str], stdin: IO[bytes] | None = None, *,
                env: dict[str, str] | None = None) -> Iterator[IO[bytes]]:
        """Run git with its stdout as a stream the caller reads as it goes (bounded memory).

        Input comes from a file, not a pipe, so no writer thread competes for the
        GIL and git can never block on a full input pipe while we wait on its
        output. stderr goes to a temporary file (a second pipe could fill up and
        stall git). A caller that stops early kills git instead of draining it.
        """
        if _subcommand(args) in _MOVES_REFS:
            self.forget_names()
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(self._argv(args), stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=err, cwd=self.top or self.git_dir,
                                    env=self._env(args, env), bufsize=1 << 16)
            assert proc.stdout is not None
            _widen(proc.stdout)
            try:
                yield proc.stdout
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                proc.stdout.close()
            if proc.wait() != 0:
                err.seek(0)
                raise GitError(f"git {_subcommand(args)} failed", args=tuple(args),
                               stderr=err.read().decode("utf-8", "replace"))

    def own_config(self, key: str) -> str | None:
        """A setting as the user's git sees it (repository, then global config).

        Only for setup commands such as ``hook install``; guards never read
        the repository's own settings.
        """
        return self.own_configs(key).get(key.lower())

    def own_configs(self, *keys: str) -> dict[str, str]:
        """``own_config`` of several keys, one git process per scope: lower-cased key -> value."""
        found: dict[str, str] = {}
        wanted = {k.lower() for k in keys}
        pattern = "^(" + "|".join(re.escape(k) for k in sorted(wanted)) + ")$"
        # The repository's own files first (config and config.worktree), then the user's.
        for scope in ("", "--global"):
            env = None if not scope else {"GIT_CONFIG_GLOBAL": os.environ.get(
                "GIT_CONFIG_GLOBAL", os.path.expanduser("~/.gitconfig"))}
            args = ["git", f"--git-dir={self.git_dir}", "config", *([scope] if scope else []), "-z",
                    "--get-regexp", pattern]
            proc = subprocess.run(args,
                                  cwd=self.top or self.git_dir, env=clean_env(env), capture_output=True,
                                  check=False)
            here: dict[str, str] = {}
            for item in split_z(proc.stdout) if proc.returncode == 0 else ():
                raw_key, _, raw_value = item.partition(b"\n")  # -z: "key\nvalue"; the last one wins, as --get
                here[raw_key.decode("utf-8", "replace").lower()] = fsdecode(raw_value).strip()
            for key, value in here.items():
                if key in wanted and key not in found and value:
                    found[key] = value
            if len(found) == len(wanted):
                break
        return found

    # -- revisions -------------------------------------------------------
    def prefetch(self, revs: Sequence[str], files: Sequence[tuple[str, str]] = ()) -> None:
        """Resolve commits and read files with one ``cat-file --batch`` (fewer processes per hook run).

        Names (HEAD, branches) are remembered only until the next prefetch or
        write through this handle; object ids are immutable and stay cached.
        """
        self.forget_names()
        revs = [r for r in dict.fromkeys(revs) if r and r not in self._commits and _batchable(r)]
        files = [f for f in dict.fromkeys(files) if f not in self._files and _batchable(f[0] + f[1])]
        specs = [f"{r}^{{commit}}" for r in revs] + [f"{r}:{p}" for r, p in files]
        if not specs:
            return
        results = self.batch(specs)
        for rev, found in zip(revs, results, strict=False):
            if found is not None and found[1] == "commit":
                self._commits[rev] = self._commits[found[0]] = (found[0], found[2])
        for (rev, path), found in zip(files, results[len(revs):], strict=False):
            blob = found[2] if found is not None and found[1] == "blob" else None
            self._files[(rev, path)] = blob
            commit = self._commits.get(rev)
            if commit is not None:
                self._files[(commit[0], path)] = blob

    def forget_names(self) -> None:
        """Drop cached answers for names that can move (everything but full object ids)."""
        self._commits = {k: v for k, v in self._commits.items() if is_object_id(k)}
        self._files = {k: v for k, v in self._files.items() if is_object_id(k[0])}

    def batch(self, specs: Sequence[str], *,
              env: dict[str, str] | None = None) -> list[tuple[str, str, bytes] | None]:
        """``(oid, type, content)`` for each object name, None where git finds none."""
        out = self._run(["cat-file", "--batch"], input=("\n".join(specs) + "\n").encode("utf-8", "surrogateescape"),
                       env=env)
        results: list[tuple[str, str, bytes] | None] = []
        pos = 0
        for _ in specs:
            nl = out.index(b"\n", pos)
            header = out[pos:nl].split()
            pos = nl + 1
            if len(header) != 3 or not header[2].isdigit():
                results.append(None)  # "missing", "ambiguous", ...
                continue
            size = int(header[2])
            results.append((header[0].decode(), header[1].decode(), out[pos:pos + size]))
            pos += size + 1
        return results

    def resolve_commit(self, rev: str, *, what: str = "revision") -> str:
        """Full commit id of ``rev``; a missing or non-commit revision is an InputError."""
        if not rev or "\0" in rev:
            raise RevisionError(f"{what} {rev!r} is empty or malformed")
        if rev in self._commits:
            return self._commits[rev][0]
        code, out, _ = self._run_rc(["rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}"])
        if code != 0:
            raise RevisionError(
                f"{what} {rev!r} does not name a commit in {self.top or self.git_dir}",
                hint="fetch it first (git fetch origin <branch>), check the spelling, "
                     "or pass the commit id itself")
        return out.decode().strip()

    def head_commit(self) -> str | None:
        """HEAD's commit id, or None on an unborn branch."""
        if "HEAD" in self._commits:
            return self._commits["HEAD"][0]
        code, out, _ = self._run_rc(["rev-parse", "--verify", "-q", "--end-of-options", "HEAD^{commit}"])
        return out.decode().strip() if code == 0 else None

    def current_branch(self) -> str | None:
        code, out, _ = self._run_rc(["symbolic-ref", "-q", "--short", "HEAD"])
        return fsdecode(out.strip()) if code == 0 else None


    def merge_bases(self, a: str, b: str) -> list[str]:
        code, out, err = self._run_rc(["merge-base", "--all", "--end-of-options", a, b])
        if code not in (0, 1):
            raise GitError("git merge-base failed", args=("merge-base", a, b),
                           stderr=err.decode("utf-8", "replace"))
        return out.decode().split()

    def is_shallow(self) -> bool:
        return self._run(["rev-parse", "--is-shallow-repository"]).strip() == b"true"

    def tree_of(self, commit: str) -> str:
        cached = self._commits.get(commit)
        if cached is not None and cached[1].startswith(b"tree "):
            return cached[1][5:cached[1].index(b"\n")].decode()
        return self._run(["rev-parse", "--verify", "--end-of-options", f"{commit}^{{tree}}"]).decode().strip()

    def empty_tree(self) -> str:
        if self._empty_tree is None:
            self._empty_tree = self._run(["mktree"], input=b"").decode().strip()
        return self._empty_tree


    def ref_value(self, ref: str) -> str | None:
        code, out, _ = self._run_rc(["rev-parse", "--verify", "-q", "--end-of-options", f"{ref}^{{commit}}"])
        return out.decode().strip() if code == 0 else None


    def refs(self, prefix: str) -> dict[str, str]:
        """ref name -> commit id for every ref under ``prefix``.

        Parsed by lines: a ref name can hold neither a newline nor a space (git check-ref-format).
        """
        out = self._run(["for-each-ref", "--format=%(objectname) %(refname)", "--end-of-options", prefix])
        refs: dict[str, str] = {}
        for line in out.decode("utf-8", "surrogateescape").splitlines():
            oid, _, name = line.partition(" ")
            refs[name] = oid
        return refs


    # -- worker runs -----------------------------------------------------
    def clone_shared(self, dest: Path) -> Git:
        """A disposable clone at ``dest`` borrowing this repository's objects read-only.

        ``--shared`` writes an alternates file instead of copying objects, and
        ``--no-checkout`` leaves the work tree to :meth:`checkout_branch`, so a
        clone costs about what a worktree does. The clone has its own refs,
        config and hooks: nothing written there reaches this repository.
        """
        proc = subprocess.run(["git", "-c", f"safe.directory={self.common_dir}", "-c", "init.templateDir=",
                               *self._safe_flags(), "clone", "--shared", "--no-checkout", "--no-tags", "-q", "--",
                               str(self.common_dir), str(dest)],
                              cwd=dest.parent, env=clean_env(), capture_output=True, check=False)
        if proc.returncode != 0:
            raise GitError("git clone failed", args=("clone", str(dest)),
                           stderr=proc.stderr.decode("utf-8", "replace"))
        return Git((dest / ".git").resolve(), dest)

    @staticmethod
    def _safe_flags() -> list[str]:
        flags: list[str] = []
        for key, value in _SAFE_CONFIG:
            flags += ["-c", f"{key}={value}"]
        return flags

    @classmethod
    def shadow(cls, admin: Path, objects: Path, top: Path, head: str) -> Git:
        """A git dir of lanewarden's own for reading ``top``'s files, outside ``top``.

        Collecting a run reads the agent's work tree through this handle, never
        through the clone's ``.git`` (its refs, index, config and objects are the
        agent's to forge). Objects come from ``objects`` (the main repository's)
        only; HEAD is ``head``, detached.
        """
        bare = cls.init(admin, bare=True)
        (admin / "objects" / "info" / "alternates").write_text(f"{objects}\n")
        bare._run(["config", "core.bare", "false"])
        bare._run(["update-ref", "--no-deref", "HEAD", head])
        return cls(admin, top)


