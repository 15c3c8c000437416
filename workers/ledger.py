"""The audit ledger: a hash chain of every decision, in ``refs/lanewarden/ledger``.

Each entry is one commit whose tree holds ``entry.json`` (plus attachments
such as the full verdict or the change itself); its first parent is the
previous entry. git's own commit ids already chain the entries, but they are
SHA-1 and anyone can rewrite them, so every entry also carries its own
sha256, the previous entry's sha256 and a sequence number: ``verify`` checks
those without trusting git's structure, and a head hash published elsewhere
(``ledger head``) proves later that history was not rewritten from scratch.

Entries may name further parents (the commits a decision was about) so that
the evidence a replay needs is never garbage-collected; the chain itself is
always the first-parent line.
"""
from __future__ import annotations

import hashlib
import json
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git, is_object_id
from lanewarden.workers.identity import actor, now

REF = "refs/lanewarden/ledger"
SCHEMA = "lanewarden.ledger/1"
GENESIS = "0" * 64
ENTRY_FILE = "entry.json"
RETRIES = 400


class Kind(str, Enum):
    GENESIS = "genesis"  # seq 0: starts the chain, has no parent and is about nothing
    GUARD = "guard"
    RUN = "run"
    HANDOFF = "handoff"
    OVERRIDE = "override"
    POLICY = "policy"
    REVIEW = "review"


class Violation(str, Enum):
    HASH_MISMATCH = "HASH_MISMATCH"  # an entry's content no longer matches its own hash
    CHAIN_BREAK = "CHAIN_BREAK"  # a link does not match: an entry is missing, added or reordered
    ANCHOR_MISSING = "ANCHOR_MISSING"  # a published head is not in the chain: history was rewritten
    # Ledger entries reachable from the head only through an extra parent: a chain was rebuilt and the
    # old one kept as a parent so that "the old head is an ancestor" still holds.
    HIDDEN_CHAIN = "HIDDEN_CHAIN"


