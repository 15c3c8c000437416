"""Evidence that cannot be forged after the fact: overrides, accepted handoffs and damaged refs.

Each attack is done the way an agent running as the same user would do it: with
plain git plumbing on the refs, never through lanewarden's own writers. Each sits
next to an honest control that must keep working. (Ledger rewrites are in
test_ledger.py.)
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import expect, git, lanewarden

KMS = "services/kms-api/src/kms_api/audit.py"
KMS_PROTO = "contracts/kms/kms.proto"
OVERRIDES = "refs/lanewarden/overrides/"
HANDOFFS = "refs/lanewarden/handoffs/"


def _as(monkeypatch: pytest.MonkeyPatch, who: str) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", who)


def _stray(repo: Path, path: str = KMS) -> None:
    with open(repo / path, "a", encoding="utf-8") as fh:
        fh.write("\n# wallet-api needs this\n")
    git(repo, "commit", "-qam", "stray")


def _guard(repo: Path) -> tuple[int, dict[str, Any]]:
    result = lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "HEAD~1",
                       "--format", "json")
    assert result.exit_code in (0, 1, 3), result.output
    return result.exit_code, json.loads(result.stdout)


def _stamp(minutes: float) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return moment.replace(microsecond=0).isoformat()


def _commit_record(repo: Path, ref: str, name: str, record: dict[str, Any], parent: str | None = None,
                   extra: dict[str, str] | None = None) -> str:
    """One record commit written with plain git, the ref moved onto it."""
    files = {name: json.dumps(record, indent=2), **(extra or {})}
    lines = ""
    for fname, text in sorted(files.items()):
        blob = git(repo, "hash-object", "-w", "--stdin", input=text.encode()).strip()
        lines += f"100644 blob {blob}\t{fname}\n"
    tree = git(repo, "mktree", input=lines.encode()).strip()
    commit = git(repo, "commit-tree", tree, *(["-p", parent] if parent else []), "-m", "edited").strip()
    git(repo, "update-ref", ref, commit)
    return commit


def _read(repo: Path, ref: str, name: str) -> dict[str, Any]:
    return dict(json.loads(git(repo, "cat-file", "blob", f"{ref}:{name}")))


def _override_id(record: dict[str, Any]) -> str:
    """The id lanewarden derives from an override's content (a careful forger computes it too)."""
    from lanewarden.guards.override import Scope, content_id

    return content_id(record["worker"], record["paths"], record["reason"], record["requested_by"],
                      record["requested_at"], Scope(record["scope"]), record["diff_sha256"])


def _honest_request(repo: Path, monkeypatch: pytest.MonkeyPatch, diff: str) -> str:
    _as(monkeypatch, "alice")
    result = expect(lanewarden("override", "request", "--repo", str(repo), "--worker", "wallet-api", "--paths",
                               "services/kms-api/src/**", "--reason", "INC-42", "--diff-sha256", diff,
                               "--format", "json"))
    return str(json.loads(result.stdout)["id"])


def _approve(repo: Path, monkeypatch: pytest.MonkeyPatch, oid: str, *people: str) -> None:
    for who in people:
        _as(monkeypatch, who)
        expect(lanewarden("override", "approve", oid, "--repo", str(repo)))


# -- overrides ---------------------------------------------------------------

def test_a_forged_override_with_invented_approvers_and_a_2099_expiry_counts_for_nothing(repo: Path) -> None:
    _stray(repo)
    assert _guard(repo)[0] == 1
    record = {"schema": "lanewarden.override/1", "worker": "wallet-api", "paths": ["services/kms-api/**"],
              "reason": "trust me", "requested_by": "agent", "requested_at": _stamp(-10),
              "expires_at": "2099-12-31T00:00:00+00:00", "scope": "window", "diff_sha256": None,
              "approvals": [{"who": "Invented One", "when": _stamp(-9)}, {"who": "Invented Two", "when": _stamp(-8)}]}
    record["id"] = oid = _override_id(record)
    _commit_record(repo, OVERRIDES + oid, "override.json", record)

    code, verdict = _guard(repo)
    assert code == 1 and verdict["overrides"] == []
    note = next(n for n in verdict["notes"] if n.startswith(f"override {oid}"))
    assert "ignored" in note and "more than the limit of 7 days" in note
    assert "no ledger entry records its request" in note
    listed = expect(lanewarden("override", "list", "--repo", str(repo)))
    assert "IGNORED" in listed.stdout and "no ledger entry records its request" in listed.stdout
    data = json.loads(expect(lanewarden("override", "list", "--repo", str(repo), "--format", "json")).stdout)
    assert data[0]["in_force"] is False and data[0]["state"].startswith("ignored: ")
    refused = lanewarden("override", "approve", oid, "--repo", str(repo))
    assert refused.exit_code == 2 and "ignored" in refused.stderr


