"""``lanewarden tool-hook``: one pre-tool and done hook for every agent runtime.

Reads the runtime's hook document on stdin and answers in that runtime's
words (see ``integrations/dialects.py``). It fails closed on every path: a
runtime that lets a failed hook through (Claude Code, Codex and Gemini on any
exit but 2, Copilot on any non-zero exit) gets its blocking answer even when
lanewarden itself breaks, so nothing here may raise past :func:`command`.
This module imports only the standard library and click at load time, so a
broken import below it still produces a blocking answer.
"""
from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from lanewarden.orchestrator.integrations.tool_hook import Setup

RUNTIMES = ("claude", "codex", "gemini", "copilot", "cursor")


def _last_resort(runtime: str | None, reason: str) -> tuple[str, int]:
    """A blocking answer built from the standard library alone (for when lanewarden's own code fails)."""
    if runtime == "copilot":
        return json.dumps({"permissionDecision": "deny", "permissionDecisionReason": reason}) + "\n", 0
    if runtime == "cursor":
        return json.dumps({"permission": "deny", "user_message": reason, "agent_message": reason}) + "\n", 2
    if runtime == "gemini":
        return json.dumps({"decision": "deny", "reason": reason}) + "\n", 2
    return json.dumps({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                              "permissionDecisionReason": reason}}) + "\n", 2


def load_setup(runtime: str | None, worker: str | None, repo: str | None, rev: str = "HEAD") -> Setup:
    """The checkout and its trusted policy (at ``rev``, default HEAD); a problem instead when there is none."""
    from lanewarden.orchestrator.integrations.dialects import Runtime
    from lanewarden.orchestrator.integrations.tool_hook import Setup, worker_from_env
    from lanewarden.workers.errors import LanewardenError
    from lanewarden.workers.git import Git
    from lanewarden.workers.layout import POLICY_FILE
    from lanewarden.workers.loader import load_revision
    from lanewarden.workers.ownership import OwnershipIndex

    hint = Runtime(runtime) if runtime else None
    who = worker_from_env(worker)
    try:
        git = Git.discover(repo)
        if git.top is None:
            return Setup(hint, who, problem="a bare repository has no work tree to guard")
        # One cat-file process resolves HEAD and reads the policy committed there; opened without the
        # work tree, git needs no second process to look up filter drivers first.
        objects = git.without_worktree()
        objects.prefetch([rev], [(rev, POLICY_FILE)])
        loaded = load_revision(objects, rev)
    except LanewardenError as exc:
        return Setup(hint, who, problem=exc.message + (f" ({exc.hint})" if exc.hint else ""))

    # Asked only about writes the lane would deny: the common in-lane call runs no second git process.
    return Setup(hint, who, str(git.top), OwnershipIndex(loaded.policy), ignored=git.gitignored)


@click.command("tool-hook")
@click.option("--runtime", type=click.Choice(RUNTIMES),
              help="The runtime whose hook calls this (set by the exported config; else read from the input).")
@click.option("--worker", help="The worker whose lane is enforced (else LANEWARDEN_WORKER, or the subagent's "
                               "agent_type mapped by workers.<id>.agents).")
@click.option("--repo", type=click.Path(file_okay=False), default=None,
              help="The checkout (default: the one containing the current folder).")
@click.option("--rev", default="HEAD", show_default=True,
              help="The commit whose policy is trusted (a worker run pins its base: the agent moves HEAD).")
def command(runtime: str | None, worker: str | None, repo: str | None, rev: str) -> int:
    """Answer an agent runtime's pre-tool or done hook (JSON on stdin) in that runtime's format.

    Denies writes outside the worker's lane with the owner and the handoff to
    make instead; blocks "done" while out-of-lane changes remain. A pre-filter:
    the diff guard stays the authority. Every error blocks.
    """
    try:
        raw = sys.stdin.buffer.read()
        from lanewarden.orchestrator.integrations.tool_hook import decide

        setup = load_setup(runtime, worker, repo, rev)

        def gate(who: str) -> str | None:
            from lanewarden.orchestrator.integrations.done_gate import check, installed_from_env
            from lanewarden.workers.git import Git

            return check(Git.discover(repo), who, rev, installed_from_env())

        answer = decide(raw, setup, gate)
        stdout, code, stderr = answer.stdout, answer.exit_code, answer.stderr
    except Exception as exc:  # fail closed: never the boundary's exit 4, which runtimes let through
        reason = f"lanewarden: internal error ({type(exc).__name__}: {exc}); the call is blocked"
        stdout, code = _last_resort(runtime, reason)
        stderr = reason
    if stdout:
        sys.stdout.write(stdout)
        sys.stdout.flush()
    if (stderr and code != 0) or os.environ.get("LANEWARDEN_HOOK_VERBOSE"):
        sys.stderr.write(stderr + ("\n" if stderr and not stderr.endswith("\n") else ""))
    return code
