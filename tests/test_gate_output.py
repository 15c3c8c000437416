"""The gate in a team: quiet on success, loud on failure, pinned hooks, first commit and first push."""
from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN, FIXTURES, expect, git, git_env, lanewarden


def _env(**extra: str) -> dict[str, str]:
    env = git_env()
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("LANEWARDEN_WORKER", None)
    env.update(extra)
    return env


def _commit(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-c", "commit.gpgSign=false", "commit", *args], cwd=repo, env=_env(**env),
                          capture_output=True, text=True, check=False)


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


def test_an_accepted_change_is_one_line_and_a_blocked_one_the_whole_table(repo: Path) -> None:
    for n in range(30):
        (repo / f"services/wallet-api/gen_{n}.py").write_text(f"n = {n}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "thirty files in lane")
    quiet = expect(lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "HEAD~1"))
    assert quiet.stdout.splitlines() == [
        quiet.stdout.strip()] and "ACCEPT for wallet-api: 30 paths in lane" in quiet.stdout
    table = expect(lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "HEAD~1", "-v"))
    assert len(table.stdout.splitlines()) > 30 and "decision: ACCEPT" in table.stdout
    _append(repo / "services/kms-api/README.md", "stray\n")
    git(repo, "commit", "-qam", "stray")
    loud = expect(lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "HEAD~1"), 1)
    assert "out_of_scope" in loud.stdout and "next:" in loud.stdout and "decision: REJECT" in loud.stdout


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run the real CLI with stdout on a pseudo-terminal, as a person's shell would."""
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "lanewarden", *args], stdout=child, stderr=child, env=env)
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait()
    os.close(main)
    return out.decode("utf-8", "replace")


def test_colour_on_a_terminal_and_never_with_no_color(repo: Path) -> None:
    _append(repo / "services/kms-api/README.md", "stray\n")
    git(repo, "commit", "-qam", "stray")
    args = ["guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "HEAD~1"]
    env = {k: v for k, v in _env().items() if k != "NO_COLOR"}
    assert "\x1b[" in _on_a_terminal(args, env)
    plain = _on_a_terminal(args, {**env, "NO_COLOR": "1"})
    assert "REJECT" in plain and "\x1b[" not in plain
    piped = subprocess.run([sys.executable, "-m", "lanewarden", *args], env=env, capture_output=True, text=True,
                           check=False)
    assert piped.returncode == 1 and "\x1b[" not in piped.stdout  # not a terminal: no colour


def test_github_format_reports_errors_as_annotations(repo: Path) -> None:
    result = lanewarden("guard", "--repo", str(repo), "--worker", "nobody", "--base", "HEAD",
                        "--format", "github")
    assert result.exit_code == 2
    assert result.stdout.startswith("::error title=lanewarden::unknown worker 'nobody'")
    assert "error: unknown worker" in result.stderr


def test_an_installed_hook_keeps_its_worker_whatever_the_environment_says(repo: Path) -> None:
    expect(lanewarden("hook", "install", "--repo", str(repo), "--worker", "kms-api"))
    _append(repo / "services/wallet-api/README.md", "wallet-api's file\n")
    git(repo, "add", "-A")
    moved = _commit(repo, "-qm", "claims another lane", LANEWARDEN_WORKER="wallet-api")
    assert moved.returncode == 1, moved.stdout + moved.stderr
    said = moved.stdout + moved.stderr  # git hands a hook's output to stderr
    assert "worker kms-api" in said and "out_of_scope" in said
    git(repo, "reset", "-q", "--hard")
    _append(repo / "services/kms-api/README.md", "kms-api's own file\n")
    git(repo, "add", "-A")
    ok = _commit(repo, "-qm", "in its own lane", LANEWARDEN_WORKER="wallet-api")
    said = ok.stdout + ok.stderr
    assert ok.returncode == 0 and said.count("\n") == 1 and "ACCEPT for kms-api" in said


def test_the_first_commit_and_the_first_push_to_an_empty_remote(tmp_path: Path) -> None:
    repo = tmp_path / "new"
    repo.mkdir()
    git(repo, "init", "-q")
    expect(lanewarden("hook", "install", "--repo", str(repo), "--worker", "wallet-api"))
    shutil.copytree(FIXTURES / "wallet-platform", repo, dirs_exist_ok=True)
    git(repo, "add", "-A")
    first = _commit(repo, "-qm", "the first commit")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "the first commit is not guarded" in first.stdout + first.stderr
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    push = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=repo, env=_env(), capture_output=True,
                          text=True, check=False)
    assert push.returncode == 0, push.stdout + push.stderr
    assert "has no branch yet" in push.stdout + push.stderr
    # Control: once the remote has a branch, a new branch's push is guarded against it.
    git(repo, "fetch", "-q", "origin")
    git(repo, "checkout", "-q", "-b", "topic")
    _append(repo / "services/kms-api/README.md", "stray\n")
    git(repo, "-c", "core.hooksPath=/dev/null", "commit", "-qam", "stray, pre-commit skipped")
    blocked = subprocess.run(["git", "push", "-q", "origin", "topic"], cwd=repo, env=_env(), capture_output=True,
                             text=True, check=False)
    assert blocked.returncode != 0 and "out_of_scope" in blocked.stdout + blocked.stderr


