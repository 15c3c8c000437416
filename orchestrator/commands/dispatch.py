"""``lanewarden dispatch PLAN.yaml [--jobs N] [--engine local|ray]``."""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import click

from lanewarden.orchestrator.options import open_repo, repo_option
from lanewarden.orchestrator.runs import sandbox
from lanewarden.orchestrator.runs.dispatch import Task, dispatch, load_plan, poll_changed, validate, worst
from lanewarden.orchestrator.runs.interrupts import terminate_as_interrupt

TICK_S = 1.0


def _line(t: Task) -> str:
    return (f"  [{t.index + 1}] {t.worker:16} {t.state:11} {t.elapsed:6.1f}s  {t.changed:4} file(s)  "
            f"{(t.task or ' '.join(t.command))[:48]}")


class Progress:
    """One line per task: redrawn in place on a terminal (and every second while runs work),
    one line per state change otherwise (logs, CI). No colour is ever used, so NO_COLOR holds;
    with NO_COLOR set the terminal redraw uses plain lines too."""

    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = tasks
        self.live = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        self.lock = threading.Lock()
        self.drawn = 0
        self.last: dict[int, str] = {}  # what was printed per task: state and files changed
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> Progress:
        self.ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.ticker.is_alive():
            self.ticker.join()
        self.changed(self.tasks)

    def _tick(self) -> None:
        # Polls each running run's clone, so the line moves while the agent works.
        while not self.stop.wait(TICK_S):
            for t in self.tasks:
                poll_changed(t)
            self.changed(self.tasks)

    def changed(self, tasks: list[Task]) -> None:
        with self.lock:
            if self.live:
                if self.drawn:
                    sys.stdout.write(f"\x1b[{self.drawn}F")
                for t in tasks:
                    sys.stdout.write("\r\x1b[2K" + _line(t) + "\n")
                self.drawn = len(tasks)
                sys.stdout.flush()
                return
            for t in tasks:
                key = f"{t.state} {t.changed}"
                if self.last.get(t.index) != key:
                    self.last[t.index] = key
                    click.echo(_line(t))


@click.command("dispatch")
@click.argument("plan", type=click.Path(dir_okay=False))
@repo_option
@click.option("--jobs", default=2, show_default=True, help="Workers running at once.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where agents run: this machine, or Ray tasks (pip install 'lanewarden[ray]').")
@click.option("--ray-address", "ray_address", help="A running Ray cluster (default: start a local one).")
@click.option("--unconfined", is_flag=True, help="Run every agent without a sandbox: it can write anything you can.")
@click.option("--no-network", "no_network", is_flag=True, help="Give the agents no network.")
def command(plan: str, repo: str | None, jobs: int, engine: str, ray_address: str | None, unconfined: bool,
            no_network: bool) -> int:
    """Run the tasks of PLAN (worker, task, command) in parallel, each in a confined clone.

    The whole plan is checked against the trusted policy before anything starts.
    Tasks for the same worker run one after the other. Prints one line per
    task as it goes, then a summary; the exit code is the worst outcome.
    Ctrl-C stops every run through its own interrupt path and exits 130.
    """
    tasks = load_plan(Path(plan))
    validate(open_repo(repo), tasks)  # a mistyped worker fails before any task runs
    if engine == "ray":
        from lanewarden.orchestrator.runs.ray_engine import require

        require()  # a clear error naming the extra, before anything starts
    if not unconfined:
        sandbox.require()  # one clear refusal instead of one per task
    else:
        click.echo("dispatch: UNCONFINED: the agents run without a sandbox and can write anything you can")
    click.echo(f"dispatching {len(tasks)} task(s) over {len({t.worker for t in tasks})} worker(s), "
               f"{jobs} at a time" + (" on Ray" if engine == "ray" else ""))
    where = Path(repo) if repo else None
    began = time.monotonic()
    interrupted = False
    try:
        with terminate_as_interrupt(sigint=True), Progress(tasks) as progress:
            if engine == "ray":
                from lanewarden.orchestrator.runs.ray_engine import dispatch_ray

                dispatch_ray(where, tasks, jobs, progress.changed, confined=not unconfined,
                             network=not no_network, address=ray_address)
            else:
                dispatch(where, tasks, jobs, progress.changed, confined=not unconfined, network=not no_network)
    except KeyboardInterrupt:
        interrupted = True  # every run took its own interrupt path; say what happened, then exit 130
    click.echo("\nsummary:")
    click.echo(f"  {'#':>3} {'WORKER':16} {'OUTCOME':11} {'TIME':>7}  {'FILES':>5}  COMMIT        HANDOFFS")
    for t in tasks:
        r = t.result
        commit = (r.commit or "-")[:12] if r else "-"
        handoffs = ",".join(h[:8] for h in r.handoffs) if r and r.handoffs else "-"
        click.echo(f"  {t.index + 1:>3} {t.worker:16} {t.state:11} {t.elapsed:6.1f}s  {t.changed:5}  "
                   f"{commit:12}  {handoffs}")
        if t.error:
            click.echo(f"      error: {t.error}")
        if r:
            for reason in r.reasons:
                click.echo(f"      rolled back: {reason}")
            for note in r.notes:
                if note.startswith("executed on"):
                    click.echo(f"      {note}")
    code = worst(tasks)
    click.echo(f"wall clock {time.monotonic() - began:.1f}s; worst outcome: exit {code}")
    if interrupted:
        click.echo("dispatch interrupted: running runs were stopped and rolled back (their evidence kept), "
                   "queued ones cancelled; the main repository was not changed by them")
        raise KeyboardInterrupt
    return code
