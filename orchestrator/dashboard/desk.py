"""What the dashboard shows, read through the same core functions as the CLI.

The handoff queue is read once per request (one ``for-each-ref`` and one
``cat-file --batch`` however long it is) and paginated after filtering. The
final review (lanes, conflicts, contract impact, e2e matrix) is computed once
per state of the repository: ``state()`` hashes every ref under
``refs/lanewarden/`` and ``refs/heads/lanewarden/`` and HEAD, and the same hash
tells the browser when something changed.
"""
from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lanewarden.handoffs.model import Handoff, Status
from lanewarden.handoffs.queue import Queue
from lanewarden.orchestrator.reviews import final, graph, impact, matrix
from lanewarden.orchestrator.reviews.inputs import collect
from lanewarden.workers.errors import InputError, LanewardenError
from lanewarden.workers.git import Git
from lanewarden.workers.ledger import Entry, Ledger, Report
from lanewarden.workers.records import Damaged

PER_PAGE = 50


def state(git: Git) -> str:
    """A hash of everything that makes a page change: lanewarden's refs, the worker branches, HEAD."""
    refs = {**git.refs("refs/lanewarden/"), **git.refs("refs/heads/lanewarden/")}
    text = "\n".join(f"{k} {v}" for k, v in sorted(refs.items())) + f"\nHEAD {git.head_commit()}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


@dataclass(frozen=True)
class QueuePage:
    items: tuple[Handoff, ...]
    total: int  # after filtering
    everything: int  # before filtering
    page: int
    pages: int
    facets: dict[str, list[tuple[str, int]]]
    filters: dict[str, str]
    damaged: tuple[Damaged, ...] = ()  # refs the queue could not read, named and skipped


def queue_page(git: Git, *, target: str | None, status: str | None, contract: str | None,
               page: int = 1, per_page: int = PER_PAGE) -> QueuePage:
    stored, damaged = Queue(git).scan()
    every = [s.handoff for s in stored]
    facets = {"status": Counter(h.status.value for h in every), "target": Counter(h.target_worker for h in every),
              "contract": Counter(c for h in every for c in h.contracts)}
    chosen = [h for h in every if (not target or h.target_worker == target)
              and (not status or h.status.value == status) and (not contract or contract in h.contracts)]
    chosen.sort(key=lambda h: (h.created_at, h.id), reverse=True)
    pages = max(1, -(-len(chosen) // per_page))
    page = min(max(1, page), pages)
    shown = tuple(chosen[(page - 1) * per_page: page * per_page])
    filters = {k: v for k, v in (("target", target), ("status", status), ("contract", contract)) if v}
    return QueuePage(shown, len(chosen), len(every), page, pages,
                     {k: sorted(c.items(), key=lambda kv: (-kv[1], kv[0])) for k, c in facets.items()}, filters,
                     tuple(damaged))


@dataclass(frozen=True)
class Overview:
    """The desk at one state: the final review of the worker branches, or, without any, the queue's impact."""

    state: str
    review: final.FinalReview | None
    impact: impact.ImpactReview | None
    matrix: matrix.Matrix | None
    problem: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


def overview(git: Git, current: str) -> Overview:
    counts = Counter(s.handoff.status.value for s in Queue(git).all())
    base = {s.value: counts.get(s.value, 0) for s in Status}
    try:
        result = final.review(git)
        return Overview(current, result, result.impact, result.matrix, counts=base)
    except InputError as exc:
        if "no worker branch" not in exc.message:
            return Overview(current, None, None, None, problem=exc.message, counts=base)
    except LanewardenError as exc:  # the page says what went wrong; nothing is shown as clean
        return Overview(current, None, None, None, problem=exc.message, counts=base)
    try:
        subject = collect(git, base=None, head=None, handoffs=True)
    except LanewardenError as exc:
        return Overview(current, None, None, None, problem=exc.message, counts=base)
    g = graph.build(subject.loaded.policy)
    review = impact.review(git, subject, g)
    mx = matrix.build(subject.loaded.policy, g, review.affected_services, top=git.top,
                      must_cover=review.must_cover)
    return Overview(current, None, review, mx, counts=base)


class Cache:
    """The overview of the latest state; recomputed only when the state hash moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: Overview | None = None

    def get(self, git: Git) -> Overview:
        current = state(git)
        with self._lock:
            if self._last is None or self._last.state != current:
                self._last = overview(git, current)
            return self._last


@dataclass(frozen=True)
class Timeline:
    entries: tuple[Entry, ...]  # newest first, one page
    total: int
    page: int
    pages: int
    report: Report
    unreadable: tuple[str, ...]


def timeline(git: Git, page: int = 1, per_page: int = PER_PAGE) -> Timeline:
    ledger = Ledger(git)
    stored = ledger.read()
    entries = [e for _, e in stored if isinstance(e, Entry)]
    bad = tuple(f"{c[:12]}: {e}" for c, e in stored if isinstance(e, str))
    entries.reverse()
    pages = max(1, -(-len(entries) // per_page))
    page = min(max(1, page), pages)
    return Timeline(tuple(entries[(page - 1) * per_page: page * per_page]), len(entries), page, pages,
                    ledger.verify(), bad)


def summary(entry: Entry) -> str:
    """One line about an entry from its inputs and outcome; attachments are never read or shown."""
    i, o = entry.inputs, entry.outcome
    parts: list[Any] = []
    for key in ("review", "worker", "handoff", "action", "run_id", "branch", "mode"):
        if i.get(key):
            parts.append(f"{key} {str(i[key])[:40]}")
    for key in ("decision", "status", "outcome", "reason"):
        if o.get(key):
            parts.append(f"{key} {str(o[key])[:80]}")
    return " · ".join(str(p) for p in parts) or "-"


def diff_lines(patch: str) -> list[tuple[str, str]]:
    """``(css class, line)`` for a unified diff."""
    out = []
    for line in patch.splitlines():
        if line.startswith(("diff --git", "index ", "--- ", "+++ ")):
            out.append(("file", line))
        elif line.startswith("@@"):
            out.append(("hunk", line))
        elif line.startswith("+"):
            out.append(("add", line))
        elif line.startswith("-"):
            out.append(("del", line))
        else:
            out.append(("", line))
    return out
