"""Worker workspaces: a disposable clone per run, sparse for high-risk workers, and its context pack.

A run's files live under ``<common git dir>/lanewarden/runs/<run-id>/``: the
clone (``checkout/``), lanewarden's own git dir for reading it back
(``git/``), the context pack, the log and the run's state. Every path is
derived from the run id, which must match :data:`RUN_ID`; nothing a state file
says is ever used as a path to write or remove.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanewarden.workers.errors import InputError, unknown_worker_hint
from lanewarden.workers.git import Git
from lanewarden.workers.layout import BRANCH_PREFIX, POLICY_FILE

if TYPE_CHECKING:
    from lanewarden.workers.loader import LoadedPolicy

# What new_run_id makes, and nothing else: no separators, no dots, no way out of the runs folder.
RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{12}-[0-9a-f]{6}$")


def common_dir(git: Git) -> Path:
    return git.common_dir


def runs_root(git: Git) -> Path:
    return common_dir(git) / "lanewarden" / "runs"


def new_run_id() -> str:
    # Microseconds keep ids in start order even for runs started in the same second.
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    return f"{stamp}-{secrets.token_hex(3)}"


def run_folder(git: Git, run_id: str) -> Path:
    """The one folder a run owns; an id that is not lanewarden's is refused."""
    if not RUN_ID.match(run_id):
        raise InputError(f"{run_id!r} is not a run id", hint="see lanewarden runs list")
    return runs_root(git) / run_id


@dataclass(frozen=True)
class Workspace:
    run_id: str
    worker: str
    branch: str  # the branch lanewarden creates in the main repository if it keeps a commit
    folder: Path  # the run's folder (outside every work tree)
    git: Git  # the clone, as the agent left it: for its refs (handoffs) only, never trusted
    base: str

    @property
    def checkout(self) -> Path:
        return self.folder / "checkout"

    @property
    def admin_dir(self) -> Path:
        return self.folder / "git"

    @property
    def context_file(self) -> Path:
        return self.folder / "context.json"

    @property
    def log_file(self) -> Path:
        return self.folder / "log.txt"

    @property
    def state_file(self) -> Path:
        return self.folder / "state.json"

    @property
    def attempt_file(self) -> Path:
        return self.folder / "attempt.diff"

    @property
    def reader(self) -> Git:
        """lanewarden's own handle on the checkout: its git dir, HEAD at the base, main's objects."""
        return Git(self.admin_dir, self.checkout)


def sparse_set(loaded: LoadedPolicy, worker: str) -> tuple[str, ...]:
    """Patterns a high-risk worker's sparse checkout holds: writable set, read hints, contracts."""
    policy = loaded.policy
    w = policy.workers[worker]
    patterns = [POLICY_FILE, "AGENTS.md", *w.allow, *w.read_hints, *w.propose_only]
    for contract in policy.contracts.values():
        if worker in contract.producers or worker in contract.consumers:
            patterns += list(contract.paths)
    if w.cwd:
        parts = w.cwd.strip("/").split("/")
        patterns += ["/".join(parts[:i]) + "/AGENTS.md" for i in range(1, len(parts) + 1)]
    return tuple(dict.fromkeys(patterns))


def _sparse_patterns(loaded: LoadedPolicy, worker: str) -> list[str]:
    """Non-cone sparse-checkout lines for :func:`sparse_set` (anchored, like our patterns)."""
    return ["/" + pattern.rstrip("/") for pattern in sparse_set(loaded, worker)]


