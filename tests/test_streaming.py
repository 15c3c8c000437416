"""The queue and the ledger are read as streams: memory holds one record at a time, not the whole store.

No timing here (speed lives in benchmarks/): the checks are that the readers are
generators and that reading every record while dropping each one peaks at a
small fraction of what holding them all would take (``tracemalloc``).
"""
from __future__ import annotations

import inspect
import tracemalloc
from pathlib import Path

from test_handoffs import _bulk_load

from conftest import expect as _ok
from conftest import git, lanewarden
from lanewarden.handoffs.queue import PREFIX, Queue, Stored
from lanewarden.workers.git import Git

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
