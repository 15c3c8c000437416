"""The budget guard: more files or lines than the worker's budget asks for revision."""
from __future__ import annotations

from lanewarden.guards.context import GuardContext
from lanewarden.guards.verdict import Vote, VoteValue

NAME = "budget"


def vote(ctx: GuardContext) -> Vote:
    budgets = ctx.worker.budgets
    files = len(ctx.changes)
    lines = sum(c.added_lines + c.deleted_lines for c in ctx.changes)
    over: list[str] = []
    if budgets.max_files is not None and files > budgets.max_files:
        over.append(f"{files} files changed, budget max_files={budgets.max_files}")
    if budgets.max_lines is not None and lines > budgets.max_lines:
        over.append(f"{lines} lines changed, budget max_lines={budgets.max_lines}")
    if over:
        return Vote(guard=NAME, vote=VoteValue.ABSTAIN,
                    reasons=(*over, "split the work into smaller changes"))
    return Vote(guard=NAME, vote=VoteValue.APPROVE, reasons=(f"{files} files, {lines} lines: within budget",))