def create(git: Git, loaded: LoadedPolicy, worker: str, base: str) -> Workspace:
    """A new clone of ``base`` on branch ``lanewarden/<worker>/<run-id>`` inside the run's folder.

    ``git clone --shared --no-checkout`` borrows the main repository's objects
    through an alternates file (read-only for the agent: the sandbox mounts the
    main repository read-only), then one checkout of the pinned base.
    """
    if worker not in loaded.policy.workers:
        raise InputError(f"unknown worker {worker!r}",
                         hint=unknown_worker_hint(worker, loaded.policy.workers))
    run_id = new_run_id()
    folder = run_folder(git, run_id)
    folder.mkdir(parents=True, exist_ok=False)
    branch = f"{BRANCH_PREFIX}{worker}/{run_id}"
    ws = Workspace(run_id, worker, branch, folder, Git(folder / "checkout" / ".git", folder / "checkout"), base)
    try:
        clone = git.clone_shared(ws.checkout)
        high_risk = loaded.policy.workers[worker].high_risk
        clone.checkout_branch(branch, base, sparse=_sparse_patterns(loaded, worker) if high_risk else None)
        # lanewarden's own git dir for reading the result back: HEAD at the base, the index
        # (skip-worktree flags of a sparse checkout) as lanewarden wrote it, main's objects only.
        Git.shadow(ws.admin_dir, common_dir(git) / "objects", ws.checkout, base)
        shutil.copyfile(clone.git_dir / "index", ws.admin_dir / "index")
    except BaseException:
        remove(ws)  # Ctrl-C or a failure half-way: no half-made clone stays behind
        raise
    return dataclasses.replace(ws, git=clone)


def remove(ws: Workspace) -> list[str]:
    """Take the clone and lanewarden's git dir for it away; the run folder keeps the evidence.

    Only paths derived from the run id are removed (see :func:`run_folder`).
    """
    removed = []
    for path in (ws.checkout, ws.admin_dir):
        if path.is_symlink():
            path.unlink()
            removed.append(str(path))
        elif path.exists():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed


def agents_chain(git: Git, base: str, cwd: str | None) -> list[dict[str, str]]:
    """The AGENTS.md files from the repository root down to ``cwd``, as committed in ``base``."""
    folders = [""]
    if cwd:
        parts = cwd.strip("/").split("/")
        folders += ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    specs = [(base, f"{f}/AGENTS.md" if f else "AGENTS.md") for f in folders]
    git.prefetch([], specs)
    out = []
    for rev, path in specs:
        text = git.read_file_at(rev, path)
        if text is not None:
            out.append({"path": path, "text": text.decode("utf-8", "replace")})
    return out


def context_pack(git: Git, loaded: LoadedPolicy, ws: Workspace, task: str | None,
                 open_handoffs: list[dict[str, Any]]) -> dict[str, Any]:
    """What the agent should know, with a hash over all of it (recorded with the run)."""
    policy = loaded.policy
    w = policy.workers[ws.worker]
    produces = {cid: {"paths": list(c.paths), "consumers": list(c.consumers)}
                for cid, c in policy.contracts.items() if ws.worker in c.producers}
    consumes = {cid: {"paths": list(c.paths), "producers": list(c.producers)}
                for cid, c in policy.contracts.items() if ws.worker in c.consumers}
    pack: dict[str, Any] = {
        "schema": "lanewarden.context/1",
        "worker": ws.worker, "run_id": ws.run_id, "task": task, "cwd": w.cwd,
        "allow": list(w.allow), "deny": list(w.deny), "propose_only": list(w.propose_only),
        "handoff_required_on": list(w.handoff_required_on), "read_hints": list(w.read_hints),
        "budgets": dataclasses.asdict(w.budgets), "high_risk": w.high_risk,
        "contracts": {"produces": produces, "consumes": consumes},
        "open_handoffs": open_handoffs,
        "agents_md": agents_chain(git, ws.base, w.cwd),
        "base": ws.base, "policy_sha256": loaded.sha256,
        "how_to_hand_off": "lanewarden handoff propose --problem ... --evidence ... [--patch FILE] "
                           "(worker, task and base come from the environment)",
    }
    canon = json.dumps(pack, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogateescape")
    pack["context_hash"] = hashlib.sha256(canon).hexdigest()
    return pack


def write_state(ws: Workspace, **fields: Any) -> None:
    """Update the run's state file atomically (readers never see half a file)."""
    current: dict[str, Any] = {}
    if ws.state_file.exists():
        current = json.loads(ws.state_file.read_text())
    current.update(fields)
    tmp = ws.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, indent=2) + "\n")
    os.replace(tmp, ws.state_file)


def write_attempt(path: Path, patch: bytes) -> None:
    """Keep an attempt's change as evidence (never applied).

    The one place attempt diffs are written, so redacting secret-like hunks
    can happen here for every caller.
    """
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(patch)
    os.replace(tmp, path)
