"""The ``lanewarden`` command line.

Subcommands are imported only when used, so ``lanewarden guard`` in a
pre-commit hook pays for the guard's imports and nothing else (no networkx).
"""
from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
import threading
from typing import NoReturn

import click

from lanewarden.orchestrator import boundary

_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("lanewarden.orchestrator.commands.demo", "Walk through lanewarden on the embedded fixture monorepo."),
    "dispatch": ("lanewarden.orchestrator.commands.dispatch", "Run a plan of worker tasks in parallel worktrees."),
    "explain": ("lanewarden.orchestrator.commands.explain", "Who may write each path, who owns it, and why."),
    "export": ("lanewarden.orchestrator.commands.export",
               "Export a worker's lane as agent runtime settings and hooks (Claude, Codex, Gemini, Copilot, Cursor)."),
    "graph": ("lanewarden.orchestrator.commands.graph", "The service, contract and e2e graph of the policy."),
    "guard": ("lanewarden.orchestrator.commands.guard", "Check a change set against the trusted policy."),
    "handoff": ("lanewarden.orchestrator.commands.handoff", "Propose a handoff of out-of-lane work (for agents)."),
    "handoffs": ("lanewarden.orchestrator.commands.handoffs", "Read and work through the handoff queue."),
    "hook": ("lanewarden.orchestrator.commands.hook", "Install or run the git hooks."),
    "init": ("lanewarden.orchestrator.commands.init",
             "Draft a policy for this repository (or from CODEOWNERS); service packs."),
    "ledger": ("lanewarden.orchestrator.commands.ledger", "Show, verify and replay the audit ledger."),
    "mcp": ("lanewarden.orchestrator.commands.mcp",
            "MCP server (stdio) through which an agent reads its lane and hands off."),
    "override": ("lanewarden.orchestrator.commands.override", "Request, approve and list dual-control overrides."),
    "plan": ("lanewarden.orchestrator.commands.plan", "Workers, contracts and e2e suites a range affects (CI matrix)."),
    "policy": ("lanewarden.orchestrator.commands.policy", "Validate, lint and describe the policy file."),
    "review": ("lanewarden.orchestrator.commands.review", "Contract impact, e2e matrix and the final review."),
    "run": ("lanewarden.orchestrator.commands.run_steps",
            "Run an agent as a worker in its own guarded clone (or prepare / execute / collect it)."),
    "runs": ("lanewarden.orchestrator.commands.runs", "List, show and clean up worker runs."),
    "serve": ("lanewarden.orchestrator.commands.serve",
              "The reviewer's dashboard on 127.0.0.1, with a per-start access token."),
    "tool-hook": ("lanewarden.orchestrator.commands.tool_hook",
                  "Agent runtimes' pre-tool and done hook: deny out-of-lane writes (JSON on stdin)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = module.command
        return command

    def invoke(self, ctx: click.Context) -> None:
        boundary.invoke(ctx, lambda: super(LazyGroup, self).invoke(ctx))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help without importing every command module.
        rows = [(name, help_) for name, (_, help_) in sorted(_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lanewarden", prog_name="lanewarden")
def cli() -> None:
    """Keep coding agents in their lane inside a monorepo.

    Exit codes: 0 accept/success, 1 reject, 2 usage/policy/input error,
    3 revision required, 4 internal error.
    """


def main() -> NoReturn:
    # A guard allocates a few objects per changed path and frees almost none before
    # exiting; collecting cycles every 700 allocations only costs time here.
    gc.set_threshold(50_000, 20, 20)
    try:
        cli.main(prog_name="lanewarden")
    except SystemExit as exc:
        leave(exc.code)
    leave(0)


def leave(code: str | int | None) -> NoReturn:
    """Exit with ``code`` without the interpreter's teardown.

    At exit Python frees every module and object one by one: 0.12 s after a review
    that loaded networkx and pydantic, for memory the system takes back at once.
    What has to happen at exit still happens: the atexit handlers run (temporary
    folders, logging) and both output streams are flushed; with a thread still at
    work, Python exits as usual.
    """
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)  # a thread still working: Python winds it down as usual
    atexit._run_exitfuncs()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # what sys.exit("message") does: the message on stderr, status 1
        sys.stderr.write(f"{code}\n")
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone (| head) or a stream closed: nothing more to say
            status = status or boundary.EXIT_BROKEN_PIPE
    os._exit(status)
