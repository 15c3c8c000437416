"""Running an agent: its own process group, its output streamed and logged, a hard time limit.

The one place outside ``workers/git.py`` that starts processes; it never runs git.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

KILL_GRACE_S = 3.0
POLL_S = 0.2
# Set by a dispatch that was interrupted: every agent still running is stopped and its run interrupted.
STOP = threading.Event()


def run_agent(command: list[str], *, cwd: Path, env: dict[str, str], log: Path,
              echo: Callable[[bytes], None], timeout: int | None,
              on_spawn: Callable[[int], None] = lambda pgid: None) -> int | None:
    """The agent's exit code, or None when it ran out of time (its whole group is stopped).

    ``on_spawn`` gets the agent's process group id at once, so a later cleanup can
    stop the agent even if this process is killed.
    """
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        on_spawn(proc.pid)
    except BaseException:
        stop_group(proc)
        raise
    stream = proc.stdout
    assert stream is not None

    def pump() -> None:
        with open(log, "ab") as fh:
            while chunk := os.read(stream.fileno(), 65536):
                fh.write(chunk)
                fh.flush()
                echo(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    code: int | None = None
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        # Short waits, so a dispatch's Ctrl-C (STOP) reaches runs in worker threads,
        # where no signal is delivered: each run then takes its own interrupt path.
        while True:
            if STOP.is_set():
                raise KeyboardInterrupt("dispatch was interrupted")
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            try:
                code = proc.wait(timeout=POLL_S if left is None else min(POLL_S, left))
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        # Also on Ctrl-C, and for anything the agent left running in the background.
        stop_group(proc)
    reader.join(timeout=5)
    stream.close()
    return code


def kill_stray_group(pgid: int, inside: Path) -> bool:
    """SIGKILL a dead run's agent group, but only if its leader still works inside ``inside``.

    The check (Linux /proc) keeps a reused process id from killing an unrelated process.
    """
    try:
        cwd = os.readlink(f"/proc/{pgid}/cwd")
    except OSError:
        return False
    if not cwd.startswith(str(inside)):
        return False
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the agent's process group, then SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; members of its group may linger, so signal the group once more.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return


def try_start(argv: list[str], *, timeout: float = 30.0) -> tuple[int | None, str]:
    """Start a short check (the sandbox probe) and wait: its exit code (None: it could not start
    or did not finish) and what it said on stderr."""
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    return proc.returncode, proc.stderr.decode("utf-8", "replace")
