"""Real conflicts: what git's own merge says when in-flight work meets.

Every pair of candidates (worker branches, the same worker's too, a reviewed
range's head, and every accepted handoff with its patch applied on its base)
is merged in memory with ``git merge-tree --write-tree`` (merge-ort: the merge
``git merge`` would do, renames included). No work tree or index is touched:
a handoff's patch goes into a scratch index, becomes a tree, and an
unreferenced commit on its base so git can find the merge base.

Growth: n candidates need n(n-1)/2 merges, all fed to one ``merge-tree
--stdin`` process (benchmarks/bench_conflicts.py measures it).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any

from lanewarden.handoffs.states import Status
from lanewarden.workers.errors import LanewardenError
from lanewarden.workers.git import Git

if TYPE_CHECKING:  # the record's model (pydantic) loads only when a handoff is read
    from lanewarden.handoffs.model import Handoff

_AUTHOR = ("lanewarden", "lanewarden@localhost")


@dataclass(frozen=True)
class Candidate:
    """One piece of in-flight work, as a commit git can merge."""

    name: str  # a branch name, or "handoff <id12>"
    kind: str  # branch | range | handoff
    worker: str
    commit: str | None  # None: it could not be made (a patch that no longer applies)
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "worker": self.worker, "commit": self.commit,
                "problem": self.problem}


@dataclass(frozen=True)
class Clash:
    """Two candidates git cannot merge, and the paths it leaves conflicted."""

    a: Candidate
    b: Candidate
    paths: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"a": self.a.name, "b": self.b.name, "workers": [self.a.worker, self.b.worker],
                "paths": list(self.paths)}


@dataclass(frozen=True)
class Merges:
    """Every pair checked, and what did not merge."""

    candidates: tuple[Candidate, ...]
    clashes: tuple[Clash, ...]
    pairs: int
    error: str | None = None  # git could not answer: the vote abstains, never approves

    @property
    def broken(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if c.commit is None)

    def as_json(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "candidates": [c.as_json() for c in self.candidates],
                "clashes": [c.as_json() for c in self.clashes], "error": self.error}


def handoff_candidate(git: Git, h: Handoff, fallback_base: str) -> Candidate:
    """An accepted handoff's patch applied on its base (the evidence's base, else the review's)."""
    name = f"handoff {h.id[:12]}"
    base = fallback_base
    if h.evidence.base:
        try:
            base = git.resolve_commit(h.evidence.base, what="handoff base")
        except LanewardenError:
            return Candidate(name, "handoff", h.target_worker, None,
                             f"its base {h.evidence.base[:12]} is not in this repository")
    tree = git.tree_with_patch(base, (h.proposed_change or "").encode("utf-8", "surrogateescape"))
    if tree is None:
        return Candidate(name, "handoff", h.target_worker, None, f"its patch does not apply on {base[:12]}")
    commit = git.commit_tree(tree, [base], f"lanewarden: handoff {h.id} applied for a merge check\n", _AUTHOR)
    return Candidate(name, "handoff", h.target_worker, commit)


def accepted_handoffs(git: Git, handoffs: Sequence[Handoff], base: str) -> list[Candidate]:
    return [handoff_candidate(git, h, base) for h in handoffs
            if h.status == Status.ACCEPTED and h.proposed_change]


def check(git: Git, candidates: Sequence[Candidate]) -> Merges:
    """Merge every pair of mergeable candidates; one git process for all of them."""
    ready = [c for c in candidates if c.commit is not None]
    pairs = [(a, b) for a, b in combinations(ready, 2) if a.commit != b.commit]
    try:
        # Opened as bare: a work tree's .gitattributes never steers the merge.
        merged = git.without_worktree().merge_trees([(a.commit or "", b.commit or "") for a, b in pairs])
    except LanewardenError as exc:  # fail closed: no answer is not "no conflict"
        return Merges(tuple(candidates), (), len(pairs), error=exc.message)
    clashes = tuple(Clash(a, b, paths) for (a, b), (_, paths) in zip(pairs, merged, strict=True) if paths)
    return Merges(tuple(candidates), clashes, len(pairs))


def by_path(merges: Merges) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """``(path, workers, candidate names)`` for every conflicted path, sorted."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for clash in merges.clashes:
        for path in clash.paths:
            workers, names = found.setdefault(path, (set(), set()))
            workers.update((clash.a.worker, clash.b.worker))
            names.update((clash.a.name, clash.b.name))
    return [(p, tuple(sorted(w)), tuple(sorted(n))) for p, (w, n) in sorted(found.items())]
