"""``lanewarden run``: any agent command in its own worktree, guarded, split or rolled back.

The agent works in a fresh worktree on branch ``lanewarden/<worker>/<run-id>``.
When it stops, the work tree is guarded against the base (the trusted policy):
- a protected path, a secret-like artifact, a budget breach, a crash or a
  timeout rolls the whole run back (worktree and branch removed, evidence kept);
- otherwise writable changes are committed on the branch, and propose-only,
  handoff-required and out-of-scope changes become handoffs carrying their
  patch; out-of-lane files are put back as they were in the base.
The main working tree, its index and other branches are never touched.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanewarden.guards import override, redaction
from lanewarden.guards.engine import FULL_CHANGE, GuardRequest, guard
from lanewarden.guards.recorder import record as record_decision
from lanewarden.guards.verdict import Decision, Mode, Verdict, VoteValue
from lanewarden.handoffs import factory as build
from lanewarden.handoffs.model import Status
from lanewarden.handoffs.queue import Queue, Stored, actor
from lanewarden.orchestrator.runs import agent as process
from lanewarden.orchestrator.runs import workspace
from lanewarden.workers.errors import InputError, unknown_worker_hint
from lanewarden.workers.git import Git, fsencode
from lanewarden.workers.ledger import REF as LEDGER_REF
from lanewarden.workers.ledger import Kind, Ledger
from lanewarden.workers.loader import LoadedPolicy, load_revision

ROLLBACK_GUARDS = {"protected", "secrets", "budget"}


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

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "worker": self.worker, "outcome": self.outcome,
                "exit_code": self.exit_code, "branch": self.branch, "commit": self.commit,
                "handoffs": self.handoffs, "reasons": self.reasons, "notes": self.notes,
                "seconds": round(self.seconds, 3),
                "log": self.log, "changed_files": self.changed_files}


def _open_handoffs(git: Git, worker: str) -> list[dict[str, Any]]:
    out = []
    for stored in Queue(git).all():
        h = stored.handoff
        if h.target_worker == worker and h.status in (Status.OPEN, Status.ACCEPTED):
            out.append({"id": h.id, "status": h.status.value, "from": h.source_worker, "problem": h.problem,
                        "paths": list(h.evidence.paths)})
    return out


def execute(git: Git, worker: str, command: list[str], *, task: str | None = None, base: str | None = None,
            keep: bool = False, echo: Callable[[bytes], None] = lambda b: None,
            on_start: Callable[[workspace.Workspace], None] = lambda ws: None) -> RunResult:
    if not command:
        raise InputError("no command to run", hint="lanewarden run WORKER -- COMMAND [ARGS...]")
    clean(git)  # tidy what an interrupted run left behind
    base_commit = git.resolve_commit(base or "HEAD", what="base revision")
    loaded = load_revision(git, base_commit)
    if worker not in loaded.policy.workers:
        raise InputError(f"unknown worker {worker!r}", hint=unknown_worker_hint(worker, loaded.policy.workers))
    ws = workspace.create(git, loaded, worker, base_commit)
    started = time.monotonic()
    pack = workspace.context_pack(git, loaded, ws, task, _open_handoffs(git, worker))
    ws.context_file.write_text(json.dumps(pack, indent=2) + "\n")
    workspace.write_state(ws, run_id=ws.run_id, worker=worker, task=task, base=base_commit, branch=ws.branch,
                          status="running", pid=os.getpid(), command=command, started=time.time(),
                          context_hash=pack["context_hash"], worktree=str(ws.worktree), log=str(ws.log_file))
    on_start(ws)
    # Read before the agent starts: overrides or ledger history it writes itself count for nothing.
    trusted = _Trusted(overrides=override.load(git), ledger=git.ref_value(LEDGER_REF))
    try:
        return _run(git, loaded, ws, command, task, keep, echo, started, trusted)
    except BaseException as exc:
        # Ctrl-C or a bug: no half-state survives.
        workspace.remove(git, ws, keep_branch=False)
        workspace.write_state(ws, status="interrupted")
        try:
            _ledger_run(git, ws, {"outcome": "interrupted", "reasons": [type(exc).__name__]})
        except Exception:
            pass
        raise


@dataclass(frozen=True)
class _Trusted:
    overrides: tuple[override.Override, ...]
    ledger: str | None


def _ledger_run(git: Git, ws: workspace.Workspace, outcome: dict[str, Any]) -> None:
    """A run that ended without a verdict (could not start, interrupted) is still an entry."""
    Ledger(git).append(Kind.RUN, {"worker": ws.worker, "run_id": ws.run_id, "base": ws.base,
                                  "task": _task(ws)}, outcome)


def _run(git: Git, loaded: LoadedPolicy, ws: workspace.Workspace, command: list[str], task: str | None,
         keep: bool, echo: Callable[[bytes], None], started: float, trusted: _Trusted) -> RunResult:
    w = loaded.policy.workers[ws.worker]
    cwd = ws.worktree / (w.cwd or "")
    if not cwd.is_dir():
        cwd = ws.worktree
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"LANEWARDEN_WORKER": ws.worker, "LANEWARDEN_RUN_ID": ws.run_id, "LANEWARDEN_TASK": task or "",
                "LANEWARDEN_CONTEXT": str(ws.context_file), "LANEWARDEN_BASE": ws.base})
    reasons: list[str] = []
    timeout = w.budgets.timeout_s
    try:
        before = _repo_state(git)
        code = process.run_agent(command, cwd=cwd, env=env, log=ws.log_file, echo=echo, timeout=timeout,
                                 on_spawn=lambda pgid: workspace.write_state(ws, agent_pgid=pgid))
    except OSError as exc:
        workspace.remove(git, ws, keep_branch=False)
        why = f"cannot start {command[0]!r}: {exc.strerror}"
        workspace.write_state(ws, status="rejected", reasons=[why])
        _ledger_run(git, ws, {"outcome": "rejected", "reasons": [why]})
        raise InputError(why) from None
    if code is None:
        reasons.append(f"timed out after {timeout}s (budget timeout_s); the agent's process group was stopped")
    elif code != 0:
        reasons.append(f"the agent exited with code {code}")
    notes: list[str] = []
    reasons.extend(_restore_repo_state(git, before, notes))
    after = git.ref_value(LEDGER_REF)
    if trusted.ledger is not None and (after is None or not Ledger(git).extends(trusted.ledger, after)):
        # Only a rewrite loses the old head (appends keep it): put the chain back as it was.
        git.run(["update-ref", LEDGER_REF, trusted.ledger])
        reasons.append("protected: the ledger was rewritten during the run (its old head was gone); "
                       f"restored to {trusted.ledger[:12]}, see `lanewarden ledger verify`")
    return _settle(git, loaded, ws, reasons, keep, started, notes, trusted)


def _settle(git: Git, loaded: LoadedPolicy, ws: workspace.Workspace, reasons: list[str], keep: bool,
            started: float, notes: list[str], trusted: _Trusted) -> RunResult:
    wt = ws.git
    # The agent may have committed, switched branches or moved HEAD: everything is
    # judged against the base, with the policy of the base.
    wt.run(["update-ref", f"refs/heads/{ws.branch}", ws.base])
    wt.run(["symbolic-ref", "HEAD", f"refs/heads/{ws.branch}"])
    # Every path of a full worktree was checked out, so none may be missing unnoticed.
    sparse = workspace.sparse_set(loaded, ws.worker) if loaded.policy.workers[ws.worker].high_risk else ("**",)
    guarded = guard(wt, GuardRequest(mode=Mode.WORKTREE, worker=ws.worker, sparse_set=sparse,
                                     overrides=trusted.overrides, keep_change=True), cut=True, loaded=loaded)
    verdict, patches = guarded.verdict, dict(guarded.patches)
    change = patches.pop(FULL_CHANGE, b"")
    evidence = ws.folder / "verdict.json"
    evidence.write_text(json.dumps(verdict.as_json(), indent=2) + "\n")
    for vote in verdict.votes:
        if vote.guard in ROLLBACK_GUARDS and vote.vote != VoteValue.APPROVE:
            reasons.extend(f"{vote.guard}: {r}" for r in vote.reasons)
        elif vote.guard not in ROLLBACK_GUARDS | {"scope"} and vote.vote != VoteValue.APPROVE:
            reasons.extend(f"{vote.guard}: {r}" for r in vote.reasons)  # a crashed guard fails closed
    result = RunResult(ws.run_id, ws.worker, "rejected", 1, None, None, reasons=reasons, notes=notes,
                       log=str(ws.log_file), changed_files=len(verdict.changes), verdict=verdict)
    evidence_of = {"change": change, "overrides": trusted.overrides}
    if reasons:
        _save_attempt(wt, ws, verdict)
        workspace.remove(git, ws, keep_branch=False)
        return _finish(ws, result, started, git, evidence_of)
    stays = ("writable", "handoff_required", "shared_append")
    kept = [c.path for c in verdict.changes if c.path_class in stays]
    away = [c.path for c in verdict.changes if c.path_class not in stays]
    queued: list[Stored] = []
    queue = Queue(git)
    who = actor(git)[0]
    for record in build.from_verdict(loaded.policy, verdict, patches, who=who, task=_task(ws)):
        stored, _ = queue.create(record)
        queued.append(stored)
    _put_back(wt, ws.base, away)
    commit = None
    if kept:
        commit = _commit(wt, ws, kept)
        check = guard(git, GuardRequest(mode=Mode.RANGE, worker=ws.worker, base=ws.base, head=commit)).verdict
        if check.decision == Decision.REJECT:  # fail closed: what we committed must pass on its own
            workspace.remove(git, ws, keep_branch=False)
            result.reasons.append("the kept commit did not pass the guard on its own; rolled back")
            return _finish(ws, result, started, git, evidence_of)
    result.commit = commit
    result.branch = ws.branch if commit else None
    result.handoffs = [s.handoff.id for s in queued]
    result.outcome = "split" if queued else "accepted"
    result.exit_code = 3 if queued else 0
    if not keep:
        workspace.remove(git, ws, keep_branch=commit is not None)
    return _finish(ws, result, started, git, evidence_of)


# Refs runs legitimately change: their own branches and lanewarden's queues.
_RUN_REFS = ("refs/heads/lanewarden/", "refs/lanewarden/")
# Shared repository files an agent must not change from its worktree (hooks run for everyone).
_SHARED_FILES = ("config", "HEAD", "info/exclude", "info/attributes", "info/grafts", "shallow")


def _repo_state(git: Git) -> dict[str, bytes | None]:
    """Refs and shared files of the repository, outside what a run may change."""
    common = workspace.common_dir(git)
    state: dict[str, bytes | None] = {}
    for line in git.run(["for-each-ref", "--format=%(objectname) %(refname)"]).splitlines():
        oid, _, name = line.decode("utf-8", "surrogateescape").partition(" ")
        if not name.startswith(_RUN_REFS):
            state[f"ref:{name}"] = oid.encode()
    hooks = common / "hooks"
    files = list(_SHARED_FILES) + ([f"hooks/{p.name}" for p in hooks.iterdir()] if hooks.is_dir() else [])
    for rel in files:
        path = common / rel
        state[f"file:{rel}"] = path.read_bytes() if path.is_file() else None
    return state


def _restore_repo_state(git: Git, before: dict[str, bytes | None], notes: list[str]) -> list[str]:
    """Put back refs and shared files the agent changed outside its worktree; say what it did.

    Worktrees share refs, config and hooks with the main checkout, so an agent
    could move ``main`` or plant a hook: moving or deleting an existing ref or
    touching a shared file is forbidden and rolls the run back. A branch the
    agent merely created is removed and noted.
    """
    after = _repo_state(git)
    common = workspace.common_dir(git)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    for key in changed:
        kind, _, name = key.partition(":")
        old = before.get(key)
        if kind == "ref":
            if old is None:
                git.run_rc(["update-ref", "-d", name])
            else:
                git.run_rc(["update-ref", name, old.decode()])
        else:
            path = common / name
            if old is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(old)
    created = [k for k in changed if k.startswith("ref:") and before.get(k) is None]
    if created:
        notes.append("removed ref(s) the agent created: " + ", ".join(k[4:] for k in created))
    forbidden = [k for k in changed if k not in created]
    if not forbidden:
        return []
    shown = ", ".join(k.partition(":")[2] for k in forbidden[:5]) + (" ..." if len(forbidden) > 5 else "")
    return [f"protected: the agent changed shared repository state outside its worktree ({shown}); "
            "restored"]


def _task(ws: workspace.Workspace) -> str | None:
    state = json.loads(ws.state_file.read_text())
    task = state.get("task")
    return task if isinstance(task, str) and task else None


def _save_attempt(wt: Git, ws: workspace.Workspace, verdict: Verdict) -> None:
    """Keep the rejected attempt as a patch next to its verdict (evidence, never applied).

    Secret-like content is redacted first (guards/redaction.py), and so is any token in the log.
    """
    wt.run(["add", "-A", "-f"])
    patch = wt.run(["diff", "--cached", "--binary", "--no-ext-diff", "--no-textconv", "--no-color", ws.base])
    (ws.folder / "attempt.diff").write_bytes(redaction.redact(patch, redaction.findings(verdict)).patch)
    if ws.log_file.is_file():
        log = ws.log_file.read_text("utf-8", "surrogateescape")
        clean = redaction.scrub(log)
        if clean != log:
            ws.log_file.write_text(clean, "utf-8", "surrogateescape")


def _put_back(wt: Git, base: str, paths: list[str]) -> None:
    """Out-of-lane paths return to their state in the base: restored, or removed if new."""
    if not paths:
        return
    present = set(wt.run(["--literal-pathspecs", "ls-tree", "-r", "-z", "--name-only", base, "--", *paths])
                  .decode("utf-8", "surrogateescape").split("\0")) - {""}
    for path in paths:
        if path not in present:
            target = (wt.top or Path(".")) / path
            if target.is_symlink() or target.is_file():
                target.unlink()
    restore = [p for p in paths if p in present]
    if restore:
        wt.run(["--literal-pathspecs", "checkout", base, "--", *restore])


def _commit(wt: Git, ws: workspace.Workspace, paths: list[str]) -> str:
    wt.run(["read-tree", ws.base])
    wt.run(["update-index", "--add", "--remove", "-z", "--stdin"],
           input=b"".join(fsencode(p) + b"\0" for p in paths))
    tree = wt.run(["write-tree"]).decode().strip()
    state = json.loads(ws.state_file.read_text())
    task = state.get("task") or "(no task given)"
    message = (f"{ws.worker}: {task}\n\nLanewarden-Worker: {ws.worker}\nLanewarden-Run: {ws.run_id}\n"
               f"Lanewarden-Context: {state.get('context_hash')}\n")
    commit = wt.commit_tree(tree, [ws.base], message, actor(wt))
    wt.run(["update-ref", f"refs/heads/{ws.branch}", commit])
    return commit


def _finish(ws: workspace.Workspace, result: RunResult, started: float, git: Git,
            evidence: dict[str, Any]) -> RunResult:
    """Write the run's state and its ledger entry (with the change, so it can be replayed)."""
    if result.verdict is not None:
        state = json.loads(ws.state_file.read_text())
        record_decision(git, result.verdict, kind=Kind.RUN, change=evidence["change"],
                        overrides=evidence["overrides"], handoff_ids=result.handoffs,
                        keep=tuple(c for c in (result.commit,) if c),
                        inputs={"run_id": ws.run_id, "task": state.get("task"),
                                "context_hash": state.get("context_hash"), "branch": ws.branch},
                        outcome={"outcome": result.outcome, "run_exit_code": result.exit_code,
                                 "commit": result.commit, "reasons": result.reasons})
    result.seconds = time.monotonic() - started
    workspace.write_state(ws, status=result.outcome, outcome=result.outcome, commit=result.commit,
                          handoffs=result.handoffs, reasons=result.reasons, notes=result.notes,
                          seconds=result.seconds,
                          exit_code=result.exit_code, changed_files=result.changed_files, finished=time.time())
    return result


