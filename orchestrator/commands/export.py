"""``lanewarden export RUNTIME WORKER``: a worker's lane as an agent runtime's own settings and hooks.

Runtimes: claude, codex, gemini, copilot, cursor. Each gets its permission rules
where it has them, ``lanewarden tool-hook`` as the pre-tool hook and done gate,
and the ``lanewarden mcp`` server (see docs/exports.md and docs/agents.md).
Defence in depth at tool-call time; the diff guard stays the authority on what
lands. The main file goes to stdout or ``--output FILE``; ``--write`` writes every
file into ``--checkout`` (default: this checkout). Nothing is ever replaced
without ``--force``: these are often settings files with other entries in them.
"""
from __future__ import annotations

from pathlib import Path

import click

from lanewarden.orchestrator.integrations.configs import RUNTIMES, RuntimeConfig, render
from lanewarden.orchestrator.options import open_repo, policy_from, repo_option, tracked_files
from lanewarden.workers.errors import InputError

_TITLES = {"claude": "Claude Code settings (.claude/settings.json: permissions and hooks), subagent and MCP files",
           "codex": "Codex CLI config.toml: workspace-write sandbox, hooks and MCP server",
           "gemini": "Gemini CLI settings (BeforeTool hook, MCP server) and policy-engine rules",
           "copilot": "GitHub Copilot CLI hooks (.github/hooks/lanewarden.json)",
           "cursor": "Cursor hooks (.cursor/hooks.json) and MCP server"}


def _write(path: Path, data: bytes, force: bool) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # .claude/ usually does not exist yet
        with open(path, "wb" if force else "xb") as fh:
            fh.write(data)
    except FileExistsError:
        raise InputError(f"{path} already exists; lanewarden export never replaces it on its own",
                         hint="merge the printed settings into it by hand, or pass --force to replace it") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror}") from None
    click.echo(f"wrote {path}", err=True)


def _emit(config: RuntimeConfig, checkout: Path, output: str | None, write: bool, force: bool) -> None:
    if write:
        if output is not None:
            raise InputError("--write puts every file in the checkout; --output names one file: pick one")
        for rel, data in config.files.items():
            _write(checkout / rel, data, force)
    elif output is None or output == "-":
        click.echo(config.files[config.primary].decode(), nl=False)
        others = [rel for rel in config.files if rel != config.primary]
        if others:
            click.echo(f"note: --write also writes {', '.join(others)} (into {checkout})", err=True)
    else:
        _write(Path(output), config.files[config.primary], force)
    for note in config.notes:
        click.echo(f"note: {note}", err=True)


def _subcommand(runtime: str) -> click.Command:
    @click.command(runtime, help=f"{_TITLES[runtime]} for WORKER.")
    @click.argument("worker")
    @repo_option
    @click.option("--policy", "policy_file", type=click.Path(dir_okay=False), help="Use this policy file.")
    @click.option("--rev", help="Use the policy committed in this revision.")
    @click.option("--checkout", type=click.Path(file_okay=False),
                  help="The checkout the agent works in (absolute paths in the config; where --write writes). "
                       "Default: this checkout.")
    @click.option("--root", "root_dir", type=click.Path(file_okay=False), hidden=True,
                  help="Old name of --checkout.")
    @click.option("--command", "command_", default="lanewarden", show_default=True,
                  help="How the runtime starts lanewarden (e.g. '/opt/venv/bin/python -m lanewarden').")
    @click.option("--output", type=click.Path(dir_okay=False, allow_dash=True),
                  help="Write the main file here instead of stdout.")
    @click.option("--write", is_flag=True, help="Write every file of this runtime into the checkout.")
    @click.option("--force", is_flag=True, help="Replace existing files.")
    def run(worker: str, repo: str | None, policy_file: str | None, rev: str | None, checkout: str | None,
            root_dir: str | None, command_: str, output: str | None, write: bool, force: bool) -> int:
        git = open_repo(repo)
        loaded = policy_from(git, policy_file=policy_file, rev=rev)
        folder = checkout or root_dir
        target = Path(folder).resolve() if folder else (git.top or git.git_dir).resolve()
        is_file = set(tracked_files(git, rev)) if runtime == "codex" else None
        config = render(runtime, worker, loaded, target, is_file=is_file, command=command_)
        _emit(config, target, output, write, force)
        return 0

    return run


@click.group("export")
def command() -> None:
    """Export a worker's lane as agent runtime settings and hooks (defence in depth; the diff guard decides)."""


for _runtime in RUNTIMES:
    command.add_command(_subcommand(_runtime))
