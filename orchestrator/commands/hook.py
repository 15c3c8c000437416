"""``lanewarden hook install|run``: the guard as pre-commit and pre-push hooks.

Hooks block on anything but exit 0, so an error, a missing worker or a base
the guard cannot find stops the commit or push (fail closed). ``git commit
--no-verify`` remains the human's escape hatch, as it is for every hook.
"""
from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

import click

from lanewarden.guards.engine import GuardRequest, guard
from lanewarden.guards.mode import Mode
from lanewarden.orchestrator.commands.guard import local_worker
from lanewarden.orchestrator.options import open_repo, repo_option, use_color, verbose_option
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git

MARKER = "# lanewarden-managed hook"
HOOKS = ("pre-commit", "pre-push")
ZERO = frozenset("0")


def _script(hook: str, worker: str | None) -> str:
    # The worker is an argument of the hook itself: an environment variable set by
    # whoever runs `git commit` cannot move an installed hook to another lane.
    pinned = f" --worker {shlex.quote(worker)}" if worker else ""
    fallback = shlex.quote(sys.executable)
    return (f"#!/bin/sh\n{MARKER} ({hook}); reinstall with `lanewarden hook install --force`.\n"
            f"if command -v lanewarden >/dev/null 2>&1; then\n"
            f"  exec lanewarden hook run{pinned} {hook} -- \"$@\"\n"
            f"fi\n"
            f"exec {fallback} -m lanewarden hook run{pinned} {hook} -- \"$@\"\n")


def hooks_dir(git: Git) -> Path:
    """The folder git runs hooks from: core.hooksPath if set, else the common git dir's hooks/."""
    configured_text = git.own_config("core.hooksPath")
    if configured_text:
        configured = Path(os.path.expanduser(configured_text))
        return configured if configured.is_absolute() else (git.top or git.git_dir) / configured
    return git.common_dir / "hooks"


@click.group("hook")
def command() -> None:
    """Install or run lanewarden's git hooks."""


@command.command("install")
@repo_option
@click.option("--force", is_flag=True, help="Replace hooks that lanewarden did not write.")
@click.option("--worker", help="Pin this clone to one worker (else LANEWARDEN_WORKER or the branch name decides).")
def install(repo: str | None, force: bool, worker: str | None) -> int:
    """Install pre-commit (guards the index) and pre-push (guards each pushed range)."""
    git = open_repo(repo)
    folder = hooks_dir(git)
    folder.mkdir(parents=True, exist_ok=True)
    foreign = [h for h in HOOKS if (folder / h).exists()
               and MARKER not in (folder / h).read_text(encoding="utf-8", errors="replace")]
    if foreign and not force:
        raise InputError(f"{', '.join(str(folder / h) for h in foreign)} already exist and were not written "
                         "by lanewarden",
                         hint="chain lanewarden from your hook (lanewarden hook run pre-commit), "
                              "use the pre-commit framework (.pre-commit-hooks.yaml), or pass --force")
    for hook in HOOKS:
        path = folder / hook
        path.write_text(_script(hook, worker), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        click.echo(f"installed {path}")
    return 0


@command.command("run")
@click.argument("hook", type=click.Choice(HOOKS))
@click.argument("args", nargs=-1)
@repo_option
@click.option("--worker", help="The worker the hook was installed for (beats LANEWARDEN_WORKER and the branch).")
@verbose_option
def run(hook: str, args: tuple[str, ...], repo: str | None, worker: str | None, verbose: bool) -> int:
    """Run a hook now (git calls this; you rarely need to)."""
    git = open_repo(repo)
    color = use_color()
    if hook == "pre-commit":
        if git.head_commit() is None:
            # The first commit: no revision exists yet whose policy could be trusted.
            click.echo("lanewarden: the first commit is not guarded (no trusted policy before it); "
                       "the policy it commits governs every later commit")
            return 0
        # git hands the hook the index being committed (for `commit -a`, a lock file);
        # read it before the hardened environment drops every GIT_* variable.
        index = os.environ.get("GIT_INDEX_FILE")
        index_path = Path(index) if index else None
        if index_path is not None and not index_path.is_absolute():
            index_path = (git.top or Path.cwd()) / index_path
        verdict = guard(git, GuardRequest(mode=Mode.STAGED, worker=local_worker(git, worker),
                                          index_file=index_path)).verdict
        # Imported after the guard, which loads the guards' modules while git reads the index.
        from lanewarden.orchestrator.reports.verdict import to_text

        click.echo(to_text(verdict, verbose=verbose, color=color))
        return verdict.exit_code
    return _pre_push(git, args, worker, verbose, color)


def _pre_push(git: Git, args: tuple[str, ...], worker: str | None, verbose: bool, color: bool) -> int:
    remote = args[0] if args else "origin"
    updates = _push_updates()
    worst = 0
    for local_ref, local_oid, remote_oid in updates:
        if set(local_oid) <= ZERO:
            continue  # deleting a remote branch changes no file
        base = os.environ.get("LANEWARDEN_BASE") or (
            remote_oid if not set(remote_oid) <= ZERO else _default_base(git, remote))
        if base is None:
            click.echo(f"lanewarden: {local_ref}: the remote {remote!r} has no branch yet, so there is nothing "
                       "to compare with; this first push is not guarded (set LANEWARDEN_BASE=<commit> to guard it)")
            continue
        verdict = guard(git, GuardRequest(mode=Mode.RANGE, worker=local_worker(git, worker, local_ref),
                                          base=base, head=local_oid)).verdict
        from lanewarden.orchestrator.reports.verdict import to_text

        click.echo(f"{local_ref}: {to_text(verdict, verbose=verbose, color=color)}"
                   if not verbose and verdict.exit_code == 0 else f"{local_ref}:\n{to_text(verdict, color=color)}")
        worst = max(worst, verdict.exit_code, key=_severity)
    return worst


def _push_updates() -> list[tuple[str, str, str]]:
    """(local ref, local oid, remote oid) from git's stdin, or the pre-commit framework's env."""
    src, dst = os.environ.get("PRE_COMMIT_FROM_REF"), os.environ.get("PRE_COMMIT_TO_REF")
    if src and dst:
        return [(os.environ.get("PRE_COMMIT_LOCAL_BRANCH", dst), dst, src)]
    out = []
    for line in sys.stdin.read().splitlines():
        parts = line.split()
        if len(parts) == 4:
            out.append((parts[0], parts[1], parts[3]))
    return out


def _default_base(git: Git, remote: str) -> str | None:
    """The remote's default branch; None when the remote has no branch at all (the first push)."""
    for ref in (f"refs/remotes/{remote}/HEAD", f"refs/remotes/{remote}/main", f"refs/remotes/{remote}/master"):
        commit = git.ref_value(ref)
        if commit is not None:
            return commit
    if not git.remote_has_branches(remote):
        return None
    raise InputError(f"a new branch is pushed and no default branch of {remote!r} is known to compare with",
                     hint="git fetch the remote first, or set LANEWARDEN_BASE=<commit id> for this push")


def _severity(code: int) -> int:
    """Order exit codes by how much they block: reject > error > revision > accept."""
    return {0: 0, 3: 1, 2: 2, 4: 3, 1: 4}.get(code, 5)
