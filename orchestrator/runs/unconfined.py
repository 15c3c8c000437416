"""Without a sandbox (``--unconfined``): put back what the agent changed in the main repository.

A confined agent cannot write the main repository at all (it is mounted
read-only). An unconfined one runs as the user, so lanewarden snapshots the
refs and the shared files that run code or change meaning for everyone
(config, hooks, info/*) before the agent starts, and restores them on every
way out: normal end, rollback, Ctrl-C, SIGTERM. A SIGKILL of lanewarden
itself cannot be caught; that is one more reason to run confined.
"""
from __future__ import annotations

from lanewarden.workers.git import Git

# Refs runs legitimately change: their own branches and lanewarden's queues.
_RUN_REFS = ("refs/heads/lanewarden/", "refs/lanewarden/")
# Shared repository files an agent must not change from a run (hooks run for everyone).
_SHARED_FILES = ("config", "HEAD", "info/exclude", "info/attributes", "info/grafts", "shallow")


def snapshot(git: Git) -> dict[str, bytes | None]:
    """Refs and shared files of the repository, outside what a run may change."""
    common = git.common_dir
    state: dict[str, bytes | None] = {}
    for name, oid in git.refs("refs/").items():
        if not name.startswith(_RUN_REFS):
            state[f"ref:{name}"] = oid.encode()
    hooks = common / "hooks"
    files = list(_SHARED_FILES) + ([f"hooks/{p.name}" for p in hooks.iterdir()] if hooks.is_dir() else [])
    for rel in files:
        path = common / rel
        state[f"file:{rel}"] = path.read_bytes() if path.is_file() else None
    return state


def restore(git: Git, before: dict[str, bytes | None], notes: list[str]) -> list[str]:
    """Put back refs and shared files the agent changed outside its clone; say what it did.

    An unconfined agent can write the main repository directly, so it
    could move ``main`` or plant a hook: moving or deleting an existing ref or
    touching a shared file is forbidden and rolls the run back. A branch the
    agent merely created is removed and noted.
    """
    after = snapshot(git)
    common = git.common_dir
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    for key in changed:
        kind, _, name = key.partition(":")
        old = before.get(key)
        if kind == "ref":
            if old is None:
                git.delete_ref(name)
            else:
                git.set_ref(name, old.decode())
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
    return [f"protected: the agent changed shared repository state outside its clone ({shown}); "
            "restored"]


