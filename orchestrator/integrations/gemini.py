"""Gemini CLI settings for one worker: the BeforeTool hook and a policy-engine file.

``.gemini/settings.json`` runs ``lanewarden tool-hook`` before ``write_file``,
``replace`` and ``run_shell_command`` (https://geminicli.com/docs/hooks/reference:
exit 2 or ``decision: "deny"`` blocks). ``.gemini/policies/lanewarden-<worker>.toml``
says the same in Gemini's own policy engine (https://geminicli.com/docs/reference/policy-engine/):
``argsPattern`` is a regular expression over the tool's arguments as JSON, so each
allow pattern becomes its literal folder under the absolute checkout (wider than
a glob, as with Codex), deny and propose-only folders are refused above it, and
every other file write is refused below it. A rule with no ``argsPattern`` would
hide the tool from the model altogether, so the catch-all deny keeps one.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from lanewarden.orchestrator.integrations.codex import toml_string
from lanewarden.workers.pattern import directory_prefix, has_wildcard
from lanewarden.workers.policy import Worker

FILE_TOOLS = ("write_file", "replace")
MATCHER = "write_file|replace|run_shell_command"


def settings(command: str, mcp_args: list[str]) -> str:
    doc = {"hooks": {"BeforeTool": [{"matcher": MATCHER, "hooks": [
        {"name": "lanewarden", "type": "command", "command": command, "timeout": 30000}]}]},
        "mcpServers": {"lanewarden": {"command": mcp_args[0], "args": mcp_args[1:]}}}
    return json.dumps(doc, indent=2) + "\n"


def _arg(root: Path, pattern: str) -> str:
    """argsPattern matching ``file_path`` values under the pattern's literal folder (or the exact file)."""
    parts = directory_prefix(pattern)
    literal = "/".join(parts)
    exact = not has_wildcard(pattern) and not pattern.endswith("/")
    path = re.escape(f"{root}/{literal}" if literal else str(root))
    # A literal pattern covers the path itself and everything below it, as in lanewarden.
    tail = '("|/)' if exact else "/"
    return f'"file_path":"{path}{tail}'


def policy(worker_id: str, worker: Worker, root: Path) -> str:
    """The policy TOML: allow the lane's folders, refuse carve-outs above them and everything else below."""
    denied = f"Outside the lane of lanewarden worker {worker_id}: hand it over with `lanewarden handoff propose`."
    tools = "[" + ", ".join(toml_string(t) for t in FILE_TOOLS) + "]"
    lines = [f"# Gemini CLI policy for lanewarden worker {worker_id!r} (defence in depth: the diff guard decides).",
             "# Globs are narrowed to their literal folder, which may be wider than the pattern."]

    def rule(args: str, decision: str, priority: int, message: str | None = None) -> None:
        lines.extend(["", "[[rule]]", f"toolName = {tools}", f"argsPattern = {toml_string(args)}",
                      f"decision = {toml_string(decision)}", f"priority = {priority}"])
        if message:
            lines.append(f"denyMessage = {toml_string(message)}")

    for pattern in (*worker.deny, *worker.propose_only):
        rule(_arg(root, pattern), "deny", 300, denied)
    for pattern in worker.allow:
        rule(_arg(root, pattern), "allow", 200)
    rule('"file_path":', "deny", 100, denied)
    return "\n".join(lines) + "\n"
