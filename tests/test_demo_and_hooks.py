"""The demo end to end, and the git hooks run by real git commands."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN, git, git_env, lanewarden


def test_demo_walks_through_accept_reject_and_handoffs(tmp_path: Path) -> None:
    result = lanewarden("demo", "--dir", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.stdout + result.stderr
    out = result.stdout
    assert "0 lint warning(s)" in out
    assert "in-lane change: accept (exit 0); stray change: reject (exit 1)" in out
    assert "contracts/kms/kms.proto -> contracts (propose_only)" in out
    assert "services/kms-api/src/kms_api/keys.py -> kms-api (out_of_scope)" in out
    assert "accepted  wallet-api -> contracts" in out
    assert "hd-manager  accepted" in out and "wallet-api  split" in out
    # The demo leaves a real repository behind, with the queue in refs: two handoffs
    # from the recorded guard verdict, two from the dispatched stray agent.
    refs = git(tmp_path / "demo", "for-each-ref", "refs/lanewarden/handoffs/")
    assert len(refs.splitlines()) == 4
    assert git(tmp_path / "demo", "status", "--porcelain") == ""


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("keep me\n")
    result = lanewarden("demo", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert "not empty" in result.stderr
    assert (tmp_path / "x").read_text() == "keep me\n"


def test_installed_console_script_runs_the_demo(tmp_path: Path) -> None:
    proc = subprocess.run([str(BIN / "lanewarden"), "demo", "--dir", str(tmp_path / "d")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "stray change: reject" in proc.stdout


def _hook_env(worker: str | None = "wallet-api") -> dict[str, str]:
    env = git_env()
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("LANEWARDEN_WORKER", None)
    if worker:
        env["LANEWARDEN_WORKER"] = worker
    return env


def _commit(repo: Path, *args: str, worker: str | None = "wallet-api") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-c", "commit.gpgSign=false", "commit", "-q", *args], cwd=repo,
                          env=_hook_env(worker), capture_output=True, text=True, check=False)


def test_hook_install_blocks_an_out_of_scope_commit(repo: Path) -> None:
    assert lanewarden("hook", "install", "--repo", str(repo)).exit_code == 0
    (repo / "services/kms-api/src/kms_api/keys.py").write_text("stray = 1\n")
    git(repo, "add", "-A")
    blocked = _commit(repo, "-m", "stray")
    assert blocked.returncode != 0
    assert "out_of_scope" in blocked.stdout + blocked.stderr
    git(repo, "reset", "-q", "--hard")
    with open(repo / "services/wallet-api/README.md", "a") as fh:
        fh.write("in lane\n")
    git(repo, "add", "-A")
    assert _commit(repo, "-m", "in lane").returncode == 0


def test_pre_commit_guards_the_index_of_commit_a(repo: Path) -> None:
    # `git commit -a` hands the hook a temporary index; the real one is still clean.
    assert lanewarden("hook", "install", "--repo", str(repo)).exit_code == 0
    with open(repo / "services/kms-api/src/kms_api/keys.py", "a") as fh:
        fh.write("stray = 1\n")
    assert _commit(repo, "-a", "-m", "stray via -a").returncode != 0
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"


def test_a_persons_commit_is_judged_by_the_owners_of_what_it_touches(repo: Path) -> None:
    # No worker: the trusted policy's gate.unattributed (default owners) judges each path in its
    # owner's lane, so people keep committing in their services while protected paths stay protected.
    assert lanewarden("hook", "install", "--repo", str(repo)).exit_code == 0
    for path in ("services/wallet-api/README.md", "services/kms-api/README.md"):
        with open(repo / path, "a") as fh:
            fh.write("a person's edit\n")
    git(repo, "add", "-A")
    ok = _commit(repo, "-m", "a person touches two services", worker=None)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "no worker acted; 2 paths judged in their owners' lanes" in ok.stdout + ok.stderr
    with open(repo / "lanewarden.yaml", "a") as fh:
        fh.write("# a person edits the policy\n")
    git(repo, "add", "-A")
    blocked = _commit(repo, "-m", "policy edit without approvals", worker=None)
    said = blocked.stdout + blocked.stderr  # root's route: two approvals first (git reports any hook failure as 1)
    assert blocked.returncode != 0 and "decision: REVISION (exit 3)" in said, said
    assert "lands only with two approvals" in said and "policy change: " in said
    git(repo, "reset", "-q", "--hard")
    # The trusted policy can say otherwise: reject every unattributed change.
    text = (repo / "lanewarden.yaml").read_text()
    (repo / "lanewarden.yaml").write_text(text.replace("root: root\n", "root: root\ngate:\n  unattributed: reject\n"))
    git(repo, "-c", "core.hooksPath=/dev/null", "commit", "-qam", "policy: reject unattributed changes")
    with open(repo / "services/wallet-api/README.md", "a") as fh:
        fh.write("again\n")
    git(repo, "add", "-A")
    refused = _commit(repo, "-m", "who am I", worker=None)
    assert refused.returncode != 0 and "rejects unattributed changes" in refused.stdout + refused.stderr


def test_hook_install_respects_foreign_hooks(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    refused = lanewarden("hook", "install", "--repo", str(repo))
    assert refused.exit_code == 2
    assert "--force" in refused.stderr
    assert (hooks / "pre-commit").read_text() == "#!/bin/sh\nexit 0\n"
    assert lanewarden("hook", "install", "--repo", str(repo), "--force").exit_code == 0
    assert "lanewarden-managed" in (hooks / "pre-commit").read_text()


def test_hook_install_pins_a_worker(repo: Path) -> None:
    assert lanewarden("hook", "install", "--repo", str(repo), "--worker", "kms-api").exit_code == 0
    with open(repo / "services/kms-api/README.md", "a") as fh:
        fh.write("kms owns this\n")
    git(repo, "add", "-A")
    assert _commit(repo, "-m", "kms change", worker=None).returncode == 0


def test_pre_push_guards_the_pushed_range(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "fetch", "-q", "origin")
    assert lanewarden("hook", "install", "--repo", str(repo)).exit_code == 0
    git(repo, "checkout", "-q", "-b", "lanewarden/wallet-api/topic")
    with open(repo / "contracts/kms/kms.proto", "a") as fh:
        fh.write("// wallet-api edits the contract\n")
    git(repo, "add", "-A")
    git(repo, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "skip pre-commit, test pre-push")
    push = subprocess.run(["git", "push", "-q", "origin", "lanewarden/wallet-api/topic"], cwd=repo,
                          env=_hook_env(None), capture_output=True, text=True, check=False)
    assert push.returncode != 0, push.stdout + push.stderr
    assert "propose_only" in push.stdout + push.stderr
    assert git(remote, "branch", "--list", "lanewarden/wallet-api/topic").strip() == ""


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run([sys.executable, "-m", "lanewarden", "--help"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0
    assert "guard" in proc.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git is required")
def test_help_lists_commands_and_exit_codes() -> None:
    result = lanewarden("--help")
    assert result.exit_code == 0
    for word in ("guard", "explain", "policy", "handoffs", "demo", "Exit codes"):
        assert word in result.stdout
