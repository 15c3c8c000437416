"""Move the queue between clones with ordinary fetch and push, merging histories.

Each handoff's ref is a chain of states. Fetching brings the remote's chains
into a private namespace; a chain that extends ours fast-forwards, ours that
extends theirs is pushed, and two chains that diverged (two people moved the
same handoff at once) are reported and left alone: never silently overwritten.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from handoffs.queue import PREFIX
from workers.errors import GitError
from workers.git import Git

MIRROR = "refs/laneguard-sync/"


@dataclass
class SyncReport:
    fetched: list[str] = field(default_factory=list)  # new or fast-forwarded here
    pushed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    unchanged: int = 0


def sync(git: Git, remote: str) -> SyncReport:
    mirror = f"{MIRROR}{remote}/"
    git.run(["fetch", "--no-tags", "--quiet", remote, f"+{PREFIX}*:{mirror}*"],
            hint=f"check that {remote!r} is a configured remote (git remote -v)")
    theirs = {name[len(mirror):]: oid for name, oid in git.refs(mirror).items()}
    ours = {name[len(PREFIX):]: oid for name, oid in git.refs(PREFIX).items()}
    report = SyncReport()
    to_push: list[str] = []
    for hid in sorted(set(theirs) | set(ours)):
        mine, other = ours.get(hid), theirs.get(hid)
        if other is None:
            to_push.append(hid)
        elif mine is None or (mine != other and git.is_ancestor(mine, other)):
            if git.update_ref(PREFIX + hid, other, mine):
                report.fetched.append(hid)
            else:
                report.conflicts.append(f"{hid}: changed locally during sync; run sync again")
        elif mine == other:
            report.unchanged += 1
        elif git.is_ancestor(other, mine):
            to_push.append(hid)
        else:
            report.conflicts.append(f"{hid}: local and {remote} histories diverged "
                                    f"(local {mine[:12]}, remote {other[:12]}); both kept, resolve by hand")
    if to_push:
        specs = [f"{PREFIX}{hid}:{PREFIX}{hid}" for hid in to_push]
        code, _, err = git.run_rc(["push", "--porcelain", "--quiet", remote, *specs])
        if code != 0:
            raise GitError(f"git push to {remote} failed", stderr=err.decode("utf-8", "replace"),
                           hint="someone pushed meanwhile: run laneguard handoffs sync again")
        report.pushed = to_push
    return report
