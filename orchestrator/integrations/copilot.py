"""GitHub Copilot CLI (and cloud agent) hooks for one worker: ``.github/hooks/lanewarden.json``.

Format from https://docs.github.com/en/copilot/reference/copilot-cli-reference/cli-hooks-reference:
``{"version": 1, "hooks": {"preToolUse": [{"type": "command", "bash": ..., "timeoutSec": ...}]}}``.
A failing Copilot hook never blocks, so ``lanewarden tool-hook --runtime copilot`` answers every
error with a JSON deny and exit 0. ``agentStop`` and ``subagentStop`` take ``decision: "block"``,
the done gate. The cloud agent reads these files from the default branch.
"""
from __future__ import annotations

import json


def hooks(command: str) -> str:
    def entry(timeout: int) -> dict[str, object]:
        return {"type": "command", "bash": command, "timeoutSec": timeout}

    doc = {"version": 1, "hooks": {"preToolUse": [entry(30)], "agentStop": [entry(120)],
                                   "subagentStop": [entry(120)]}}
    return json.dumps(doc, indent=2) + "\n"
