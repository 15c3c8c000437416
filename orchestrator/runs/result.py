"""What a run returns, and the exception an interrupted run ends with."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanewarden.guards.verdict import Verdict


@dataclass
class RunResult:
    run_id: str
    worker: str
    outcome: str  # accepted | split | rejected
    exit_code: int
    branch: str | None
    commit: str | None
    handoffs: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    log: str = ""
    changed_files: int = 0
    verdict: Verdict | None = None
    confined: bool = True
    proposed: list[str] = field(default_factory=list)  # handoffs the agent proposed, imported from its clone
    agent_runtime: str | None = None  # the agent runtime detected from the command (runtime_config.py)
    agent_config: list[str] = field(default_factory=list)  # the config files lanewarden installed for it

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "worker": self.worker, "outcome": self.outcome,
                "exit_code": self.exit_code, "branch": self.branch, "commit": self.commit,
                "handoffs": self.handoffs, "proposed": self.proposed, "reasons": self.reasons,
                "notes": self.notes, "confined": self.confined, "seconds": round(self.seconds, 3),
                "log": self.log, "changed_files": self.changed_files, "agent_runtime": self.agent_runtime,
                "agent_config": self.agent_config}


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or a bug stopped a run; says what was kept and what was cleaned.

    A KeyboardInterrupt, so the error boundary still exits 130 after the
    command has printed what this carries.
    """

    def __init__(self, run_id: str, kept: list[str], cleaned: list[str], cause: BaseException) -> None:
        super().__init__(f"run {run_id} interrupted")
        self.run_id = run_id
        self.kept = kept
        self.cleaned = cleaned
        self.cause = cause