@pytest.mark.parametrize("attack", ["honest", "approvals-not-in-ledger", "widened-after-request",
                                    "re-requested-in-the-record", "approval-before-request", "ttl"])
def test_each_override_check_holds_on_every_load(repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                 attack: str) -> None:
    _stray(repo)
    diff = _guard(repo)[1]["diff_sha256"]
    oid = _honest_request(repo, monkeypatch, diff)
    ref = OVERRIDES + oid
    if attack == "honest":  # the control: two real approvals by two other people
        _approve(repo, monkeypatch, oid, "bob", "carol")
        code, verdict = _guard(repo)
        assert code == 0 and verdict["overrides"] == [oid]
        assert not [n for n in verdict["notes"] if "override" in n]
        listed = expect(lanewarden("override", "list", "--repo", str(repo)))
        assert "in force" in listed.stdout and "IGNORED" not in listed.stdout
        return
    record = _read(repo, ref, "override.json")
    if attack == "approvals-not-in-ledger":
        record["approvals"] = [{"who": "bob", "when": _stamp(0)}, {"who": "carol", "when": _stamp(0)}]
        expected = "the approval by bob"
    elif attack == "widened-after-request":
        _approve(repo, monkeypatch, oid, "bob", "carol")
        record = _read(repo, ref, "override.json")
        record["paths"] = ["services/**"]
        expected = f"derives id {_override_id(record)}, not {oid}"
    elif attack == "re-requested-in-the-record":
        # Widen and re-derive the id: a new record, whose request the ledger never saw.
        _approve(repo, monkeypatch, oid, "bob", "carol")
        record = _read(repo, ref, "override.json")
        record["paths"] = ["services/**"]
        git(repo, "update-ref", "-d", ref)
        record["id"] = oid = _override_id(record)
        ref = OVERRIDES + oid
        expected = "no ledger entry records its request"
    elif attack == "approval-before-request":
        _approve(repo, monkeypatch, oid, "bob", "carol")
        record = _read(repo, ref, "override.json")
        record["approvals"][0]["when"] = _stamp(-600)
        expected = "is before the request"
    else:
        _approve(repo, monkeypatch, oid, "bob", "carol")
        record = _read(repo, ref, "override.json")
        record["expires_at"] = "2099-01-01T00:00:00+00:00"
        expected = "more than the limit of 7 days"
    parent = git(repo, "rev-parse", "--verify", "-q", ref, check=False).strip() or None
    _commit_record(repo, ref, "override.json", record, parent)
    code, verdict = _guard(repo)
    assert code == 1 and verdict["overrides"] == []
    note = next(n for n in verdict["notes"] if n.startswith(f"override {oid}"))
    assert expected in note, note
    listed = expect(lanewarden("override", "list", "--repo", str(repo), "--all"))
    assert "IGNORED" in listed.stdout and expected in listed.stdout


# -- accepted handoffs ---------------------------------------------------------

def _accepted_contract_handoff(repo: Path) -> str:
    """wallet-api edits a contract; the guard queues the handoff to contracts; a reviewer accepts it."""
    git(repo, "switch", "-qc", "lanewarden/wallet-api/t1")
    _stray(repo, KMS_PROTO)
    expect(lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "main",
                      "--record-handoffs"), 3)
    git(repo, "switch", "-q", "main")
    listed = json.loads(expect(lanewarden("handoffs", "list", "--repo", str(repo), "--format", "json")).stdout)
    hid = str(listed[0]["id"])
    expect(lanewarden("handoffs", "accept", hid, "--repo", str(repo)))
    return hid


def _evil(patch: str) -> str:
    """The same hunk with other content: still applies, still inside the contracts lane."""
    return patch.replace("+# wallet-api needs this", "+# something nobody reviewed")


