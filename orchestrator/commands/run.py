"""``lanewarden run WORKER [--task TEXT] [--base REV] [--keep] -- COMMAND...``."""
from __future__ import annotations

import json
import sys

import click

from lanewarden.orchestrator.options import format_option, open_repo, repo_option
from lanewarden.orchestrator.runs.interrupts import terminate_as_interrupt
from lanewarden.orchestrator.runs.result import RunResult
from lanewarden.orchestrator.runs.worker_run import RunInterrupted, execute


@click.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("worker")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@repo_option
@click.option("--task", help="What the agent is asked to do (in the context pack, commit and handoffs).")
@click.option("--base", help="Start from this revision (default HEAD); its policy is the one enforced.")
@click.option("--keep", is_flag=True, help="Keep the run's clone after an accepted or split run.")
@click.option("--unconfined", is_flag=True,
              help="Run the agent without a sandbox (no bubblewrap here): it can write anything you can.")
@click.option("--no-network", "no_network", is_flag=True, help="Give the agent no network (its own namespace).")
@click.option("--no-agent-config", "no_agent_config", is_flag=True,
              help="Install no hooks or settings for a known agent runtime (claude, codex, gemini, copilot, "
                   "cursor-agent) in the run's checkout.")
@format_option("text", "json")
def command(worker: str, command: tuple[str, ...], repo: str | None, task: str | None, base: str | None,
            keep: bool, unconfined: bool, no_network: bool, no_agent_config: bool, fmt: str) -> int:
    """Run COMMAND (any agent: a script, Codex, Claude Code, Aider) as WORKER in
    a disposable clone, confined by bubblewrap, then guard what it changed:
    writable changes are committed on lanewarden/WORKER/RUN-ID, out-of-lane
    changes become handoffs, and a protected path, a secret, a budget breach, a
    crash or a timeout rolls the run back. Exit 0 accepted, 3 split (handoffs
    pending), 1 rejected, 2 no sandbox (install bubblewrap or pass --unconfined).
    """
    git = open_repo(repo)

    def echo(chunk: bytes) -> None:
        if fmt == "text":
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()

    if unconfined:
        click.echo("lanewarden run: UNCONFINED: the agent runs without a sandbox and can write anything you can",
                   err=True)
    try:
        with terminate_as_interrupt():
            result = execute(git, worker, list(command), task=task, base=base, keep=keep, echo=echo,
                             confined=not unconfined, network=not no_network,
                             agent_config=not no_agent_config)
    except RunInterrupted as stop:
        click.echo(f"\nlanewarden run {stop.run_id}: interrupted ({stop.cause or 'Ctrl-C'}); "
                   "the main repository was not changed", err=True)
        for path in stop.kept:
            click.echo(f"  kept: {path}", err=True)
        for path in stop.cleaned:
            click.echo(f"  cleaned: {path}", err=True)
        raise
    echo_result(result, fmt)
    return result.exit_code


def echo_result(result: RunResult, fmt: str) -> None:
    """A run's outcome for people (or JSON): the same for a local run and a collected portable one."""
    if fmt == "json":
        click.echo(json.dumps(result.as_json(), indent=2))
        return
    click.echo(f"\nlanewarden run {result.run_id}: {result.outcome} (exit {result.exit_code}) "
               f"in {result.seconds:.1f}s; {result.changed_files} path(s) changed")
    if result.commit:
        click.echo(f"  committed {result.commit[:12]} on {result.branch}")
    for hid in result.handoffs:
        click.echo(f"  handoff {hid[:12]} queued (lanewarden handoffs show {hid[:12]})")
    for reason in result.reasons:
        click.echo(f"  rolled back: {reason}")
    for note in result.notes:
        click.echo(f"  note: {note}")
    for hid in result.proposed:
        click.echo(f"  handoff {hid[:12]} proposed by the agent, queued (lanewarden handoffs show {hid[:12]})")
    if not result.confined:
        click.echo("  UNCONFINED: the agent ran without a sandbox")
    if result.log:
        click.echo(f"  log: {result.log}")
