"""A portable run: ``run prepare`` writes a folder another machine can execute.

The folder holds only files: ``base.bundle`` (the pinned base and its
history, as a git bundle), ``context.json`` (the context pack) and
``manifest.json`` (the run's parameters and the sha256 of each file). The
manifest's own sha256 is the run's identity: the orchestrator keeps a copy of
the manifest in its run record (``runs/<run-id>/manifest.json``), and
``run collect`` trusts that copy (or the one in ``--prepared DIR``, the folder
exactly as the trusted prepare job wrote it), never the one that comes back
from the node.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lanewarden.orchestrator.runs import collect, workspace
from lanewarden.workers.errors import InputError, unknown_worker_hint
from lanewarden.workers.git import Git
from lanewarden.workers.layout import BRANCH_PREFIX
from lanewarden.workers.loader import LoadedPolicy, load_revision

SCHEMA = "lanewarden.portable/1"
MANIFEST = "manifest.json"
BUNDLE = "base.bundle"
CONTEXT = "context.json"
BASE_REF = "refs/lanewarden/base"
RESULT_REF = collect.RESULT_REF
RESULT_DIR = "result"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(folder: Path) -> tuple[dict[str, Any], str]:
    """The manifest of a prepared folder and its sha256 (an InputError if it is not one)."""
    path = folder / MANIFEST
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a prepared run ({exc})",
                         hint="lanewarden run prepare WORKER --task T --out DIR writes one") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InputError(f"{path}: not a {SCHEMA} manifest")
    run_id = data.get("run_id")
    if not isinstance(run_id, str) or not workspace.RUN_ID.match(run_id):
        raise InputError(f"{path}: no valid run id")
    return data, hashlib.sha256(raw).hexdigest()


def check_files(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """Files of the folder whose sha256 is not the manifest's (missing ones included)."""
    bad = []
    files = manifest.get("files")
    for name, digest in (files.items() if isinstance(files, dict) else ()):
        path = folder / str(name)
        if "/" in str(name) or not path.is_file() or sha256_file(path) != digest:
            bad.append(str(name))
    return bad


def pin(git: Git, worker: str, base: str | None, network: bool) -> tuple[str, LoadedPolicy, bool]:
    """The first thing every run's prepare does (local or portable): the base as a commit id, its
    policy (the trusted one for the whole run), the worker checked against it, and the network
    setting that holds (a worker whose budget says ``network: false`` never gets one)."""
    base_commit = git.resolve_commit(base or "HEAD", what="base revision")
    loaded = load_revision(git, base_commit)
    if worker not in loaded.policy.workers:
        raise InputError(f"unknown worker {worker!r}", hint=unknown_worker_hint(worker, loaded.policy.workers))
    return base_commit, loaded, network and loaded.policy.workers[worker].budgets.network is not False


