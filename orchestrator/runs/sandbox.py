"""Confinement for a run's agent: bubblewrap on Linux, or an explicit ``--unconfined``.

The sandbox is what makes the run boundary hold against an agent that tries:
- ``--unshare-pid --die-with-parent``: the agent gets its own PID namespace whose
  init dies with bwrap, and bwrap dies with lanewarden, so a child that left
  the process group with ``setsid`` cannot outlive the run (NOTES.md);
- ``--ro-bind / /``: the whole machine read-only, the main checkout, its
  ``.git`` (refs, config, hooks) and every other run's folder included;
- a private ``/tmp`` and the run's own checkout bound writable: the only places
  the agent can write;
- ``--unshare-net`` when the run or the worker's budget turns the network off.

This module builds the command line and decides whether bwrap works (probed
once per process); ``agent.py`` starts every process, the probe included.
"""
from __future__ import annotations

import os
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lanewarden.orchestrator.runs import agent as process
from lanewarden.workers.errors import InputError

INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), "
                "or pass --unconfined to run the agent without a sandbox (it can then write anything you can)")

_PROBED: dict[str, str | None] = {}
_PROBE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Confinement:
    """How the agent is started: ``argv`` wraps the agent's own command line."""

    confined: bool
    writable: tuple[Path, ...] = ()  # bound read-write (the run's checkout)
    visible: tuple[Path, ...] = ()  # bound read-only on top of the private /tmp (see :func:`_visible`)
    files: tuple[Path, ...] = ()  # single files the agent reads (the context pack)
    network: bool = True
    notes: tuple[str, ...] = field(default=())

    def command_line(self, command: list[str], cwd: Path) -> list[str]:
        if not self.confined:
            return list(command)
        args = ["bwrap", "--unshare-pid", "--die-with-parent", "--new-session",
                "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        if not self.network:
            args.append("--unshare-net")
        # Order matters: later mounts sit on top of earlier ones, so the checkout is bound
        # writable last, over the read-only view of the repository that holds it.
        for path in self.visible:
            args += ["--ro-bind", str(path), str(path)]
        for path in self.files:
            args += ["--ro-bind", str(path), str(path)]
        for path in self.writable:
            args += ["--bind", str(path), str(path)]
        return [*args, "--chdir", str(cwd), "--", *command]


def probe() -> str | None:
    """None when bwrap can start a sandbox here, else why not (asked once per process)."""
    with _PROBE_LOCK:
        if "bwrap" not in _PROBED:
            _PROBED["bwrap"] = _probe()
        return _PROBED["bwrap"]


def _probe() -> str | None:
    if sys.platform == "darwin":
        return "macOS has no bubblewrap; lanewarden has no sandbox for macOS yet"
    if not sys.platform.startswith("linux"):
        return f"no sandbox for {sys.platform}"
    exe = shutil.which("bwrap")
    if exe is None:
        return "bwrap (bubblewrap) is not installed"
    code, err = process.try_start([exe, "--unshare-pid", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev",
                                   "--proc", "/proc", "--tmpfs", "/tmp", "--", "true"])
    if code != 0:
        last = err.strip().splitlines()
        return "bwrap cannot create a sandbox here" + (f": {last[-1]}" if last else "") + \
            " (unprivileged use needs user namespaces: sysctl kernel.unprivileged_userns_clone=1)"
    return None


def confine(*, checkout: Path, repository: tuple[Path, ...], context: Path, network: bool,
            unconfined: bool) -> Confinement:
    """The confinement for one run, or an InputError (exit 2) naming what to install.

    ``repository`` are the main checkout and its git dir: read-only (they may live
    under ``/tmp``, which the sandbox replaces, so they are bound back explicitly;
    the clone's alternates borrow objects from there).
    """
    if unconfined:
        return Confinement(False, network=True, notes=(
            "unconfined: the agent ran without a sandbox, as your user, and could write anything you can "
            "(the main checkout, its .git, other runs); only the diff guard stood between it and the repository",))
    require()
    visible = tuple(dict.fromkeys(p for p in (*_visible(), *repository) if _under_tmp(p) and p.exists()))
    return Confinement(True, writable=(checkout,), visible=visible, files=(context,), network=network)


def require() -> None:
    """An InputError (exit 2) naming what to install when no sandbox can start here."""
    why = probe()
    if why is not None:
        raise InputError(f"cannot confine the agent: {why}", hint=INSTALL_HINT)


def _under_tmp(path: Path) -> bool:
    return path == Path("/tmp") or Path("/tmp") in path.parents


def _visible() -> list[Path]:
    """What must stay readable for ``lanewarden`` itself to work inside the sandbox.

    Python, its packages and lanewarden may be installed under ``/tmp`` (a venv
    there, a test checkout on PYTHONPATH); the private ``/tmp`` would hide them.
    """
    import lanewarden

    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent,
             Path(lanewarden.__file__).resolve().parent]
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry:
            paths.append(Path(entry))
    return [p.resolve() if p.is_symlink() else p for p in paths]
