"""Dual-control overrides: a time-boxed exception to a worker's lane.

An override names a worker, path patterns, a reason and an expiry. It takes
effect only with approvals from two distinct identities, neither of them the
requester, given before it expires; scope ``change`` binds it to one
``diff_sha256``. The guard then treats the covered paths as writable with the
rule ``override ID``. It never touches the protected-path or secrets guards:
those vote on their own, and their reject stands.

Each override is ``refs/lanewarden/overrides/<id>``, one commit per state (the
request, then each approval), updated with compare-and-swap like the handoff
queue. Request and approvals are also ledger entries.

Every load checks every record again, never only ``override request``: the
id still derives from the content, the expiry is at most ``MAX_TTL`` after the
request, each approval lies between request and expiry, comes from someone
other than the requester and from a distinct identity, and the ledger backs
the request and each approval (guards/evidence.py). A record that fails is
ignored and reported with why; a ref that holds no record is named.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from lanewarden.guards import evidence
from lanewarden.workers import records
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git
from lanewarden.workers.identity import actor, now, parse_time, same_identity
from lanewarden.workers.layout import POLICY_FILE
from lanewarden.workers.ledger import Kind, Ledger
from lanewarden.workers.pattern import compile_pattern, problems
from lanewarden.workers.records import Damaged

PREFIX = "refs/lanewarden/overrides/"
FILE = "override.json"
SCHEMA = "lanewarden.override/1"
APPROVALS_NEEDED = 2
MAX_TTL = evidence.MAX_TTL
RETRIES = 50
_TTL = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID = re.compile(r"[0-9a-f]{16}")


class Scope(str, Enum):
    CHANGE = "change"  # one change: the diff_sha256 it was requested for
    WINDOW = "window"  # any change by the worker until it expires


def parse_ttl(text: str) -> datetime.timedelta:
    match = _TTL.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise InputError(f"--ttl {text!r} is not a duration", hint="use a number and a unit: 30m, 2h, 1d")
    ttl = datetime.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if ttl > MAX_TTL:
        raise InputError(f"--ttl {text} is longer than the limit of {MAX_TTL.days} days",
                         hint="an override is a short exception; change the policy for a lasting one")
    return ttl


@dataclass(frozen=True)
class Approval:
    who: str
    when: str


@dataclass(frozen=True)
class Override:
    id: str
    worker: str
    paths: tuple[str, ...]
    reason: str
    requested_by: str
    requested_at: str
    expires_at: str
    scope: Scope
    diff_sha256: str | None
    approvals: tuple[Approval, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "id": self.id, "worker": self.worker, "paths": list(self.paths),
                "reason": self.reason, "requested_by": self.requested_by, "requested_at": self.requested_at,
                "expires_at": self.expires_at, "scope": self.scope.value, "diff_sha256": self.diff_sha256,
                "approvals": [{"who": a.who, "when": a.when} for a in self.approvals]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Override:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} record")
        item = cls(id=str(data["id"]), worker=str(data["worker"]), paths=tuple(map(str, data["paths"])),
                   reason=str(data["reason"]), requested_by=str(data["requested_by"]),
                   requested_at=str(data["requested_at"]), expires_at=str(data["expires_at"]),
                   scope=Scope(data["scope"]), diff_sha256=data.get("diff_sha256"),
                   approvals=tuple(Approval(str(a["who"]), str(a["when"])) for a in data.get("approvals", ())))
        for stamp in (item.requested_at, item.expires_at, *(a.when for a in item.approvals)):
            if parse_time(stamp).tzinfo is None:  # ValueError for text that is no time at all
                raise ValueError(f"time {stamp!r} has no time zone")
        return item

    def content_id(self) -> str:
        """The id the request derives from its content: another id means the record was edited."""
        return content_id(self.worker, self.paths, self.reason, self.requested_by, self.requested_at,
                          self.scope, self.diff_sha256)

    def problems(self) -> list[str]:
        """What makes the record itself count for nothing, whatever the time (ledger aside)."""
        return evidence.record_problems(self)

    def valid_approvers(self) -> list[str]:
        """Distinct identities, not the requester, that approved after the request and before the expiry."""
        requested, expires = parse_time(self.requested_at), parse_time(self.expires_at)
        out: list[str] = []
        for a in self.approvals:
            if same_identity(a.who, self.requested_by) or not requested <= parse_time(a.when) < expires:
                continue
            if not any(same_identity(a.who, seen) for seen in out):
                out.append(a.who)
        return out

    def state(self, at: datetime.datetime) -> tuple[bool, str]:
        """(in force, why) at the given moment."""
        if at >= parse_time(self.expires_at):
            return False, f"expired at {self.expires_at}"
        approvers = self.valid_approvers()
        if len(approvers) < APPROVALS_NEEDED:
            return False, (f"waiting for approval: {len(approvers)} of {APPROVALS_NEEDED} from distinct "
                           "identities other than the requester")
        return True, f"approved by {', '.join(approvers)}; expires {self.expires_at}"

    def covers(self, path: str) -> bool:
        return any(compile_pattern(p).matches(path) for p in self.paths)

    def applies(self, worker: str, diff_sha256: str, at: datetime.datetime) -> bool:
        if worker != self.worker or not self.state(at)[0]:
            return False
        return self.scope is Scope.WINDOW or self.diff_sha256 == diff_sha256


def content_id(worker: str, paths: Sequence[str], reason: str, requested_by: str, requested_at: str,
               scope: Scope, diff_sha256: str | None) -> str:
    seed = json.dumps([worker, list(paths), reason, requested_by, requested_at, scope.value, diff_sha256])
    return hashlib.sha256(seed.encode("utf-8", "surrogateescape")).hexdigest()[:16]


@dataclass(frozen=True)
class Stored:
    override: Override
    commit: str
    problems: tuple[str, ...] = ()  # why it counts for nothing (empty: it may be in force, see state)

    def state(self, at: datetime.datetime) -> tuple[bool, str]:
        if self.problems:
            return False, "ignored: " + "; ".join(self.problems)
        return self.override.state(at)


@dataclass(frozen=True)
class Loaded:
    """Every override ref, checked: usable records, ignored ones (with why) and damaged refs."""

    usable: tuple[Override, ...]
    ignored: tuple[Stored, ...]
    damaged: tuple[Damaged, ...]

    def notes(self, worker: str) -> tuple[str, ...]:
        """What a verdict for ``worker`` says about overrides it did not apply."""
        out = [f"override {s.override.id} for {worker} ignored: {'; '.join(s.problems)}"
               for s in self.ignored if s.override.worker == worker]
        out += [f"override ref skipped: {d.line()}; see `lanewarden override list`" for d in self.damaged]
        return tuple(out)


class Overrides:
    """The override records of one repository."""

    def __init__(self, git: Git) -> None:
        self.git = git

    def _write(self, item: Override, parent: str | None, message: str, who: tuple[str, str]) -> str:
        text = json.dumps(item.as_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        tree = self.git.make_tree({FILE: text.encode("utf-8", "surrogateescape")})
        return self.git.commit_tree(tree, [parent] if parent else [], message, who)

    def request(self, worker: str, paths: Sequence[str], reason: str, ttl: datetime.timedelta,
                scope: Scope, diff_sha256: str | None, *, policy_route: bool = False) -> Stored:
        """Record a request (not in force until two other people approve it).

        ``policy_route``: the worker is root or a policy owner in the trusted policy, so an
        override may cover the policy file: alone, and for one exact change (the dual-control
        route of a policy change, guards/protected.py).
        """
        bad = [f"{p!r}: {'; '.join(problems(p))}" for p in paths if problems(p)]
        if not paths or bad:
            raise InputError("an override needs valid path patterns" + (f": {', '.join(bad)}" if bad else ""),
                             hint="pass --paths with patterns like services/kms-api/client/**")
        touching = [p for p in paths if compile_pattern(p).matches(POLICY_FILE)]
        if touching and not policy_route:
            raise InputError(f"{', '.join(touching)} covers the policy file {POLICY_FILE}: only root and "
                             "gate.policy_owners may ask for that",
                             hint="policy changes go to the root, which requests the approvals "
                                  "(docs/ci.md, 'Policy changes')")
        if touching and (list(paths) != [POLICY_FILE] or scope is not Scope.CHANGE):
            raise InputError(f"an override for the policy file covers {POLICY_FILE} alone and one exact change",
                             hint=f"--paths {POLICY_FILE} --scope change --diff-sha256 <the verdict's diff_sha256>")
        if not reason.strip():
            raise InputError("an override needs a --reason that reviewers can judge")
        if scope is Scope.CHANGE:
            if not diff_sha256 or not re.fullmatch(r"[0-9a-f]{64}", diff_sha256):
                raise InputError("scope 'change' binds the override to one change: pass --diff-sha256",
                                 hint="take diff_sha256 from the verdict (lanewarden guard --format json), "
                                      "or use --scope window")
        elif diff_sha256:
            raise InputError("--diff-sha256 goes with --scope change")
        who = actor(self.git)
        requested = now()
        expires = (parse_time(requested) + ttl).isoformat()
        oid = content_id(worker, paths, reason, who[0], requested, scope, diff_sha256)
        item = Override(id=oid, worker=worker, paths=tuple(paths), reason=reason, requested_by=who[0],
                        requested_at=requested, expires_at=expires, scope=scope, diff_sha256=diff_sha256)
        commit = self._write(item, None, f"override {oid}: requested by {who[0]}\n\n{reason}\n", who)
        if not self.git.update_ref(PREFIX + oid, commit, None):
            raise InputError(f"override {oid} already exists", hint="see lanewarden override list")
        # Without this entry the record counts for nothing (guards/evidence.py).
        Ledger(self.git).append(Kind.OVERRIDE, evidence.request_inputs(item),
                                {"state": "requested", "reason": reason}, who=who)
        return Stored(item, commit)

    def resolve(self, prefix: str) -> str:
        return self.git.resolve_id(PREFIX, prefix, noun="an override", listing="lanewarden override list")

    def get(self, prefix: str) -> Stored:
        """One override, checked; a ref that holds no readable record is an InputError naming it."""
        oid = self.resolve(prefix)
        ref = PREFIX + oid
        found, damaged = self._parse(*records.read(self.git, PREFIX, FILE, _ID,
                                                   [(ref, self.git.refs(ref)[ref])]))
        if damaged:
            raise InputError(f"override {oid} cannot be read: {damaged[0].line()}", hint=damaged[0].hint)
        return self._checked(found)[0]

    def all(self) -> list[Stored]:
        """Every readable record, checked (``problems`` says why one counts for nothing)."""
        return self.scan()[0]

    def scan(self) -> tuple[list[Stored], list[Damaged]]:
        found, damaged = self._parse(*records.scan(self.git, PREFIX, FILE, _ID))
        return sorted(self._checked(found), key=lambda s: s.override.requested_at), damaged

    @staticmethod
    def _parse(found: list[records.Found], damaged: list[Damaged]) -> tuple[list[Stored], list[Damaged]]:
        good, bad = [], list(damaged)
        for item in found:
            try:
                record = Override.from_json(json.loads(item.data))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                bad.append(Damaged(item.ref, item.commit, f"its {FILE} does not parse: {type(exc).__name__}: {exc}"))
                continue
            if record.id != item.name:
                bad.append(Damaged(item.ref, item.commit, f"its record says id {record.id}, not {item.name}"))
                continue
            good.append(Stored(record, item.commit))
        return good, bad

    def _checked(self, stored: list[Stored]) -> list[Stored]:
        """Each record with every problem the record itself and the ledger show."""
        if not stored:
            return []
        backed = evidence.index(Ledger(self.git).entries())
        return [replace(s, problems=tuple(s.override.problems()
                                          + evidence.ledger_problems(s.override, backed.get(s.override.id, []))))
                for s in stored]

    def approve(self, prefix: str) -> Stored:
        oid = self.resolve(prefix)
        who = actor(self.git)
        for _ in range(RETRIES):
            current = self.get(oid)
            item = current.override
            if current.problems:
                raise InputError(f"override {oid} is ignored, so it cannot be approved: "
                                 + "; ".join(current.problems), hint="request a new one")
            when = now()
            if parse_time(when) >= parse_time(item.expires_at):
                raise InputError(f"override {oid} expired at {item.expires_at}", hint="request a new one")
            if same_identity(who[0], item.requested_by):
                raise InputError(f"{who[0]} requested override {oid} and cannot approve it",
                                 hint="two other people must approve (dual control)")
            if any(same_identity(who[0], a.who) for a in item.approvals):
                raise InputError(f"{who[0]} already approved override {oid}",
                                 hint="a second, different identity must approve")
            updated = replace(item, approvals=(*item.approvals, Approval(who[0], when)))
            commit = self._write(updated, current.commit, f"override {oid}: approved by {who[0]}\n", who)
            if self.git.update_ref(PREFIX + oid, commit, current.commit):
                active = updated.state(parse_time(when))[0]
                Ledger(self.git).append(Kind.OVERRIDE, evidence.approve_inputs(item, who[0], when),
                                        {"state": "in force" if active else "pending",
                                         "approvers": updated.valid_approvers()}, who=who)
                return Stored(updated, commit)
        raise InputError(f"override {oid}: too many concurrent updates, try again")


def load(git: Git) -> tuple[Override, ...]:
    """The records that may be in force (see ``load_checked`` for the rest)."""
    return load_checked(git).usable


def load_checked(git: Git) -> Loaded:
    stored, damaged = Overrides(git).scan()
    return Loaded(usable=tuple(s.override for s in stored if not s.problems),
                  ignored=tuple(s for s in stored if s.problems), damaged=tuple(damaged))


def in_force(items: Iterable[Override], worker: str, diff_sha256: str,
             at: datetime.datetime) -> list[Override]:
    return [o for o in items if o.applies(worker, diff_sha256, at)]


def near_misses(items: Iterable[Override], worker: str, diff_sha256: str, at: datetime.datetime,
                blocked: Sequence[str]) -> list[str]:
    """Why each override that almost applied to the still-blocked paths did not (verdict notes).

    An override "almost applies" when it covers a blocked path (wrong worker, expired, too few
    approvals, approved for another diff), or when it is for this worker and in force for this
    change but covers none of the blocked paths.
    """
    out: list[str] = []
    for item in items:
        covered = [p for p in blocked if item.covers(p)]
        head = f"near miss: override {item.id} ({item.reason})"
        if not covered:
            if item.worker == worker and item.applies(worker, diff_sha256, at):
                out.append(f"{head} is in force for {worker} but its paths ({', '.join(item.paths)}) cover "
                           f"none of the blocked path(s) ({_few(blocked)}): wrong scope")
            continue
        why: list[str] = []
        if item.worker != worker:
            why.append(f"it is for worker {item.worker}, not {worker}")
        active, state = item.state(at)
        if not active:
            why.append(state)
        if item.scope is Scope.CHANGE and item.diff_sha256 != diff_sha256:
            why.append(f"it was approved for diff_sha256 {str(item.diff_sha256)[:16]}, this change is "
                       f"{diff_sha256[:16]}: the diff changed since it was approved: re-request it")
        if why:
            out.append(f"{head} covers {_few(covered)} but did not apply: {'; '.join(why)}")
    return out


def _few(paths: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(repr(p) for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
