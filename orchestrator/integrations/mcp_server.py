"""An MCP server through which an agent asks for its lane and hands work off (``lanewarden mcp``).

Built on the official MCP Python SDK (``mcp`` 2.x, ``MCPServer``), served over
stdio. Read-only except :meth:`LaneDesk.propose_handoff`, which goes through
``handoffs.proposals.propose`` exactly as ``lanewarden handoff propose`` does.
The worker is fixed when the server starts (``--worker`` or
``LANEWARDEN_WORKER``): an agent cannot ask about or act as another lane.
The policy is always the one committed at HEAD (the trusted revision).

:class:`LaneDesk` holds the answers as plain data, so they are testable
without a transport; :func:`build` wraps them as MCP tools.
"""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Any

from lanewarden.guards.engine import GuardRequest, guard, policy_for
from lanewarden.guards.verdict import Mode
from lanewarden.handoffs.proposals import Proposal, propose
from lanewarden.handoffs.queue import Queue
from lanewarden.workers.errors import InputError, LanewardenError, unknown_worker_hint
from lanewarden.workers.git import Git
from lanewarden.workers.loader import LoadedPolicy
from lanewarden.workers.ownership import OwnershipIndex

INSTRUCTIONS = (
    "lanewarden keeps each agent inside its lane of this monorepo. Call my_lane first to learn which paths you "
    "may write. Before editing a path you are unsure of, call who_owns. Never write outside your lane: call "
    "propose_handoff instead, and the owner gets the work. Before you say you are done, call check_my_changes; "
    "it must report no out-of-lane changes.")


@dataclass
class LaneDesk:
    """One worker's view of the repository: its lane, ownership, its change and its handoffs."""

    git: Git
    worker: str

    def _policy(self) -> LoadedPolicy:
        loaded = policy_for(self.git, GuardRequest(mode=Mode.STAGED))  # HEAD: the trusted revision
        if self.worker not in loaded.policy.workers:
            raise InputError(f"unknown worker {self.worker!r} in {loaded.source}",
                             hint=unknown_worker_hint(self.worker, loaded.policy.workers))
        return loaded

    def my_lane(self) -> dict[str, Any]:
        loaded = self._policy()
        policy = loaded.policy
        w = policy.workers[self.worker]
        produces = sorted(cid for cid, c in policy.contracts.items() if self.worker in c.producers)
        consumes = sorted(cid for cid, c in policy.contracts.items() if self.worker in c.consumers)
        return {
            "worker": self.worker, "description": w.description, "start_in": w.cwd,
            "may_write": list(w.allow), "never_write": list(w.deny),
            "change_only_through_handoff": list(w.propose_only),
            "writable_but_reviewed_by_root": list(w.handoff_required_on),
            "read_for_context": list(w.read_hints),
            "contracts_produced": [{"id": c, "paths": list(policy.contracts[c].paths)} for c in produces],
            "contracts_consumed": [{"id": c, "paths": list(policy.contracts[c].paths)} for c in consumes],
            "open_handoffs_for_me": self._handoffs("to_me", open_only=True),
            "policy": {"source": loaded.source, "sha256": loaded.sha256},
        }

    def _relative(self, path: str) -> str:
        """A repository-relative path; absolute ones must lie inside the checkout."""
        text = path.strip()
        if not os.path.isabs(text):
            return posixpath.normpath(text)
        top = str(self.git.top or "")
        full = posixpath.normpath(text)
        if top and full.startswith(top.rstrip("/") + "/"):
            return full[len(top.rstrip("/")) + 1:]
        raise InputError(f"{path} is outside this repository ({top or self.git.git_dir})",
                         hint="give paths relative to the repository root")

    def who_owns(self, paths: list[str]) -> dict[str, Any]:
        if not paths:
            raise InputError("give at least one repository-relative path")
        index = OwnershipIndex(self._policy().policy)
        out = []
        for path in paths:
            explained = index.explain(self._relative(path), self.worker).as_json()
            explained["you_may_write"] = explained.get("class") in ("writable", "handoff_required")
            out.append(explained)
        return {"worker": self.worker, "paths": out}

    def check_my_changes(self) -> dict[str, Any]:
        from lanewarden.orchestrator.integrations.done_gate import blocking_message, installed_from_env

        # Inside a worker run, the runtime config lanewarden installed is not the agent's change.
        verdict = guard(self.git, GuardRequest(mode=Mode.WORKTREE, worker=self.worker,
                                               installed=installed_from_env())).verdict
        message = blocking_message(verdict)
        return {"done_allowed": message is None, "what_to_do": message, "verdict": verdict.as_json()}

    def propose_handoff(self, problem: str, paths: list[str] | None = None, patch: str | None = None,
                        target: str | None = None, evidence: list[str] | None = None,
                        risk: str | None = None) -> dict[str, Any]:
        results = propose(self.git, self._policy(), Proposal(
            source=self.worker, problem=problem, target=target,
            patch=patch.encode("utf-8", "surrogateescape") if patch else None,
            paths=tuple(self._relative(p) for p in paths or ()),
            evidence=tuple(evidence or ()), risk=risk, task=os.environ.get("LANEWARDEN_TASK"),
            base=os.environ.get("LANEWARDEN_BASE")))
        return {"queued": [{"id": s.handoff.id, "created": created, "target_worker": s.handoff.target_worker,
                            "status": s.handoff.status.value, "routing_reason": s.handoff.routing_reason}
                           for s, created in results]}

    def list_handoffs(self, direction: str = "to_me", open_only: bool = True) -> dict[str, Any]:
        if direction not in ("to_me", "from_me", "both"):
            raise InputError(f"direction {direction!r}: use to_me, from_me or both")
        return {"worker": self.worker, "handoffs": self._handoffs(direction, open_only=open_only)}

    def _handoffs(self, direction: str, *, open_only: bool) -> list[dict[str, Any]]:
        out = []
        for stored in Queue(self.git).all():
            h = stored.handoff
            mine = (direction in ("to_me", "both") and h.target_worker == self.worker) or \
                   (direction in ("from_me", "both") and h.source_worker == self.worker)
            if not mine or (open_only and h.status.value not in ("open", "accepted")):
                continue
            out.append({"id": h.id, "status": h.status.value, "from": h.source_worker, "to": h.target_worker,
                        "problem": h.problem, "paths": list(h.evidence.paths), "has_patch": bool(h.proposed_change),
                        "created_at": h.created_at})
        return sorted(out, key=lambda h: (h["created_at"], h["id"]))


