"""``lanewarden runs list|show|clean``."""
from __future__ import annotations

import json

import click

from lanewarden.orchestrator.options import format_option, open_repo, repo_option
from lanewarden.orchestrator.runs.records import cleanup, list_runs
from lanewarden.workers.errors import InputError


@click.group("runs")
def command() -> None:
    """Past worker runs: outcome, branch, handoffs, log."""


@command.command("list")
@repo_option
@format_option("text", "json")
def list_cmd(repo: str | None, fmt: str) -> int:
    """List runs, oldest first."""
    runs = list_runs(open_repo(repo))
    if fmt == "json":
        click.echo(json.dumps(runs, indent=2))
        return 0
    if not runs:
        click.echo("no runs")
        return 0
    for r in runs:
        click.echo(f"{r['run_id']}  {r.get('status', '?'):11} {r['worker']:16} "
                   f"{(r.get('commit') or '-')[:12]:12}  handoffs {len(r.get('handoffs') or [])}  "
                   f"{r.get('task') or ''}")
    return 0


@command.command("show")
@click.argument("run_id")
@repo_option
def show(run_id: str, repo: str | None) -> int:
    """Show one run's state (ids may be abbreviated)."""
    matches = [r for r in list_runs(open_repo(repo)) if r["run_id"].startswith(run_id)]
    if len(matches) != 1:
        raise InputError(f"{'no' if not matches else 'more than one'} run matches {run_id!r}",
                         hint="see lanewarden runs list")
    click.echo(json.dumps(matches[0], indent=2))
    return 0


@command.command("clean")
@repo_option
def clean_cmd(repo: str | None) -> int:
    """Remove what interrupted runs left behind (their clones; a branch only if lanewarden made it).

    Only paths derived from a run id inside the runs folder are removed; a state
    file naming anything else is reported and ignored.
    """
    done = cleanup(open_repo(repo))
    tidied = done.tidied
    click.echo(f"cleaned {len(tidied)} interrupted run(s)" + (f": {', '.join(tidied)}" if tidied else ""))
    for line in done.ignored:
        click.echo(f"  ignored: {line}")
    return 0
