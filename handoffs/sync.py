"""Move the queue, the overrides and the ledger between clones with ordinary fetch and push.

Each handoff's and override's ref is a chain of states. Sync lists the
remote's refs and fetches the objects it lacks (no ref is written for them);
a chain that extends ours fast-forwards, ours that extends theirs is pushed,
and two chains that diverged (two people moved the same handoff at once) are
reported and left alone: never silently overwritten. The remote's side of
such a pair stays readable in a private namespace, the mirror.

The ledger is one hash chain per writer: it moves only when one side extends
the other. Two clones that both recorded decisions keep their own chains (the
remote's stays readable under ``refs/lanewarden-sync/<remote>/ledger``), which
is noted, not an error; a single authoritative ledger has a single writer,
the CI gate (docs/ledger.md).

"Extends" means along first parents only: every chain here is a line of
states, and a rewritten chain that keeps the old tip as an extra parent is a
rewrite, not a fast-forward.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field

from lanewarden.workers import refstore
from lanewarden.workers.errors import GitError
from lanewarden.workers.git import Git
from lanewarden.workers.layout import REF_ROOT

MIRROR = "refs/lanewarden-sync/"
# Where the refs chosen for a push wait, so that one wildcard refspec pushes exactly them.
STAGING = "refs/lanewarden-push/"
# Namespaces under refs/lanewarden/ that sync moves; True: a divergence is a conflict.
SYNCED = (("handoffs/", True), ("overrides/", True), ("ledger", False))
# A push rejected because another clone pushed meanwhile is retried after a fresh fetch.
ROUNDS = 4
# Up to this many refs of a namespace are pushed with explicit refspecs (cheap for git to match).
EXPLICIT = 64
# A configured remote's name used as is in a ref name; anything else (a path, a URL) is hashed.
_REMOTE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")


@dataclass
class SyncReport:
    fetched: list[str] = field(default_factory=list)  # new or fast-forwarded here
    pushed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)
    mirror: str = MIRROR


class _Rejected(Exception):
    """The remote moved while this round ran (a push refused, a listed tip gone): read it again."""

    def __init__(self, step: str, stderr: str) -> None:
        super().__init__(stderr)
        self.step = step
        self.stderr = stderr


def mirror_of(remote: str) -> str:
    """The private namespace where the remote's refs that did not land here are kept for comparison.

    A remote's name makes a readable one (``refs/lanewarden-sync/origin/``); a
    path or URL cannot be a ref name, so it is named by a hash of its spelling.
    """
    if _REMOTE_NAME.fullmatch(remote) and not remote.endswith(".lock"):
        return f"{MIRROR}{remote}/"
    return f"{MIRROR}url-{hashlib.sha256(remote.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}/"


def _synced(name: str) -> bool | None:
    """Whether divergence of this ref (relative to refs/lanewarden/) is a conflict; None: not synced."""
    for prefix, strict in SYNCED:
        if name == prefix or (prefix.endswith("/") and name.startswith(prefix)):
            return strict
    return None


def sync(git: Git, remote: str) -> SyncReport:
    git.remote_name(remote)  # refused before anything is touched when git would read it as an option
    mirror = mirror_of(remote)
    removed, locked = refstore.recover_stale_locks(git, [REF_ROOT, mirror])
    removed.extend(_drop_abandoned_staging(git))
    for attempt in range(ROUNDS):
        try:
            report = _round(git, remote, mirror)
        except _Rejected as exc:
            if attempt + 1 < ROUNDS:
                continue
            raise GitError(f"{exc.step} with {remote} failed {ROUNDS} times", stderr=exc.stderr,
                           hint="the remote kept changing while sync ran (someone pushed meanwhile): "
                                "run lanewarden handoffs sync again") from None
        report.notes[:0] = [*removed, *locked]
        return report
    raise AssertionError("unreachable")


def _drop_abandoned_staging(git: Git) -> list[str]:
    """Delete the staging refs of syncs that were killed before cleaning up (their process is gone).

    They are copies of local refs, so deleting them loses nothing; left alone they would keep
    objects alive and clutter ``for-each-ref``.
    """
    abandoned: dict[str, list[str]] = {}
    for ref in git.refs(STAGING):
        run = ref[len(STAGING):].split("/", 1)[0]
        pid = run.split("-", 1)[0]
        if not pid.isdigit() or not _alive(int(pid)):
            abandoned.setdefault(run, []).append(ref)
    git.delete_refs([ref for refs in abandoned.values() for ref in refs])
    return [f"removed {len(refs)} staging ref(s) {STAGING}{run}/ left by an interrupted sync"
            for run, refs in sorted(abandoned.items())]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _remote_refs(git: Git, remote: str) -> tuple[dict[str, str], dict[str, str | None]]:
    """What the remote holds now under refs/lanewarden/ (synced namespaces only), with the objects here,
    and each of those objects' type as this clone now has it.

    One ``ls-remote`` and one fetch of the missing objects by id: no ref is
    written for what the remote has, so landing it costs one write per ref,
    as a plain ``git fetch`` does (issue 20: a mirror of every ref wrote each
    one twice).
    """
    hint = f"check that {remote!r} is a configured remote (git remote -v), a repository path or a URL"
    try:
        found = git.remote_refs(remote, REF_ROOT)
    except GitError as exc:
        raise GitError("git ls-remote failed", stderr=exc.stderr, hint=hint) from None
    theirs = {name[len(REF_ROOT):]: oid for name, oid in found.items() if _synced(name[len(REF_ROOT):]) is not None}
    types = git.object_types(list(theirs.values()))
    missing = [oid for oid, kind in types.items() if kind is None]
    try:
        git.fetch_objects(remote, missing)
    except GitError as exc:
        if "not our ref" in exc.stderr:
            raise _Rejected("git fetch", exc.stderr) from None  # a tip moved on the remote: list again
        raise GitError("git fetch failed", stderr=exc.stderr, hint=hint) from None
    types.update(git.object_types(missing))  # only what was just fetched is asked again
    return theirs, types


def _round(git: Git, remote: str, mirror: str) -> SyncReport:
    """One listing, one fetch, one batched compare-and-swap update, one push."""
    theirs, types = _remote_refs(git, remote)
    ours = {name[len(REF_ROOT):]: oid for name, oid in git.refs(REF_ROOT).items()}
    report = SyncReport(mirror=mirror)
    to_push: list[str] = []
    updates: list[refstore.Update] = []
    kept: dict[str, str] = {}  # the remote's refs that did not land here, kept readable in the mirror
    types.update(git.object_types([oid for oid in ours.values() if oid not in types]))
    # Which side extends the other, for every ref both hold differently: asked all at once.
    both = [(ours[n], theirs[n]) for n in theirs.keys() & ours.keys() if ours[n] != theirs[n]
            and types.get(ours[n]) == types.get(theirs[n]) == "commit"]
    extends = git.first_parent_reach([*both, *((new, old) for old, new in both)])
    for name in sorted(set(theirs) | set(ours)):
        strict = _synced(name)
        if strict is None:
            report.notes.append(f"{REF_ROOT}{name}: not a ref lanewarden writes (foreign), not synced; "
                                f"inspect it with `git log {REF_ROOT}{name}`, remove it with "
                                f"`git update-ref -d {REF_ROOT}{name}`")
            continue
        mine, other = ours.get(name), theirs.get(name)
        # A ref that names no commit (a blob, a missing object) is damage: never spread it either way.
        broken = [f"{where} {ref}" for where, ref, oid in (("local", REF_ROOT + name, mine),
                                                            (remote, mirror + name, other))
                  if oid is not None and types.get(oid) != "commit"]
        if broken:
            if other is not None and types.get(other) is not None:
                kept[name] = other
            report.notes.append(f"{REF_ROOT}{name}: not synced: {' and '.join(broken)} names no commit; "
                                "inspect with `git cat-file -t <ref>`, remove with `git update-ref -d <ref>`")
            continue
        if other is None:
            to_push.append(name)
        elif mine is None or (mine != other and (mine, other) in extends):
            updates.append(refstore.Update(REF_ROOT + name, other, mine))
        elif mine == other:
            report.unchanged += 1
        elif (other, mine) in extends:
            to_push.append(name)
        elif strict:
            kept[name] = other
            report.conflicts.append(f"{name}: local and {remote} histories diverged "
                                    f"(local {mine[:12]}, remote {other[:12]}); both kept, resolve by hand")
        else:
            kept[name] = other
            report.notes.append(f"{name}: this clone and {remote} recorded different entries; each keeps its "
                                f"own chain (theirs: {mirror}{name})")
    outcome = refstore.update(git, updates)
    report.fetched = [u.ref[len(REF_ROOT):] for u in outcome.done]
    report.conflicts.extend(f"{u.ref[len(REF_ROOT):]}: changed locally during sync ({why}); run sync again"
                            for u, why in outcome.lost)
    _keep(git, mirror, kept)
    if to_push:
        pushing = set(to_push)
        held = {name for name in ours if name not in pushing and theirs.get(name) != ours[name]}
        _push(git, remote, {name: ours[name] for name in to_push}, held)
        report.pushed = to_push
    return report


def _keep(git: Git, mirror: str, kept: dict[str, str]) -> None:
    """Make the mirror hold exactly ``kept`` (name -> the remote's object): what a person must compare.

    Refs that landed need no copy; a copy left from an earlier sync whose
    conflict was resolved since is dropped, so it no longer keeps objects alive.
    """
    now = {name[len(mirror):]: oid for name, oid in git.refs(mirror).items()}
    stale = [mirror + name for name in now if name not in kept]
    if stale:
        git.delete_refs(stale)
    refstore.update(git, [refstore.Update(mirror + name, oid, now.get(name))
                          for name, oid in kept.items() if now.get(name) != oid])


def _push(git: Git, remote: str, refs: dict[str, str], held: set[str]) -> None:
    """Push exactly ``refs`` (name under refs/lanewarden/ -> commit), never one of ``held``.

    Thousands of explicit refspecs make git match every spec against every ref
    (minutes for 10,000). A namespace with nothing held back goes with one
    wildcard refspec (the refs in it that are not pushed equal the remote's: git
    sends nothing for them); one with held-back refs (damaged, diverged) goes
    with explicit refspecs when they are few, otherwise its chosen refs are
    staged in a private namespace and pushed from there with one wildcard.
    """
    specs: list[str] = []
    staged: list[refstore.Update] = []
    staging = f"{STAGING}{os.getpid()}-{os.urandom(4).hex()}/"
    for prefix, _ in SYNCED:
        chosen = sorted(n for n in refs if n == prefix or (prefix.endswith("/") and n.startswith(prefix)))
        if not chosen:
            continue
        if not prefix.endswith("/") or len(chosen) <= EXPLICIT:
            specs.extend(f"{REF_ROOT}{n}:{REF_ROOT}{n}" for n in chosen)
        elif not any(n.startswith(prefix) for n in held):
            specs.append(f"{REF_ROOT}{prefix}*:{REF_ROOT}{prefix}*")
        else:
            staged.extend(refstore.Update(f"{staging}{n}", refs[n], None) for n in chosen)
            specs.append(f"{staging}{prefix}*:{REF_ROOT}{prefix}*")
    outcome = refstore.update(git, staged)
    try:
        if outcome.lost:
            raise GitError("could not stage the refs to push",
                           stderr="\n".join(f"{u.ref}: {why}" for u, why in outcome.lost))
        try:
            git.push(remote, specs)
        except GitError as exc:
            if "rejected" in exc.stderr or "failed to push" in exc.stderr:
                raise _Rejected("git push", exc.stderr) from None
            raise GitError(f"git push to {remote} failed", stderr=exc.stderr,
                           hint="check the remote is reachable and writable") from None
    finally:
        git.delete_refs([u.ref for u in outcome.done])
