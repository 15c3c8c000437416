"""Worker workspaces: a git worktree per run, sparse for high-risk workers, and its context pack.

A run's files live under ``<common git dir>/lanewarden/runs/<run-id>/``: the
worktree, the context pack, the log and the run's state. That folder is outside
the main working tree, so nothing a run writes there is ever part of a diff.
"""
from __future__ import annotations

import dataclasses
import datetime
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanewarden.workers.errors import InputError, unknown_worker_hint
from lanewarden.workers.git import Git
from lanewarden.workers.layout import BRANCH_PREFIX, POLICY_FILE

if TYPE_CHECKING:
    from lanewarden.workers.loader import LoadedPolicy


_THREAD_LOCK = threading.Lock()


def common_dir(git: Git) -> Path:
    return git.common_dir


def runs_root(git: Git) -> Path:
    return common_dir(git) / "lanewarden" / "runs"


def new_run_id() -> str:
    # Microseconds keep ids in start order even for runs started in the same second.
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    return f"{stamp}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Workspace:
    run_id: str
    worker: str
    branch: str
    folder: Path  # the run's folder (outside every work tree)
    worktree: Path
    git: Git  # a handle on the worktree with its git dir fixed (never read from its .git file)
    base: str

    @property
    def context_file(self) -> Path:
        return self.folder / "context.json"

    @property
    def log_file(self) -> Path:
        return self.folder / "log.txt"

    @property
    def state_file(self) -> Path:
        return self.folder / "state.json"


def sparse_set(loaded: LoadedPolicy, worker: str) -> tuple[str, ...]:
    """Patterns a high-risk worker's sparse worktree holds: writable set, read hints, contracts."""
    policy = loaded.policy
    w = policy.workers[worker]
    patterns = [POLICY_FILE, "AGENTS.md", *w.allow, *w.read_hints, *w.propose_only]
    # Lines of ordered ownership rules (CODEOWNERS) naming the worker: the files it may write are there.
    own = policy.ownership
    patterns += [t for rule in own.parsed.rules if any(own.worker_of(o) == worker for o in rule.owners)
                 for t in rule.patterns]
    for contract in policy.contracts.values():
        if worker in contract.producers or worker in contract.consumers:
            patterns += list(contract.paths)
    if w.cwd:
        parts = w.cwd.strip("/").split("/")
        patterns += ["/".join(parts[:i]) + "/AGENTS.md" for i in range(1, len(parts) + 1)]
    return tuple(dict.fromkeys(patterns))


def _sparse_patterns(loaded: LoadedPolicy, worker: str) -> list[str]:
    """Non-cone sparse-checkout lines for :func:`sparse_set` (anchored, like our patterns)."""
    lines = []
    for pattern in sparse_set(loaded, worker):
        lines.append("/" + pattern.rstrip("/"))
    return lines


def create(git: Git, loaded: LoadedPolicy, worker: str, base: str) -> Workspace:
    """A new worktree and branch ``lanewarden/<worker>/<run-id>`` at ``base``."""
    if worker not in loaded.policy.workers:
        raise InputError(f"unknown worker {worker!r}",
                         hint=unknown_worker_hint(worker, loaded.policy.workers))
    run_id = new_run_id()
    branch = f"{BRANCH_PREFIX}{worker}/{run_id}"
    folder = runs_root(git) / run_id
    folder.mkdir(parents=True, exist_ok=False)
    # A unique last component: git names the worktree's admin folder after it, and
    # parallel runs must never race for the same name.
    tree = folder / f"wt-{run_id}"
    with _worktree_lock(git):
        git.run(["worktree", "add", "--no-checkout", "-q", "-b", branch, str(tree), base])
    # Read where git put the worktree's admin folder now, before any agent can edit the
    # .git file; every later git call passes this git dir explicitly.
    pointer = (tree / ".git").read_text().strip()
    if not pointer.startswith("gitdir: "):
        raise InputError(f"git created an unexpected worktree at {tree}")
    admin = Path(pointer[len("gitdir: "):])
    wt = Git(admin if admin.is_absolute() else (tree / admin).resolve(), tree)
    high_risk = loaded.policy.workers[worker].high_risk
    if high_risk:
        (admin / "info").mkdir(exist_ok=True)
        (admin / "info" / "sparse-checkout").write_text("\n".join(_sparse_patterns(loaded, worker)) + "\n")
        wt.run(["-c", "core.sparseCheckout=true", "-c", "core.sparseCheckoutCone=false",
                "checkout", "-q", "--no-recurse-submodules", branch])
    else:
        wt.run(["checkout", "-q", "--no-recurse-submodules", branch])
    return Workspace(run_id, worker, branch, folder, tree, wt, base)


@contextmanager
def _worktree_lock(git: Git) -> Iterator[None]:
    """Serialise worktree add/remove/prune across threads and processes of this repository.

    ``git worktree prune`` deletes an admin folder another ``worktree add`` has
    created but not yet filled in; parallel runs must never interleave them.
    """
    path = common_dir(git) / "lanewarden" / "worktrees.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCK, open(path, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def remove(git: Git, ws: Workspace, *, keep_branch: bool) -> None:
    """Take the worktree away (and the branch unless kept); the run folder keeps the evidence."""
    with _worktree_lock(git):
        code, _, _ = git.run_rc(["worktree", "remove", "--force", "--force", str(ws.worktree)])
        if ws.worktree.exists():
            shutil.rmtree(ws.worktree, ignore_errors=True)
        if code != 0:
            git.run_rc(["worktree", "prune"])
    if not keep_branch:
        git.run_rc(["update-ref", "-d", f"refs/heads/{ws.branch}"])


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
