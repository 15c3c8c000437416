"""Cursor hooks for one worker: ``.cursor/hooks.json`` and ``.cursor/mcp.json``.

From https://cursor.com/docs/agent/hooks: ``{"version": 1, "hooks": {EVENT: [{"command": ...}]}}``;
``preToolUse`` (newer releases, with a tool ``matcher``) and ``beforeShellExecution`` answer
``permission``; ``stop`` may send a ``followup_message`` (at most 5 in a row). ``failClosed``
makes a crashed or timed-out hook block instead of letting the call through.
"""
from __future__ import annotations

import json

PRE_TOOL_MATCHER = "Write|StrReplace|Edit|Delete|Shell"


def hooks(command: str) -> str:
    doc = {"version": 1, "hooks": {
        "preToolUse": [{"command": command, "matcher": PRE_TOOL_MATCHER, "failClosed": True}],
        "beforeShellExecution": [{"command": command, "failClosed": True}],
        "stop": [{"command": command}],
    }}
    return json.dumps(doc, indent=2) + "\n"


def mcp(mcp_args: list[str]) -> str:
    return json.dumps({"mcpServers": {"lanewarden": {"command": mcp_args[0], "args": mcp_args[1:]}}}, indent=2) + "\n"
