"""Options shared by commands: the repository, the policy source, output formats."""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git
from lanewarden.workers.layout import POLICY_FILE

if TYPE_CHECKING:
    from lanewarden.workers.loader import LoadedPolicy

F = TypeVar("F", bound=Callable[..., Any])


def repo_option(func: F) -> F:
    return click.option("--repo", "repo", type=click.Path(file_okay=False), default=None,
                        help="The repository (default: the one containing the current folder).")(func)


FORMAT_KEY = "lanewarden.format"


def _remember_format(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    # ctx.meta is shared by the whole context chain: the error boundary reads it to
    # report an error in the format the caller asked for (GitHub annotations).
    ctx.meta[FORMAT_KEY] = value
    return value


def format_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    def wrap(func: F) -> F:
        return click.option("--format", "fmt", type=click.Choice(choices), default=default,
                            show_default=True, help="Output format.", callback=_remember_format)(func)
    return wrap


def verbose_option(func: F) -> F:
    return click.option("-v", "--verbose", is_flag=True,
                        help="Show the whole verdict table even when the change is accepted.")(func)


def use_color(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set to anything (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def open_repo(repo: str | None) -> Git:
    return Git.discover(repo)


def policy_file_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--policy FILE`` for a dry run, as ``guard`` has it: the result is marked untrusted."""
    return click.option("--policy", "policy_file", type=click.Path(dir_okay=False), default=None,
                        help="Dry run with this policy file instead of the trusted revision "
                             "(the result is marked untrusted and never recorded).")(func)


def dry_run_notice(policy_file: str) -> None:
    click.echo(f"lanewarden: dry run with the policy in {policy_file} (untrusted: not the committed policy)",
               err=True)


def untrusted(data: dict[str, Any], policy_file: str | None) -> dict[str, Any]:
    """JSON output of a dry run says where the policy came from."""
    if policy_file is not None:
        data["policy"] = {"source": "file", "path": policy_file, "trusted": False}
    return data


def policy_from(git: Git, *, policy_file: str | None, rev: str | None) -> LoadedPolicy:
    """``--policy FILE`` or ``--rev REV``, else the policy file in the work tree."""
    from lanewarden.workers.loader import load_file, load_revision, policy_cache_dir

    if policy_file is not None and rev is not None:
        raise InputError("--policy and --rev are exclusive: pick the file or the revision")
    if policy_file is not None:
        return load_file(Path(policy_file))
    if rev is not None:
        return load_revision(git, rev)
    if git.top is None:
        return load_revision(git, "HEAD")
    # The cache is keyed by the file's own sha256, so an uncommitted edit simply misses.
    return load_file(git.top / POLICY_FILE, cache_dir=policy_cache_dir(git))


def tracked_files(git: Git, rev: str | None) -> list[str]:
    """Tracked paths: in ``rev`` when given, else in the index."""
    if rev is not None:
        return git.ls_tree_names(git.resolve_commit(rev))
    return git.ls_files_cached()
