"""The agent runtime's own config in a run's clone: lanewarden's hooks, installed by ``lanewarden run``.

When the run's command starts a known agent (``claude``, ``codex``, ``gemini``,
``copilot``, ``cursor-agent``: :func:`~lanewarden.orchestrator.integrations.configs.detect_runtime`),
the files ``lanewarden export`` would write are written into the clone before
the agent starts: the tool-call hook and done gate pinned to the run's base
(``--rev``) and worker (``--worker``), so a wider policy the agent commits in
its clone cannot widen its own hooks, and the paths they name are the clone's.

Those files are lanewarden's, not the agent's change. The run keeps what it
wrote (path -> sha256) in memory and hands it to the guard
(``GuardRequest.installed``): an untracked file still exactly as written is
left out of the change; edited, replaced, made executable or turned into a
symlink, it is the agent's change and is guarded like every path. Paths the
base already tracks are never overwritten (the repository's own config stays).
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lanewarden.orchestrator.integrations import claude
from lanewarden.orchestrator.integrations.configs import configs_for_run, detect_runtime
from lanewarden.orchestrator.integrations.configs import hook_command as runtime_hook
from lanewarden.orchestrator.integrations.done_gate import INSTALLED_ENV
from lanewarden.orchestrator.runs import workspace

__all__ = ["INSTALLED_ENV", "MANIFEST", "Installed", "hook_command", "install"]

# Beside the clone, outside it: the done gate inside the sandbox reads it (LANEWARDEN_INSTALLED).
MANIFEST = "installed.json"


@dataclass(frozen=True)
class Installed:
    """What one run installed: the runtime detected and each file's sha256 as written."""

    runtime: str | None
    files: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    manifest: Path | None = None


def hook_command() -> str:
    """How the installed hooks start lanewarden: this very interpreter, so the command resolves
    inside the sandbox (the root is bound read-only, and a venv under /tmp is bound back) even
    when ``lanewarden`` is not on the agent's PATH, and runs the same lanewarden as the run."""
    return f"{shlex.quote(sys.executable)} -m lanewarden"


def install(ws: workspace.Workspace, command: list[str], *, cwd: str | None = None,
            enabled: bool = True) -> Installed:
    """Write the detected runtime's config into the clone; what was installed (nothing: no known runtime,
    or ``--no-agent-config``). Call before the agent starts: the clone is still lanewarden's alone.

    ``cwd``: the worker's folder, where the agent starts.
    """
    runtime = detect_runtime(command)
    if runtime is None:
        return Installed(None)
    if not enabled:
        return Installed(runtime, notes=(f"agent runtime {runtime}: no config installed (--no-agent-config)",))
    files = configs_for_run(runtime, ws.worker, ws.checkout, base=ws.base, command=hook_command())
    folder = (cwd or "").strip("/")
    if runtime == "claude" and folder and (ws.checkout / folder).is_dir():
        # Claude Code reads project settings from the folder it starts in only, not from the
        # repository root (anthropics/claude-code#74023): the hooks go there too. Only the hooks:
        # the permission rules' "/" paths would be read from that folder, not the root.
        hook = runtime_hook(runtime, ws.worker, hook_command(), ws.base)
        files[f"{folder}/.claude/settings.json"] = (json.dumps({"hooks": claude.hooks(hook)}, indent=2)
                                                    + "\n").encode()
    tracked = set(ws.reader.ls_tree_names(ws.base, list(files)))
    written: dict[str, str] = {}
    notes: list[str] = []
    for rel, data in files.items():
        if rel in tracked:
            notes.append(f"{rel} is committed in the repository: kept as it is, lanewarden's version not "
                         f"installed (merge `lanewarden export {runtime} {ws.worker}` into it)")
            continue
        why = _write_new(ws.checkout, rel, data)
        if why is not None:
            notes.append(f"{rel} not installed: {why}")
            continue
        written[rel] = hashlib.sha256(data).hexdigest()
    manifest = ws.folder / MANIFEST
    manifest.write_text(json.dumps({"runtime": runtime, "files": written}, indent=2) + "\n")
    if written:
        notes.insert(0, f"agent runtime {runtime}: installed {', '.join(written)} in the run's checkout (hooks "
                        f"pinned to worker {ws.worker} and base {ws.base[:12]}; not part of the change while "
                        "unchanged)")
    return Installed(runtime, written, tuple(notes), manifest)


def _write_new(root: Path, rel: str, data: bytes) -> str | None:
    """Create ``root/rel`` (mode 0644, folders as needed) without following a symlink anywhere
    below ``root``; None when written, else why not. Never replaces an existing file."""
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "not a plain relative path"
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    fd = os.open(root, flags)
    try:
        for part in parts[:-1]:
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            try:
                inner = os.open(part, flags, dir_fd=fd)
            except OSError:
                return f"{part!r} is not a plain folder"
            os.close(fd)
            fd = inner
        try:
            out = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=fd)
        except FileExistsError:
            return "a file is already there"
        with os.fdopen(out, "wb") as fh:
            fh.write(data)
    finally:
        os.close(fd)
    return None