def _with_actors(repo: Path) -> None:
    text = (repo / "lanewarden.yaml").read_text()
    text = text.replace("  wallet-api:\n", "  wallet-api:\n    actors: [wallet-bot]\n", 1)
    (repo / "lanewarden.yaml").write_text(text)
    git(repo, "commit", "-qam", "policy: wallet-bot acts as wallet-api")


def test_the_ci_gate_takes_the_worker_from_the_ci_identity_never_the_branch(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_actors(repo)
    base = git(repo, "rev-parse", "HEAD").strip()
    # The attack: a branch named for root's lane, a variable the branch's workflow could set.
    git(repo, "checkout", "-q", "-b", "lanewarden/root/x")
    _append(repo / "services/kms-api/README.md", "stray\n")
    git(repo, "commit", "-qam", "wallet-bot edits kms-api")
    head = git(repo, "rev-parse", "HEAD").strip()
    monkeypatch.setenv("LANEWARDEN_WORKER", "root")
    monkeypatch.setenv("GITHUB_ACTOR", "wallet-bot")
    gate = lanewarden("guard", "--repo", str(repo), "--base", base, "--head", head, "--ci", "--format", "json")
    verdict = json.loads(gate.stdout)
    assert gate.exit_code == 1 and verdict["worker"] == "wallet-api"  # judged as the bot's lane, rejected
    assert any("wallet-bot is one of its actors" in n for n in verdict["notes"])
    # Control: locally, without --ci, the branch name is a hint people may use.
    monkeypatch.delenv("LANEWARDEN_WORKER")
    local = json.loads(lanewarden("guard", "--repo", str(repo), "--base", base, "--head", head,
                                  "--format", "json").stdout)
    assert local["worker"] == "root"
    # An identity no worker names is judged by the owners of what it touches (a person).
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    person = json.loads(lanewarden("guard", "--repo", str(repo), "--base", base, "--head", head, "--ci",
                                   "--format", "json").stdout)
    assert person["worker"] == "(unattributed)" and person["decision"] == "accept"
    # --ci never takes a worker from the command line either; and it needs the CI's variable.
    clash = lanewarden("guard", "--repo", str(repo), "--base", base, "--head", head, "--ci", "--worker", "root")
    assert clash.exit_code == 2 and "--ci takes the identity from the CI system" in clash.stderr
    monkeypatch.delenv("GITHUB_ACTOR")
    missing = lanewarden("guard", "--repo", str(repo), "--base", base, "--head", head, "--ci")
    assert missing.exit_code == 2 and "GITHUB_ACTOR" in missing.stderr
    wrong = lanewarden("guard", "--repo", str(repo), "--base", base, "--head", head, "--actor", "wallet-bot",
                       "--worker", "kms-api")
    assert wrong.exit_code == 2 and "may not act as worker 'kms-api'" in wrong.stderr


def test_a_policy_change_lands_by_root_with_two_approvals_and_its_policy_diff(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    text = (repo / "lanewarden.yaml").read_text()
    (repo / "lanewarden.yaml").write_text(text.replace('propose_only: ["contracts/**"]', "propose_only: []", 1))
    git(repo, "commit", "-qam", "policy: one worker may write the contracts")
    head = git(repo, "rev-parse", "HEAD").strip()

    def gate(worker: str) -> tuple[int, dict[str, object]]:
        result = lanewarden("guard", "--repo", str(repo), "--worker", worker, "--base", base, "--head", head,
                            "--format", "json")
        return result.exit_code, json.loads(result.stdout)

    # Another worker never changes the policy, approvals or not: protected.
    code, verdict = gate("wallet-api")
    assert code == 1 and any(v["guard"] == "protected" and v["vote"] == "reject" for v in verdict["votes"])
    # Root: revision until two people approve this exact change; the policy diff says who got wider.
    code, verdict = gate("root")
    assert code == 3 and verdict["policy_diff"]["workers"][0]["removed"] == {"propose_only": ["contracts/**"]}
    monkeypatch.setenv("LANEWARDEN_ACTOR", "rosa")
    request = lanewarden("override", "request", "--repo", str(repo), "--worker", "root", "--paths",
                         "lanewarden.yaml", "--reason", "let the first worker write contracts", "--diff-sha256",
                         str(verdict["diff_sha256"]), "--format", "json")
    assert request.exit_code == 0, request.output
    oid = str(json.loads(request.stdout)["id"])
    monkeypatch.setenv("LANEWARDEN_ACTOR", "ada")
    expect(lanewarden("override", "approve", "--repo", str(repo), oid))
    assert gate("root")[0] == 3  # one approval is not dual control
    monkeypatch.setenv("LANEWARDEN_ACTOR", "grace")
    expect(lanewarden("override", "approve", "--repo", str(repo), oid))
    code, verdict = gate("root")
    assert code == 0 and verdict["overrides"] == [oid]
    assert any("approved under override" in r for v in verdict["votes"] for r in v["reasons"])
    shown = lanewarden("guard", "--repo", str(repo), "--worker", "root", "--base", base, "--head", head, "-v")
    assert "policy change: wider: " in shown.stdout  # loud, never silent, even when accepted
    # The same approvals do not carry a different change.
    (repo / "lanewarden.yaml").write_text((repo / "lanewarden.yaml").read_text() + "# and one more edit\n")
    git(repo, "commit", "-qam", "policy: another edit")
    later = json.loads(lanewarden("guard", "--repo", str(repo), "--worker", "root", "--base", base,
                                  "--format", "json").stdout)
    assert later["decision"] == "revision"
