"""``run execute``: a prepared run on any machine with git, lanewarden and the agent.

Nothing here is trusted by the orchestrator; this side only has to be honest
enough to be useful. It unpacks the base bundle into a fresh clone, runs the
agent confined as a local run is (bubblewrap, or ``--unconfined``), then
commits the work tree's final state (untracked and ignored files included,
whatever the agent committed or switched) as ONE commit on the base, in a git
dir of its own beside the clone, and writes into ``DIR/result/``:
``result.bundle`` (that commit, ``^base``), ``result.json``, ``log.txt`` and
``handoffs/*.json`` (the agent's proposals). ``run collect`` judges all of it.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lanewarden.guards import redaction
from lanewarden.guards.sources import as_installed
from lanewarden.orchestrator.runs import agent as process
from lanewarden.orchestrator.runs import collect, portable, sandbox
from lanewarden.workers.errors import InputError, LanewardenError
from lanewarden.workers.git import Git

NODE_AUTHOR = ("lanewarden node", "node@lanewarden.invalid")


def execute(folder: Path, command: list[str], *, confined: bool = True, network: bool = True,
            source: str | None = None, echo: Callable[[bytes], None] = lambda b: None,
            on_state: Callable[[dict[str, Any]], None] = lambda s: None) -> dict[str, Any]:
    """Run the prepared run in ``folder``; returns what ``result/result.json`` says."""
    if not command:
        raise InputError("no command to run", hint="lanewarden run execute DIR -- COMMAND [ARGS...]")
    manifest, digest = portable.read_manifest(folder)
    bad = portable.check_files(folder, manifest)
    if bad:
        raise InputError(f"{folder}: {', '.join(bad)} do not match the manifest", hint="prepare the run again")
    bundled = portable.BUNDLE in (manifest.get("files") or {})
    if not bundled and not source:
        raise InputError(f"{folder}: this run carries no base bundle",
                         hint=f"pass --from REMOTE (a URL or path that has commit {manifest.get('base')})")
    out = folder / portable.RESULT_DIR
    if out.exists():
        raise InputError(f"{out} exists: this run was executed already")
    if confined:
        sandbox.require()
    if manifest.get("network") is False:
        network = False
    work = Path(tempfile.mkdtemp(prefix="lanewarden-node-"))
    staging = work / "result"
    (staging / "handoffs").mkdir(parents=True)
    result: dict[str, Any] = {"schema": portable.SCHEMA, "run_id": manifest["run_id"], "manifest_sha256": digest,
                              "confined": confined, "network": network, "exit_code": None, "timed_out": False,
                              "error": None, "result": None, "handoffs": [], "notes": []}
    started = time.monotonic()
    try:
        _execute(folder, manifest, command, work, staging, result, echo, on_state, None if bundled else source)
        result["seconds"] = round(time.monotonic() - started, 3)
        (staging / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        # The result appears whole or not at all: a crash half-way leaves no result folder.
        shutil.move(str(staging), str(out))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _execute(folder: Path, manifest: dict[str, Any], command: list[str], work: Path, staging: Path,
             result: dict[str, Any], echo: Callable[[bytes], None],
             on_state: Callable[[dict[str, Any]], None], source: str | None) -> None:
    base = str(manifest["base"])
    checkout = work / "checkout"
    clone = Git.init(checkout)
    if source is None:
        clone.fetch(str((folder / portable.BUNDLE).resolve()), [f"+{portable.BASE_REF}:{portable.BASE_REF}"])
    else:  # the commit by id: what the remote's branches say now does not matter
        clone.fetch(source, [f"+{base}:{portable.BASE_REF}"])
    if clone.ref_value(portable.BASE_REF) != base:
        raise InputError("the base bundle does not hold the manifest's base commit")
    sparse = manifest.get("sparse")
    clone.checkout_branch(str(manifest["branch"]), base,
                          sparse=[str(p) for p in sparse] if isinstance(sparse, list) else None)
    reader = Git.shadow(work / "git", checkout / ".git" / "objects", checkout, base)
    shutil.copyfile(clone.git_dir / "index", reader.git_dir / "index")
    context = work / "context.json"
    shutil.copyfile(folder / portable.CONTEXT, context)
    log = work / "log.txt"
    log.touch()
    cwd = checkout / str(manifest.get("cwd") or "")
    if not cwd.is_dir():
        cwd = checkout
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"LANEWARDEN_WORKER": str(manifest["worker"]), "LANEWARDEN_RUN_ID": str(manifest["run_id"]),
                "LANEWARDEN_TASK": str(manifest.get("task") or ""), "LANEWARDEN_CONTEXT": str(context),
                "LANEWARDEN_BASE": base})
    box = sandbox.confine(checkout=checkout, repository=(work,), context=context,
                          network=bool(result["network"]), unconfined=not result["confined"])
    result["notes"].extend(box.notes)
    timeout = manifest.get("timeout_s")
    on_state({"state": "running", "checkout": str(checkout)})
    try:
        code = process.run_agent(box.command_line(command, cwd), cwd=cwd, env=env, log=log, echo=echo,
                                 timeout=timeout if isinstance(timeout, int) else None)
    except OSError as exc:
        result["error"] = f"cannot start {command[0]!r}: {exc.strerror}"
        code = None
    result["exit_code"] = code
    result["timed_out"] = code is None and result["error"] is None
    on_state({"state": "packing"})
    try:
        commit = commit_result(reader, base, str(manifest["run_id"]))
        reader.bundle_create(str((staging / "result.bundle").resolve()), [portable.RESULT_REF], exclude=[base])
        result["result"] = commit
    except LanewardenError as exc:
        result["error"] = result["error"] or f"could not pack the result: {exc.message}"
    blobs, notes = collect.read_proposals(Git(checkout / ".git", None, bare=True))
    result["notes"].extend(notes)
    for i, (name, blob) in enumerate(blobs):
        file = f"{i:03d}.json"
        (staging / "handoffs" / file).write_bytes(blob)
        result["handoffs"].append({"file": file, "name": name})
    text = log.read_text("utf-8", "surrogateescape")
    (staging / "log.txt").write_text(redaction.scrub(text), "utf-8", "surrogateescape")


def commit_result(reader: Git, base: str, run_id: str, installed: Mapping[str, str] | None = None) -> str:
    """The work tree's final state as one commit on the base (the agent's own commits are not trusted).

    The execute step of every run, on a node or on the orchestrator's machine: ``reader`` is
    lanewarden's own git dir for the clone (never the clone's ``.git``). ``installed``: the runtime
    config lanewarden wrote (path -> sha256); a file still exactly as written is left out (not the
    agent's change), anything else about it is staged like every path.
    """
    index = reader.git_dir / "index"
    scratch = reader.git_dir / "index.result"
    shutil.copyfile(index, scratch)  # keeps a sparse checkout's skip-worktree flags: absent is not deleted
    env = {"GIT_INDEX_FILE": str(scratch)}
    reader.stage_all(env)
    if installed and reader.top is not None:
        top = reader.top
        reader.index_forget([p for p in sorted(installed) if as_installed(top, p, installed)], env=env)
    tree = reader.write_tree(env=env)
    commit = reader.commit_tree(tree, [base], f"lanewarden run {run_id}: the agent's final work tree\n", NODE_AUTHOR)
    reader.set_ref(portable.RESULT_REF, commit)
    return commit
