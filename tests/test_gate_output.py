"""The gate in a team: quiet on success, loud on failure, pinned hooks, first commit and first push."""
from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

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
