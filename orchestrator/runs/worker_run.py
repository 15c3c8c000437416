"""``lanewarden run``: any agent command, confined to a disposable clone, guarded, split or rolled back.

prepare: pin the base commit, load its policy (the trusted one), clone the
base into the run's folder, write the context pack.
execute: the agent runs in the clone under bubblewrap (``sandbox.py``): only the
clone and a private /tmp are writable, and nothing it starts outlives it.
collect (``collect.py``): the clone's final state is read as a change from the
pinned base and guarded with the trusted policy:
- a protected path, a secret-like artifact, a budget breach, a crash or a
  timeout rolls the whole run back (clone removed, evidence kept);
- otherwise lanewarden itself commits the writable changes on
  ``lanewarden/<worker>/<run-id>`` in the main repository, and propose-only,
  handoff-required and out-of-scope changes become handoffs carrying their patch.
The main working tree, its index, refs, config and hooks are never written.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any, NoReturn

from lanewarden.guards import override
from lanewarden.guards.engine import FULL_CHANGE, GuardRequest, guard
from lanewarden.guards.recorder import record as record_decision
from lanewarden.guards.verdict import Decision, Mode, VoteValue
from lanewarden.handoffs import factory as build
from lanewarden.handoffs.model import Status
from lanewarden.handoffs.queue import Queue, Stored, actor
from lanewarden.orchestrator.runs import agent as process
from lanewarden.orchestrator.runs import collect, runtime_config, sandbox, unconfined, workspace
from lanewarden.orchestrator.runs.records import clean, list_runs
from lanewarden.orchestrator.runs.result import RunInterrupted, RunResult
from lanewarden.workers.errors import InputError, unknown_worker_hint
from lanewarden.workers.git import Git
from lanewarden.workers.ledger import REF as LEDGER_REF
from lanewarden.workers.ledger import Kind, Ledger
from lanewarden.workers.loader import LoadedPolicy, load_revision

__all__ = ["RunInterrupted", "RunResult", "clean", "execute", "list_runs"]

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
            on_start: Callable[[workspace.Workspace], None] = lambda ws: None,
            confined: bool = True, network: bool = True, agent_config: bool = True) -> RunResult:
    """One run end to end. ``confined=False`` is ``--unconfined``; ``network=False`` is ``--no-network``;
    ``agent_config=False`` is ``--no-agent-config`` (no runtime config installed, runtime_config.py)."""
    if not command:
        raise InputError("no command to run", hint="lanewarden run WORKER -- COMMAND [ARGS...]")
    clean(git)  # tidy what an interrupted run left behind
    base_commit = git.resolve_commit(base or "HEAD", what="base revision")
    loaded = load_revision(git, base_commit)
    if worker not in loaded.policy.workers:
        raise InputError(f"unknown worker {worker!r}", hint=unknown_worker_hint(worker, loaded.policy.workers))
    if loaded.policy.workers[worker].budgets.network is False:
        network = False
    if confined:
        sandbox.require()  # refuse (exit 2) before anything is created
    ws = workspace.create(git, loaded, worker, base_commit)
    started = time.monotonic()
    pack = workspace.context_pack(git, loaded, ws, task, _open_handoffs(git, worker))
    ws.context_file.write_text(json.dumps(pack, indent=2) + "\n")
    workspace.write_state(ws, run_id=ws.run_id, worker=worker, task=task, base=base_commit, branch=ws.branch,
                          status="running", pid=os.getpid(), command=command, started=time.time(),
                          context_hash=pack["context_hash"], checkout=str(ws.checkout), log=str(ws.log_file),
                          confined=confined, network=network)
    on_start(ws)
    # Read before the agent starts: overrides or ledger history it writes itself count for nothing.
    trusted = collect.Trusted(overrides=override.load(git), ledger=git.ref_value(LEDGER_REF))
    before = None if confined else unconfined.snapshot(git)
    notes: list[str] = []
    try:
        # Before the agent starts, while the clone is lanewarden's alone; kept in memory for collect.
        installed = runtime_config.install(ws, command, cwd=loaded.policy.workers[worker].cwd,
                                           enabled=agent_config)
        notes.extend(installed.notes)
        workspace.write_state(ws, agent_runtime=installed.runtime, agent_config=sorted(installed.files))
        return _run(git, loaded, ws, command, keep, echo, started, trusted, before, notes, network, installed)
    except BaseException as exc:
        _interrupted(git, ws, exc, before, notes)


def _interrupted(git: Git, ws: workspace.Workspace, exc: BaseException, before: dict[str, bytes | None] | None,
                 notes: list[str]) -> NoReturn:
    """Ctrl-C, SIGTERM or a bug: keep the partial change as evidence, remove the rest, say so, re-raise."""
    kept: list[str] = []
    cleaned: list[str] = []
    reasons = [type(exc).__name__]
    if before is not None:
        reasons += unconfined.restore(git, before, notes)
    try:
        attempt = collect.save_attempt(ws)
        if attempt:
            kept.append(attempt)
    except Exception as err:  # evidence is best effort; cleaning up is not
        reasons.append(f"the partial change could not be saved: {err}")
    state = json.loads(ws.state_file.read_text())
    commit = state.get("commit")
    if state.get("created_branch") == ws.branch and isinstance(commit, str) \
            and git.delete_ref(f"refs/heads/{ws.branch}", commit):
        cleaned.append(f"branch {ws.branch}")
    cleaned += workspace.remove(ws)
    kept += [str(p) for p in (ws.log_file, ws.context_file, ws.folder / "verdict.json") if p.exists()]
    workspace.write_state(ws, status="interrupted", reasons=reasons, kept=kept, cleaned=cleaned, notes=notes,
                          finished=time.time())
    try:
        _ledger_run(git, ws, {"outcome": "interrupted", "reasons": reasons, "kept": kept})
    except Exception:
        pass
    if isinstance(exc, KeyboardInterrupt | SystemExit) and not isinstance(exc, RunInterrupted):
        raise RunInterrupted(ws.run_id, kept, cleaned, exc) from exc
    raise exc


def _ledger_run(git: Git, ws: workspace.Workspace, outcome: dict[str, Any]) -> None:
    """A run that ended without a verdict (could not start, interrupted) is still an entry."""
    state = json.loads(ws.state_file.read_text())
    Ledger(git).append(Kind.RUN, {"worker": ws.worker, "run_id": ws.run_id, "base": ws.base,
                                  "task": _task(ws), "confined": state.get("confined", True)}, outcome)


def _run(git: Git, loaded: LoadedPolicy, ws: workspace.Workspace, command: list[str], keep: bool,
         echo: Callable[[bytes], None], started: float, trusted: collect.Trusted,
         before: dict[str, bytes | None] | None, notes: list[str], network: bool,
         installed: runtime_config.Installed) -> RunResult:
    w = loaded.policy.workers[ws.worker]
    cwd = ws.checkout / (w.cwd or "")
    if not cwd.is_dir():
        cwd = ws.checkout
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"LANEWARDEN_WORKER": ws.worker, "LANEWARDEN_RUN_ID": ws.run_id, "LANEWARDEN_TASK": _task(ws) or "",
                "LANEWARDEN_CONTEXT": str(ws.context_file), "LANEWARDEN_BASE": ws.base})
    env.pop(runtime_config.INSTALLED_ENV, None)  # a record only this run may name
    if installed.manifest is not None:
        env[runtime_config.INSTALLED_ENV] = str(installed.manifest)
    box = sandbox.confine(checkout=ws.checkout, repository=(git.common_dir, *([git.top] if git.top else [])),
                          context=ws.context_file, network=network, unconfined=before is not None)
    notes.extend(box.notes)
    reasons: list[str] = []
    timeout = w.budgets.timeout_s
    try:
        code = process.run_agent(box.command_line(command, cwd), cwd=cwd, env=env, log=ws.log_file, echo=echo,
                                 timeout=timeout, on_spawn=lambda pgid: workspace.write_state(ws, agent_pgid=pgid))
    except OSError as exc:
        why = f"cannot start {command[0]!r}: {exc.strerror}"
        workspace.remove(ws)
        workspace.write_state(ws, status="rejected", reasons=[why])
        _ledger_run(git, ws, {"outcome": "rejected", "reasons": [why]})
        raise InputError(why) from None
    if code is None:
        reasons.append(f"timed out after {timeout}s (budget timeout_s); the agent and all it started were stopped")
    elif code != 0:
        reasons.append(f"the agent exited with code {code}")
    if before is not None:
        reasons.extend(unconfined.restore(git, before, notes))
        after = git.ref_value(LEDGER_REF)
        if trusted.ledger is not None and (after is None or not Ledger(git).extends(trusted.ledger, after)):
            # Only a rewrite loses the old head (appends keep it): put the chain back as it was.
            git.set_ref(LEDGER_REF, trusted.ledger)
            reasons.append("protected: the ledger was rewritten during the run (its old head was gone); "
                           f"restored to {trusted.ledger[:12]}, see `lanewarden ledger verify`")
        # Lanewarden's own git dir for the run sits outside the clone, but not out of an
        # unconfined agent's reach: pin its HEAD again before reading through it.
        ws.reader.set_ref("HEAD", ws.base)
    return _settle(git, loaded, ws, reasons, keep, started, notes, trusted, installed)


def _settle(git: Git, loaded: LoadedPolicy, ws: workspace.Workspace, reasons: list[str], keep: bool,
            started: float, notes: list[str], trusted: collect.Trusted,
            installed: runtime_config.Installed) -> RunResult:
    reader = ws.reader
    # Whatever the agent committed, switched or edited is judged as one change from the base:
    # the clone's final work tree, untracked files included, read through lanewarden's own git dir.
    sparse = workspace.sparse_set(loaded, ws.worker) if loaded.policy.workers[ws.worker].high_risk else ("**",)
    # The runtime config lanewarden installed is not the agent's change while it is exactly as written
    # (the record is this process's, never the run folder's copy an unconfined agent could rewrite).
    guarded = guard(reader, GuardRequest(mode=Mode.WORKTREE, worker=ws.worker, sparse_set=sparse,
                                         overrides=trusted.overrides, keep_change=True,
                                         installed=installed.files or None), cut=True, loaded=loaded)
    verdict, patches = guarded.verdict, dict(guarded.patches)
    change = patches.pop(FULL_CHANGE, b"")
    evidence = ws.folder / "verdict.json"
    evidence.write_text(json.dumps(verdict.as_json(), indent=2) + "\n")
    for vote in verdict.votes:
        if vote.guard != "scope" and vote.vote != VoteValue.APPROVE:
            reasons.extend(f"{vote.guard}: {r}" for r in vote.reasons)  # a crashed guard fails closed
    confined = json.loads(ws.state_file.read_text()).get("confined") is not False
    result = RunResult(ws.run_id, ws.worker, "rejected", 1, None, None, reasons=reasons, notes=notes,
                       log=str(ws.log_file), changed_files=len(verdict.changes), verdict=verdict,
                       confined=confined, agent_runtime=installed.runtime,
                       agent_config=sorted(installed.files))
    evidence_of = {"change": change, "overrides": trusted.overrides}
    if reasons:
        collect.save_attempt(ws, verdict)
        workspace.remove(ws)
        return _finish(ws, result, started, git, evidence_of)
    stays = ("writable", "handoff_required", "shared_append")
    kept = [c.path for c in verdict.changes if c.path_class in stays]
    queued: list[Stored] = []
    queue = Queue(git)
    who = actor(git)[0]
    for record in build.from_verdict(loaded.policy, verdict, patches, who=who, task=_task(ws)):
        stored, _ = queue.create(record)
        queued.append(stored)
    proposed, import_notes = collect.import_proposals(git, loaded, ws, _task(ws))
    notes.extend(import_notes)
    result.proposed = [s.handoff.id for s in proposed]
    commit = None
    if kept:
        commit = collect.land(git, ws, kept, _message(ws))
        check = guard(git, GuardRequest(mode=Mode.RANGE, worker=ws.worker, base=ws.base, head=commit)).verdict
        if check.decision == Decision.REJECT:  # fail closed: what we committed must pass on its own
            git.delete_ref(f"refs/heads/{ws.branch}", commit)
            workspace.remove(ws)
            result.reasons.append("the kept commit did not pass the guard on its own; rolled back")
            return _finish(ws, result, started, git, evidence_of)
    result.commit = commit
    result.branch = ws.branch if commit else None
    result.handoffs = [s.handoff.id for s in queued]
    result.outcome = "split" if queued else "accepted"
    result.exit_code = 3 if queued else 0
    if not keep:
        workspace.remove(ws)
    return _finish(ws, result, started, git, evidence_of)


def _task(ws: workspace.Workspace) -> str | None:
    state = json.loads(ws.state_file.read_text())
    task = state.get("task")
    return task if isinstance(task, str) and task else None


def _message(ws: workspace.Workspace) -> str:
    state = json.loads(ws.state_file.read_text())
    task = state.get("task") or "(no task given)"
    return (f"{ws.worker}: {task}\n\nLanewarden-Worker: {ws.worker}\nLanewarden-Run: {ws.run_id}\n"
            f"Lanewarden-Context: {state.get('context_hash')}\n")


def _finish(ws: workspace.Workspace, result: RunResult, started: float, git: Git,
            evidence: dict[str, Any]) -> RunResult:
    """Write the run's state and its ledger entry (with the change, so it can be replayed)."""
    if result.verdict is not None:
        state = json.loads(ws.state_file.read_text())
        record_decision(git, result.verdict, kind=Kind.RUN, change=evidence["change"],
                        overrides=evidence["overrides"], handoff_ids=result.handoffs + result.proposed,
                        keep=tuple(c for c in (result.commit,) if c),
                        inputs={"run_id": ws.run_id, "task": state.get("task"),
                                "context_hash": state.get("context_hash"), "branch": ws.branch,
                                "confinement": "bubblewrap" if result.confined else "unconfined",
                                "network": state.get("network", True),
                                "agent_runtime": result.agent_runtime, "agent_config": result.agent_config},
                        outcome={"outcome": result.outcome, "run_exit_code": result.exit_code,
                                 "commit": result.commit, "reasons": result.reasons,
                                 "proposed": result.proposed})
    result.seconds = time.monotonic() - started
    workspace.write_state(ws, status=result.outcome, outcome=result.outcome, commit=result.commit,
                          branch=result.branch or ws.branch, handoffs=result.handoffs, proposed=result.proposed,
                          reasons=result.reasons, notes=result.notes, seconds=result.seconds,
                          exit_code=result.exit_code, changed_files=result.changed_files, finished=time.time())
    return result
