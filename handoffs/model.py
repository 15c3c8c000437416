"""The handoff record (schema ``lanewarden.handoff/1``) and its lifecycle.

A handoff is out-of-lane work, found by a worker or by the guard, routed to the
worker that owns it. Its id is derived from the finding itself (source,
target, paths, problem, proposed change), so the same finding is queued once.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from lanewarden.handoffs.states import Action, Status

# Action and Status live in states.py (no pydantic there); they are part of the record, so here too.
__all__ = ["SCHEMA", "Action", "Evidence", "Handoff", "Scope", "Status", "Transition", "Validation", "handoff_id"]

SCHEMA = "lanewarden.handoff/1"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Scope(_Frozen):
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


class Evidence(_Frozen):
    paths: tuple[str, ...] = ()
    base: str | None = None
    head: str | None = None
    diff_sha256: str | None = None
    notes: tuple[str, ...] = ()


class Validation(_Frozen):
    commands: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()
    e2e: tuple[str, ...] = ()


class Transition(_Frozen):
    who: str
    when: str
    action: Action
    reason: str | None = None
    commit: str | None = None
    # On accept: the sha256 of the patch that was accepted; apply refuses any other patch.
    patch_sha256: str | None = None


class Handoff(_Frozen):
    schema_: str = Field(default=SCHEMA, alias="schema")
    id: str
    status: Status = Status.OPEN
    source_worker: str
    task: str | None = None
    source_scope: Scope = Scope()
    target_worker: str
    routing_reason: str
    problem: str
    evidence: Evidence = Evidence()
    proposed_change: str | None = None  # a unified diff, applicable with `git apply`
    risk_if_ignored: str | None = None
    suggested_validation: Validation = Validation()
    contracts: tuple[str, ...] = ()
    e2e: tuple[str, ...] = ()
    created_at: str
    created_by: str
    applied_commit: str | None = None
    history: tuple[Transition, ...] = ()

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        return json.dumps(self.as_json(), indent=2, sort_keys=False) + "\n"

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.as_json(), sort_keys=False, allow_unicode=True, width=100)

    @classmethod
    def from_json(cls, text: bytes | str) -> Handoff:
        # pydantic-core parses and validates in one pass: listing 10,000 handoffs reads 10,000 of these.
        return cls.model_validate_json(text)

    def content_id(self) -> str:
        """The id this record's content derives: differs from ``id`` when the content was changed."""
        return handoff_id(self.source_worker, self.target_worker, self.evidence.paths, self.problem,
                          self.proposed_change)

    def patch_sha256(self) -> str | None:
        if not self.proposed_change:
            return None
        return hashlib.sha256(self.proposed_change.encode("utf-8", "surrogateescape")).hexdigest()

    def accepted_patch(self) -> str | None:
        """The patch sha256 pinned by the newest accept, None if there is none (or it pinned none)."""
        accepts = [t for t in self.history if t.action == Action.ACCEPT]
        return accepts[-1].patch_sha256 if accepts else None

    def summary_json(self) -> str:
        """The record without its patch, plus ``has_patch``, as compact JSON (for listings)."""
        body = self.model_dump_json(by_alias=True, exclude={"proposed_change"})
        return body[:-1] + f',"has_patch":{"true" if self.proposed_change else "false"}}}'


def handoff_id(source_worker: str, target_worker: str, paths: tuple[str, ...], problem: str,
               proposed_change: str | None) -> str:
    """Content-derived: the same finding from the same worker always gets the same id."""
    canon = json.dumps({"source": source_worker, "target": target_worker, "paths": sorted(paths),
                        "problem": problem.strip(), "change": proposed_change or ""},
                       sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8", "surrogateescape")).hexdigest()[:20]


