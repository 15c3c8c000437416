"""``runs clean --branches RULE``: retire the branches finished runs left, by a rule the user sets.

Only a branch lanewarden's own record says it created for that run, still
pointing at the recorded commit, is a candidate (records.py: never the
branch's name); of those, only the ones the rule selects go:
``merged`` (the commit is in the main line: an ancestor of ``--into``,
default HEAD) or ``older-than=N[d|h]`` (the run finished that long ago).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from lanewarden.orchestrator.runs.records import _records
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git

_AGE = re.compile(r"^older-than=([0-9]+)([dh])$")
FINISHED = ("accepted", "split", "rejected", "interrupted")


@dataclass(frozen=True)
class Rule:
    merged: bool
    max_age_s: float | None

    @classmethod
    def parse(cls, text: str) -> Rule:
        if text == "merged":
            return cls(True, None)
        m = _AGE.match(text)
        if m is None:
            raise InputError(f"--branches {text!r}: unknown rule", hint="--branches merged | older-than=7d | "
                                                                        "older-than=12h")
        return cls(False, int(m.group(1)) * (86400 if m.group(2) == "d" else 3600))


def retire(git: Git, rule: Rule, *, into: str = "HEAD", now: float | None = None) -> tuple[list[str], list[str]]:
    """``(deleted branches, kept ones with why)``."""
    target = git.resolve_commit(into, what="--into revision") if rule.merged else None
    moment = time.time() if now is None else now
    deleted: list[str] = []
    kept: list[str] = []
    found, _ = _records(git)
    for ws, state in found:
        commit = state.get("commit")
        if state.get("created_branch") != ws.branch or not isinstance(commit, str):
            continue  # lanewarden made no branch for this run
        ref = f"refs/heads/{ws.branch}"
        current = git.ref_value(ref)
        if current is None:
            continue
        if current != commit:
            kept.append(f"{ws.branch}: moved since its run recorded it; left alone")
            continue
        if state.get("status") not in FINISHED:
            continue
        if target is not None and not git.is_ancestor(commit, target):
            kept.append(f"{ws.branch}: not merged")
            continue
        finished = state.get("finished")
        if rule.max_age_s is not None and (not isinstance(finished, int | float)
                                           or moment - finished < rule.max_age_s):
            kept.append(f"{ws.branch}: finished less than the rule's age ago")
            continue
        if git.delete_ref(ref, commit):
            deleted.append(ws.branch)
    return deleted, kept
