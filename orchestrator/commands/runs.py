"""``lanewarden runs list|show|clean``."""
from __future__ import annotations

import datetime
import json
from typing import Any

import click

from lanewarden.orchestrator.options import format_option, open_repo, repo_option
from lanewarden.orchestrator.runs.records import cleanup, list_runs
from lanewarden.orchestrator.runs.retire import Rule, retire
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
@format_option("text", "json")
def show(run_id: str, repo: str | None, fmt: str) -> int:
    """Show one run (ids may be abbreviated): text with local times, or its record with --format json."""
    matches = [r for r in list_runs(open_repo(repo)) if r["run_id"].startswith(run_id)]
    if len(matches) != 1:
        raise InputError(f"{'no' if not matches else 'more than one'} run matches {run_id!r}",
                         hint="see lanewarden runs list")
    run = matches[0]
    if fmt == "json":
        click.echo(json.dumps(run, indent=2))
        return 0
    for label, value in _rows(run):
        click.echo(f"{label:>12}  {value}")
    for key in ("reasons", "notes", "handoffs", "proposed", "kept", "cleaned"):
        for item in run.get(key) or []:
            click.echo(f"{key[:-1] if key.endswith('s') else key:>12}  {item}")
    return 0


def _local(stamp: object) -> str:
    if not isinstance(stamp, int | float):
        return "-"
    return datetime.datetime.fromtimestamp(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _rows(run: dict[str, Any]) -> list[tuple[str, str]]:
    seconds = run.get("seconds")
    return [("run", str(run.get("run_id"))), ("worker", str(run.get("worker"))),
            ("task", str(run.get("task") or "-")), ("status", str(run.get("status"))),
            ("started", _local(run.get("started"))), ("finished", _local(run.get("finished"))),
            ("took", f"{seconds:.1f}s" if isinstance(seconds, int | float) else "-"),
            ("base", str(run.get("base") or "-")[:12]), ("branch", str(run.get("branch") or "-")),
            ("commit", str(run.get("commit") or "-")[:12]),
            ("files", str(run.get("changed_files", "-"))),
            ("confined", "no (UNCONFINED)" if run.get("confined") is False else "yes"),
            ("portable", "yes" if run.get("portable") else "no"), ("log", str(run.get("log") or "-"))]


@command.command("clean")
@repo_option
@click.option("--branches", "rule", metavar="RULE",
              help="Also retire finished runs' branches: merged | older-than=7d (only those lanewarden created).")
@click.option("--into", default="HEAD", show_default=True, help="What --branches merged means merged into.")
def clean_cmd(repo: str | None, rule: str | None, into: str) -> int:
    """Remove what interrupted runs left behind (their clones; a branch only if lanewarden made it).

    Only paths derived from a run id inside the runs folder are removed; a state
    file naming anything else is reported and ignored. With --branches, finished
    runs' branches go too, by the rule, only when lanewarden's record says it
    created them and they still point at the recorded commit.
    """
    git = open_repo(repo)
    parsed = Rule.parse(rule) if rule else None
    done = cleanup(git)
    tidied = done.tidied
    click.echo(f"cleaned {len(tidied)} interrupted run(s)" + (f": {', '.join(tidied)}" if tidied else ""))
    for line in done.ignored:
        click.echo(f"  ignored: {line}")
    if parsed is not None:
        deleted, kept = retire(git, parsed, into=into)
        click.echo(f"retired {len(deleted)} branch(es) ({rule})")
        for branch in deleted:
            click.echo(f"  deleted: {branch}")
        for line in kept:
            click.echo(f"  kept: {line}")
    return 0
