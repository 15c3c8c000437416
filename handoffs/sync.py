"""Move the queue, the overrides and the ledger between clones with ordinary fetch and push.

Each handoff's and override's ref is a chain of states. Fetching brings the
remote's chains into a private namespace; a chain that extends ours
fast-forwards, ours that extends theirs is pushed, and two chains that
diverged (two people moved the same handoff at once) are reported and left
alone: never silently overwritten.

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

from dataclasses import dataclass, field

from lanewarden.workers.errors import GitError
from lanewarden.workers.git import Git
from lanewarden.workers.layout import REF_ROOT

MIRROR = "refs/lanewarden-sync/"
# Namespaces under refs/lanewarden/ that sync moves; True: a divergence is a conflict.
SYNCED = (("handoffs/", True), ("overrides/", True), ("ledger", False))


@dataclass
class SyncReport:
    fetched: list[str] = field(default_factory=list)  # new or fast-forwarded here
    pushed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)


def _synced(name: str) -> bool | None:
    """Whether divergence of this ref (relative to refs/lanewarden/) is a conflict; None: not synced."""
    for prefix, strict in SYNCED:
        if name == prefix or (prefix.endswith("/") and name.startswith(prefix)):
            return strict
    return None


def sync(git: Git, remote: str) -> SyncReport:
    mirror = f"{MIRROR}{remote}/"
    specs = [f"+{REF_ROOT}{p}*:{mirror}{p}*" if p.endswith("/") else f"+{REF_ROOT}{p}:{mirror}{p}"
             for p, _ in SYNCED]
    hint = f"check that {remote!r} is a configured remote (git remote -v)"
    try:
        git.fetch(remote, specs)
    except GitError as exc:
        if "couldn't find remote ref" not in exc.stderr:
            raise GitError("git fetch failed", stderr=exc.stderr, hint=hint) from None
        try:  # the remote has no ledger yet: fetch the rest on its own
            git.fetch(remote, [s for s in specs if s.endswith("*")])
        except GitError as again:
            raise GitError("git fetch failed", stderr=again.stderr, hint=hint) from None
    theirs = {name[len(mirror):]: oid for name, oid in git.refs(mirror).items()}
    ours = {name[len(REF_ROOT):]: oid for name, oid in git.refs(REF_ROOT).items()}
    report = SyncReport()
    to_push: list[str] = []
    types = git.object_types([*theirs.values(), *ours.values()])
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
            report.notes.append(f"{REF_ROOT}{name}: not synced: {' and '.join(broken)} names no commit; "
                                "inspect with `git cat-file -t <ref>`, remove with `git update-ref -d <ref>`")
            continue
        if other is None:
            to_push.append(name)
        elif mine is None or (mine != other and git.is_first_parent_ancestor(mine, other)):
            if git.update_ref(REF_ROOT + name, other, mine):
                report.fetched.append(name)
            else:
                report.conflicts.append(f"{name}: changed locally during sync; run sync again")
        elif mine == other:
            report.unchanged += 1
        elif git.is_first_parent_ancestor(other, mine):
            to_push.append(name)
        elif strict:
            report.conflicts.append(f"{name}: local and {remote} histories diverged "
                                    f"(local {mine[:12]}, remote {other[:12]}); both kept, resolve by hand")
        else:
            report.notes.append(f"{name}: this clone and {remote} recorded different entries; each keeps its "
                                f"own chain (theirs: {mirror}{name})")
    if to_push:
        specs = [f"{REF_ROOT}{name}:{REF_ROOT}{name}" for name in to_push]
        try:
            git.push(remote, specs)
        except GitError as exc:
            raise GitError(f"git push to {remote} failed", stderr=exc.stderr,
                           hint="someone pushed meanwhile: run lanewarden handoffs sync again") from None
        report.pushed = to_push
    return report
