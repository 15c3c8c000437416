"""``lanewarden dispatch PLAN.yaml``: several worker runs in parallel, one line each.

Tasks of the same worker run one after the other (one lane, one writer);
different workers run side by side, each in its own confined clone. The exit code is
the worst outcome.
"""
from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lanewarden.orchestrator.runs import agent as process
from lanewarden.orchestrator.runs.worker_run import RunResult, execute
from lanewarden.workers.errors import InputError, LanewardenError, unknown_worker_hint
from lanewarden.workers.git import Git

SEVERITY = {0: 0, 3: 1, 2: 2, 4: 3, 1: 4, 130: 5}


@dataclass
class Task:
    index: int
    worker: str
    task: str | None
    command: list[str]
    state: str = "queued"
    started: float | None = None
    finished: float | None = None
    result: RunResult | None = None
    error: str | None = None
    error_code: int = 4
    changed: int = 0
    folder: Path | None = None  # the run's folder once it exists (live progress reads its state)
    run_id: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    @property
    def exit_code(self) -> int:
        if self.state in ("cancelled", "interrupted"):
            return 130
        if self.result is not None:
            return self.result.exit_code
        return self.error_code if self.error else 0


def load_plan(path: Path) -> list[Task]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the plan: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    items = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise InputError(f"{path}: a plan is a mapping with a non-empty list `tasks`",
                         hint="tasks: [{worker: wallet-api, task: '...', command: ['sh', 'agent.sh']}]")
    tasks = []
    for i, item in enumerate(items):
        where = f"{path}: tasks[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{where}: each task is a mapping with worker, task and command")
        unknown = set(item) - {"worker", "task", "command"}
        if unknown:
            raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        worker, command = item.get("worker"), item.get("command")
        if not isinstance(worker, str) or not worker:
            raise InputError(f"{where}.worker: a worker id is required")
        if isinstance(command, str):
            command = shlex.split(command)
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise InputError(f"{where}.command: a command (a string or a list of strings) is required")
        text = item.get("task")
        if text is not None and not isinstance(text, str):
            raise InputError(f"{where}.task: must be text")
        tasks.append(Task(i, worker, text, command))
    return tasks


def validate(git: Git, tasks: list[Task], base: str = "HEAD") -> None:
    """The whole plan against the trusted policy, before anything starts: a mistyped worker fails here."""
    from lanewarden.workers.loader import load_revision

    policy = load_revision(git, git.resolve_commit(base, what="base revision")).policy
    for t in tasks:
        if t.worker not in policy.workers:
            raise InputError(f"tasks[{t.index}]: unknown worker {t.worker!r}; nothing was started",
                             hint=unknown_worker_hint(t.worker, policy.workers))


def dispatch(repo: Path | None, tasks: list[Task], jobs: int,
             on_change: Callable[[list[Task]], None] = lambda t: None, *, confined: bool = True,
             network: bool = True) -> list[Task]:
    """Run the plan; ``on_change`` is called whenever a task changes state.

    ``confined=False`` runs every agent without a sandbox (``--unconfined``).
    Ctrl-C stops every running agent through its run's own interrupt path
    (each run ends ``interrupted``, its clone removed), marks queued tasks
    ``cancelled``, then re-raises.
    """

    def run_one(t: Task) -> None:
        t.result = execute(Git.discover(repo), t.worker, t.command, task=t.task, confined=confined,
                           network=network, on_start=lambda ws: setattr(t, "folder", ws.folder))
        t.changed = t.result.changed_files

    return run_lanes(tasks, jobs, run_one, on_change)


def run_lanes(tasks: list[Task], jobs: int, run_one: Callable[[Task], None],
              on_change: Callable[[list[Task]], None]) -> list[Task]:
    """Lanes side by side (``jobs`` at a time), the tasks of one lane one after the other."""
    lanes: dict[str, list[Task]] = {}
    for t in tasks:
        lanes.setdefault(t.worker, []).append(t)

    def set_state(t: Task, state: str) -> None:
        with t.lock:
            t.state = state
        on_change(tasks)

    def lane(queue: list[Task]) -> None:
        for t in queue:
            if process.STOP.is_set():
                set_state(t, "cancelled")
                continue
            t.started = time.monotonic()
            set_state(t, "running")
            try:
                run_one(t)
                t.finished = time.monotonic()
                set_state(t, t.result.outcome if t.result else "error")
            except LanewardenError as exc:
                t.error = exc.message
                t.error_code = exc.exit_code
                t.finished = time.monotonic()
                set_state(t, "error")
            except KeyboardInterrupt:
                t.error = "interrupted (Ctrl-C); the run's clone was removed, its evidence kept"
                t.error_code = 130
                t.finished = time.monotonic()
                set_state(t, "interrupted")
            except Exception as exc:
                t.error = f"{type(exc).__name__}: {exc}"
                t.finished = time.monotonic()
                set_state(t, "error")

    process.STOP.clear()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures = [pool.submit(lane, q) for q in lanes.values()]
    try:
        for future in futures:
            future.result()
    except KeyboardInterrupt:
        process.STOP.set()  # every running agent stops; each run takes its interrupt path
        for future in futures:
            future.result()
        raise
    finally:
        pool.shutdown(wait=True)
    return tasks


def poll_changed(t: Task) -> None:
    """Files the running agent has changed so far, for the live progress line (a local run's clone).

    Read through lanewarden's own git dir for the run, like collect; a figure
    for people only: the guard's count at the end is the one that counts.
    """
    folder = t.folder
    if folder is None or t.state != "running":
        return
    reader = Git(folder / "git", folder / "checkout")
    try:
        changed = {p for _, p in reader.diff_files_raw()} | set(reader.ls_files_others(gitignore=False))
    except (LanewardenError, OSError):
        return  # the run ended and its clone went away between two polls
    t.changed = len(changed)


def worst(tasks: list[Task]) -> int:
    return max((t.exit_code for t in tasks), key=lambda c: SEVERITY.get(c, 5), default=0)