def prepare(git: Git, worker: str, out: Path, *, task: str | None = None, base: str | None = None,
            network: bool = True, bundle: bool = True) -> dict[str, Any]:
    """Write a portable run into ``out`` (empty or absent) and record it; returns the manifest plus its hash.

    ``bundle=False``: no base bundle; the node fetches the base commit itself
    (``run execute --from REMOTE``), for large histories and nodes that can reach the remote.
    """
    base_commit, loaded, network = pin(git, worker, base, network)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} is not empty", hint="prepare into a new folder")
    w = loaded.policy.workers[worker]
    run_id = workspace.new_run_id()
    folder = workspace.run_folder(git, run_id)
    folder.mkdir(parents=True, exist_ok=False)
    ws = workspace.Workspace(run_id, worker, f"{BRANCH_PREFIX}{worker}/{run_id}", folder,
                             Git(folder / "checkout" / ".git", None), base_commit)
    out.mkdir(parents=True, exist_ok=True)
    if bundle:
        _bundle_base(git, base_commit, out / BUNDLE)
    pack = workspace.context_pack(git, loaded, ws, task, collect.open_handoffs(git, worker))
    (out / CONTEXT).write_text(json.dumps(pack, indent=2) + "\n")
    manifest: dict[str, Any] = {
        "schema": SCHEMA, "run_id": run_id, "worker": worker, "task": task, "base": base_commit,
        "branch": ws.branch, "cwd": w.cwd, "network": network, "timeout_s": w.budgets.timeout_s,
        "sparse": workspace._sparse_patterns(loaded, worker) if w.high_risk else None,
        "policy_sha256": loaded.sha256, "context_hash": pack["context_hash"],
        "base_from": "bundle" if bundle else "fetch",
        "files": {name: sha256_file(out / name) for name in ((BUNDLE, CONTEXT) if bundle else (CONTEXT,))},
    }
    raw = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    (out / MANIFEST).write_bytes(raw)
    digest = hashlib.sha256(raw).hexdigest()
    # The orchestrator's own copy: collect trusts this, never what comes back.
    (folder / MANIFEST).write_bytes(raw)
    shutil.copyfile(out / CONTEXT, ws.context_file)
    workspace.write_state(ws, run_id=run_id, worker=worker, task=task, base=base_commit, branch=ws.branch,
                          status="prepared", portable=True, manifest_sha256=digest, started=time.time(),
                          context_hash=pack["context_hash"], network=network, prepared=str(out.resolve()))
    return {**manifest, "manifest_sha256": digest, "out": str(out.resolve())}


def _bundle_base(git: Git, base: str, path: Path) -> None:
    """A bundle of ``base`` and its history, made in a scratch git dir: no ref of the repository moves.

    git bundles name refs, so the base gets one in a throwaway git dir that
    borrows the repository's objects.
    """
    with tempfile.TemporaryDirectory(prefix="lanewarden-bundle-") as tmp:
        scratch = Git.init(Path(tmp) / "git", bare=True)
        (scratch.git_dir / "objects" / "info" / "alternates").write_text(f"{git.common_dir / 'objects'}\n")
        scratch.set_ref(BASE_REF, base)
        scratch.bundle_create(str(path.resolve()), [BASE_REF])


def adopt(git: Git, trusted: Path) -> tuple[dict[str, Any], str]:
    """Record a run prepared by another job from its trusted folder (CI: prepare and collect in two jobs).

    Returns the trusted manifest and its hash. A run already recorded here
    must carry the same manifest.
    """
    manifest, digest = read_manifest(trusted)
    folder = workspace.run_folder(git, manifest["run_id"])
    if (folder / MANIFEST).is_file():
        if hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest() != digest:
            raise InputError(f"run {manifest['run_id']} is recorded here with another manifest")
        return manifest, digest
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trusted / MANIFEST, folder / MANIFEST)
    ws = workspace.Workspace(manifest["run_id"], str(manifest["worker"]), str(manifest["branch"]), folder,
                             Git(folder / "checkout" / ".git", None), str(manifest["base"]))
    if (trusted / CONTEXT).is_file():
        shutil.copyfile(trusted / CONTEXT, ws.context_file)
    workspace.write_state(ws, run_id=ws.run_id, worker=ws.worker, task=manifest.get("task"), base=ws.base,
                          branch=ws.branch, status="prepared", portable=True, manifest_sha256=digest,
                          started=time.time(), context_hash=manifest.get("context_hash"),
                          network=manifest.get("network", True), prepared=str(trusted.resolve()),
                          adopted_by=os.environ.get("LANEWARDEN_ACTOR", ""))
    return manifest, digest


def trusted_manifest(git: Git, run_id: str) -> tuple[dict[str, Any], str] | None:
    """The orchestrator's copy of a run's manifest and its hash, or None when this repository has none."""
    folder = workspace.run_folder(git, run_id)
    if not (folder / MANIFEST).is_file():
        return None
    return read_manifest(folder)
