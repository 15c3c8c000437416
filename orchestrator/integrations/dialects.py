"""Each agent runtime's hook wire format: recognising its input, answering in its own words.

Sources (checked against each runtime's documentation; see docs/agents.md):
- Claude Code: https://code.claude.com/docs/en/hooks (exit 0 parses JSON; exit 2 blocks with stderr;
  any other code is a non-blocking error, so a crash must never exit 1).
- Codex CLI: https://developers.openai.com/codex/hooks and the output schema
  openai/codex codex-rs/hooks/schema/generated/pre-tool-use.command.output.schema.json (only
  ``permissionDecision: "deny"`` or exit 2 is enforced; ``allow`` fails open).
- Gemini CLI: https://geminicli.com/docs/hooks/reference (stdout only JSON; exit 2 blocks with stderr;
  ``decision: "deny"`` with ``reason``).
- GitHub Copilot CLI: https://docs.github.com/en/copilot/reference/copilot-cli-reference/cli-hooks-reference
  ("Hook failures (non-zero exit codes or timeouts) are logged and skipped—they never block", so the
  only way to block is exit 0 with ``permissionDecision: "deny"``).
- Cursor: https://cursor.com/docs/agent/hooks (``permission: allow|deny|ask`` with ``user_message`` and
  ``agent_message``; exit 2 denies; other failures pass unless the hook is ``failClosed``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Runtime(str, Enum):
    CLAUDE = "claude"  # Claude Code, and VS Code agent hooks (same shape)
    CODEX = "codex"
    GEMINI = "gemini"
    COPILOT = "copilot"
    CURSOR = "cursor"


class Kind(str, Enum):
    """What the runtime asks: may this tool run, may the agent stop, or something we hold no view on."""

    TOOL = "tool"
    DONE = "done"
    OTHER = "other"


_CLAUDE_DONE = frozenset({"Stop", "SubagentStop", "TaskCompleted"})
_GEMINI_EVENTS = frozenset({"BeforeTool", "AfterTool", "BeforeAgent", "AfterAgent", "BeforeModel", "AfterModel",
                            "BeforeToolSelection", "SessionStart", "SessionEnd", "Notification", "PreCompress"})
_CURSOR_TOOL = frozenset({"preToolUse", "beforeShellExecution", "beforeMCPExecution"})


class DialectError(ValueError):
    """The input is no hook document of a runtime lanewarden speaks."""


@dataclass(frozen=True)
class Event:
    """One hook call, reduced to what the lane decision needs."""

    runtime: Runtime
    kind: Kind
    name: str  # the runtime's event name (camelCase Copilot input has none: "preToolUse"/"agentStop")
    tool: str = ""
    args: Any = None  # the tool's arguments (a dict for most tools)
    cwd: str | None = None
    agent_type: str | None = None  # the subagent's type, when the runtime says


@dataclass(frozen=True)
class Answer:
    """What the hook prints on stdout and stderr, and its exit code."""

    stdout: str
    exit_code: int
    stderr: str = ""


def detect(doc: Any, hint: Runtime | None) -> Runtime:
    """The runtime that sent ``doc`` (``hint``, from the installed config, wins)."""
    if hint is not None:
        return hint
    if not isinstance(doc, dict):
        raise DialectError("the hook input is not a JSON object")
    event = doc.get("hook_event_name")
    if "toolName" in doc or "sessionId" in doc or (
            isinstance(doc.get("timestamp"), (int, float)) and event is None):
        return Runtime.COPILOT  # camelCase input; its timestamp is a number and it names no event
    if "conversation_id" in doc or "cursor_version" in doc or "workspace_roots" in doc:
        return Runtime.CURSOR
    if event in _GEMINI_EVENTS:
        return Runtime.GEMINI
    if isinstance(event, str) and event[:1].isupper() and "session_id" in doc:
        return Runtime.CODEX if "turn_id" in doc or "model" in doc else Runtime.CLAUDE
    raise DialectError("no runtime recognised from the hook input's fields")


def event_of(doc: Any, runtime: Runtime) -> Event:
    if not isinstance(doc, dict):
        raise DialectError("the hook input is not a JSON object")
    agent = doc.get("agent_type")
    agent_type = agent if isinstance(agent, str) and agent else None
    cwd = doc.get("cwd") if isinstance(doc.get("cwd"), str) else None
    name = doc.get("hook_event_name")
    name = name if isinstance(name, str) else ""
    if runtime is Runtime.COPILOT:
        if "toolName" in doc or "tool_name" in doc:
            tool = doc.get("toolName", doc.get("tool_name"))
            args = doc.get("toolArgs", doc.get("tool_input"))
            if isinstance(args, str):  # toolArgs arrives as a JSON string in some CLI versions
                try:
                    args = json.loads(args)
                except ValueError:
                    raise DialectError("toolArgs is not valid JSON") from None
            return Event(runtime, Kind.TOOL, name or "preToolUse", str(tool), args, cwd, agent_type)
        done = "stopReason" in doc or "stop_reason" in doc or name in ("Stop", "SubagentStop")
        return Event(runtime, Kind.DONE if done else Kind.OTHER, name or ("agentStop" if done else ""), cwd=cwd)
    if runtime is Runtime.CURSOR:
        roots = doc.get("workspace_roots")
        root = roots[0] if isinstance(roots, list) and roots and isinstance(roots[0], str) else None
        cwd = cwd or root
        if name == "beforeShellExecution":
            return Event(runtime, Kind.TOOL, name, "Shell", {"command": doc.get("command")}, cwd)
        if name in _CURSOR_TOOL:
            return Event(runtime, Kind.TOOL, name, str(doc.get("tool_name", "")), doc.get("tool_input"), cwd,
                         agent_type)
        return Event(runtime, Kind.DONE if name == "stop" else Kind.OTHER, name, cwd=cwd)
    if runtime is Runtime.GEMINI:
        kind = Kind.TOOL if name == "BeforeTool" else Kind.OTHER
        return Event(runtime, kind, name, str(doc.get("tool_name", "")), doc.get("tool_input"), cwd, agent_type)
    kind = Kind.TOOL if name == "PreToolUse" else Kind.DONE if name in _CLAUDE_DONE else Kind.OTHER
    return Event(runtime, kind, name, str(doc.get("tool_name", "")), doc.get("tool_input"), cwd, agent_type)


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False) + "\n"


def no_opinion(event: Event) -> Answer:
    """Let the call through to the runtime's own checks.

    Where ``allow`` would skip them (Claude Code's permission prompt, Copilot's rules) the hook says
    nothing; Cursor needs a permission from a hook marked failClosed, and Gemini wants JSON on stdout.
    """
    if event.runtime is Runtime.CURSOR and event.kind is Kind.TOOL:
        return Answer(_dump({"permission": "allow"}), 0)
    if event.runtime in (Runtime.GEMINI, Runtime.CURSOR):
        return Answer("{}\n", 0)
    return Answer("", 0)


def deny(event: Event, reason: str, *, failed: bool = False) -> Answer:
    """Refuse the tool call and tell the agent why; ``failed``: the hook itself could not decide.

    A failure uses the runtime's blocking exit code as well (2 everywhere but Copilot, where no exit
    code blocks and only the JSON does), so even a runtime that ignores the JSON does not run the call.
    """
    runtime = event.runtime
    code = 2 if failed and runtime is not Runtime.COPILOT else 0
    if runtime is Runtime.COPILOT:
        return Answer(_dump({"permissionDecision": "deny", "permissionDecisionReason": reason}), code, reason)
    if runtime is Runtime.CURSOR:
        return Answer(_dump({"permission": "deny", "user_message": reason.splitlines()[0],
                             "agent_message": reason}), code, reason)
    if runtime is Runtime.GEMINI:
        return Answer(_dump({"decision": "deny", "reason": reason}), code, reason)
    return Answer(_dump({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                                "permissionDecisionReason": reason}}), code, reason)


def done_ok(event: Event) -> Answer:
    return Answer("{}\n", 0) if event.runtime in (Runtime.CURSOR, Runtime.GEMINI) else Answer("", 0)


def done_block(event: Event, reason: str) -> Answer:
    """Keep the agent working: it may not finish while out-of-lane changes remain."""
    if event.runtime is Runtime.CURSOR:
        # Cursor's stop hook cannot refuse; a follow-up message sends the agent back to work (at most 5 times).
        return Answer(_dump({"followup_message": reason}), 0, reason)
    if event.runtime is Runtime.CLAUDE and event.name == "TaskCompleted":
        # TaskCompleted is blocked by exit 2 alone; stderr goes to the model.
        return Answer("", 2, reason)
    return Answer(_dump({"decision": "block", "reason": reason}), 0, reason)


def unknown(reason: str, hint: Runtime | None) -> Answer:
    """A document no dialect fits: block in the hinted runtime's words, else with exit 2 and Claude's shape."""
    event = Event(hint or Runtime.CLAUDE, Kind.TOOL, "PreToolUse")
    return deny(event, reason, failed=True)
