"""Claude Code permission rules for one worker (``lanewarden export claude WORKER``).

Output is a ``.claude/settings.json``-shaped document: ``{"permissions":
{"allow": [...], "deny": [...]}}`` with ``Edit(...)`` rules. Claude Code applies
Edit rules to every built-in tool that edits files (Write and MultiEdit
included), and checks deny before allow. A rule path starting with a single
``/`` is read from the project root (the folder holding ``.claude/``), so the
file belongs at the repository root; ``//`` would be an absolute path.

This is defence in depth at tool-call time. It cannot see shell commands that
write files, and Claude Code reads rules the gitignore way (a pattern also
covers what lies below a matching folder), so the diff guard stays the
authority on what lands.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from lanewarden.workers.layout import POLICY_FILE
from lanewarden.workers.pattern import has_wildcard
from lanewarden.workers.policy import Worker

# Always denied: the policy itself, git's own files, and submodule wiring (the guard's protected set).
PROTECTED = (f"/{POLICY_FILE}", "/.gitmodules", "/.git/**", "/**/.git", "/**/.git/**")


@dataclass(frozen=True)
class ClaudeExport:
    text: str
    notes: tuple[str, ...]


# Built-in tools that write files, and Bash (whose writes the hook reads from the command line).
PRE_TOOL_MATCHER = "Write|Edit|MultiEdit|NotebookEdit|Bash"
# Stop and SubagentStop keep the agent working; TaskCompleted keeps a team task open.
DONE_EVENTS = ("Stop", "SubagentStop", "TaskCompleted")


def hooks(command: str) -> dict[str, object]:
    """The ``hooks`` section: the tool-call hook and the done gate (both ``lanewarden tool-hook``)."""
    def entry(timeout: int) -> dict[str, object]:
        return {"type": "command", "command": command, "timeout": timeout}

    out: dict[str, object] = {"PreToolUse": [{"matcher": PRE_TOOL_MATCHER, "hooks": [entry(30)]}]}
    for event in DONE_EVENTS:
        out[event] = [{"hooks": [entry(120)]}]  # the done gate reads the work tree: give it time
    return out


def subagent(worker_id: str, worker: Worker) -> str:
    """``.claude/agents/<worker>.md``: a subagent whose agent_type is the worker id, so hooks find its lane."""
    scope = ", ".join(worker.allow) or "nothing"
    about = f" ({worker.description})" if worker.description else ""
    return (f"---\nname: {worker_id}\n"
            f"description: Works as lanewarden worker {worker_id}{about}. Use it for changes under {scope}.\n"
            f"---\nYou are lanewarden worker `{worker_id}` in this monorepo. You may write only: {scope}."
            + (f" Start in `{worker.cwd}`." if worker.cwd else "")
            + "\nNever edit outside your lane. When a change belongs to another lane, hand it over with "
            "`lanewarden handoff propose --to OWNER --problem ... --path ...` (or the lanewarden MCP tool "
            "propose_handoff). Call the MCP tool my_lane to see your lane and check_my_changes before you "
            "finish; a hook refuses out-of-lane writes and you cannot stop while out-of-lane changes remain.\n")


def rule_paths(pattern: str) -> list[str]:
    """Claude Code path patterns (root-relative) covering what ``pattern`` covers."""
    if pattern.endswith("/"):
        return [f"/{pattern}**"]
    if not has_wildcard(pattern):
        return [f"/{pattern}", f"/{pattern}/**"]  # a literal covers the path and everything below it
    return [f"/{pattern}"]


def export(worker_id: str, worker: Worker, *, hook_command: str | None = None) -> ClaudeExport:
    """The settings JSON text for ``worker`` and notes on where Claude Code reads it more widely.

    ``hook_command``: also install ``lanewarden tool-hook`` as the PreToolUse hook and the done gate.
    """
    allow: list[str] = []
    deny: list[str] = []
    notes: list[str] = []
    for pattern in worker.allow:
        allow += [f"Edit({p})" for p in rule_paths(pattern)]
        last = pattern.rstrip("/").rpartition("/")[2]
        if has_wildcard(pattern) and last != "**":
            notes.append(f"allow {pattern!r}: Claude Code also allows what lies below a folder it matches; "
                         "the diff guard still rejects those paths")
    for pattern in (*worker.deny, *worker.propose_only):
        deny += [f"Edit({p})" for p in rule_paths(pattern)]
    deny += [f"Edit({p})" for p in PROTECTED]
    doc: dict[str, object] = {"permissions": {"allow": list(dict.fromkeys(allow)), "deny": list(dict.fromkeys(deny))}}
    if hook_command is not None:
        doc["hooks"] = hooks(hook_command)
    if not allow:
        notes.append(f"{worker_id} may not write anything: every edit will ask (or be refused in -p mode)")
    return ClaudeExport(json.dumps(doc, indent=2) + "\n", tuple(notes))