@pytest.mark.parametrize("attack", ["swap-patch", "swap-patch-and-pin", "re-derived-id", "untouched"])
def test_apply_uses_only_the_patch_that_was_accepted(repo: Path, attack: str) -> None:
    hid = _accepted_contract_handoff(repo)
    ref = HANDOFFS + hid
    accepted = git(repo, "rev-parse", ref).strip()
    record = _read(repo, ref, "handoff.json")
    shown = expect(lanewarden("handoffs", "show", hid, "--repo", str(repo))).stdout
    assert "accept" in shown and "patch sha256" in shown  # the pin is visible to the reviewer
    entry = json.loads(expect(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json",
                                         "--last", "1")).stdout)[0]
    assert entry["inputs"]["action"] == "accept" and entry["inputs"]["patch_sha256"]
    assert record["history"][-1]["patch_sha256"] == entry["inputs"]["patch_sha256"]
    if attack == "untouched":  # the control
        result = expect(lanewarden("handoffs", "apply", hid, "--repo", str(repo)))
        assert "applied on lanewarden/contracts/handoff-" in result.stdout
        return
    swapped = {**record, "proposed_change": _evil(record["proposed_change"])}
    assert swapped["proposed_change"] != record["proposed_change"]
    if attack == "swap-patch-and-pin":
        from lanewarden.handoffs.model import Handoff

        pin = Handoff.model_validate(swapped).patch_sha256()
        swapped["history"][-1] = {**swapped["history"][-1], "patch_sha256": pin}
    target = ref
    if attack == "re-derived-id":
        from lanewarden.handoffs.model import Handoff

        forged = Handoff.model_validate(swapped)
        swapped["id"] = forged.content_id()
        swapped["history"][-1] = {**swapped["history"][-1], "patch_sha256": forged.patch_sha256()}
        target = HANDOFFS + swapped["id"]
    _commit_record(repo, target, "handoff.json", swapped, accepted if target == ref else None,
                   {"proposed.diff": swapped["proposed_change"]})
    applied = lanewarden("handoffs", "apply", swapped["id"], "--repo", str(repo))
    assert applied.exit_code == 2, applied.output
    assert git(repo, "for-each-ref", "refs/heads/lanewarden/contracts/") == ""  # nothing written
    if attack == "re-derived-id":
        assert "no ledger entry records its accept" in applied.stderr
    else:
        assert f"content derives id {swapped['id']}" not in applied.stderr
        assert "was changed after it was created" in applied.stderr and ref in applied.stderr
        # Every read reports it: show refuses it, list names it and lists the rest.
        assert lanewarden("handoffs", "show", hid, "--repo", str(repo)).exit_code == 2
        listed = expect(lanewarden("handoffs", "list", "--repo", str(repo)))
        assert f"warning: skipped {ref}" in listed.stderr
        # Putting the accepted state back is the remedy, and it applies.
        git(repo, "update-ref", ref, accepted)
        expect(lanewarden("handoffs", "apply", hid, "--repo", str(repo)))


def test_apply_refuses_a_pin_that_differs_from_the_patch(repo: Path) -> None:
    """The id covers the patch, not the history: an edited pin alone is caught by the pin check."""
    hid = _accepted_contract_handoff(repo)
    ref = HANDOFFS + hid
    record = _read(repo, ref, "handoff.json")
    record["history"][-1]["patch_sha256"] = "0" * 64
    _commit_record(repo, ref, "handoff.json", record, git(repo, "rev-parse", ref).strip(),
                   {"proposed.diff": record["proposed_change"]})
    applied = lanewarden("handoffs", "apply", hid, "--repo", str(repo))
    assert applied.exit_code == 2 and "is not the one that was accepted" in applied.stderr


# -- damaged and foreign refs ---------------------------------------------------

def _damage(repo: Path, prefix: str, file: str, length: int) -> dict[str, str]:
    """One ref of each kind of damage under ``prefix``; returns kind -> ref."""
    def name(c: str) -> str:
        return prefix + c * length

    blob = git(repo, "hash-object", "-w", "--stdin", input=b"just a blob").strip()
    git(repo, "update-ref", name("1"), blob)
    # A ref to an object the repository does not have: git update-ref refuses, a file write does not.
    missing = repo / ".git" / name("2")
    missing.parent.mkdir(parents=True, exist_ok=True)
    missing.write_text("d" * 40 + "\n")
    _commit_record(repo, name("3"), file, {"schema": "nonsense"})
    junk = git(repo, "hash-object", "-w", "--stdin", input=b"{not json").strip()
    tree = git(repo, "mktree", input=f"100644 blob {junk}\t{file}\n".encode()).strip()
    git(repo, "update-ref", name("4"), git(repo, "commit-tree", tree, "-m", "junk").strip())
    empty = git(repo, "commit-tree", git(repo, "mktree", input=b"").strip(), "-m", "empty").strip()
    git(repo, "update-ref", name("5"), empty)
    git(repo, "update-ref", prefix + "not-an-id", empty)
    return {"blob": name("1"), "missing": name("2"), "schema": name("3"), "json": name("4"), "empty": name("5"),
            "foreign": prefix + "not-an-id"}


