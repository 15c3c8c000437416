"""``lanewarden dispatch PLAN.yaml [--jobs N]``."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from lanewarden.orchestrator.options import open_repo, repo_option
from lanewarden.orchestrator.runs import sandbox
from lanewarden.orchestrator.runs.dispatch import Task, dispatch, load_plan, worst


def _line(t: Task) -> str:
    return (f"  [{t.index + 1}] {t.worker:16} {t.state:9} {t.elapsed:6.1f}s  {t.changed:4} file(s)  "
            f"{(t.task or ' '.join(t.command))[:48]}")


@click.command("dispatch")
@click.argument("plan", type=click.Path(dir_okay=False))
@repo_option
@click.option("--jobs", default=2, show_default=True, help="Workers running at once.")
@click.option("--unconfined", is_flag=True, help="Run every agent without a sandbox: it can write anything you can.")
@click.option("--no-network", "no_network", is_flag=True, help="Give the agents no network.")
def command(plan: str, repo: str | None, jobs: int, unconfined: bool, no_network: bool) -> int:
    """Run the tasks of PLAN (worker, task, command) in parallel, each in a confined clone.

    Tasks for the same worker run one after the other. Prints one line per
    task as it goes, then a summary; the exit code is the worst outcome.
    """
    tasks = load_plan(Path(plan))
    open_repo(repo)  # fail early outside a repository
    if not unconfined:
        sandbox.require()  # one clear refusal instead of one per task
    else:
        click.echo("dispatch: UNCONFINED: the agents run without a sandbox and can write anything you can")
    live = sys.stdout.isatty()
    lock = threading.Lock()
    drawn = [0]
    last: dict[int, str] = {}

    def on_change(all_tasks: list[Task]) -> None:
        with lock:
            if live:
                if drawn[0]:
                    sys.stdout.write(f"\x1b[{drawn[0]}F")
                for t in all_tasks:
                    sys.stdout.write("\x1b[2K" + _line(t) + "\n")
                drawn[0] = len(all_tasks)
                sys.stdout.flush()
            else:
                for t in all_tasks:
                    if last.get(t.index) != t.state:
                        last[t.index] = t.state
                        click.echo(_line(t))

    click.echo(f"dispatching {len(tasks)} task(s) over {len({t.worker for t in tasks})} worker(s), "
               f"{jobs} at a time")
    dispatch(Path(repo) if repo else None, tasks, jobs, on_change, confined=not unconfined, network=not no_network)
    click.echo("\nsummary:")
    click.echo(f"  {'#':>3} {'WORKER':16} {'OUTCOME':9} {'TIME':>7}  {'FILES':>5}  COMMIT        HANDOFFS")
    for t in tasks:
        r = t.result
        commit = (r.commit or "-")[:12] if r else "-"
        handoffs = ",".join(h[:8] for h in r.handoffs) if r and r.handoffs else "-"
        click.echo(f"  {t.index + 1:>3} {t.worker:16} {t.state:9} {t.elapsed:6.1f}s  {t.changed:5}  "
                   f"{commit:12}  {handoffs}")
        if t.error:
            click.echo(f"      error: {t.error}")
        if r:
            for reason in r.reasons:
                click.echo(f"      rolled back: {reason}")
    code = worst(tasks)
    click.echo(f"worst outcome: exit {code}")
    return code