def clean(git: Git) -> list[str]:
    """Tidy runs whose lanewarden process died (Ctrl-C, kill): worktree and branch go."""
    root = workspace.runs_root(git)
    tidied: list[str] = []
    if not root.is_dir():
        return tidied
    for folder in sorted(root.iterdir()):
        state_file = folder / "state.json"
        if not state_file.is_file():
            continue
        state = json.loads(state_file.read_text())
        if state.get("status") != "running" or _alive(state.get("pid")):
            continue
        ws = workspace.Workspace(state["run_id"], state["worker"], state["branch"], folder,
                                 Path(state["worktree"]), git, state["base"])
        pgid = state.get("agent_pgid")
        if isinstance(pgid, int):
            process.kill_stray_group(pgid, folder)  # the agent outlived its lanewarden
        workspace.remove(git, ws, keep_branch=False)
        workspace.write_state(ws, status="interrupted", reasons=["the lanewarden process died; cleaned up"])
        tidied.append(state["run_id"])
    return tidied


def _alive(pid: object) -> bool:
    if not isinstance(pid, int):
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
    root = workspace.runs_root(git)
    if not root.is_dir():
        return []
    out = []
    for folder in root.iterdir():
        state_file = folder / "state.json"
        if state_file.is_file():
            out.append(json.loads(state_file.read_text()))
    return sorted(out, key=lambda s: (s.get("started") or 0, s.get("run_id", "")))
