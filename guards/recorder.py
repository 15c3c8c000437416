"""Guard decisions in the ledger, and replaying them from what was recorded.

A recorded decision keeps everything a replay needs: the policy revision and
its sha256, the commits (kept reachable as extra parents of the ledger
commit), or for the index, work-tree and patch modes the change itself as a
binary patch, plus the override records that were in force. Replay rebuilds
the change, runs the deterministic guards again with today's code and says
exactly what differs. External reviewers are not replayed: they are not
deterministic, and the decision without them is what must reproduce.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lanewarden.guards import redaction
from lanewarden.guards.engine import GuardRequest, guard
from lanewarden.guards.override import Override
from lanewarden.guards.reviewer import PREFIX as REVIEWER
from lanewarden.guards.verdict import Mode, Verdict, Vote, VoteValue, consensus
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git
from lanewarden.workers.layout import POLICY_FILE
from lanewarden.workers.ledger import Entry, Kind, Ledger, canonical, digest

VERDICT_FILE = "verdict.json"
CHANGE_FILE = "change.diff"
OVERRIDES_FILE = "overrides.json"
REDACTIONS_FILE = "redactions.json"  # what was redacted from change.diff: path, rule, sha256
REPLAYABLE = (Kind.GUARD.value, Kind.RUN.value)


def _classes(verdict_json: dict[str, Any]) -> dict[str, tuple[str, str, str | None]]:
    return {c["path"]: (c["class"], c["rule"], c["route_to"]) for c in verdict_json["changes"]}


def record(git: Git, verdict: Verdict, *, kind: Kind = Kind.GUARD, change: bytes | None = None,
           overrides: Sequence[Override] = (), handoff_ids: Sequence[str] = (),
           inputs: dict[str, Any] | None = None, outcome: dict[str, Any] | None = None,
           keep: Sequence[str] = (), ledger: Ledger | None = None) -> list[Entry]:
    """Append the decision (and, when the change edits the policy, a policy entry) to the ledger.

    Pass ``ledger`` to append several records through one handle: it looks the
    identity and the head up once.
    """
    if not verdict.policy.trusted:
        raise InputError("a dry run with --policy FILE is not a decision and is not recorded",
                         hint="drop --policy to guard with the trusted policy")
    data = verdict.as_json()
    attachments = {VERDICT_FILE: canonical(data)}
    # The ledger is a hash chain that sync pushes to other clones: a secret written
    # here can never be taken out again, so it is redacted before it is written.
    found = redaction.findings(verdict)
    redacted: dict[str, Any] = {}
    if verdict.mode is not Mode.RANGE:
        if change is None:
            raise InputError(f"recording a {verdict.mode.value} decision needs the change itself")
        clean = redaction.redact(change, found, allowed=redaction.public(verdict))
        attachments[CHANGE_FILE] = clean.patch
        if clean.redactions:
            attachments[REDACTIONS_FILE] = clean.manifest()
            redacted["paths"] = list(clean.paths)
    elif found:
        # A commit kept as evidence would carry the secret to every clone the ledger reaches.
        redacted = {"paths": [f.path for f in found], "head_kept": False}
    used = [o for o in overrides if o.id in verdict.overrides]
    if used:
        attachments[OVERRIDES_FILE] = canonical([o.as_json() for o in used])
    ledger = ledger or Ledger(git)
    entry = ledger.append(kind, {
        "worker": verdict.worker, "mode": verdict.mode.value, "base": verdict.base, "head": verdict.head,
        "head_tree": verdict.head_tree,
        "policy": {"rev": verdict.policy.rev, "sha256": verdict.policy.sha256, "source": verdict.policy.source},
        "diff_sha256": verdict.diff_sha256, "context_hash": None, **(inputs or {}),
        **({"redacted": redacted} if redacted else {}),
    }, {
        "decision": verdict.decision.value, "exit_code": verdict.exit_code,
        "votes": [{"guard": v.guard, "vote": v.vote.value} for v in verdict.votes],
        "handoffs": list(handoff_ids), "overrides": list(verdict.overrides), "paths": len(verdict.changes),
        "classes_sha256": digest(canonical(sorted(_classes(data).items()))), **(outcome or {}),
    }, attachments=attachments,
        keep=tuple(c for c in (None if found else verdict.head, verdict.base, *keep) if c))
    entries = [entry]
    if verdict.policy_diff is not None:
        entries.append(ledger.append(Kind.POLICY, {
            "worker": verdict.worker, "policy": {"rev": verdict.policy.rev, "sha256": verdict.policy.sha256},
            "base": verdict.base, "head": verdict.head, "decision_seq": entry.seq,
            "changed_by": _authors(git, verdict),
        }, {"diff": verdict.policy_diff, "decision": verdict.decision.value}))
    return entries


def for_ledger(git: Git, req: GuardRequest) -> GuardRequest:
    """The request with what a recorded decision needs: the change itself and the overrides, read once."""
    from dataclasses import replace

    from lanewarden.guards.override import load_checked

    if req.overrides is not None:
        return replace(req, keep_change=req.mode is not Mode.RANGE)
    found = load_checked(git)
    return replace(req, keep_change=req.mode is not Mode.RANGE, overrides=found.usable,
                   override_notes=found.notes(req.worker or ""))


def _authors(git: Git, verdict: Verdict) -> list[str]:
    """Who changed the policy: the authors of the range's commits that touch it, else the recorder."""
    if verdict.mode is Mode.RANGE and verdict.base and verdict.head:
        names = git.log_authors(verdict.base, verdict.head, POLICY_FILE)
        if names:
            return names
    from lanewarden.workers.identity import actor

    name, email = actor(git)
    return [f"{name} <{email}> (uncommitted change)"]