def canonical(value: Any) -> bytes:
    """The one byte form that is hashed: sorted keys, no spaces, UTF-8 (paths keep their raw bytes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogateescape")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Entry:
    seq: int
    time: str
    kind: str
    actor: str
    inputs: dict[str, Any]
    outcome: dict[str, Any]
    prev: str
    hash: str
    attachments: dict[str, str] = field(default_factory=dict)  # name -> sha256 of its bytes
    commit: str | None = None  # where it is stored; not part of the hash
    # Whether the stored bytes already proved the hash when it was read (``sealed``); not content.
    sealed: bool = field(default=False, compare=False, repr=False)

    def body(self) -> dict[str, Any]:
        """Everything the hash covers."""
        return {"schema": SCHEMA, "seq": self.seq, "time": self.time, "kind": self.kind, "actor": self.actor,
                "inputs": self.inputs, "outcome": self.outcome, "prev": self.prev,
                "attachments": self.attachments}

    def computed_hash(self) -> str:
        return digest(canonical(self.body()))

    def holds(self) -> bool:
        """Whether ``hash`` covers this entry: proven from the stored bytes when read, else re-encoded."""
        return self.sealed or self.computed_hash() == self.hash

    def as_json(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash, "commit": self.commit}


@dataclass(frozen=True)
class Problem:
    violation: Violation
    seq: int | None
    commit: str | None
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"violation": self.violation.value, "seq": self.seq, "commit": self.commit,
                "message": self.message}


@dataclass(frozen=True)
class Report:
    entries: int
    head: str | None
    problems: tuple[Problem, ...]
    anchor: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head": self.head, "anchor": self.anchor,
                "problems": [p.as_json() for p in self.problems]}


# What lanewarden stores for an entry: the hashed body and the hash, nothing else.
STORED_KEYS = frozenset({"schema", "seq", "time", "kind", "actor", "inputs", "outcome", "prev", "attachments",
                         "hash"})


def _parse(raw: bytes | None, commit: str) -> Entry | str:
    """The stored entry, or why it cannot be read.

    Exact: the keys lanewarden writes and nothing else, each of the type it
    writes. Anything else was not written by lanewarden, and the entry is
    read as it is stored, never converted into something that would hash
    differently (``sealed`` relies on this).
    """
    if raw is None:
        return f"commit {commit} has no {ENTRY_FILE}"
    try:
        data = json.loads(raw.decode("utf-8", "surrogateescape"))
    except ValueError as exc:
        return f"{ENTRY_FILE} in {commit} cannot be read: {type(exc).__name__}: {exc}"
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return f"{ENTRY_FILE} in {commit} is not a {SCHEMA} entry"
    if data.keys() != STORED_KEYS:
        odd = sorted(data.keys() ^ STORED_KEYS)
        return f"{ENTRY_FILE} in {commit} cannot be read: unexpected or missing keys {', '.join(odd)}"
    seq, attachments = data["seq"], data["attachments"]
    texts = [data[k] for k in ("time", "kind", "actor", "prev", "hash")]
    if (type(seq) is not int or any(type(t) is not str for t in texts)
            or type(data["inputs"]) is not dict or type(data["outcome"]) is not dict
            or type(attachments) is not dict
            or any(type(v) is not str for v in attachments.values())):
        return f"{ENTRY_FILE} in {commit} cannot be read: a value is not of the type lanewarden writes"
    return Entry(seq=seq, time=texts[0], kind=texts[1], actor=texts[2], inputs=data["inputs"],
                 outcome=data["outcome"], prev=texts[3], hash=texts[4], attachments=attachments, commit=commit,
                 sealed=_sealed(raw, texts[4]))


def _sealed(raw: bytes, stored_hash: str) -> bool:
    """Whether the stored bytes alone prove the hash (one sha256, no re-encoding of the entry).

    lanewarden stores ``canonical({**body, "hash": h})`` and a newline: with
    the ``"hash":"h",`` member cut out, those bytes are the body the hash was
    computed over. If they hash to h, the hash binds the content read from
    them: ``_parse`` takes exactly the stored keys and types, and a member
    spliced in anywhere but at the top level would leave no top-level hash.
    False only means "not proven this way" (bytes in another JSON layout):
    ``Entry.holds`` then re-encodes the content canonically, the definition.
    """
    member = b'"hash":"' + stored_hash.encode("ascii", "replace") + b'",'
    at = raw.find(member)
    if at < 0:
        return False
    view = memoryview(raw)
    end = len(raw) - 1 if raw.endswith(b"\n") else len(raw)
    body = hashlib.sha256(view[:at])
    body.update(view[at + len(member):end])
    return body.hexdigest() == stored_hash


class Ledger:
    """Append, read and verify the chain. Appends are compare-and-swap on the ref."""

    def __init__(self, git: Git, ref: str = REF) -> None:
        self.git = git
        self.ref = ref
        self._head: tuple[str, Entry] | None = None  # the head this object last wrote: saves a read
        self._who: tuple[str, str] | None = None

    # -- writing -----------------------------------------------------------
    def append(self, kind: Kind, inputs: dict[str, Any], outcome: dict[str, Any], *,
               attachments: dict[str, bytes] | None = None, keep: tuple[str, ...] = (),
               who: tuple[str, str] | None = None) -> Entry:
        """Add one entry at the head; concurrent writers retry and none is lost or forked.

        ``keep`` names commits the entry is about; they become extra parents so a
        replay still finds them after their branches are deleted.
        """
        if who is None:
            self._who = who = self._who or actor(self.git)
        files = attachments or {}
        blobs = {name: self.git.write_blob(data) for name, data in files.items()}
        sums = {name: digest(data) for name, data in files.items()}
        extra = [c for c in dict.fromkeys(keep) if c and is_object_id(c)]
        for attempt in range(RETRIES):
            head: Entry | str
            old: str | None
            if self._head is not None and attempt == 0:
                old, head = self._head  # optimistic: the compare-and-swap tells if it moved
            else:
                old = self.tip()
                if old is None:
                    # The chain starts with a parentless genesis entry, so the first-parent
                    # line never runs into the commits a later entry keeps as evidence.
                    self._start(who)
                    continue
                head = self._entry_at(old)
            if isinstance(head, str):
                raise InputError(f"the ledger head is damaged: {head}; nothing more can be recorded",
                                 hint="run `lanewarden ledger verify` and restore the ledger ref")
            draft = Entry(seq=head.seq + 1, time=now(), kind=kind.value, actor=f"{who[0]} <{who[1]}>",
                          inputs=inputs, outcome=outcome, prev=head.hash, hash="", attachments=sums)
            entry = replace(draft, hash=draft.computed_hash())
            assert old is not None
            commit = self._commit(entry, blobs, [old, *[c for c in extra if c != old]], who)
            if self.git.update_ref(self.ref, commit, old):
                stored = replace(entry, commit=commit)
                self._head = (commit, stored)
                return stored
            optimistic, self._head = self._head is not None, None
            if optimistic and attempt == 0:
                continue  # our cached head was stale: read the real one at once
            # Lost the race: back off a little, more each time, so 8 writers spread out.
            time.sleep(random.uniform(0, 0.002 * (1 + min(attempt, 25))))
        raise InputError(f"could not append to {self.ref}: {RETRIES} concurrent updates in a row",
                         hint="try again; if it persists, look for a process rewriting the ledger")

    def _commit(self, entry: Entry, blobs: dict[str, str], parents: list[str], who: tuple[str, str]) -> str:
        text = canonical({**entry.body(), "hash": entry.hash})
        tree = self.git.make_tree({ENTRY_FILE: text + b"\n"}, blobs)
        return self.git.commit_tree(tree, parents, f"ledger {entry.seq}: {entry.kind} by {who[0]}\n", who)

    def _start(self, who: tuple[str, str]) -> None:
        draft = Entry(seq=0, time=now(), kind=Kind.GENESIS.value, actor=f"{who[0]} <{who[1]}>", inputs={},
                      outcome={}, prev=GENESIS, hash="")
        genesis = replace(draft, hash=draft.computed_hash())
        self.git.update_ref(self.ref, self._commit(genesis, {}, [], who), None)  # a lost race is fine

    # -- reading -----------------------------------------------------------
    def tip(self) -> str | None:
        """The head commit, None for no ledger; a ref that names no commit is an error, never "empty"."""
        commit = self.git.ref_value(self.ref)
        oid = self.git.refs(self.ref).get(self.ref) if commit is None else None
        if oid is not None:
            kind = self.git.object_types([oid]).get(oid)
            if kind == "commit":  # a concurrent writer created the ledger between the two reads
                return oid
            raise InputError(f"{self.ref} points at {'a missing object' if kind is None else 'a ' + kind} "
                             f"({oid[:12]}), not at a ledger commit: the ledger ref was damaged or replaced",
                             hint=f"inspect it with `git cat-file -t {oid}` and `git reflog show {self.ref}`; "
                                  "restore the last good head with `git update-ref "
                                  f"{self.ref} <commit>` (from the reflog or another clone)")
        return commit

    def extends(self, old: str, new: str) -> bool:
        """Whether head ``new`` keeps head ``old`` on its first-parent line: an append, not a rewrite.

        Extra parents are evidence a decision was about, never ancestry of the chain.
        """
        return self.git.is_first_parent_ancestor(old, new)

    def _entry_at(self, commit: str) -> Entry | str:
        return _parse(self.git.read_paths([f"{commit}:{ENTRY_FILE}"])[0], commit)

    def head(self) -> Entry | None:
        commit = self.tip()
        if commit is None:
            return None
        entry = self._entry_at(commit)
        if isinstance(entry, str):
            raise InputError(f"the ledger head is damaged: {entry}", hint="run `lanewarden ledger verify`")
        return entry

    def commits(self) -> list[str]:
        """The chain's commits, oldest first (first parents only)."""
        tip = self.tip()
        return [] if tip is None else list(reversed(self.git.first_parents(tip)))

    def read(self) -> list[tuple[str, Entry | str]]:
        """Every stored entry (or the reason it cannot be read), oldest first."""
        commits = self.commits()
        raws = self.git.read_paths([f"{c}:{ENTRY_FILE}" for c in commits])
        return [(c, _parse(raw, c)) for c, raw in zip(commits, raws, strict=False)]

    def stream(self) -> Iterator[tuple[str, Entry | str]]:
        """``read`` one entry at a time: only the current one is held (a 50,000-entry chain never is)."""
        for commit, _, raw in self.walk():
            yield commit, _parse(raw, commit)

    def walk(self) -> Iterator[tuple[str, tuple[str, ...], bytes | None]]:
        """The chain oldest first: each commit, its extra parents and its stored entry's bytes (None: none).

        The chain's commits (with their parents, from the same walk) go to a
        file and one ``cat-file --batch`` reads the entries in order.
        """
        tip = self.tip()
        if tip is None:
            return
        with tempfile.TemporaryDirectory(prefix="lanewarden-ledger-") as tmp:
            commits, names = Path(tmp) / "commits", Path(tmp) / "names"
            with commits.open("wb") as out:
                self.git.first_parents_to_file(tip, out, reverse=True, parents=True)
            suffix = b":" + ENTRY_FILE.encode() + b"\n"
            with commits.open("rb") as src, names.open("wb") as ask:
                for line in src:
                    ask.write(line.split(None, 1)[0] + suffix)  # the commit, without its parents
            with commits.open("rb") as src, names.open("rb") as ask:
                objects = self.git.cat_file_stream(ask)
                for line in src:
                    commit, *parents = line.decode().split()
                    found = next(objects)
                    yield commit, tuple(parents[1:]), found[2] if found is not None else None
                for _ in objects:  # nothing is left; reading to the end lets git exit and report
                    pass

    def entries(self) -> list[Entry]:
        return [e for _, e in self.read() if isinstance(e, Entry)]

    def get(self, seq: int) -> Entry:
        head = self.head()
        if head is not None and 0 <= seq <= head.seq:
            # An intact chain holds entry SEQ exactly head.seq - SEQ first parents back.
            commit = self.git.ref_value(f"{self.ref}~{head.seq - seq}")
            found = self._entry_at(commit) if commit is not None else None
            if isinstance(found, Entry) and found.seq == seq:
                return found
        for entry in self.entries():
            if entry.seq == seq:
                return entry
        raise InputError(f"no ledger entry {seq}", hint="see `lanewarden ledger show`")

    def attachment(self, entry: Entry, name: str) -> bytes | None:
        """An attachment's bytes, only if they still match the hash the entry recorded."""
        if entry.commit is None or name not in entry.attachments:
            return None
        data = self.git.read_paths([f"{entry.commit}:{name}"])[0]
        if data is None or digest(data) != entry.attachments[name]:
            raise InputError(f"ledger entry {entry.seq}: attachment {name} does not match its recorded hash",
                             hint="run `lanewarden ledger verify`: the ledger was tampered with")
        return data

    # -- verifying ---------------------------------------------------------
    def verify(self, anchor: str | None = None) -> Report:
        """Recompute every hash and link; report each violation with its entry (workers/verification.py)."""
        from lanewarden.workers.verification import verify  # the checks build on this module's types

        return verify(self, anchor)
