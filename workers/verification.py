"""Verifying the ledger: every hash and link recomputed, attachments re-hashed, rebuilt chains found.

Streamed (``Ledger.stream``): entries are checked as they are read. What is
kept is what the checks after the walk need: each entry's hash (the published
anchor may name any of them), each chain commit's id (a hidden chain is a
ledger commit off it) and the attachments still to hash, whose bytes are then
read one at a time by one ``cat-file --batch``. A 50,000-entry chain is never
held in memory.
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterator

from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git
from lanewarden.workers.ledger import (
    ENTRY_FILE,
    GENESIS,
    Entry,
    Ledger,
    Problem,
    Report,
    Violation,
    _parse,
    digest,
)


def verify(ledger: Ledger, anchor: str | None = None) -> Report:
    """Recompute every hash and link; report each violation with its entry.

    Streamed: entries are checked as they are read; what is kept is the
    chain's hashes and commit ids (the anchor and hidden-chain checks need
    them) and the attachments still to check, whose bytes are then read
    and hashed one at a time.
    """
    found: list[tuple[int, int, Problem]] = []  # (position, order within the entry, problem)
    prev_hash, prev_seq = GENESIS, -1
    hashes: set[str] = set()
    chain: set[str] = set()
    attached: list[tuple[int, str, str, int, str]] = []  # position, commit, name, seq, sha256
    count, head = 0, None
    extra: set[str] = set()  # parents off the chain: the only way into a hidden one
    for position, (commit, parents, raw) in enumerate(ledger.walk()):
        count += 1
        chain.add(commit)
        extra.update(parents)
        entry = _parse(raw, commit)
        if isinstance(entry, str):
            found.append((position, 0, Problem(Violation.HASH_MISMATCH, None, commit, entry)))
            prev_seq += 1  # assume it held the next number so one damaged entry is one problem
            prev_hash = ""
            continue
        hashes.add(entry.hash)
        head = entry.hash
        if not entry.holds():
            found.append((position, 0, Problem(Violation.HASH_MISMATCH, entry.seq, commit,
                                               f"entry {entry.seq} was changed after it was written "
                                               f"(stored hash {entry.hash[:16]}, content hashes to "
                                               f"{entry.computed_hash()[:16]})")))
        for name, want in entry.attachments.items():
            if any(c in name for c in "\n\r\0"):  # cat-file reads one name per line: never ask for it
                found.append((position, 1, Problem(Violation.HASH_MISMATCH, entry.seq, commit,
                                                   f"entry {entry.seq}: attachment {name!r} has an "
                                                   "impossible name")))
            else:
                attached.append((position, commit, name, entry.seq, want))
        broken = []
        if entry.seq != prev_seq + 1:
            broken.append(f"sequence {entry.seq} follows {prev_seq}" + (
                f": {entry.seq - prev_seq - 1} entr{'y is' if entry.seq - prev_seq == 2 else 'ies are'} "
                "missing" if entry.seq > prev_seq + 1 else ": entries were reordered or repeated"))
        if prev_hash and entry.prev != prev_hash:
            broken.append(f"its link to the previous entry ({entry.prev[:16]}) does not match "
                          f"that entry's hash ({prev_hash[:16]})")
        if broken:
            found.append((position, 2, Problem(Violation.CHAIN_BREAK, entry.seq, commit,
                                               f"entry {entry.seq}: " + "; ".join(broken))))
        prev_hash, prev_seq = entry.hash, entry.seq
    found.extend(_check_attachments(ledger.git, attached))
    problems = [p for _, _, p in sorted(found, key=lambda f: (f[0], f[1]))]
    if extra - chain:
        problems.extend(_hidden(ledger, sorted(extra - chain), chain, hashes))
    if anchor is not None:
        wanted = anchor.strip().lower()
        if len(wanted) < 16 or any(c not in "0123456789abcdef" for c in wanted):
            raise InputError(f"{anchor!r} is not a ledger hash",
                             hint="pass the hex hash printed by `lanewarden ledger head` (16+ characters)")
        if not any(h.startswith(wanted) for h in hashes):
            problems.append(Problem(Violation.ANCHOR_MISSING, None, None,
                                    f"the published head {wanted[:16]} is not in the chain: "
                                    "the ledger's history was rewritten"))
    return Report(entries=count, head=head, problems=tuple(problems), anchor=anchor)

def _check_attachments(git: Git, attached: list[tuple[int, str, str, int, str]]) -> Iterator[tuple[int, int, Problem]]:
    """Hash each attachment as it is read (one ``cat-file --batch``); yield the ones that do not match."""
    if not attached:
        return
    with tempfile.TemporaryFile() as ask:
        ask.write(b"".join(f"{commit}:{name}\n".encode("utf-8", "surrogateescape")
                           for _, commit, name, _, _ in attached))
        ask.seek(0)
        for (position, commit, name, seq, want), obj in zip(attached, git.cat_file_stream(ask),
                                                            strict=True):
            data = obj[2] if obj is not None else None
            if data is None or digest(data) != want:
                yield position, 1, Problem(Violation.HASH_MISMATCH, seq, commit,
                                           f"entry {seq}: attachment {name} "
                                           f"{'is missing' if data is None else 'was changed'}")

def _hidden(ledger: Ledger, extra: list[str], chain: set[str], hashes: set[str]) -> list[Problem]:
    """Ledger entries the head reaches only through extra parents (``extra``: those not on the chain).

    Every chain starts at a parentless genesis commit. A decision's extra
    parents are repository commits, which never descend from a genesis; so a
    commit off the first-parent line that does is a ledger entry kept out of
    the chain: the trace of a rebuilt chain that kept the old head as a parent.
    Whatever the head reaches off the chain it reaches through an extra parent
    of a chain commit, so the walks start there; a ledger none of whose entries
    keeps a commit as evidence needs no walk at all.
    """
    roots = ledger.git.roots(extra)
    starts = [r for r, raw in zip(roots, ledger.git.read_paths([f"{r}:{ENTRY_FILE}" for r in roots]),
                                  strict=False)
              if isinstance(_parse(raw, r), Entry)]
    hidden = [c for c in [*ledger.git.descendants(extra, starts), *starts] if c not in chain]
    if not hidden:
        return []
    found = [_parse(raw, c) for c, raw in
             zip(hidden, ledger.git.read_paths([f"{c}:{ENTRY_FILE}" for c in hidden]), strict=False)]
    entries = sorted((e for e in found if isinstance(e, Entry)), key=lambda e: e.seq)
    missing = [e for e in entries if e.hash not in hashes]
    named = ", ".join(f"seq {e.seq} ({e.kind}{_decision(e)}, hash {e.hash[:16]})" for e in missing[:10])
    more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    lost = (f"{len(missing)} of them are not in the chain: {named}{more}" if missing
            else "each of them is also in the chain")
    return [Problem(Violation.HIDDEN_CHAIN, None, hidden[0],
                    f"the head reaches {len(hidden)} ledger commit(s) only through an extra parent, "
                    f"not along the chain; {lost}. The chain was rebuilt and the old one kept as a "
                    "parent; compare with `git log --graph " + ledger.ref + "`")]



def _decision(entry: Entry) -> str:
    value = entry.outcome.get("decision") or entry.outcome.get("status") or entry.outcome.get("outcome")
    return f" {value}" if isinstance(value, str) else ""