def _call(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Errors become the tool's answer (the agent reads them); the server keeps running."""
    try:
        result: dict[str, Any] = fn(*args, **kwargs)
        return result
    except LanewardenError as exc:
        return {"error": exc.message, "hint": exc.hint}


def build(desk: LaneDesk) -> Any:
    """The MCP server with lanewarden's tools (an ``mcp.server.mcpserver.MCPServer``)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    server = MCPServer(name="lanewarden", instructions=INSTRUCTIONS)
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)

    @server.tool(name="my_lane", annotations=read_only, description=(
        "Your lane in this monorepo: the paths you may write (glob patterns, gitignore-like, '**' spans folders), "
        "paths you must never write, paths you may change only through a handoff, paths to read for context, the "
        "contracts (shared APIs) you produce or consume, and the handoffs waiting for you. Call this first."))
    def my_lane() -> dict[str, Any]:
        return _call(desk.my_lane)

    @server.tool(name="who_owns", annotations=read_only, description=(
        "Who owns each repository-relative path, whether you may write it (you_may_write), and the policy rule "
        "that decides. Use it before editing a file outside the folder you started in."))
    def who_owns(paths: list[str]) -> dict[str, Any]:
        return _call(desk.who_owns, paths)

    @server.tool(name="check_my_changes", annotations=read_only, description=(
        "Run lanewarden's diff guard on your uncommitted work tree (untracked files included) against the "
        "trusted policy. done_allowed is false while out-of-lane changes remain; what_to_do then lists the "
        "handoffs to make and how to undo those edits. Call it before you finish."))
    def check_my_changes() -> dict[str, Any]:
        return _call(desk.check_my_changes)

    @server.tool(name="propose_handoff", annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False),
        description=(
            "Hand work you must not do yourself to the worker that owns it. problem: what must change and why "
            "(the owner reads only this and your patch). paths: the repository-relative paths concerned, and/or "
            "patch: a unified diff (git diff) of the change you would make. target: a worker id, only if you "
            "know better than the routing by ownership. The same proposal queued twice is stored once."))
    def propose_handoff(problem: str, paths: list[str] | None = None, patch: str | None = None,
                        target: str | None = None, evidence: list[str] | None = None,
                        risk: str | None = None) -> dict[str, Any]:
        return _call(desk.propose_handoff, problem, paths, patch, target, evidence, risk)

    @server.tool(name="list_handoffs", annotations=read_only, description=(
        "Handoffs concerning you: direction to_me (work other lanes asked of you), from_me (what you handed "
        "off) or both; open_only keeps open and accepted ones."))
    def list_handoffs(direction: str = "to_me", open_only: bool = True) -> dict[str, Any]:
        return _call(desk.list_handoffs, direction, open_only)

    return server
