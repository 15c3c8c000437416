"""Dual-control overrides, external reviewers and policy diffs, against real repositories."""
from __future__ import annotations

import datetime
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import git, lanewarden

KMS = "services/kms-api/src/kms_api/audit.py"
WALLET = "services/wallet-api/src/wallet_api/signing.py"
PREFIX = "refs/lanewarden/overrides/"


def _as(monkeypatch: pytest.MonkeyPatch, who: str) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", who)


def _stray_commit(repo: Path) -> None:
    with open(repo / KMS, "a", encoding="utf-8") as fh:
        fh.write("\n# wallet-api needs this\n")
    git(repo, "commit", "-qam", "stray")


def _guard(repo: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--format", "json", *extra)
    return result.exit_code, json.loads(result.stdout)


def _request(repo: Path, *extra: str) -> str:
    result = lanewarden("override", "request", "--repo", str(repo), "--worker", "wallet-api", "--paths",
                       "services/kms-api/src/**", "--reason", "hotfix INC-42", "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["id"])


def _forge(repo: Path, record: dict[str, Any], *, witnessed: bool = True) -> str:
    """Write an override record straight into the refs, as anyone with repository access could.

    Its id is derived from its content as lanewarden derives it. ``witnessed`` also
    writes the ledger entries lanewarden writes for the request and each approval
    (through the ledger's own API: a record without them counts for nothing).
    Returns the id.
    """
    from lanewarden.guards import evidence
    from lanewarden.guards.override import Override, Scope, content_id
    from lanewarden.workers.git import Git
    from lanewarden.workers.ledger import Kind, Ledger

    record = {**record, "id": content_id(record["worker"], record["paths"], record["reason"],
                                         record["requested_by"], record["requested_at"], Scope(record["scope"]),
                                         record["diff_sha256"])}
    blob = git(repo, "hash-object", "-w", "--stdin", input=json.dumps(record).encode()).strip()
    tree = git(repo, "mktree", input=f"100644 blob {blob}\toverride.json\n".encode()).strip()
    commit = git(repo, "commit-tree", tree, "-m", "forged").strip()
    git(repo, "update-ref", PREFIX + record["id"], commit)
    if witnessed:
        item = Override.from_json(record)
        ledger = Ledger(Git.discover(repo))
        ledger.append(Kind.OVERRIDE, evidence.request_inputs(item), {}, who=(item.requested_by, "x@example.com"))
        for a in item.approvals:
            ledger.append(Kind.OVERRIDE, evidence.approve_inputs(item, a.who, a.when), {}, who=(a.who, "x@x"))
    return str(record["id"])


def _record(oid: str, diff: str | None, approvals: list[tuple[str, str]], *, expires_in: int = 3600,
            requested_by: str = "alice") -> dict[str, Any]:
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return {"schema": "lanewarden.override/1", "id": oid, "worker": "wallet-api",
            "paths": ["services/kms-api/src/**"], "reason": "forged", "requested_by": requested_by,
            "requested_at": (now - datetime.timedelta(hours=2)).isoformat(),
            "expires_at": (now + datetime.timedelta(seconds=expires_in)).isoformat(),
            "scope": "change" if diff else "window", "diff_sha256": diff,
            "approvals": [{"who": w, "when": t} for w, t in approvals]}


def _earlier(minutes: int) -> str:
    return (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=minutes)).replace(
        microsecond=0).isoformat()


# -- overrides -------------------------------------------------------------

def test_an_override_needs_two_other_people_before_it_counts(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stray_commit(repo)
    code, verdict = _guard(repo, "--base", "HEAD~1")
    assert code == 1
    _as(monkeypatch, "alice")
    oid = _request(repo, "--diff-sha256", verdict["diff_sha256"])

    own = lanewarden("override", "approve", oid, "--repo", str(repo))
    assert own.exit_code == 2 and "cannot approve" in own.stderr
    _as(monkeypatch, "bob")
    assert lanewarden("override", "approve", oid[:8], "--repo", str(repo)).exit_code == 0
    assert _guard(repo, "--base", "HEAD~1")[0] == 1  # one approval is not enough
    again = lanewarden("override", "approve", oid, "--repo", str(repo))
    assert again.exit_code == 2 and "already approved" in again.stderr
    _as(monkeypatch, "BOB ")  # the same identity, spelled differently
    assert lanewarden("override", "approve", oid, "--repo", str(repo)).exit_code == 2
    listed = json.loads(lanewarden("override", "list", "--repo", str(repo), "--format", "json").stdout)
    assert [(o["id"], o["in_force"]) for o in listed] == [(oid, False)]

    _as(monkeypatch, "carol")
    assert lanewarden("override", "approve", oid, "--repo", str(repo)).exit_code == 0
    code, verdict = _guard(repo, "--base", "HEAD~1", "--record")
    assert code == 0 and verdict["overrides"] == [oid]
    change = next(c for c in verdict["changes"] if c["path"] == KMS)
    assert change["class"] == "writable" and change["rule"] == f"override {oid}"
    assert any("approved by bob, carol" in r for r in change["reasons"])
    # The ledger has the request, both approvals and the decision, and the decision replays.
    entries = json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json").stdout)
    assert [e["kind"] for e in entries] == ["genesis", "override", "override", "override", "guard"]
    assert entries[-1]["outcome"]["overrides"] == [oid]
    assert lanewarden("ledger", "replay", str(entries[-1]["seq"]), "--repo", str(repo)).exit_code == 0


def test_scope_change_binds_the_override_to_one_diff(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stray_commit(repo)
    _, verdict = _guard(repo, "--base", "HEAD~1")
    _forge(repo, _record("a" * 16, verdict["diff_sha256"], [("bob", _earlier(5)), ("carol", _earlier(4))]))
    assert _guard(repo, "--base", "HEAD~1")[0] == 0
    _stray_commit(repo)  # a different change over the same paths
    assert _guard(repo, "--base", "HEAD~2")[0] == 1


@pytest.mark.parametrize("case", ["expired", "single", "self", "same-twice", "late-approval"])
def test_overrides_that_must_not_count(repo: Path, case: str) -> None:
    _stray_commit(repo)
    _, verdict = _guard(repo, "--base", "HEAD~1")
    diff = verdict["diff_sha256"]
    records = {
        "expired": _record("b" * 16, diff, [("bob", _earlier(90)), ("carol", _earlier(80))], expires_in=-60),
        "single": _record("c" * 16, diff, [("bob", _earlier(5))]),
        "self": _record("d" * 16, diff, [("alice", _earlier(5)), ("bob", _earlier(4))]),
        "same-twice": _record("e" * 16, diff, [("bob", _earlier(5)), ("Bob", _earlier(4))]),
        "late-approval": _record("f" * 16, diff, [("bob", _earlier(5)), ("carol", _earlier(-120))],
                                 expires_in=60),
    }
    _forge(repo, records[case])
    code, verdict = _guard(repo, "--base", "HEAD~1")
    assert code == 1 and verdict["overrides"] == []


def test_approving_an_expired_override_is_refused(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    oid = _forge(repo, _record("1" * 16, None, [], expires_in=-5))
    _as(monkeypatch, "bob")
    result = lanewarden("override", "approve", oid[:6], "--repo", str(repo))
    assert result.exit_code == 2 and "expired" in result.stderr
    assert lanewarden("override", "list", "--repo", str(repo)).stdout.strip() == "no overrides"
    assert "expired" in lanewarden("override", "list", "--repo", str(repo), "--all").stdout


def test_an_override_never_passes_the_secrets_guard(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = repo / "services/wallet-api/secrets/signer.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "key")
    oid = _forge(repo, {**_record("2" * 16, None, [("bob", _earlier(5)), ("carol", _earlier(4))]),
                        "paths": ["services/wallet-api/secrets/**"]})
    code, verdict = _guard(repo, "--base", "HEAD~1")
    assert code == 1 and verdict["overrides"] == [oid]
    votes = {v["guard"]: v["vote"] for v in verdict["votes"]}
    assert votes["scope"] == "approve" and votes["secrets"] == "reject"


def test_no_override_covers_the_policy_file(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _as(monkeypatch, "alice")
    for pattern in ("lanewarden.yaml", "*.yaml", "**"):
        result = lanewarden("override", "request", "--repo", str(repo), "--worker", "wallet-api", "--paths",
                           pattern, "--reason", "x", "--scope", "window")
        assert result.exit_code == 2 and "policy file" in result.stderr
    # A forged one that covers it anyway: the protected guard still rejects.
    (repo / "lanewarden.yaml").write_text((repo / "lanewarden.yaml").read_text() + "\n# widen\n")
    git(repo, "commit", "-qam", "policy")
    _forge(repo, {**_record("3" * 16, None, [("bob", _earlier(5)), ("carol", _earlier(4))]), "paths": ["**"]})
    code, verdict = _guard(repo, "--base", "HEAD~1")
    assert code == 1 and {v["guard"]: v["vote"] for v in verdict["votes"]}["protected"] == "reject"


def test_override_request_errors_say_what_to_do(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _as(monkeypatch, "alice")
    base = ["override", "request", "--repo", str(repo), "--paths", "services/kms-api/**", "--reason", "r"]
    cases = [
        ([*base, "--worker", "nobody", "--scope", "window"], "unknown worker"),
        ([*base, "--worker", "wallet-api"], "--diff-sha256"),
        ([*base, "--worker", "wallet-api", "--scope", "window", "--ttl", "3w"], "not a duration"),
        ([*base, "--worker", "wallet-api", "--scope", "window", "--ttl", "30d"], "limit"),
        (["override", "request", "--repo", str(repo), "--worker", "wallet-api", "--paths", "../x",
          "--reason", "r", "--scope", "window"], "valid path patterns"),
    ]
    for args, message in cases:
        result = lanewarden(*args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)


def _sealed(record: dict[str, Any]) -> dict[str, Any]:
    """The record with the id lanewarden derives from its content (what a careful forger computes)."""
    from lanewarden.guards.override import Scope, content_id

    return {**record, "id": content_id(record["worker"], record["paths"], record["reason"], record["requested_by"],
                                       record["requested_at"], Scope(record["scope"]), record["diff_sha256"])}


def test_a_run_ignores_overrides_its_agent_forges(repo: Path, tmp_path: Path) -> None:
    record = _sealed({**_record("4" * 16, None, [("bob", _earlier(5)), ("carol", _earlier(4))]),
                      "expires_at": "2099-01-01T00:00:00+00:00"})
    agent = tmp_path / "agent.py"
    agent.write_text(textwrap.dedent(f"""\
        import os, pathlib, subprocess
        # The main repository's git dir: <git dir>/lanewarden/runs/<run-id>/context.json
        main_git = pathlib.Path(os.environ["LANEWARDEN_CONTEXT"]).parents[3]
        def git(*args, data=None):
            return subprocess.run(["git", f"--git-dir={{main_git}}", *args], input=data, capture_output=True,
                                  check=True).stdout.strip()
        with open("../kms-api/src/kms_api/audit.py", "a") as fh:
            fh.write("# stray\\n")
        blob = git("hash-object", "-w", "--stdin", data={json.dumps(record)!r}.encode()).decode()
        tree = git("mktree", data=f"100644 blob {{blob}}\\toverride.json\\n".encode()).decode()
        commit = git("commit-tree", tree, "-m", "forged").decode()
        git("update-ref", "{PREFIX}{record['id']}", commit)
    """))
    # Unconfined, so the agent can write the main repository's refs at all (a confined one has only its clone).
    result = lanewarden("run", "wallet-api", "--repo", str(repo), "--unconfined", "--", sys.executable, str(agent))
    assert git(repo, "for-each-ref", PREFIX).strip(), "the agent did forge an override"
    # The run judged with the overrides that existed before the agent started: none.
    assert result.exit_code == 3, result.output
    run = json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json", "--kind", "run").stdout)
    assert run[0]["outcome"]["overrides"] == []
    # Nor does the forged record count in the next guard (or run): it is checked on every load.
    with open(repo / KMS, "a", encoding="utf-8") as fh:
        fh.write("# stray\n")
    git(repo, "commit", "-qam", "stray")
    code, verdict = _guard(repo, "--base", "HEAD~1")
    assert code == 1 and verdict["overrides"] == []
    note = next(n for n in verdict["notes"] if n.startswith(f"override {record['id']}"))
    assert "ignored" in note and "more than the limit of 7 days" in note and "no ledger entry" in note


# -- external reviewers ---------------------------------------------------

REVIEWERS = {
    "approve": 'import json,sys; v=json.load(sys.stdin); open(sys.argv[1],"w").write(v["worker"]); '
               'print(json.dumps({"vote":"approve","reasons":["looks fine"]}))',
    "reject": 'import sys; sys.stdin.read(); print(\'{"vote": "reject", "reasons": ["not convinced"]}\')',
    "hang": "import time; time.sleep(60)",
    "crash": "import sys; sys.stdin.read(); raise SystemExit(3)",
    "garbage": "import sys; sys.stdin.read(); print('LGTM!')",
    "novote": 'import sys; sys.stdin.read(); print(\'{"verdict": "approve"}\')',
}


def _with_reviewer(repo: Path, tmp_path: Path, kind: str) -> Path:
    script = tmp_path / f"{kind}.py"
    script.write_text(REVIEWERS[kind])
    seen = tmp_path / "seen.txt"
    policy = yaml.safe_load((repo / "lanewarden.yaml").read_text())
    policy["reviewers"] = {kind: {"command": [sys.executable, str(script), str(seen)], "timeout_s": 2}}
    (repo / "lanewarden.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    git(repo, "commit", "-qam", f"reviewer {kind}")
    with open(repo / WALLET, "a", encoding="utf-8") as fh:
        fh.write("\n# in lane\n")
    git(repo, "add", WALLET)
    return seen


@pytest.mark.parametrize(("kind", "code", "vote", "reason"), [
    ("approve", 0, "approve", "looks fine"),
    ("reject", 1, "reject", "not convinced"),
    ("hang", 3, "abstain", "timed out after 2s"),
    ("crash", 3, "abstain", "exited with 3"),
    ("garbage", 3, "abstain", "garbage"),
    ("novote", 3, "abstain", 'no "vote"'),
])
def test_reviewers_vote_or_abstain(repo: Path, tmp_path: Path, kind: str, code: int, vote: str,
                                   reason: str) -> None:
    seen = _with_reviewer(repo, tmp_path, kind)
    got, verdict = _guard(repo, "--staged")
    assert got == code
    votes = {v["guard"]: v for v in verdict["votes"]}
    assert votes[f"reviewer:{kind}"]["vote"] == vote
    assert any(reason in r for r in votes[f"reviewer:{kind}"]["reasons"])
    assert all(votes[g]["vote"] == "approve" for g in ("scope", "protected", "secrets", "budget"))
    if kind == "approve":
        assert seen.read_text() == "wallet-api"  # it was given the verdict JSON


def test_reviewers_are_not_asked_when_the_guards_already_reject(repo: Path, tmp_path: Path) -> None:
    seen = _with_reviewer(repo, tmp_path, "approve")
    with open(repo / KMS, "a", encoding="utf-8") as fh:
        fh.write("# stray\n")
    git(repo, "add", KMS)
    code, _verdict = _guard(repo, "--staged")
    assert code == 1 and not seen.exists()


def test_a_reviewer_whose_own_file_changes_abstains(repo: Path, tmp_path: Path) -> None:
    script = repo / "services/wallet-api/review.py"
    script.write_text(REVIEWERS["approve"])
    policy = yaml.safe_load((repo / "lanewarden.yaml").read_text())
    policy["reviewers"] = {"inrepo": {"command": [sys.executable, "services/wallet-api/review.py",
                                                  str(tmp_path / "seen")]}}
    (repo / "lanewarden.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "reviewer in repo")
    script.write_text('print(\'{"vote": "approve"}\')')  # the agent "improves" its own reviewer
    git(repo, "add", "-A")
    code, verdict = _guard(repo, "--staged")
    assert code == 3
    vote = next(v for v in verdict["votes"] if v["guard"] == "reviewer:inrepo")
    assert vote["vote"] == "abstain" and "part of the change under test" in vote["reasons"][0]


def test_replay_leaves_reviewers_out(repo: Path, tmp_path: Path) -> None:
    _with_reviewer(repo, tmp_path, "reject")
    code, _ = _guard(repo, "--staged", "--record")
    assert code == 1
    result = lanewarden("ledger", "replay", "1", "--repo", str(repo))
    # Without the reviewer the deterministic guards accept, and that is what is compared.
    assert result.exit_code == 0 and "not replayed" in result.stdout


# -- policy diff -----------------------------------------------------------

def _edit_policy(repo: Path, worker: str, field: str, add: list[str] | None = None,
                 remove: list[str] | None = None) -> None:
    policy = yaml.safe_load((repo / "lanewarden.yaml").read_text())
    values = [p for p in policy["workers"][worker].get(field, []) if p not in (remove or [])] + (add or [])
    policy["workers"][worker][field] = values
    (repo / "lanewarden.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    git(repo, "-c", "user.name=Mallory", "-c", "user.email=m@example.com", "commit", "-qam", "policy",
        "--author", "Mallory <m@example.com>")


def _diff(repo: Path) -> dict[str, Any]:
    result = lanewarden("policy", "diff", "HEAD~1", "HEAD", "--repo", str(repo), "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_policy_diff_sees_a_worker_widened_by_a_new_pattern(repo: Path) -> None:
    _edit_policy(repo, "wallet-api", "allow", add=["services/kms-api/client/**"])
    data = _diff(repo)
    assert data["grown"] == ["wallet-api"]
    w = data["workers"][0]
    assert w["added"] == {"allow": ["services/kms-api/client/**"]}
    assert w["newly_writable"] == 2 and "services/kms-api/client/kms.py" in w["newly_writable_sample"]
    text = lanewarden("policy", "diff", "HEAD~1", "HEAD", "--repo", str(repo)).stdout
    assert "WIDENED" in text and "+ allow: services/kms-api/client/**" in text


def test_policy_diff_sees_a_worker_widened_by_a_removed_deny(repo: Path) -> None:
    _edit_policy(repo, "wallet-api", "deny", remove=["services/wallet-api/secrets/**"])
    data = _diff(repo)
    assert data["grown"] == ["wallet-api"]
    assert data["workers"][0]["removed"] == {"deny": ["services/wallet-api/secrets/**"]}
    assert data["workers"][0]["newly_writable_sample"] == ["services/wallet-api/secrets/README.md"]


def test_policy_diff_tells_paper_widening_from_real_and_narrowing(repo: Path) -> None:
    _edit_policy(repo, "wallet-api", "allow", add=["generated/**"])
    w = _diff(repo)["workers"][0]
    assert w["widened_by_text"] and not w["grew"]
    _edit_policy(repo, "wallet-api", "deny", add=["services/wallet-api/api/**"])
    data = _diff(repo)
    assert data["grown"] == [] and data["workers"][0]["no_longer_writable"] > 0


def test_a_guarded_change_to_the_policy_carries_its_diff_and_author(repo: Path) -> None:
    _edit_policy(repo, "wallet-api", "allow", add=["services/kms-api/client/**"])
    code, verdict = _guard(repo, "--base", "HEAD~1", "--record")
    assert code == 1  # the policy file is protected whatever the diff says
    assert verdict["policy_diff"]["grown"] == ["wallet-api"]
    entries = json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json").stdout)
    policy_entry = entries[-1]
    assert policy_entry["kind"] == "policy" and policy_entry["inputs"]["changed_by"] == ["Mallory <m@example.com>"]
    assert policy_entry["outcome"]["diff"]["grown"] == ["wallet-api"]
    recorded = lanewarden("policy", "diff", "HEAD~1", "HEAD", "--repo", str(repo), "--record")
    assert recorded.exit_code == 0
    assert json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json", "--last", "1").stdout
                      )[0]["kind"] == "policy"


def test_policy_diff_of_an_invalid_new_policy_is_named(repo: Path) -> None:
    (repo / "lanewarden.yaml").write_text(textwrap.dedent("""\
        version: 1
        root: nobody
        workers: {a: {allow: ["x/**"]}}
    """))
    git(repo, "commit", "-qam", "broken policy")
    code, verdict = _guard(repo, "--base", "HEAD~1")
    assert code == 1 and "not a valid policy" in verdict["policy_diff"]["error"]
    bad = lanewarden("policy", "diff", "HEAD~1", "HEAD", "--repo", str(repo))
    assert bad.exit_code == 2 and "HEAD:lanewarden.yaml" in bad.stderr


def test_a_billion_laughs_policy_in_the_change_is_refused_not_expanded(repo: Path) -> None:
    levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for name, prev in zip("bcdefg", "abcdef", strict=False):
        levels.append(f"{name}: &{name} [{','.join(['*' + prev] * 10)}]")
    policy = "version: 1\nroot: r\n" + "\n".join(levels) + "\nworkers: {r: {allow: [x]}}\n"
    (repo / "lanewarden.yaml").write_text(policy)
    git(repo, "commit", "-qam", "a policy that expands to 10 million values")
    code, verdict = _guard(repo, "--base", "HEAD~1")
    assert code == 1 and "expands to more than" in verdict["policy_diff"]["error"]