def test_damaged_handoff_refs_are_named_never_dropped_or_crashed_on(repo: Path, tmp_path: Path) -> None:
    expect(lanewarden("handoff", "propose", "--repo", str(repo), "--worker", "wallet-api", "--to", "contracts",
                      "--problem", "a real one"))
    bad = _damage(repo, HANDOFFS, "handoff.json", 20)
    listed = expect(lanewarden("handoffs", "list", "--repo", str(repo)))
    assert "a real one" in listed.stdout and "1 handoff(s)" in listed.stdout
    for kind, ref in bad.items():
        assert f"warning: skipped {ref}" in listed.stderr, kind
        assert f"git update-ref -d {ref}" in listed.stderr, kind
    assert "points at a blob" in listed.stderr and "not in the repository" in listed.stderr
    assert "does not parse" in listed.stderr and "holds no handoff.json" in listed.stderr
    assert "foreign ref" in listed.stderr
    assert len(json.loads(expect(lanewarden("handoffs", "list", "--repo", str(repo), "--format", "json")).stdout)) == 1
    for kind in ("blob", "missing", "schema", "json", "empty"):
        shown = lanewarden("handoffs", "show", bad[kind][len(HANDOFFS):], "--repo", str(repo))
        assert shown.exit_code == 2 and bad[kind] in shown.stderr and "git update-ref -d" in shown.stderr, kind
        accepted = lanewarden("handoffs", "accept", bad[kind][len(HANDOFFS):], "--repo", str(repo))
        assert accepted.exit_code == 2, kind
    exported = expect(lanewarden("handoffs", "export", str(tmp_path / "out"), "--repo", str(repo)))
    assert "exported 1 handoff(s)" in exported.stdout and bad["blob"] in exported.stderr


def test_damaged_override_refs_are_named_never_dropped_or_crashed_on(repo: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _stray(repo)
    diff = _guard(repo)[1]["diff_sha256"]
    oid = _honest_request(repo, monkeypatch, diff)
    _approve(repo, monkeypatch, oid, "bob", "carol")
    bad = _damage(repo, OVERRIDES, "override.json", 16)
    listed = lanewarden("override", "list", "--repo", str(repo))
    assert listed.exit_code == 2 and oid[:12] in listed.stdout and "in force" in listed.stdout
    for kind, ref in bad.items():
        assert f"skipped {ref}" in listed.stderr and f"git update-ref -d {ref}" in listed.stderr, kind
    # The guard still decides with the intact override, and names what it skipped.
    code, verdict = _guard(repo)
    assert code == 0 and verdict["overrides"] == [oid]
    assert sum("override ref skipped" in n for n in verdict["notes"]) == len(bad)
    for kind in ("blob", "missing", "schema", "json", "empty"):
        _as(monkeypatch, "dave")
        approved = lanewarden("override", "approve", bad[kind][len(OVERRIDES):], "--repo", str(repo))
        assert approved.exit_code == 2 and bad[kind] in approved.stderr, kind


def test_sync_names_damaged_and_foreign_refs_and_never_spreads_them(repo: Path, tmp_path: Path) -> None:
    origin, clone = tmp_path / "origin.git", tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    expect(lanewarden("handoff", "propose", "--repo", str(clone), "--worker", "wallet-api", "--to", "contracts",
                      "--problem", "a real one"))
    blob = git(clone, "hash-object", "-w", "--stdin", input=b"just a blob").strip()
    git(clone, "update-ref", HANDOFFS + "1" * 20, blob)
    head = git(clone, "rev-parse", "HEAD").strip()
    git(clone, "update-ref", "refs/lanewarden/elsewhere", head)
    result = expect(lanewarden("handoffs", "sync", "origin", "--repo", str(clone)))
    assert f"{HANDOFFS}{'1' * 20}: not synced: local" in result.stdout
    assert "refs/lanewarden/elsewhere: not a ref lanewarden writes (foreign)" in result.stdout
    pushed = git(origin, "for-each-ref", "--format=%(refname)", "refs/lanewarden/").split()
    assert len(pushed) == 2 and HANDOFFS + "1" * 20 not in pushed  # the real handoff and the ledger
