"""The handoff queue in git: one ref per handoff, one commit per state.

``refs/lanewarden/handoffs/<id>`` points at the handoff's newest state; each
commit's tree holds ``handoff.json`` (and ``proposed.diff``) and its parent is
the previous state, so the ref's history is the audit trail. Every worktree of
a clone sees the queue at once, and ordinary fetch/push move it. Writers
update refs with compare-and-swap and retry, so no concurrent writer is lost.
"""
from __future__ import annotations

from dataclasses import dataclass

from lanewarden.handoffs.model import Action, Handoff, Transition, next_status
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git
from lanewarden.workers.identity import actor, now
from lanewarden.workers.ledger import Kind, Ledger

__all__ = ["PREFIX", "Queue", "Stored", "actor", "now"]

PREFIX = "refs/lanewarden/handoffs/"
RETRIES = 50


@dataclass(frozen=True)
class Stored:
    handoff: Handoff
    commit: str


class Queue:
    def __init__(self, git: Git) -> None:
        self.git = git

    def _write(self, handoff: Handoff, parent: str | None, message: str, who: tuple[str, str]) -> str:
        files = {"handoff.json": handoff.to_json().encode("utf-8", "surrogateescape")}
        if handoff.proposed_change:
            files["proposed.diff"] = handoff.proposed_change.encode("utf-8", "surrogateescape")
        tree = self.git.make_tree(files)
        return self.git.commit_tree(tree, [parent] if parent else [], message, who)

    def create(self, handoff: Handoff) -> tuple[Stored, bool]:
        """Queue a new handoff; the same finding queued twice returns the first (False)."""
        ref = PREFIX + handoff.id
        who = actor(self.git)
        commit = self._write(handoff, None, f"handoff {handoff.id}: create by {handoff.created_by}\n", who)
        if self.git.update_ref(ref, commit, None):
            self._record(handoff, "create", commit, who)
            return Stored(handoff, commit), True
        return self.get(handoff.id), False

    def _record(self, handoff: Handoff, action: str, commit: str, who: tuple[str, str],
                reason: str | None = None) -> None:
        Ledger(self.git).append(Kind.HANDOFF, {
            "handoff": handoff.id, "action": action, "source_worker": handoff.source_worker,
            "target_worker": handoff.target_worker, "commit": commit,
        }, {"status": handoff.status.value, "reason": reason, "applied_commit": handoff.applied_commit},
            who=who)

    def resolve(self, prefix: str) -> str:
        """A full id from an abbreviation, like git's: unique or an error."""
        return self.git.resolve_id(PREFIX, prefix, noun="a handoff",
                                   listing="lanewarden handoffs list (or sync first)")

    def get(self, prefix: str) -> Stored:
        hid = self.resolve(prefix)
        commit = self.git.ref_value(PREFIX + hid)
        if commit is None:
            raise InputError(f"no handoff {hid}")
        data = self.git.read_paths([f"{commit}:handoff.json"])[0]
        if data is None:
            raise InputError(f"handoff {hid} is damaged: its commit {commit} has no handoff.json")
        return Stored(Handoff.from_json(data), commit)

    def all(self) -> list[Stored]:
        refs = self.git.refs(PREFIX)
        commits = list(refs.values())
        blobs = self.git.read_paths([f"{c}:handoff.json" for c in commits])
        return [Stored(Handoff.from_json(b), c) for c, b in zip(commits, blobs, strict=False) if b is not None]

    def transition(self, prefix: str, action: Action, *, reason: str | None = None,
                   commit: str | None = None) -> Stored:
        """Apply a lifecycle action with compare-and-swap; re-read and retry on a race."""
        hid = self.resolve(prefix)
        who = actor(self.git)
        for _ in range(RETRIES):
            current = self.get(hid)
            try:
                status = next_status(current.handoff.status, action)
            except ValueError as exc:
                raise InputError(f"handoff {hid[:12]}: {exc}") from None
            step = Transition(who=who[0], when=now(), action=action, reason=reason, commit=commit)
            updated = current.handoff.model_copy(update={
                "status": status, "history": (*current.handoff.history, step),
                **({"applied_commit": commit} if action == Action.APPLY else {})})
            message = f"handoff {hid}: {action.value} by {who[0]}" + (f"\n\n{reason}\n" if reason else "\n")
            new = self._write(updated, current.commit, message, who)
            if self.git.update_ref(PREFIX + hid, new, current.commit):
                self._record(updated, action.value, new, who, reason)
                return Stored(updated, new)
        raise InputError(f"handoff {hid[:12]}: too many concurrent updates, try again")

    def log(self, prefix: str) -> list[str]:
        """The commits of one handoff's history, newest first."""
        hid = self.resolve(prefix)
        return self.git.rev_list(PREFIX + hid)
