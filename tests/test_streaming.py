"""The queue and the ledger are read as streams: memory holds one record at a time, not the whole store.

No timing here (speed lives in benchmarks/): the checks are that the readers are
generators and that reading every record while dropping each one peaks at a
small fraction of what holding them all would take (``tracemalloc``).
"""
from __future__ import annotations

import inspect
import subprocess
import tracemalloc
from pathlib import Path

from test_handoffs import _bulk_load

from conftest import expect as _ok
from conftest import git, git_env, lanewarden
from lanewarden.handoffs.queue import PREFIX, Queue, Stored
from lanewarden.workers.git import Git
from lanewarden.workers.ledger import Ledger

N = 3000


def test_handoffs_list_streams_a_few_thousand_records(repo: Path) -> None:
    _bulk_load(repo, N)
    queue = Queue(Git.discover(repo))
    reader = queue.stream()
    assert inspect.isgenerator(reader)
    first = next(reader)
    assert isinstance(first, Stored)
    reader.close()  # stopping early ends git too

    oids = git(repo, "for-each-ref", "--format=%(objectname)", PREFIX).split()
    stored_bytes = sum(len(git(repo, "cat-file", "blob", f"{oid}:handoff.json")) for oid in oids[:50]) * N // 50
    for _ in queue.stream():
        pass  # first-use caches (validators, regexes) are not per record: warm them outside the trace
    tracemalloc.start()
    count = 0
    for item in queue.stream():
        count += isinstance(item, Stored)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == N
    # Holding every record would take more than their JSON; streaming holds about one.
    assert peak < stored_bytes / 8, (peak, stored_bytes)

    listed = _ok(lanewarden("handoffs", "list", "--repo", str(repo), "--status", "open"))
    assert listed.stdout.rstrip().endswith(f"{N // 5} handoff(s)")


def _bulk_ledger(repo: Path, n: int) -> int:
    """A valid ledger of ``n`` entries written with ONE git fast-import stream; returns its JSON bytes."""
    from dataclasses import replace

    from lanewarden.workers.ledger import GENESIS, REF, Entry, canonical

    chunks: list[bytes] = []
    prev, size = GENESIS, 0
    paths = [f"services/s{k}/f.py" for k in range(40)]  # an entry about the size of a real guard decision
    for seq in range(n):
        draft = Entry(seq=seq, time="2026-01-01T00:00:00+00:00", kind="genesis" if seq == 0 else "guard",
                      actor="tester <t@x>",
                      inputs={} if seq == 0 else {"worker": f"w{seq % 7}", "paths": paths},
                      outcome={} if seq == 0 else {"decision": "accept"}, prev=prev, hash="")
        entry = replace(draft, hash=draft.computed_hash())
        blob = canonical({**entry.body(), "hash": entry.hash}) + b"\n"
        size += len(blob)
        msg = f"ledger {seq}\n".encode()
        parent = b"from :%d\n" % (2 * seq) if seq else b""
        chunks.append(b"blob\nmark :%d\ndata %d\n%s\n" % (2 * seq + 1, len(blob), blob))
        chunks.append(b"commit %s\nmark :%d\ncommitter t <t@x> 1767225600 +0000\ndata %d\n%s%s"
                      b"M 100644 :%d entry.json\n\n" % (REF.encode(), 2 * seq + 2, len(msg), msg, parent, 2 * seq + 1))
        prev = entry.hash
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=repo, env=git_env(),
                   input=b"".join(chunks) + b"done\n", check=True, capture_output=True)
    return size


def test_ledger_verify_streams_the_chain(repo: Path) -> None:
    n = 3000
    size = _bulk_ledger(repo, n)
    ledger = Ledger(Git.discover(repo))
    assert inspect.isgenerator(ledger.stream())
    warm = ledger.verify()
    assert warm.ok and warm.entries == n, warm.problems
    tracemalloc.start()
    report = ledger.verify()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.ok and report.entries == n
    # What stays is one hash and one commit id per entry (the anchor and hidden-chain checks need
    # them), not the entries themselves.
    assert peak < size / 2, (peak, size)
    result = _ok(lanewarden("ledger", "verify", "--repo", str(repo)))
    assert str(n) in result.stdout
