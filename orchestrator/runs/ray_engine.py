"""``dispatch --engine ray``: each run's execute step as a Ray task; prepare and collect stay here.

The Ray worker gets the prepared folder as bytes (never a path: it may be
another machine), writes them into a temporary folder of its own, runs
``run execute`` there and returns ``result/`` as bytes. The driver writes them
back and collects, one collect at a time (the orchestrator is the one
writer). Retries are for infrastructure only: Ray's ``max_retries`` re-runs a
task whose worker process or node died; ``retry_exceptions=False`` never
re-runs a task that raised, and an agent's rejected work is not an
exception at all (the node does not judge; collect does).
Ray is the optional extra ``lanewarden[ray]``; the default install stays small.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lanewarden.orchestrator.runs import agent as process
from lanewarden.orchestrator.runs import portable
from lanewarden.orchestrator.runs.dispatch import Task, run_lanes
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git

# A node lost mid-run is re-run this many times by Ray itself.
MAX_SYSTEM_RETRIES = 2
MAX_RESULT_BYTES = 256 << 20
POLL_S = 0.5


def require() -> Any:
    """The ``ray`` module, or an InputError (exit 2) naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise InputError("the ray engine needs Ray, which is not installed",
                         hint="pip install 'lanewarden[ray]' (or run without --engine ray)") from None
    return ray


def execute_bytes(files: dict[str, bytes], command: list[str], confined: bool, network: bool) -> dict[str, Any]:
    """On the Ray worker: unpack, execute, return the result folder as bytes (and where it ran)."""
    from lanewarden.orchestrator.runs.node import execute

    with tempfile.TemporaryDirectory(prefix="lanewarden-ray-") as tmp:
        folder = Path(tmp) / "run"
        folder.mkdir()
        for name, data in files.items():
            if "/" in name or name.startswith("."):
                raise InputError(f"refusing prepared file name {name!r}")
            (folder / name).write_bytes(data)
        execute(folder, command, confined=confined, network=network)
        out: dict[str, bytes] = {}
        result = folder / portable.RESULT_DIR
        for path in sorted(result.rglob("*")):
            if path.is_file():
                out[path.relative_to(result).as_posix()] = path.read_bytes()
        return {"files": out, "node": {"pid": os.getpid(), "host": socket.gethostname(), "folder": str(folder)}}


def dispatch_ray(repo: Path | None, tasks: list[Task], jobs: int, on_change: Callable[[list[Task]], None], *,
                 confined: bool = True, network: bool = True, address: str | None = None) -> list[Task]:
    """Run the plan on a Ray cluster (``address``; None starts a local one with ``jobs`` CPUs)."""
    ray = require()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=None if address else max(1, jobs), include_dashboard=False,
                 logging_level="ERROR", log_to_driver=False)
    remote = ray.remote(num_cpus=1, max_retries=MAX_SYSTEM_RETRIES, retry_exceptions=False)(execute_bytes)
    writer = threading.Lock()
    outbox = Path(tempfile.mkdtemp(prefix="lanewarden-outbox-"))

    def run_one(t: Task) -> None:
        from lanewarden.orchestrator.runs.intake import collect_run

        def step(state: str) -> None:  # the live line: where the run is, on the driver or on Ray
            t.state = state
            on_change(tasks)

        git = Git.discover(repo)
        folder = outbox / f"task-{t.index}"
        step("preparing")
        done = portable.prepare(git, t.worker, folder, task=t.task, network=network)
        t.run_id = done["run_id"]
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        ref = remote.remote(files, t.command, confined, network)
        step("on ray")
        try:
            while not ray.wait([ref], timeout=POLL_S)[0]:
                if process.STOP.is_set():  # Ctrl-C: stop the node's task; the run is collected as returned-nothing
                    ray.cancel(ref, force=True)
                    with writer:
                        t.result = collect_run(git, folder)
                    raise KeyboardInterrupt("dispatch was interrupted")
            returned = ray.get(ref)
            _unpack(folder, returned["files"])
            node = returned["node"]
        except ray.exceptions.RayError as exc:  # lost for good, or the node raised: nothing came back
            node = {"error": str(exc).splitlines()[0][:300]}
        step("collecting")
        with writer:  # the orchestrator is the one writer
            t.result = collect_run(git, folder)
        if "error" in node:
            t.result.notes.append(f"the node: {node['error']}")
        else:
            t.result.notes.append(f"executed on {node['host']} (pid {node['pid']}) in {node['folder']}")
        t.changed = t.result.changed_files

    try:
        return run_lanes(tasks, jobs, run_one, on_change)
    finally:
        shutil.rmtree(outbox, ignore_errors=True)
        if started_here:
            ray.shutdown()


def _unpack(folder: Path, files: dict[str, bytes]) -> None:
    """Write a node's result files under ``folder/result`` (names checked: a node is not trusted)."""
    total = 0
    result = folder / portable.RESULT_DIR
    for name, data in files.items():
        parts = name.split("/")
        if any(p in ("", ".", "..") for p in parts) or len(parts) > 2:
            continue
        total += len(data)
        if total > MAX_RESULT_BYTES:
            break
        path = result.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