@dataclass(frozen=True)
class Replay:
    entry: Entry
    reproduced: bool
    differences: tuple[str, ...]
    recorded_decision: str
    replayed_decision: str
    notes: tuple[str, ...]
    unchecked: tuple[str, ...] = ()  # paths whose content was redacted: never claimed to match

    @property
    def exit_code(self) -> int:
        return 0 if self.reproduced else 1

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.entry.seq, "kind": self.entry.kind, "reproduced": self.reproduced,
                "recorded_decision": self.recorded_decision, "replayed_decision": self.replayed_decision,
                "differences": list(self.differences), "notes": list(self.notes),
                "unchecked": list(self.unchecked)}


def _deterministic(votes: list[dict[str, Any]]) -> dict[str, str]:
    return {v["guard"]: v["vote"] for v in votes if not str(v["guard"]).startswith(REVIEWER)}


def replay(git: Git, seq: int) -> Replay:
    """Recompute a recorded guard decision from its recorded inputs."""
    from lanewarden.workers.loader import load_revision

    ledger = Ledger(git)
    entry = ledger.get(seq)
    if entry.kind not in REPLAYABLE:
        raise InputError(f"ledger entry {seq} is a {entry.kind} entry; only guard and run decisions replay")
    raw = ledger.attachment(entry, VERDICT_FILE)
    if raw is None:
        raise InputError(f"ledger entry {seq} carries no verdict to replay (the run ended before its guard)")
    recorded = json.loads(raw)
    inputs = entry.inputs
    policy = inputs["policy"]
    loaded = load_revision(git, policy["rev"])
    notes: list[str] = []
    differences: list[str] = []
    if loaded.sha256 != policy["sha256"]:
        differences.append(f"the policy at {policy['rev']} hashes to {loaded.sha256[:16]}, "
                           f"recorded {policy['sha256'][:16]}: the revision's content changed")
    over_raw = ledger.attachment(entry, OVERRIDES_FILE)
    overrides = tuple(Override.from_json(o) for o in json.loads(over_raw)) if over_raw else ()
    common: dict[str, Any] = {"worker": inputs["worker"], "overrides": overrides, "at": entry.time,
                              "reviewers": False}
    unchecked = _redacted(ledger, entry)
    if inputs["mode"] == "range":
        if inputs.get("redacted") and not _exists(git, inputs["head"]):
            raise InputError(
                f"ledger entry {seq} cannot be replayed: its head {inputs['head'][:12]} is no longer in this "
                "repository, and the ledger did not keep it because it holds secret-like content "
                f"({', '.join(inputs['redacted']['paths'][:5])})",
                hint="replay it in a clone that still has that commit, or guard the range again")
        request = GuardRequest(mode=Mode.RANGE, base=inputs["base"], head=inputs["head"], **common)
    else:
        change = ledger.attachment(entry, CHANGE_FILE) or b""
        base = inputs["base"]
        if base is None:
            raise InputError(f"ledger entry {seq} was recorded on an unborn HEAD; there is no base to replay on")
        if unchecked:
            # A redacted section no longer applies: replay the rest, and never call it a match.
            change = redaction.without(change, unchecked)
            for path, why in unchecked.items():
                differences.append(f"{path}: not replayed: its content was redacted from the ledger "
                                   f"({why}); this part of the decision cannot be checked again")
        if change.strip():
            request = GuardRequest(mode=Mode.PATCH, base=base, patch=change, **common)
        else:
            request = GuardRequest(mode=Mode.RANGE, base=base, head=base, **common)
        notes.append(f"the recorded {inputs['mode']} change was replayed as a patch on {base[:12]}")
    verdict = guard(git, request, loaded=loaded).verdict
    again = verdict.as_json()
    if unchecked:
        # Without the redacted files the rest of the change is compared path by path only.
        again["diff_sha256"] = recorded["diff_sha256"]
        again["votes"] = recorded["votes"]
        again["changes"] = [*again["changes"], *[c for c in recorded["changes"] if c["path"] in unchecked]]
        notes.append("decision and votes not compared: the change is incomplete without the redacted content")
    if again["diff_sha256"] != recorded["diff_sha256"]:
        differences.append(f"the change differs: diff_sha256 {again['diff_sha256'][:16]}, "
                           f"recorded {recorded['diff_sha256'][:16]}")
    old_votes, new_votes = _deterministic(recorded["votes"]), _deterministic(again["votes"])
    for name in sorted(set(old_votes) | set(new_votes)):
        if old_votes.get(name) != new_votes.get(name):
            differences.append(f"guard {name}: recorded {old_votes.get(name, 'no vote')}, "
                               f"now {new_votes.get(name, 'no vote')}")
    old_classes, new_classes = _classes(recorded), _classes(again)
    for path in sorted(set(old_classes) | set(new_classes)):
        before, after = old_classes.get(path), new_classes.get(path)
        if before != after:
            differences.append(f"{path}: recorded {_show(before)}, now {_show(after)}")
    recorded_decision = consensus([Vote(g, VoteValue(v)) for g, v in old_votes.items()]).value
    replayed_decision = "unchecked" if unchecked else verdict.decision.value
    if recorded_decision != verdict.decision.value and not unchecked:
        differences.insert(0, f"decision: recorded {recorded_decision}, now {verdict.decision.value}")
    reviewers = [v for v in recorded["votes"] if str(v["guard"]).startswith(REVIEWER)]
    if reviewers:
        notes.append(f"{len(reviewers)} external reviewer vote(s) recorded and not replayed")
    return Replay(entry=entry, reproduced=not differences, differences=tuple(differences),
                  recorded_decision=recorded_decision, replayed_decision=replayed_decision,
                  notes=tuple(notes), unchecked=tuple(unchecked))


def _redacted(ledger: Ledger, entry: Entry) -> dict[str, str]:
    """Path -> why, for every section of the recorded change that was redacted."""
    raw = ledger.attachment(entry, REDACTIONS_FILE)
    out: dict[str, str] = {}
    for item in json.loads(raw) if raw else []:
        out.setdefault(item["path"], f"{item['rule']}, sha256:{item['sha256'][:16]}")
    return out


def _exists(git: Git, commit: str | None) -> bool:
    return commit is not None and git.ref_value(commit) is not None


def _show(item: tuple[str, str, str | None] | None) -> str:
    if item is None:
        return "not in the change"
    cls, rule, route = item
    return f"{cls} ({rule}" + (f", to {route})" if route else ")")

