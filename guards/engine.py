"""The one entry point: read the change, load the trusted policy, let the panel decide.

git reads the change in a thread while this one loads the policy and the
guards (``guards/panel.py`` runs them and decides by veto consensus). A guard
that raises votes ``abstain`` with the error as its reason, so a bug can turn
a decision into ``revision`` or leave a ``reject`` standing, but it can never
produce ``accept``.
"""
from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from lanewarden.guards import sources as source
from lanewarden.guards.changes import ChangeSet
from lanewarden.guards.mode import Mode
from lanewarden.workers.errors import InputError, unknown_worker_hint
from lanewarden.workers.git import Git
from lanewarden.workers.layout import POLICY_FILE

if TYPE_CHECKING:
    from lanewarden.guards.override import Override
    from lanewarden.guards.verdict import Verdict
    from lanewarden.workers.ledger import Entry
    from lanewarden.workers.loader import LoadedPolicy

FULL_CHANGE = "*"  # key of the whole change's patch in Guarded.patches (no worker id has '*')

@dataclass(frozen=True)
class GuardRequest:
    """Everything ``guard`` needs; built by the CLI, hooks and worker runs."""

    mode: Mode
    worker: str | None = None
    # A CI identity (GITHUB_ACTOR, ...): the worker comes from the trusted policy's `actors`, never
    # from a branch name (ARCHITECTURE section 8).
    actor: str | None = None
    base: str | None = None
    head: str | None = None
    patch: bytes | None = None
    policy_file: Path | None = None
    index_file: Path | None = None
    # Work-tree mode inside a sparse worktree made by lanewarden: only files outside these
    # patterns may be absent without counting as deleted. None: trust the index's
    # skip-worktree flags for absent files (a sparse checkout the user made).
    sparse_set: tuple[str, ...] | None = None
    # Overrides to honour; None reads them from refs/lanewarden/overrides when a path needs one.
    # Worker runs pass the set that existed before the agent started, so an agent cannot forge one.
    overrides: tuple[Override, ...] | None = None
    # With ``overrides`` given: what loading them found and ignored, for the verdict's notes.
    override_notes: tuple[str, ...] = ()
    at: str | None = None  # the moment overrides are judged at (replays pass the recorded time)
    reviewers: bool = True  # external reviewers from the policy (replays leave them out)
    keep_change: bool = False  # also return the whole change as a patch (for the ledger)
    # Work-tree mode: files lanewarden itself wrote into a worker run's clone (relative path ->
    # sha256 of the bytes written; docs/runs.md). An untracked file there that is still a regular,
    # non-executable file with exactly those bytes is lanewarden's, not the agent's change; any
    # other state of it is guarded like every path.
    installed: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        # The one place a mode is validated: every caller, hook and replay builds a request.
        if not isinstance(self.mode, Mode):
            try:
                object.__setattr__(self, "mode", Mode.parse(str(self.mode)))
            except ValueError as exc:
                raise InputError(str(exc)) from None
        if self.mode is Mode.RANGE and self.base is None:
            raise InputError("range mode needs --base")
        if self.head is not None and self.mode is not Mode.RANGE:
            raise InputError("--head goes with range mode (--base REV --head REV)")


# Called with the verdict and the per-target patches; returns the ids of the handoffs it queued.
HandoffSink = Callable[["Verdict", Mapping[str, bytes]], Sequence[str]]


@dataclass(frozen=True)
class Guarded:
    """What one guard call produced: the verdict, the patches it cut, the ledger entries it wrote."""

    verdict: Verdict
    patches: Mapping[str, bytes] = field(default_factory=dict)
    handoff_ids: tuple[str, ...] = ()
    entries: tuple[Entry, ...] = ()


def trusted_revision(req: GuardRequest) -> str:
    """Where the policy comes from: the base in range and patch modes, HEAD otherwise."""
    if req.mode in (Mode.RANGE, Mode.PATCH):
        return req.base or "HEAD"
    return "HEAD"


