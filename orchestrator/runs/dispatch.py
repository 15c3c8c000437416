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

from lanewarden.orchestrator.runs.worker_run import RunResult, execute
from lanewarden.workers.errors import InputError, LanewardenError
from lanewarden.workers.git import Git

SEVERITY = {0: 0, 3: 1, 2: 2, 4: 3, 1: 4}


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
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    @property
    def exit_code(self) -> int:
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


def dispatch(repo: Path | None, tasks: list[Task], jobs: int,
             on_change: Callable[[list[Task]], None] = lambda t: None, *, confined: bool = True,
             network: bool = True) -> list[Task]:
    """Run the plan; ``on_change`` is called whenever a task changes state.

    ``confined=False`` runs every agent without a sandbox (``--unconfined``).
    """
    lanes: dict[str, list[Task]] = {}
    for t in tasks:
        lanes.setdefault(t.worker, []).append(t)

    def set_state(t: Task, state: str) -> None:
        with t.lock:
            t.state = state
        on_change(tasks)

    def lane(queue: list[Task]) -> None:
        for t in queue:
            t.started = time.monotonic()
            set_state(t, "running")
            try:
                git = Git.discover(repo)  # one handle per thread: handles are not shared
                t.result = execute(git, t.worker, t.command, task=t.task, confined=confined, network=network)
                t.changed = t.result.changed_files
                t.finished = time.monotonic()
                set_state(t, t.result.outcome)
            except LanewardenError as exc:
                t.error = exc.message
                t.error_code = exc.exit_code
                t.finished = time.monotonic()
                set_state(t, "error")
            except Exception as exc:
                t.error = f"{type(exc).__name__}: {exc}"
                t.finished = time.monotonic()
                set_state(t, "error")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for future in [pool.submit(lane, q) for q in lanes.values()]:
            future.result()
    return tasks


def worst(tasks: list[Task]) -> int:
    return max((t.exit_code for t in tasks), key=lambda c: SEVERITY.get(c, 5), default=0)
