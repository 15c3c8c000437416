"""``run collect``: what a node returned, judged on the orchestrator with its own trusted policy.

The node is not trusted. Checked before anything is read as a change:
the manifest that came back is byte for byte the one the orchestrator keeps
(its run record, or ``--prepared DIR`` straight from the trusted prepare job);
``result.json`` names that manifest; the result bundle carries exactly one
ref, ``refs/lanewarden/result``, whose commit has the pinned base as its only
parent. The bundle is fetched into ``refs/lanewarden/quarantine/<run-id>``
(removed again at the end), the change base..result is guarded in range mode
with the policy committed in the base, and lanewarden itself lands the
writable paths, queues handoffs and re-proposes the agent's proposals as new
records of the run's worker. Any doubt rolls the run back with the reason;
every outcome is a ledger entry, and the orchestrator is the one writer.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from lanewarden.guards import override, redaction
from lanewarden.orchestrator.runs import collect, portable, workspace
from lanewarden.orchestrator.runs.result import RunResult
from lanewarden.workers.errors import InputError, LanewardenError
from lanewarden.workers.git import Git

QUARANTINE = collect.QUARANTINE
MAX_HANDOFF_FILES = collect.MAX_PROPOSALS
# Fetching a bundle stores its whole pack; a run's change is far smaller than this.
MAX_BUNDLE_BYTES = 512 << 20
MAX_NODE_NOTES = 20


def collect_run(git: Git, folder: Path, *, prepared: Path | None = None) -> RunResult:
    """Judge the run returned in ``folder``; a node that lied, crashed or returned nothing is rolled back."""
    if prepared is not None:
        manifest, digest = portable.adopt(git, prepared)
    else:
        claimed, _ = portable.read_manifest(folder)
        found = portable.trusted_manifest(git, claimed["run_id"])
        if found is None:
            raise InputError(f"run {claimed['run_id']} was not prepared in this repository",
                             hint="pass --prepared DIR with the folder as the trusted prepare job wrote it")
        manifest, digest = found
    ws = workspace.Workspace(manifest["run_id"], str(manifest["worker"]), str(manifest["branch"]),
                             workspace.run_folder(git, manifest["run_id"]),
                             Git(workspace.run_folder(git, manifest["run_id"]) / "checkout" / ".git", None),
                             str(manifest["base"]))
    state = json.loads(ws.state_file.read_text())
    if state.get("status") != "prepared":
        raise InputError(f"run {ws.run_id} was collected already ({state.get('status')})",
                         hint=f"lanewarden runs show {ws.run_id}")
    try:  # two collects of one run at once: only the first gets past this (never removed: a run lands once)
        os.close(os.open(ws.folder / "collect.lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        raise InputError(f"run {ws.run_id} is being collected already",
                         hint=f"lanewarden runs show {ws.run_id}") from None
    workspace.write_state(ws, status="collecting", returned=str(folder.resolve()))
    returned = _read_result(folder, digest)
    seconds = returned.get("seconds")
    started = time.monotonic() - (float(seconds) if isinstance(seconds, int | float) and seconds >= 0 else 0.0)
    confined = returned.get("confined") is not False
    workspace.write_state(ws, confined=confined, network=returned.get("network") is not False)
    notes = returned.get("notes")
    result = RunResult(ws.run_id, ws.worker, "rejected", 1, None, None, reasons=list(returned["reasons"]),
                       notes=[_said(n) for n in (notes if isinstance(notes, list) else [])[:MAX_NODE_NOTES]],
                       log="", confined=confined)
    log = folder / portable.RESULT_DIR / "log.txt"
    if _plain_file(log) and log.stat().st_size < (64 << 20):
        ws.log_file.write_text(redaction.scrub(log.read_text("utf-8", "surrogateescape")), "utf-8",
                               "surrogateescape")
        result.log = str(ws.log_file)
    if result.reasons:
        return collect.rolled_back(git, ws, result, started)
    # The agent's own failure (an exit code, a timeout) is judged like a local run's: its result is
    # still guarded and kept as evidence, and the run rolled back by the shared collect.
    result.reasons.extend(returned.get("agent_reasons", []))
    quarantine = f"{QUARANTINE}{ws.run_id}"
    try:
        head = _fetch(git, folder, ws.base, quarantine, result.reasons)
        if head is None:
            return collect.rolled_back(git, ws, result, started)
        return _judge(git, ws, folder, head, returned, result, started)
    except Exception as exc:
        # Fail closed: a collect that broke half-way lands nothing and is still a recorded run.
        state = json.loads(ws.state_file.read_text())
        commit = state.get("commit")
        if state.get("created_branch") == ws.branch and isinstance(commit, str):
            git.delete_ref(f"refs/heads/{ws.branch}", commit)
        result.reasons.append(f"collect failed ({type(exc).__name__}: {exc}); nothing was landed")
        result.commit = result.branch = None
        result.outcome, result.exit_code = "rejected", 1
        return collect.rolled_back(git, ws, result, started)
    finally:
        git.delete_ref(quarantine)


def _read_result(folder: Path, digest: str) -> dict[str, Any]:
    """What the node says, with ``reasons`` to roll back for (a lie, a crash, nothing returned)."""
    reasons: list[str] = []
    try:
        _, back = portable.read_manifest(folder)
        if back != digest:
            reasons.append("the manifest that came back is not the one prepared (tampered)")
    except InputError:
        reasons.append("the manifest did not come back")
    path = folder / portable.RESULT_DIR / "result.json"
    try:
        if not _plain_file(path) or (folder / portable.RESULT_DIR).is_symlink():
            raise ValueError("no result.json, or a symlink")
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a mapping")
    except (OSError, ValueError):
        return {"reasons": [*reasons, "the node returned no result (crashed, lost, or never ran)"]}
    if data.get("manifest_sha256") != digest:
        reasons.append("the result names another manifest")
    if data.get("error"):
        reasons.append(f"the node: {_said(data['error'])}")
    code = data.get("exit_code")
    agent: list[str] = []
    if data.get("timed_out"):
        agent.append("timed out (budget timeout_s); the agent and all it started were stopped")
    elif code != 0 and not data.get("error"):
        agent.append(f"the agent exited with code {code}")
    data["reasons"] = reasons
    data["agent_reasons"] = agent
    return data


def _fetch(git: Git, folder: Path, base: str, quarantine: str, reasons: list[str]) -> str | None:
    """The result commit, fetched into quarantine once the bundle passed every check; else None."""
    bundle = (folder / portable.RESULT_DIR / "result.bundle").absolute()
    if not _plain_file(bundle):
        reasons.append("the node returned no result bundle")
        return None
    if bundle.stat().st_size > MAX_BUNDLE_BYTES:  # its whole pack would enter the object store
        reasons.append(f"the result bundle is larger than {MAX_BUNDLE_BYTES >> 20} MiB")
        return None
    try:
        heads = git.bundle_heads(str(bundle))
    except LanewardenError as exc:
        reasons.append(f"the result bundle is unreadable: {exc.message}")
        return None
    if [name for _, name in heads] != [portable.RESULT_REF]:
        reasons.append(f"the result bundle must carry exactly {portable.RESULT_REF}; it carries "
                       f"{', '.join(name for _, name in heads) or 'nothing'}")
        return None
    problem = git.bundle_verify(str(bundle))
    if problem is not None:
        reasons.append(f"the result bundle does not verify here: {problem.splitlines()[-1]}")
        return None
    try:
        git.fetch(str(bundle), [f"+{portable.RESULT_REF}:{quarantine}"])
    except LanewardenError as exc:
        reasons.append(f"the result bundle could not be fetched: {exc.message}")
        return None
    head = git.ref_value(quarantine)
    if head is None or head != heads[0][0] or git.object_types([head]).get(head) != "commit":
        reasons.append("the result bundle's ref is not the commit it claims")
        return None
    if git.parents(head) != [base]:
        reasons.append("the result is not one commit on the pinned base (the node rebased or forged history)")
        return None
    return head


def _judge(git: Git, ws: workspace.Workspace, folder: Path, head: str, returned: dict[str, Any],
           result: RunResult, started: float) -> RunResult:
    """The shared collect (collect.judge), with the result in quarantine and the proposals as files."""
    return collect.judge(git, ws, git, head, result, started, overrides=override.load(git),
                         proposals=_handoff_files(folder, returned))


def _handoff_files(folder: Path, returned: dict[str, Any]) -> list[tuple[str, bytes]]:
    listed = returned.get("handoffs")
    out: list[tuple[str, bytes]] = []
    for item in (listed if isinstance(listed, list) else [])[:MAX_HANDOFF_FILES]:
        name = item.get("file") if isinstance(item, dict) else None
        if not isinstance(name, str) or "/" in name or name.startswith("."):
            continue
        path = folder / portable.RESULT_DIR / "handoffs" / name
        if _plain_file(path) and path.stat().st_size <= collect.MAX_HANDOFF_BYTES:
            out.append((str(item.get("name") or name), path.read_bytes()))
    return out


def _said(text: object) -> str:
    """Words from the node, for reasons and notes: short, one line, token-like content redacted."""
    return redaction.scrub(str(text).replace("\n", " "))[:500]


def _plain_file(path: Path) -> bool:
    """A regular file, not a symlink: a returned folder must not make collect read the orchestrator's files."""
    return path.is_file() and not path.is_symlink()
