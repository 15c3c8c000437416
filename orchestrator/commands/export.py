"""``lanewarden export claude|codex WORKER``: the worker's lane as agent runtime settings.

Defence in depth at tool-call time; the diff guard stays the authority on what
lands (see docs/exports.md). Output goes to stdout or ``--output FILE``, which
is never replaced without ``--force`` (it is often a settings file with other
entries in it).
"""
from __future__ import annotations

from pathlib import Path

import click

from lanewarden.orchestrator.integrations import claude as export_claude
from lanewarden.orchestrator.integrations import codex as export_codex
from lanewarden.orchestrator.options import open_repo, policy_from, repo_option, tracked_files
from lanewarden.workers.errors import InputError, unknown_worker_hint
from lanewarden.workers.git import Git
from lanewarden.workers.loader import LoadedPolicy


def _worker(git: Git, worker: str, policy_file: str | None, rev: str | None) -> LoadedPolicy:
    loaded = policy_from(git, policy_file=policy_file, rev=rev)
    if worker not in loaded.policy.workers:
        raise InputError(f"unknown worker {worker!r}",
                         hint=unknown_worker_hint(worker, loaded.policy.workers, loaded.source))
    return loaded


def _emit(text: str, notes: tuple[str, ...], output: str | None, force: bool) -> None:
    if output is None or output == "-":
        click.echo(text, nl=False)
    else:
        path = Path(output)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # .claude/ usually does not exist yet
            with open(path, "w" if force else "x", encoding="utf-8") as fh:
                fh.write(text)
        except FileExistsError:
            raise InputError(f"{path} already exists; lanewarden export never replaces it on its own",
                             hint="merge the printed rules into it by hand, or pass --force to replace it") \
                from None
        except OSError as exc:
            raise InputError(f"{path}: cannot write: {exc.strerror}") from None
        click.echo(f"wrote {path}", err=True)
    for note in notes:
        click.echo(f"note: {note}", err=True)


def _common(func: click.decorators.FC) -> click.decorators.FC:
    func = click.argument("worker")(func)
    func = repo_option(func)
    func = click.option("--policy", "policy_file", type=click.Path(dir_okay=False), help="Use this policy file.")(func)
    func = click.option("--rev", help="Use the policy committed in this revision.")(func)
    func = click.option("--output", type=click.Path(dir_okay=False, allow_dash=True),
                        help="Write here instead of stdout.")(func)
    return click.option("--force", is_flag=True, help="Replace an existing --output file.")(func)


@click.group("export")
def command() -> None:
    """Export a worker's lane as agent runtime settings (defence in depth; the diff guard stays the authority)."""


@command.command("claude")
@_common
def claude(worker: str, repo: str | None, policy_file: str | None, rev: str | None, output: str | None,
           force: bool) -> int:
    """Claude Code permission rules (.claude/settings.json shape) for WORKER."""
    git = open_repo(repo)
    loaded = _worker(git, worker, policy_file, rev)
    result = export_claude.export(worker, loaded.policy.workers[worker])
    _emit(result.text, result.notes, output, force)
    return 0


@command.command("codex")
@_common
@click.option("--root", "root_dir", type=click.Path(file_okay=False),
              help="Absolute folder the agent sees as the repository (default: this checkout).")
def codex(worker: str, repo: str | None, policy_file: str | None, rev: str | None, output: str | None,
          force: bool, root_dir: str | None) -> int:
    """Codex CLI sandbox settings (config.toml: workspace-write with writable_roots) for WORKER."""
    git = open_repo(repo)
    loaded = _worker(git, worker, policy_file, rev)
    top = git.top or git.git_dir
    root = Path(root_dir).resolve() if root_dir else top.resolve()
    files = set(tracked_files(git, rev))
    result = export_codex.export(worker, loaded.policy.workers[worker], root, is_file=files,
                                 policy_sha256=loaded.sha256)
    _emit(result.text, result.notes, output, force)
    return 0
