"""The handoff queue in git: one ref per handoff, one commit per state.

``refs/lanewarden/handoffs/<id>`` points at the handoff's newest state; each
commit's tree holds ``handoff.json`` (and ``proposed.diff``) and its parent is
the previous state, so the ref's history is the audit trail. Every worktree of
a clone sees the queue at once, and ordinary fetch/push move it. Writers
update refs with compare-and-swap and retry, so no concurrent writer is lost.

Every read checks what it reads: a ref that names no record, a record that
does not parse, and a record whose content no longer derives its own id (it
was edited after it was created, for example to swap its patch) are
``Damaged``: named with how to inspect and remove them, never used.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from lanewarden.handoffs.states import Action, next_status
from lanewarden.workers import records
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git
from lanewarden.workers.identity import actor, now
from lanewarden.workers.ledger import Kind, Ledger
from lanewarden.workers.records import Damaged

if TYPE_CHECKING:  # the model (pydantic) loads when a record is read or written, not with the queue
    from pydantic import ValidationError

    from lanewarden.handoffs.model import Handoff

__all__ = ["PREFIX", "Damaged", "Queue", "Stored", "actor", "now"]

PREFIX = "refs/lanewarden/handoffs/"
FILE = "handoff.json"
RETRIES = 50
_ID = re.compile(r"[0-9a-f]{20}")


@cache
def _reader() -> tuple[Callable[[bytes], Handoff], type[ValidationError]]:
    """The record's parser and its error, imported on the first record read (once, not per record)."""
    from pydantic import ValidationError

    from lanewarden.handoffs.model import Handoff

    return Handoff.from_json, ValidationError


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
            "target_worker": handoff.target_worker, "commit": commit, "patch_sha256": handoff.patch_sha256(),
        }, {"status": handoff.status.value, "reason": reason, "applied_commit": handoff.applied_commit},
            who=who)

    def resolve(self, prefix: str) -> str:
        """A full id from an abbreviation, like git's: unique or an error."""
        return self.git.resolve_id(PREFIX, prefix, noun="a handoff",
                                   listing="lanewarden handoffs list (or sync first)")

    def get(self, prefix: str) -> Stored:
        """One handoff; a damaged or altered record is an InputError that names its ref."""
        hid = self.resolve(prefix)
        oid = self.git.refs(PREFIX + hid).get(PREFIX + hid)
        if oid is None:
            raise InputError(f"no handoff {hid}", hint="see lanewarden handoffs list")
        good, bad = self._check(*records.read(self.git, PREFIX, FILE, _ID, [(PREFIX + hid, oid)]))
        if bad:
            raise InputError(f"handoff {hid} cannot be used: {bad[0].line()}", hint=bad[0].hint)
        return good[0]

    def all(self) -> list[Stored]:
        """The intact handoffs (see ``scan`` for the damaged ones)."""
        return self.scan()[0]

    def scan(self) -> tuple[list[Stored], list[Damaged]]:
        """Every handoff ref: the intact records, and the damaged ones named with what is wrong."""
        return self._check(*records.scan(self.git, PREFIX, FILE, _ID))

    def stream(self) -> Iterator[Stored | Damaged]:
        """Every handoff ref in id order, one record at a time (a queue of 100,000 is never all in memory)."""
        for item in records.stream(self.git, PREFIX, FILE, _ID):
            yield item if isinstance(item, Damaged) else self._check_one(item)

    @classmethod
    def _check(cls, found: list[records.Found], damaged: list[Damaged]) -> tuple[list[Stored], list[Damaged]]:
        good: list[Stored] = []
        bad = list(damaged)
        for item in found:
            checked = cls._check_one(item)
            if isinstance(checked, Stored):
                good.append(checked)
            else:
                bad.append(checked)
        return good, bad

    @staticmethod
    def _check_one(item: records.Found) -> Stored | Damaged:
        parse, invalid = _reader()
        try:
            handoff = parse(item.data)
        except invalid as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(document)"
            return Damaged(item.ref, item.commit, f"its {FILE} does not parse: {where}: {first['msg']}")
        derived = handoff.content_id()
        if handoff.id != item.name:
            return Damaged(item.ref, item.commit, f"its record says id {handoff.id}, not {item.name}")
        if derived != handoff.id:
            return Damaged(item.ref, item.commit,
                           f"its content derives id {derived}, not {handoff.id}: the record (problem, "
                           "paths, workers or patch) was changed after it was created")
        return Stored(handoff, item.commit)

    def transition(self, prefix: str, action: Action, *, reason: str | None = None,
                   commit: str | None = None) -> Stored:
        """Apply a lifecycle action with compare-and-swap; re-read and retry on a race."""
        from lanewarden.handoffs.model import Transition

        hid = self.resolve(prefix)
        who = actor(self.git)
        for _ in range(RETRIES):
            current = self.get(hid)
            try:
                status = next_status(current.handoff.status, action)
            except ValueError as exc:
                raise InputError(f"handoff {hid[:12]}: {exc}") from None
            # An accept pins the patch it accepted: apply checks the patch against it and the ledger.
            pin = current.handoff.patch_sha256() if action == Action.ACCEPT else None
            step = Transition(who=who[0], when=now(), action=action, reason=reason, commit=commit,
                              patch_sha256=pin)
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
        return self.git.rev_list(PREFIX + hid, first_parent=True)