def guard(git: Git, req: GuardRequest, *, cut: bool = False, record: bool = False, task: str | None = None,
          handoffs: HandoffSink | None = None, loaded: LoadedPolicy | None = None) -> Guarded:
    """The one entry point: guard a change set against the trusted policy.

    ``cut``: also cut, per handoff target, a patch of exactly the paths routed to it.
    ``handoffs``: queue them (the handoffs layer passes its queue; guards never import it).
    ``record``: append the decision, naming the queued handoffs, to the ledger.
    """
    if record:
        from lanewarden.guards.recorder import for_ledger

        req = for_ledger(git, req)
    verdict, patches = _evaluate(git, req, cut=cut or handoffs is not None, loaded=loaded)
    ids = tuple(handoffs(verdict, patches)) if handoffs is not None else ()
    entries: tuple[Entry, ...] = ()
    if record:
        from lanewarden.guards.recorder import record as record_decision

        entries = tuple(record_decision(git, verdict, change=patches.get(FULL_CHANGE),
                                        overrides=req.overrides or (), handoff_ids=ids,
                                        inputs={"task": task}))
    return Guarded(verdict, patches, ids, entries)


def policy_for(git: Git, req: GuardRequest) -> LoadedPolicy:
    """``--policy FILE`` for a dry run, else the policy committed in the trusted revision."""
    # Imported here: pydantic's first model costs tens of milliseconds, which
    # _evaluate spends while git is already reading the change.
    from lanewarden.workers.loader import load_file, load_revision

    if req.policy_file is not None:
        return load_file(req.policy_file)
    rev = trusted_revision(req)
    if rev == "HEAD" and git.head_commit() is None:
        raise InputError("HEAD has no commit yet, so there is no trusted policy",
                         hint=f"commit {POLICY_FILE} first, or pass --policy FILE for a dry run")
    return load_revision(git, rev)


def _evaluate(git: Git, req: GuardRequest, *, cut: bool,
              loaded: LoadedPolicy | None) -> tuple[Verdict, dict[str, bytes]]:
    """The verdict plus, per handoff target, a patch of exactly the paths routed to it.

    The patches are cut while the scratch objects of the change still exist.
    """
    cwd = git.top or git.git_dir  # where external reviewers start
    if req.mode is not Mode.WORKTREE:
        git = git.without_worktree()
    # One cat-file process resolves the revisions and reads the trusted policy.
    revs = [r for r in (req.base, req.head, "HEAD") if r]
    git.prefetch(revs, [] if req.policy_file else [(trusted_revision(req), POLICY_FILE)])
    with source.scratch(git) as env:
        # git reads the change in a thread while this one loads and checks the policy.
        box: dict[str, object] = {}
        reader = threading.Thread(target=_read_change, args=(git, env, req, box), daemon=True)
        reader.start()
        try:
            # The guards, the ownership index and the policy's types load here, while git works.
            from lanewarden.guards.acting import acting_worker, unattributed
            from lanewarden.guards.panel import judge

            if loaded is None:
                loaded = policy_for(git, req)
            worker, acting = acting_worker(req, loaded)
            if worker is not None and worker not in loaded.policy.workers:
                raise InputError(f"unknown worker {worker!r} in {loaded.source}",
                                 hint=unknown_worker_hint(worker, loaded.policy.workers))
        finally:
            reader.join()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        changeset = box["changeset"]
        assert isinstance(changeset, ChangeSet)
        ignored: list[str] = [*acting]
        if worker is None:
            verdict = unattributed(changeset, loaded, lambda w: _overrides(git, req, w, ignored),
                                   at=_moment(req.at))
        else:
            verdict = judge(changeset, loaded, worker, overrides=lambda: _overrides(git, req, worker, ignored),
                            at=_moment(req.at))
        if ignored:  # overrides that were consulted but counted for nothing: never silently
            verdict = replace(verdict, notes=(*verdict.notes, *ignored))
        if any(c.path == POLICY_FILE for c in changeset.changes):
            verdict = replace(verdict, policy_diff=_policy_diff(git, env, loaded, changeset.head_tree))
        if req.reviewers and loaded.policy.reviewers:
            verdict = _reviewed(cwd, verdict, loaded)
        patches: dict[str, bytes] = {}
        if req.keep_change:
            patches[FULL_CHANGE] = cut_patch(git, env, changeset.base_tree, changeset.head_tree,
                                             [c.path for c in changeset.changes])
        if cut:
            targets: dict[str, list[str]] = {}
            for draft in verdict.handoffs:
                targets.setdefault(draft.target_worker, []).extend(draft.paths)
            for target, paths in targets.items():
                patches[target] = cut_patch(git, env, changeset.base_tree, changeset.head_tree, paths)
        return verdict, patches


