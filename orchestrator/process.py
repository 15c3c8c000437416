"""Running an agent: its own process group, its output streamed and logged, a hard time limit.

The one place outside ``workers/git.py`` that starts processes; it never runs git.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

KILL_GRACE_S = 3.0


def run_agent(command: list[str], *, cwd: Path, env: dict[str, str], log: Path,
              echo: Callable[[bytes], None], timeout: int | None) -> int | None:
    """The agent's exit code, or None when it ran out of time (its whole group is stopped)."""
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
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
    code: int | None
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        # Also on Ctrl-C, and for anything the agent left running in the background.
        stop_group(proc)
    reader.join(timeout=5)
    stream.close()
    return code


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
