"""No secret kept: what the secrets guard flags is never written in clear anywhere.

The finding behind this file: a run that wrote ``.env`` with an AWS key was
rolled back for secrets, yet the key went into the ledger entry's
``change.diff`` and ``handoffs sync`` pushed it to the remote, and
``guard --worktree --record-handoffs`` queued a handoff whose patch carried
the flagged file. The ledger is a hash chain: it cannot be cleaned later.

Each test plants a key, drives the real CLI, syncs to a real bare remote and
then searches everything git can reach (the remote's history, every object
reachable from ``refs/lanewarden/``) and every file lanewarden wrote.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import expect, git, lanewarden

KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example access key id
ENV_BODY = f"AWS_ACCESS_KEY_ID={KEY}\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
OWN_ENV = "services/wallet-api/.env"
FOREIGN_ENV = "services/kms-api/.env"
FOREIGN_README = "services/kms-api/README.md"
APP = "services/wallet-api/src/wallet_api/app.py"


@pytest.fixture(autouse=True)
def _sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return


def write(repo: Path, rel: str, text: str) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def lanewarden_objects(repo: Path) -> bytes:
    """The content of every object reachable from refs/lanewarden/ (what sync pushes)."""
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/lanewarden/").split()
    if not refs:
        return b""
    listed = git(repo, "rev-list", "--objects", *refs)
    oids = [line.split(" ", 1)[0] for line in listed.splitlines() if line]
    batch = git(repo, "cat-file", "--batch", input=("\n".join(oids) + "\n").encode())
    return batch.encode("utf-8", "surrogateescape")


def bare_remote(repo: Path, tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    return remote


def assert_nowhere(repo: Path, remote: Path | None = None, *folders: Path) -> None:
    """The key is in no object reachable from refs/lanewarden/, in no remote history, in no file."""
    assert KEY.encode() not in lanewarden_objects(repo), "the key is reachable from refs/lanewarden/"
    if remote is not None:
        refs = git(remote, "for-each-ref", "--format=%(refname)").split()
        assert any(r.startswith("refs/lanewarden/") for r in refs), refs  # something was pushed
        assert KEY not in git(remote, "log", "-p", "--all", "--binary")
        revs = git(remote, "rev-list", "--all").split()
        assert git(remote, "grep", "-I", "-e", KEY, *revs, check=False) == ""
        everything = git(remote, "cat-file", "--batch-all-objects", "--batch")
        assert KEY not in everything, "the remote's object store holds the key"
    for folder in folders:
        for dirpath, _, files in os.walk(folder):
            for name in files:
                assert KEY.encode() not in (Path(dirpath) / name).read_bytes(), Path(dirpath) / name


def entries(repo: Path) -> list[dict[str, object]]:
    shown: list[dict[str, object]] = json.loads(
        lanewarden("ledger", "show", "--repo", str(repo), "--format", "json").stdout)
    return shown


# -- guard --record and --record-handoffs -------------------------------------

def test_worktree_record_handoffs_keeps_no_key_and_hands_off_no_secret(repo: Path, tmp_path: Path) -> None:
    remote = bare_remote(repo, tmp_path)
    write(repo, OWN_ENV, ENV_BODY)
    write(repo, FOREIGN_ENV, ENV_BODY)  # out of the lane too: must not become a handoff
    write(repo, FOREIGN_README, "# kms\nnotes\n")  # an honest out-of-lane edit: still handed off
    result = expect(lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--worktree",
                               "--record", "--record-handoffs", "--format", "json"), 1)
    verdict = json.loads(result.stdout)
    secret_votes = [v for v in verdict["votes"] if v["guard"] == "secrets"]
    assert secret_votes[0]["vote"] == "reject"
    handed = [p for h in verdict["handoffs"] for p in h["paths"]]
    assert FOREIGN_README in handed and FOREIGN_ENV not in handed and OWN_ENV not in handed
    listed = json.loads(lanewarden("handoffs", "list", "--repo", str(repo), "--format", "json").stdout)
    assert [h["evidence"]["paths"] for h in listed] == [[FOREIGN_README]]
    # The ledger keeps the path, the rule and a hash, never the content.
    guard_entry = next(e for e in entries(repo) if e["kind"] == "guard")
    redacted = guard_entry["inputs"]["redacted"]  # type: ignore[index]
    assert set(redacted["paths"]) == {OWN_ENV, FOREIGN_ENV}
    code, change = _attachment(repo, "change.diff")
    assert code == 0 and "[redacted: an environment file" in change and "sha256:" in change
    assert OWN_ENV in change  # the path stays
    report = expect(lanewarden("handoffs", "sync", "origin", "--repo", str(repo)))
    assert report.exit_code == 0
    assert_nowhere(repo, remote, repo / ".git" / "lanewarden", tmp_path / "state")


def _attachment(repo: Path, name: str) -> tuple[int, str]:
    head = git(repo, "rev-parse", "refs/lanewarden/ledger").strip()
    found = git(repo, "cat-file", "-p", f"{head}:{name}", check=False)
    return (0 if found else 1), found


def test_staged_record_redacts_a_token_in_an_ordinary_file(repo: Path) -> None:
    write(repo, APP, f'KEY = "{KEY}"\n')
    git(repo, "add", "-A")
    expect(lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--staged", "--record"), 1)
    _, change = _attachment(repo, "change.diff")
    assert APP in change and "[redacted: " in change
    _, manifest = _attachment(repo, "redactions.json")
    assert json.loads(manifest)[0]["path"] == APP and len(json.loads(manifest)[0]["sha256"]) == 64
    assert_nowhere(repo)


def test_replay_of_a_redacted_decision_says_it_cannot_check_that_file(repo: Path) -> None:
    write(repo, OWN_ENV, ENV_BODY)
    write(repo, "services/wallet-api/notes.txt", "fine\n")
    expect(lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--worktree", "--record"), 1)
    seq = str(entries(repo)[-1]["seq"])
    result = lanewarden("ledger", "replay", seq, "--repo", str(repo), "--format", "json")
    data = json.loads(result.stdout)
    # Fail closed: never a claimed match for content it could not see.
    assert result.exit_code == 1 and not data["reproduced"], data
    assert data["unchecked"] == [OWN_ENV] and data["replayed_decision"] == "unchecked"
    assert any(OWN_ENV in d and "redacted" in d for d in data["differences"]), data
    # The rest of the change was replayed and matched path by path.
    assert not any("notes.txt" in d for d in data["differences"]), data
    text = lanewarden("ledger", "replay", seq, "--repo", str(repo))
    assert "cannot be checked again" in text.stdout


def test_range_record_does_not_keep_the_secret_commit(repo: Path, tmp_path: Path) -> None:
    remote = bare_remote(repo, tmp_path)
    git(repo, "checkout", "-q", "-b", "topic")
    write(repo, OWN_ENV, ENV_BODY)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "oops")
    git(repo, "checkout", "-q", "main")
    expect(lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "main",
                      "--head", "topic", "--record"), 1)
    # While the commit exists, the decision replays in full.
    seq = str(entries(repo)[-1]["seq"])
    expect(lanewarden("ledger", "replay", seq, "--repo", str(repo)), 0)
    expect(lanewarden("handoffs", "sync", "origin", "--repo", str(repo)))
    assert_nowhere(repo, remote)
    # Once the branch is gone the ledger cannot replay it, and says why.
    git(repo, "branch", "-q", "-D", "topic")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    gone = lanewarden("ledger", "replay", seq, "--repo", str(repo))
    assert gone.exit_code == 2 and "secret-like" in gone.stderr and "not keep" in gone.stderr, gone.stderr


# -- runs ----------------------------------------------------------------------

def test_rolled_back_run_keeps_no_key_anywhere(repo: Path, tmp_path: Path) -> None:
    remote = bare_remote(repo, tmp_path)
    # Inline (the confined agent has a private /tmp, so a script in the test's tmp_path is not there), and
    # the key is put together by the agent: the command line itself, kept in the run's state, holds none.
    half = len(KEY) // 2
    body = ENV_BODY.replace(KEY, "$A$B")
    script = (f"set -eu\nA={KEY[:half]}; B={KEY[half:]}\nprintf \"{body}\" > .env\necho \"wrote $A$B\"\n"
              "echo '# fine' >> README.md\n")
    result = lanewarden("run", "wallet-api", "--repo", str(repo), "--format", "json", "--", "sh", "-c", script)
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["outcome"] == "rejected", data
    assert any(r.startswith("secrets:") for r in data["reasons"]), data["reasons"]
    folder = repo / ".git" / "lanewarden" / "runs" / data["run_id"]
    attempt = (folder / "attempt.diff").read_text()
    assert OWN_ENV in attempt and "[redacted: an environment file" in attempt
    assert "services/wallet-api/README.md" in attempt and "# fine" in attempt  # the rest stays evidence
    assert "wrote [redacted: AWS access key id" in (folder / "log.txt").read_text()
    run_entry = next(e for e in entries(repo) if e["kind"] == "run")
    assert run_entry["inputs"]["redacted"]["paths"] == [OWN_ENV]  # type: ignore[index]
    expect(lanewarden("handoffs", "sync", "origin", "--repo", str(repo)))
    assert_nowhere(repo, remote, folder, tmp_path / "state")


# -- handoff proposals and logs --------------------------------------------------

def test_a_proposed_handoff_never_carries_a_secret(repo: Path) -> None:
    write(repo, FOREIGN_ENV, ENV_BODY)
    git(repo, "add", "-N", FOREIGN_ENV)
    patch = git(repo, "diff")
    git(repo, "reset", "-q")
    result = lanewarden("handoff", "propose", "--repo", str(repo), "--worker", "wallet-api",
                        "--problem", "kms needs this", "--patch", "-", input=patch)
    assert result.exit_code == 2 and FOREIGN_ENV in result.stderr and "secret-like" in result.stderr
    listed = json.loads(lanewarden("handoffs", "list", "--repo", str(repo), "--format", "json").stdout)
    assert listed == []
    assert_nowhere(repo)


def test_crash_logs_and_the_crash_line_carry_no_token(tmp_path: Path) -> None:
    from lanewarden.orchestrator.boundary import write_crash_log

    try:
        raise RuntimeError(f"git apply failed near +AWS_ACCESS_KEY_ID={KEY}")
    except RuntimeError as exc:
        log = write_crash_log(exc)
    text = log.read_text()
    assert KEY not in text and "[redacted: AWS access key id, sha256:" in text
    assert "RuntimeError" in text  # the traceback itself stays


def test_redaction_keeps_paths_rules_and_hashes_of_a_binary_key_file() -> None:
    from lanewarden.guards.redaction import Finding, redact

    patch = (b"diff --git a/k.p12 b/k.p12\nnew file mode 100644\nindex 0000000..1111111\n"
             b"GIT binary patch\nliteral 20\nAKIAIOSFODNN7EXAMPLEzz\n\nliteral 0\nHcmV?d00001\n\n")
    out = redact(patch, [Finding("k.p12", "a keystore")])
    assert KEY.encode() not in out.patch and b"diff --git a/k.p12 b/k.p12" in out.patch
    assert [(r.path, r.rule, r.whole_file) for r in out.redactions] == [("k.p12", "a keystore", True)]