def _read_change(git: Git, env: dict[str, str], req: GuardRequest, box: dict[str, object]) -> None:
    try:
        if req.mode is Mode.RANGE:
            assert req.base is not None  # GuardRequest checks it
            box["changeset"] = source.from_range(git, env, req.base, req.head)
        elif req.mode is Mode.STAGED:
            box["changeset"] = source.from_index(git, env, req.index_file)
        elif req.mode is Mode.WORKTREE:
            box["changeset"] = source.from_worktree(git, env, req.sparse_set, req.installed)
        else:
            box["changeset"] = source.from_patch(git, env, req.patch or b"", req.base)
    except BaseException as exc:  # re-raised in the caller's thread
        box["error"] = exc


def cut_patch(git: Git, env: dict[str, str], base_tree: str, head_tree: str, paths: list[str]) -> bytes:
    """A ``git apply``-able patch of exactly ``paths`` (binary-safe, no rename detection)."""
    return git.diff_tree_patch(base_tree, head_tree, paths, env=env)


def _moment(at: str | None) -> datetime.datetime:
    if at is None:
        return datetime.datetime.now(datetime.timezone.utc)
    return datetime.datetime.fromisoformat(at)


def _overrides(git: Git, req: GuardRequest, worker: str, notes: list[str]) -> Sequence[Override]:
    if req.overrides is not None:
        notes.extend(req.override_notes)
        return req.overrides
    from lanewarden.guards.override import load_checked

    found = load_checked(git)
    notes.extend(found.notes(worker))
    return found.usable


def _policy_diff(git: Git, env: dict[str, str], loaded: LoadedPolicy, head_tree: str) -> dict[str, object]:
    """What the change does to the policy, judged against the trusted one (never adopted)."""
    from lanewarden.workers.errors import PolicyError
    from lanewarden.workers.loader import parse
    from lanewarden.workers.policydiff import compare

    text = git.read_file_at(head_tree, POLICY_FILE, env=env)
    if text is None:
        return {"error": f"the change deletes {POLICY_FILE}"}
    try:
        new = parse(text, f"(changed) {POLICY_FILE}")
    except PolicyError as exc:
        return {"error": f"the changed {POLICY_FILE} is not a valid policy: "
                         + "; ".join(str(p) for p in exc.problems[:5])}
    files = git.ls_tree_names(head_tree, env=env)
    return compare(loaded.policy, new, files, old_name=loaded.source, new_name="the change").as_json()


def _reviewed(cwd: Path, verdict: Verdict, loaded: LoadedPolicy) -> Verdict:
    """Ask the policy's external reviewers; their votes join the deterministic ones."""
    from lanewarden.guards import reviewer
    from lanewarden.guards.verdict import Vote, VoteValue, consensus

    votes = list(verdict.votes)
    changed = [c.path for c in verdict.changes]
    for name, item in sorted(loaded.policy.reviewers.items()):
        if not reviewer.applies(item, verdict.worker):
            continue
        if verdict.decision.value == "reject":
            votes.append(Vote(reviewer.PREFIX + name, VoteValue.ABSTAIN,
                              ("not asked: the deterministic guards already reject",)))
            continue
        try:
            votes.append(reviewer.review(name, item, verdict.as_json(), cwd, changed))
        except Exception as exc:
            votes.append(Vote(reviewer.PREFIX + name, VoteValue.ABSTAIN,
                              (f"reviewer failed: {type(exc).__name__}: {exc}",)))
    return replace(verdict, votes=tuple(votes), decision=consensus(votes))
