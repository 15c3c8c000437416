"""Near misses: an override or a shared-file rule that almost applied is named, with why it did not.

Real overrides (requested and approved through the CLI, backed by the ledger) and real repositories.
"""
from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import git, lanewarden

KMS = "services/kms-api/src/kms_api/audit.py"


def _as(monkeypatch: pytest.MonkeyPatch, who: str) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", who)


def _stray(repo: Path, text: str = "# wallet-api needs this\n") -> None:
    with open(repo / KMS, "a", encoding="utf-8") as fh:
        fh.write(text)
    git(repo, "commit", "-qam", "stray")


def _guard(repo: Path, worker: str = "wallet-api") -> tuple[int, dict[str, Any], str]:
    result = lanewarden("guard", "--repo", str(repo), "--worker", worker, "--base", "HEAD~1", "--format", "json")
    text = lanewarden("guard", "--repo", str(repo), "--worker", worker, "--base", "HEAD~1").stdout
    return result.exit_code, json.loads(result.stdout), text


def _override(repo: Path, monkeypatch: pytest.MonkeyPatch, *args: str, approvers: tuple[str, ...] = ("bob", "carol"),
              worker: str = "wallet-api", paths: str = "services/kms-api/src/**") -> str:
    _as(monkeypatch, "alice")
    result = lanewarden("override", "request", "--repo", str(repo), "--worker", worker, "--paths", paths,
                        "--reason", "hotfix INC-42", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    oid = str(json.loads(result.stdout)["id"])
    for who in approvers:
        _as(monkeypatch, who)
        assert lanewarden("override", "approve", oid, "--repo", str(repo)).exit_code == 0
    return oid


def test_an_approved_override_for_an_earlier_diff_is_named_with_diff_changed(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stray(repo)
    code, verdict, _ = _guard(repo)
    assert code == 1
    oid = _override(repo, monkeypatch, "--diff-sha256", verdict["diff_sha256"])
    code, verdict, _ = _guard(repo)
    assert code == 0 and verdict["overrides"] == [oid]
    assert not any(n.startswith("near miss") for n in verdict["notes"])
    # The agent keeps going after the approval: the approved diff is no longer the change.
    git(repo, "reset", "-q", "--soft", "HEAD~1")
    with open(repo / KMS, "a", encoding="utf-8") as fh:
        fh.write("# and one more line nobody approved\n")
    git(repo, "commit", "-qam", "stray, grown")
    code, verdict, text = _guard(repo)
    assert code == 1 and verdict["overrides"] == []
    [note] = [n for n in verdict["notes"] if n.startswith("near miss")]
    assert f"override {oid}" in note and KMS in note
    assert "the diff changed since it was approved: re-request it" in note
    # The text output shows it next to the decision.
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("decision:"))
    assert any(f"override {oid}" in line and "diff changed" in line for line in lines[at - 3:at])


def test_too_few_approvals_wrong_worker_and_wrong_scope_are_named(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stray(repo)
    pending = _override(repo, monkeypatch, "--scope", "window", approvers=("bob",))
    other = _override(repo, monkeypatch, "--scope", "window", worker="hd-manager")
    narrow = _override(repo, monkeypatch, "--scope", "window", paths="services/kms-api/client/**")
    code, verdict, _ = _guard(repo)
    assert code == 1
    notes = {oid: [n for n in verdict["notes"] if f"override {oid}" in n] for oid in (pending, other, narrow)}
    assert "waiting for approval: 1 of 2" in notes[pending][0]
    assert "it is for worker hd-manager, not wallet-api" in notes[other][0]
    assert "cover none of the blocked path(s)" in notes[narrow][0] and "wrong scope" in notes[narrow][0]


def test_an_edit_of_a_shared_append_only_file_names_the_lines(make_repo: Callable[..., Path]) -> None:
    shop = make_repo("telemetry-shop")
    log = (shop / "CHANGELOG.md").read_text(encoding="utf-8").splitlines(keepends=True)
    line = next(i for i, text in enumerate(log) if text.startswith("* "))
    log[line] = log[line].rstrip("\n") + " (edited)\n"
    (shop / "CHANGELOG.md").write_text("".join(log), encoding="utf-8")
    git(shop, "commit", "-qam", "edit an entry")
    code, verdict, _ = _guard(shop, "checkout")
    assert code == 1
    [note] = [n for n in verdict["notes"] if n.startswith("near miss")]
    assert "shared.append_only 'CHANGELOG.md'" in note and f"(line {line + 1} of the old file)" in note


def test_an_expired_override_is_named(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lanewarden.guards.engine import GuardRequest, guard
    from lanewarden.guards.verdict import Mode
    from lanewarden.workers.git import Git

    _stray(repo)
    oid = _override(repo, monkeypatch, "--scope", "window", "--ttl", "1h")
    later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)).isoformat()
    verdict = guard(Git.discover(repo), GuardRequest(mode=Mode.RANGE, worker="wallet-api", base="HEAD~1",
                                                     at=later)).verdict
    assert verdict.exit_code == 1
    [note] = [n for n in verdict.notes if f"override {oid}" in n]
    assert "did not apply: expired at" in note
