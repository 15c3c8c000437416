"""The gate at "done": an agent may not finish while its work tree holds out-of-lane changes.

Runs the work-tree guard (the same one as ``lanewarden guard --worktree``)
against the trusted policy at HEAD. Changes the worker may make pass;
anything routed elsewhere (outside the lane, propose-only, protected) or a
rejecting guard (a secret, a budget) keeps the agent working, with the
handoffs to make and how to undo the out-of-lane edits.
"""
from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping

from lanewarden.guards.engine import GuardRequest, guard
from lanewarden.guards.verdict import ChangeReport, Decision, Mode, Verdict, VoteValue
from lanewarden.workers.git import Git
from lanewarden.workers.loader import load_revision

# Classes that may stay in the work tree when the agent stops: its lane, root-reviewed paths and
# lines added to shared append-only files.
_STAYS = frozenset({"writable", "handoff_required", "shared_append"})
_NEW = frozenset({"added", "untracked"})


# Set by `lanewarden run` for its agent: the run's record of the config files it installed in the clone.
INSTALLED_ENV = "LANEWARDEN_INSTALLED"


def check(git: Git, worker: str, rev: str = "HEAD", installed: Mapping[str, str] | None = None) -> str | None:
    """None when the agent may finish; else what it must do first.

    ``rev``: the commit whose policy decides (a worker run pins its base; default HEAD).
    ``installed``: config files a worker run wrote into the clone (path -> sha256): left out
    while unchanged, as the run's own guard leaves them out, so they never keep the agent working.
    """
    loaded = load_revision(git.without_worktree(), rev) if rev != "HEAD" else None
    verdict = guard(git, GuardRequest(mode=Mode.WORKTREE, worker=worker, installed=installed),
                    loaded=loaded).verdict
    return blocking_message(verdict)


def installed_from_env() -> dict[str, str] | None:
    """The run's record of installed files (:data:`INSTALLED_ENV`), or None outside a run.

    An unreadable record raises: the gate then blocks (fail closed) instead of guessing. Only
    ever a cooperation aid: the agent controls its environment, the run's own guard does not read it.
    """
    where = os.environ.get(INSTALLED_ENV)
    if not where:
        return None
    with open(where, encoding="utf-8") as fh:
        data = json.load(fh)
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ValueError(f"{where}: not a lanewarden record of installed files")
    return dict(files)


def out_of_lane(verdict: Verdict) -> list[ChangeReport]:
    return [c for c in verdict.changes if c.path_class not in _STAYS]


def blocking_message(verdict: Verdict) -> str | None:
    stray = out_of_lane(verdict)
    rejecting = [v for v in verdict.votes if v.vote is VoteValue.REJECT and v.guard != "scope"]
    # The scope guard abstains on root-reviewed paths, which may stay; any other abstention is a guard
    # that could not decide (a crash, an unreachable reviewer): a doubt, so the agent is not done.
    doubtful = [v for v in verdict.votes if v.vote is VoteValue.ABSTAIN and v.guard != "scope"]
    if not stray and not doubtful and verdict.decision is not Decision.REJECT:
        return None
    worker = verdict.worker
    lines = [f"lanewarden: you are not done. The work tree of worker {worker!r} does not pass the guard."]
    owners: dict[str, list[ChangeReport]] = {}
    for c in stray:
        lines.append(f"- {c.path} ({c.status}): {c.path_class}; belongs to {c.route_to or 'the root'}")
        owners.setdefault(c.route_to or "", []).append(c)
    for vote in (*rejecting, *doubtful):
        lines += [f"- {vote.guard} ({vote.vote.value}): {reason}" for reason in vote.reasons]
    if owners:
        lines.append("Hand each group to its owner (attach your change with --patch FILE, e.g. from "
                     "`git diff -- PATHS > change.patch`), then undo it here:")
        for owner, changes in owners.items():
            cmd = ["lanewarden", "handoff", "propose", "--worker", worker]
            if owner:
                cmd += ["--to", owner]
            cmd += ["--problem", "WHAT MUST CHANGE AND WHY"]
            for c in changes:
                cmd += ["--path", c.path]
            lines.append("  " + shlex.join(cmd))
        tracked = [c.path for c in stray if c.status not in _NEW]
        staged = [c.path for c in stray if c.status == "added"]
        new = [c.path for c in stray if c.status == "untracked"]
        if tracked:
            lines.append("  " + shlex.join(["git", "restore", "--staged", "--worktree", "--", *tracked]))
        if staged:
            lines.append("  " + shlex.join(["git", "rm", "-f", "--", *staged]))
        if new:
            lines.append("  " + shlex.join(["git", "clean", "-f", "--", *new]))
    lines.append("Check again with `lanewarden guard --worktree` (or the MCP tool check_my_changes).")
    return "\n".join(lines)
