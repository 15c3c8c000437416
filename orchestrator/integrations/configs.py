"""Every runtime's configuration for one worker, as files of a checkout.

:func:`render` is what ``lanewarden export RUNTIME WORKER`` prints and writes;
:func:`configs_for_run` is the same for a worker run, which installs the files
in the run's own checkout before it starts the agent (the runtime found by
:func:`detect_runtime` from the agent's command line). Each runtime gets its
permission rules where it has them, ``lanewarden tool-hook`` as its pre-tool
hook and done gate, and the ``lanewarden mcp`` server.
"""
from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lanewarden.orchestrator.integrations import claude, codex, copilot, cursor, gemini
from lanewarden.workers.errors import InputError, unknown_worker_hint
from lanewarden.workers.git import Git
from lanewarden.workers.loader import LoadedPolicy, load_revision

RUNTIMES = ("claude", "codex", "gemini", "copilot", "cursor")
# Agent binaries (as started by `lanewarden run -- AGENT ...`) and the runtime each one is.
BINARIES = {"claude": "claude", "codex": "codex", "gemini": "gemini", "copilot": "copilot",
            "cursor-agent": "cursor", "claude-code": "claude", "gemini-cli": "gemini"}
# Launchers that start the agent binary named after them.
_LAUNCHERS = frozenset({"env", "npx", "bunx", "pnpx", "uvx", "node", "bun", "exec", "nice", "nohup", "sudo",
                        "timeout", "stdbuf", "dlx"})


@dataclass(frozen=True)
class RuntimeConfig:
    """The files one runtime needs (checkout-relative path -> content; the main one first)."""

    runtime: str
    files: dict[str, bytes]
    notes: tuple[str, ...] = ()

    @property
    def primary(self) -> str:
        return next(iter(self.files))


def hook_command(runtime: str, worker: str, command: str = "lanewarden", rev: str | None = None) -> str:
    """The shell command the runtime runs: the worker is an argument, so the environment cannot move it;
    ``rev`` pins the commit whose policy is trusted (a run's base), else the checkout's HEAD decides."""
    pinned = f" --rev {shlex.quote(rev)}" if rev else ""
    return f"{command} tool-hook --runtime {runtime} --worker {shlex.quote(worker)}{pinned}"


def mcp_argv(worker: str, command: str = "lanewarden") -> list[str]:
    return [*shlex.split(command), "mcp", "--worker", worker]


def render(runtime: str, worker_id: str, loaded: LoadedPolicy, checkout: Path, *,
           is_file: set[str] | None = None, command: str = "lanewarden", rev: str | None = None) -> RuntimeConfig:
    """``runtime``'s files for ``worker_id``; ``checkout`` is the absolute folder the agent works in."""
    runtime = BINARIES.get(runtime, runtime)
    if runtime not in RUNTIMES:
        raise InputError(f"unknown runtime {runtime!r} (one of: {', '.join(RUNTIMES)})")
    policy = loaded.policy
    if worker_id not in policy.workers:
        raise InputError(f"unknown worker {worker_id!r}", hint=unknown_worker_hint(worker_id, policy.workers,
                                                                                    loaded.source))
    worker = policy.workers[worker_id]
    hook = hook_command(runtime, worker_id, command, rev)
    mcp = mcp_argv(worker_id, command)
    mcp_json = cursor.mcp(mcp).encode()
    if runtime == "claude":
        result = claude.export(worker_id, worker, hook_command=hook)
        return RuntimeConfig(runtime, {".claude/settings.json": result.text.encode(),
                                       f".claude/agents/{worker_id}.md": claude.subagent(worker_id, worker).encode(),
                                       ".mcp.json": mcp_json}, result.notes)
    if runtime == "codex":
        exported = codex.export(worker_id, worker, checkout, is_file=is_file, policy_sha256=loaded.sha256,
                                hook_command=hook, mcp_args=mcp)
        return RuntimeConfig(runtime, {".codex/config.toml": exported.text.encode()}, exported.notes)
    if runtime == "gemini":
        return RuntimeConfig(runtime, {".gemini/settings.json": gemini.settings(hook, mcp).encode(),
                                       f".gemini/policies/lanewarden-{worker_id}.toml":
                                           gemini.policy(worker_id, worker, checkout).encode()})
    if runtime == "copilot":
        return RuntimeConfig(runtime, {".github/hooks/lanewarden.json": copilot.hooks(hook).encode()},
                             ("the Copilot cloud agent reads .github/hooks/ from the default branch",))
    return RuntimeConfig(runtime, {".cursor/hooks.json": cursor.hooks(hook).encode(), ".cursor/mcp.json": mcp_json})


def configs_for_run(runtime: str, worker: str, checkout: Path | str, *, command: str = "lanewarden",
                    base: str | None = None) -> dict[str, bytes]:
    """The files to write into a run's checkout (relative path -> bytes), from the policy at ``base``.

    ``base``: the run's pinned base commit; the hooks then trust the policy there, not the clone's HEAD,
    which the agent moves. Default: the checkout's HEAD, and the hooks follow HEAD.
    """
    git = Git.discover(checkout)
    commit = git.resolve_commit(base or "HEAD")
    loaded = load_revision(git, commit)
    files = set(git.ls_tree_names(commit))
    top = git.top or Path(checkout)
    return render(runtime, worker, loaded, Path(os.path.abspath(top)), is_file=files, command=command,
                  rev=commit if base else None).files


def detect_runtime(argv: Sequence[str]) -> str | None:
    """The runtime an agent command line starts (``claude``, ``codex``, ``gemini``, ``copilot``,
    ``cursor`` for ``cursor-agent``), looking past launchers such as ``env`` or ``npx``; else None."""
    for word in argv:
        if not word.startswith("-") and "=" in word.split("/")[0]:
            continue  # VAR=value before the command
        name = os.path.basename(word.rstrip("/"))
        name = name.split("@")[0]  # npx @openai/codex@latest
        for suffix in (".js", ".mjs", ".cmd", ".exe"):
            name = name.removesuffix(suffix)
        if name in BINARIES:
            return BINARIES[name]
        if name in _LAUNCHERS or word.startswith("-"):
            continue
        return None
    return None
