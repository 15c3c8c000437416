"""lanewarden's own record of its runs: listing, cleaning up, and which worker made a branch.

A run's record is ``runs/<run-id>/state.json`` under the main repository's
git dir, written only by lanewarden (a confined agent sees it read-only).
Still, a record is read as data, never as instructions: every path that is
removed is derived from the folder's run id (``workspace.run_folder``), a
folder whose name is not a run id or whose record names another id is
reported and left alone, and a branch is deleted only when the record says
lanewarden created it and it still points where lanewarden put it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from lanewarden.orchestrator.runs import agent as process
from lanewarden.orchestrator.runs import workspace
from lanewarden.workers.git import Git
from lanewarden.workers.layout import BRANCH_PREFIX


@dataclass(frozen=True)
class Cleanup:
    tidied: list[str]
    ignored: list[str]  # what was reported and left alone, with why


@dataclass(frozen=True)
class BranchRecord:
    """The run that created a branch, from lanewarden's record (never from the branch's name)."""

    run_id: str
    worker: str
    commit: str


def _records(git: Git) -> tuple[list[tuple[workspace.Workspace, dict[str, Any]]], list[str]]:
    root = workspace.runs_root(git)
    found: list[tuple[workspace.Workspace, dict[str, Any]]] = []
    ignored: list[str] = []
    if not root.is_dir():
        return found, ignored
    for folder in sorted(root.iterdir()):
        state_file = folder / "state.json"
        if not state_file.is_file():
            continue
        if not workspace.RUN_ID.match(folder.name):
            ignored.append(f"{folder}: not a run id; left alone")
            continue
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError) as exc:
            ignored.append(f"{state_file}: unreadable ({exc}); left alone")
            continue
        if not isinstance(state, dict) or state.get("run_id") != folder.name:
            ignored.append(f"{state_file}: names run {state.get('run_id') if isinstance(state, dict) else None!r}, "
                           f"not {folder.name}; left alone")
            continue
        worker = state.get("worker")
        if not isinstance(worker, str) or not worker or "/" in worker:
            ignored.append(f"{state_file}: no valid worker; left alone")
            continue
        branch = f"{BRANCH_PREFIX}{worker}/{folder.name}"
        base = state.get("base") if isinstance(state.get("base"), str) else ""
        ws = workspace.Workspace(folder.name, worker, branch, folder, Git(folder / "checkout" / ".git", None),
                                 str(base))
        found.append((ws, state))
    return found, ignored


def clean(git: Git) -> list[str]:
    """Tidy runs whose lanewarden process died (Ctrl-C, kill); the ids tidied."""
    return cleanup(git).tidied


def cleanup(git: Git) -> Cleanup:
    """Tidy runs whose lanewarden process died: their clone and lanewarden's git dir for it go.

    The run's evidence (state, log, context, verdict, attempt) stays. A branch
    goes only if the record says lanewarden created it for this run and it
    still points at the recorded commit (the process died while landing).
    """
    tidied: list[str] = []
    found, ignored = _records(git)
    for ws, state in found:
        if state.get("status") != "running" or _alive(state.get("pid")):
            continue
        for key in ("worktree", "checkout"):
            named = state.get(key)
            if isinstance(named, str) and named != str(ws.checkout):
                ignored.append(f"{ws.state_file}: names {named} as its {key}; ignored, only {ws.checkout} "
                               "is removed")
        pgid = state.get("agent_pgid")
        if isinstance(pgid, int):
            process.kill_stray_group(pgid, ws.folder)  # an unconfined agent that outlived its lanewarden
        commit = state.get("commit")
        if state.get("created_branch") == ws.branch and isinstance(commit, str):
            git.delete_ref(f"refs/heads/{ws.branch}", commit)
        elif isinstance(state.get("branch"), str) and state["branch"] != ws.branch:
            ignored.append(f"{ws.state_file}: names branch {state['branch']}; not lanewarden's, left alone")
        workspace.remove(ws)
        workspace.write_state(ws, status="interrupted", reasons=["the lanewarden process died; cleaned up"])
        tidied.append(ws.run_id)
    return Cleanup(tidied, ignored)


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_runs(git: Git) -> list[dict[str, Any]]:
    found, _ = _records(git)
    return sorted((state for _, state in found), key=lambda s: (s.get("started") or 0, s.get("run_id", "")))


def branch_records(git: Git) -> dict[str, BranchRecord]:
    """branch name -> the run that created it, for runs that kept a commit."""
    out: dict[str, BranchRecord] = {}
    found, _ = _records(git)
    for ws, state in found:
        commit, branch = state.get("commit"), state.get("branch")
        if state.get("status") in ("accepted", "split") and isinstance(commit, str) and commit \
                and isinstance(branch, str) and branch.startswith(BRANCH_PREFIX):
            out[branch] = BranchRecord(ws.run_id, ws.worker, commit)
    return out


def record_branch(git: Git, worker: str, branch: str, commit: str, *, task: str | None = None) -> str:
    """Record that ``worker``'s lane made ``branch`` at ``commit``, as a finished run does; the run id.

    For branches lanewarden itself produced outside ``run`` (an import, a test
    fixture). The record is what the final review attributes the branch by.
    """
    if not branch.startswith(BRANCH_PREFIX):
        raise ValueError(f"{branch} is not a lanewarden branch ({BRANCH_PREFIX}...)")
    run_id = workspace.new_run_id()
    folder = workspace.run_folder(git, run_id)
    folder.mkdir(parents=True)
    ws = workspace.Workspace(run_id, worker, branch, folder, Git(folder / "checkout" / ".git", None), "")
    workspace.write_state(ws, run_id=run_id, worker=worker, task=task, branch=branch, commit=commit,
                          status="accepted", outcome="accepted", pid=None)
    return run_id
