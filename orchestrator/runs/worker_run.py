"""``lanewarden run WORKER -- CMD``: a portable run's three steps on one machine.

prepare (:func:`prepare`): pin the base commit, load its policy (the trusted
one), make the run's folder and disposable clone, write the context pack and
record the run. execute: install the agent runtime's config in the clone, run
the agent confined by bubblewrap (``sandbox.py``: only the clone and a private
/tmp are writable, nothing it starts outlives it), then commit the clone's
final state as one commit on the base in lanewarden's own git dir
(``node.commit_result``, exactly as ``run execute`` does on a node). collect:
the same :func:`collect.judge` as ``run collect``; on one machine the hand-over
skips the bundle (the result is read through lanewarden's git dir, fetched into
the main repository only to land) and the manifest checks (nothing left this
process). A protected path, a secret, a budget breach, a crash or a timeout
rolls the run back (clone removed, evidence kept); otherwise lanewarden commits
the writable changes on ``lanewarden/<worker>/<run-id>`` and the rest become
handoffs. The main working tree, its index, refs, config and hooks are never
written.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import NoReturn

from lanewarden.guards import override
from lanewarden.guards.verdict import Verdict
from lanewarden.orchestrator.runs import agent as process
from lanewarden.orchestrator.runs import collect, portable, runtime_config, sandbox, unconfined, workspace
from lanewarden.orchestrator.runs.node import commit_result
from lanewarden.orchestrator.runs.records import clean, list_runs
from lanewarden.orchestrator.runs.result import RunInterrupted, RunResult
from lanewarden.workers.errors import InputError, LanewardenError
from lanewarden.workers.git import Git
from lanewarden.workers.ledger import REF as LEDGER_REF
from lanewarden.workers.ledger import Ledger
from lanewarden.workers.loader import LoadedPolicy

__all__ = ["RunInterrupted", "RunResult", "clean", "execute", "list_runs", "prepare"]


def prepare(git: Git, worker: str, command: list[str], *, task: str | None, base: str | None, confined: bool,
            network: bool) -> tuple[workspace.Workspace, LoadedPolicy, bool]:
    """Step one on this machine: the run, its clone and context pack, recorded as ``running``.

    The base is pinned and checked as ``run prepare`` does (``portable.pin``);
    the network setting that holds (the worker's budget may turn it off) is returned.
    """
    base_commit, loaded, network = portable.pin(git, worker, base, network)
    if confined:
        sandbox.require()  # refuse (exit 2) before anything is created
    ws = workspace.create(git, loaded, worker, base_commit)
    pack = workspace.context_pack(git, loaded, ws, task, collect.open_handoffs(git, worker))
    ws.context_file.write_text(json.dumps(pack, indent=2) + "\n")
    workspace.write_state(ws, run_id=ws.run_id, worker=worker, task=task, base=base_commit, branch=ws.branch,
                          status="running", pid=os.getpid(), command=command, started=time.time(),
                          context_hash=pack["context_hash"], checkout=str(ws.checkout), log=str(ws.log_file),
                          confined=confined, network=network)
    return ws, loaded, network


def execute(git: Git, worker: str, command: list[str], *, task: str | None = None, base: str | None = None,
            keep: bool = False, echo: Callable[[bytes], None] = lambda b: None,
            on_start: Callable[[workspace.Workspace], None] = lambda ws: None,
            confined: bool = True, network: bool = True, agent_config: bool = True) -> RunResult:
    """One run end to end. ``confined=False`` is ``--unconfined``; ``network=False`` is ``--no-network``;
    ``agent_config=False`` is ``--no-agent-config`` (no runtime config installed, runtime_config.py)."""
    if not command:
        raise InputError("no command to run", hint="lanewarden run WORKER -- COMMAND [ARGS...]")
    clean(git)  # tidy what an interrupted run left behind
    ws, loaded, network = prepare(git, worker, command, task=task, base=base, confined=confined, network=network)
    started = time.monotonic()
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
        head, reasons = _run(git, loaded, ws, command, echo, trusted, before, notes, network, installed)
        return _collect(git, ws, head, reasons, keep, started, notes, trusted, installed)
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
        collect.ledger_run(git, ws, {"outcome": "interrupted", "reasons": reasons, "kept": kept})
    except Exception:
        pass
    if isinstance(exc, KeyboardInterrupt | SystemExit) and not isinstance(exc, RunInterrupted):
        raise RunInterrupted(ws.run_id, kept, cleaned, exc) from exc
    raise exc


def _run(git: Git, loaded: LoadedPolicy, ws: workspace.Workspace, command: list[str],
         echo: Callable[[bytes], None], trusted: collect.Trusted,
         before: dict[str, bytes | None] | None, notes: list[str], network: bool,
         installed: runtime_config.Installed) -> tuple[str | None, list[str]]:
    """Step two on this machine: the agent in its confined clone, then its result as one commit on
    the base (None when the clone's state could not be read); with the reasons to roll back."""
    w = loaded.policy.workers[ws.worker]
    cwd = ws.checkout / (w.cwd or "")
    if not cwd.is_dir():
        cwd = ws.checkout
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"LANEWARDEN_WORKER": ws.worker, "LANEWARDEN_RUN_ID": ws.run_id,
                "LANEWARDEN_TASK": collect.task_of(ws) or "",
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
        collect.ledger_run(git, ws, {"outcome": "rejected", "reasons": [why]})
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
    try:
        # The clone's final state, read through lanewarden's own git dir; installed config left out.
        head: str | None = commit_result(ws.reader, ws.base, ws.run_id, installed.files)
    except LanewardenError as exc:
        head = None
        reasons.append(f"the clone's final state could not be read: {exc.message}")
    return head, reasons


def _collect(git: Git, ws: workspace.Workspace, head: str | None, reasons: list[str], keep: bool,
             started: float, notes: list[str], trusted: collect.Trusted,
             installed: runtime_config.Installed) -> RunResult:
    """Step three: the shared collect (``collect.judge``), handed the result through lanewarden's git dir."""
    confined = json.loads(ws.state_file.read_text()).get("confined") is not False
    result = RunResult(ws.run_id, ws.worker, "rejected", 1, None, None, reasons=reasons, notes=notes,
                       log=str(ws.log_file), confined=confined, agent_runtime=installed.runtime,
                       agent_config=sorted(installed.files))
    if head is None:
        collect.save_attempt(ws)
        workspace.remove(ws)
        return collect.rolled_back(git, ws, result, started)
    # Handoffs the agent queued in its clone: the refs a node exports as files.
    proposals, read_notes = collect.read_proposals(Git(ws.checkout / ".git", None, bare=True))
    result.notes.extend(read_notes)

    def attempt(verdict: Verdict, change: bytes) -> None:
        # The clone's whole state (installed config included), redacted: what the agent left.
        collect.save_attempt(ws, verdict)

    result = collect.judge(git, ws, ws.reader, head, result, started, overrides=trusted.overrides,
                           proposals=proposals, attempt=attempt)
    if result.outcome == "rejected" or not keep:
        workspace.remove(ws)
    return result
