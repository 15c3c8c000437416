"""Ways in: an agent proposing out-of-lane work, and a guard verdict's drafts being queued."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lanewarden.guards import redaction
from lanewarden.guards.engine import cut_patch
from lanewarden.guards.sources import from_patch, scratch
from lanewarden.guards.verdict import Verdict
from lanewarden.handoffs import factory as build
from lanewarden.handoffs.queue import Queue, Stored, actor
from lanewarden.handoffs.routing import route
from lanewarden.workers.errors import InputError, unknown_worker_hint
from lanewarden.workers.git import Git
from lanewarden.workers.loader import LoadedPolicy
from lanewarden.workers.ownership import OwnershipIndex


@dataclass(frozen=True)
class Proposal:
    source: str
    problem: str
    target: str | None = None
    patch: bytes | None = None
    paths: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    risk: str | None = None
    task: str | None = None
    base: str | None = None
    validation: tuple[str, ...] = ()


def propose(git: Git, loaded: LoadedPolicy, p: Proposal) -> list[tuple[Stored, bool]]:
    """Validate everything first, then queue one handoff per target; nothing is written on bad input."""
    policy = loaded.policy
    if not p.problem.strip():
        raise InputError("--problem is empty: say what must change and why")
    for who, role in ((p.source, "source worker"), (p.target, "--to")):
        if who is not None and who not in policy.workers:
            raise InputError(f"unknown worker {who!r} ({role})",
                             hint=unknown_worker_hint(who, policy.workers))
    patch_paths: list[str] = []
    cut: dict[str, bytes] = {}
    base_commit = git.resolve_commit(p.base or "HEAD", what="base revision")
    index = OwnershipIndex(policy)
    with scratch(git) as env:
        changeset = None
        if p.patch is not None:
            changeset = from_patch(git, env, p.patch, base_commit)
            changeset.complete()
            patch_paths = [c.path for c in changeset.changes]
            if not patch_paths:
                raise InputError("the patch changes nothing")
            # A handoff is pushed to every clone by sync: a secret in it could never be taken back.
            found = redaction.scan(changeset.changes)
            if found:
                raise InputError(
                    "the patch holds secret-like content, which never goes into a handoff: "
                    + "; ".join(f"{f.path}: {f.rule}" for f in found[:5]),
                    hint="take the file or the secret out of the patch (keep secrets out of git; "
                         "commit a .env.example) and propose again")
        paths = list(dict.fromkeys([*patch_paths, *p.paths]))
        if p.target is not None:
            routes = [(p.target, "chosen by the source worker (--to)", paths)]
        elif paths:
            routes = [(r.target, r.reason, r.paths) for r in route(index, paths)]
        else:
            raise InputError("no target: pass --to WORKER, or --patch/--path so the handoff can be routed")
        if changeset is not None:
            for target, _, tpaths in routes:
                wanted = [q for q in tpaths if q in patch_paths]
                if wanted:
                    cut[target] = cut_patch(git, env, changeset.base_tree, changeset.head_tree, wanted)
    queue = Queue(git)
    who = actor(git)[0]
    out = []
    for target, reason, tpaths in routes:
        record = build.make(policy, source=p.source, target=target, routing_reason=reason, problem=p.problem,
                            paths=tpaths, patch=cut.get(target, b"").decode("utf-8", "surrogateescape") or None,
                            who=who, task=p.task, evidence_notes=p.evidence, base=base_commit,
                            risk=p.risk, validation=p.validation)
        out.append(queue.create(record))
    return out


@dataclass
class VerdictQueue:
    """A handoff sink for ``guard(..., handoffs=...)``: queues a verdict's drafts, each with its own patch.

    ``queued`` keeps what was stored (and whether it was new) for the caller to report.
    """

    git: Git
    loaded: LoadedPolicy
    task: str | None = None
    queued: list[tuple[Stored, bool]] = field(default_factory=list)

    def __call__(self, verdict: Verdict, patches: Mapping[str, bytes]) -> list[str]:
        queue = Queue(self.git)
        records = build.from_verdict(self.loaded.policy, verdict, dict(patches), who=actor(self.git)[0],
                                     task=self.task)
        stored = [queue.create(r) for r in records]
        self.queued += stored
        return [s.handoff.id for s, _ in stored]
