"""lanewarden under the real pre-commit framework (https://pre-commit.com), in real repositories.

Two ways in, as docs/ci.md shows them: the published `.pre-commit-hooks.yaml` from a clone of this
checkout (pre-commit clones it and pip-installs it: `language: python`), and a `repo: local` hook with
`language: system` that runs the `lanewarden` on PATH (the checkout's console script here).
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import BIN, CHECKOUT, git, git_env

pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install '.[test]')")

IN_LANE = "services/wallet-api/src/wallet_api/signing.py"
OUT_OF_LANE = "services/kms-api/src/kms_api/audit.py"
LOCAL = """\
repos:
  - repo: local
    hooks:
      - id: lanewarden
        name: lanewarden
        entry: lanewarden hook run pre-commit
        args: {args}
        language: system
        pass_filenames: false
        always_run: true
        stages: [pre-commit]
      - id: lanewarden-pre-push
        name: lanewarden (pre-push)
        entry: lanewarden hook run pre-push
        args: {args}
        language: system
        pass_filenames: false
        always_run: true
        stages: [pre-push]
"""


def _env(home: Path) -> dict[str, str]:
    # BIN first: `lanewarden` is this checkout's console script, never an installed copy.
    return {**git_env(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PRE_COMMIT_HOME": str(home),
            "PRE_COMMIT_COLOR": "never"}


def _pre_commit(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=repo, env=_env(home),
                          capture_output=True, text=True, check=False)


def _commit(repo: Path, home: Path, message: str) -> subprocess.CompletedProcess[str]:
    """A plain `git commit`: the hook pre-commit installed runs, as it does for a person or an agent."""
    return subprocess.run(["git", "-c", "commit.gpgSign=false", "commit", "-q", "-m", message], cwd=repo,
                          env=_env(home), capture_output=True, text=True, check=False)


def _edit(repo: Path, path: str) -> None:
    with open(repo / path, "a", encoding="utf-8") as fh:
        fh.write("# one more line\n")
    git(repo, "add", path)


def _with_config(repo: Path, config: str, home: Path) -> Path:
    (repo / ".pre-commit-config.yaml").write_text(config, encoding="utf-8")
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-qm", "pre-commit config")  # before the hooks are installed
    proc = _pre_commit(repo, home, "install", "--hook-type", "pre-commit", "--hook-type", "pre-push")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return repo


def test_the_published_manifest_is_valid() -> None:
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest",
                           str(CHECKOUT / ".pre-commit-hooks.yaml")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_published_hooks_from_a_clone_of_the_checkout(repo: Path, tmp_path: Path) -> None:
    """`repo:` a git repository holding this checkout's files as they are now; pre-commit pip-installs it."""
    source = tmp_path / "lanewarden-src"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=CHECKOUT, env=git_env(),
                           capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, files):
        src = CHECKOUT / os.fsdecode(name)
        if src.is_file():
            dest = source / os.fsdecode(name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(src.read_bytes())
    git(source, "init", "-q")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "lanewarden at this checkout")
    rev = git(source, "rev-parse", "HEAD").strip()
    home = tmp_path / "pre-commit-home"
    config = (f"repos:\n  - repo: {source}\n    rev: {rev}\n    hooks:\n"
              "      - id: lanewarden\n        args: [--worker, wallet-api]\n")
    _with_config(repo, config, home)
    installed = _pre_commit(repo, home, "install-hooks")
    if installed.returncode != 0:
        # language: python pip-installs lanewarden's dependencies: offline, that cannot work.
        # The repo: local hooks below are the documented way then (docs/ci.md).
        pytest.skip(f"pre-commit could not build the hook's environment (no package index?): "
                    f"{installed.stdout[-300:]}")
    _edit(repo, IN_LANE)
    assert _commit(repo, home, "in lane").returncode == 0
    _edit(repo, OUT_OF_LANE)
    blocked = _commit(repo, home, "out of lane")
    assert blocked.returncode != 0 and "decision: REJECT" in blocked.stdout + blocked.stderr
    assert git(repo, "log", "-1", "--format=%s").strip() == "in lane"


@pytest.fixture
def agent_repo(repo: Path, tmp_path: Path) -> Path:
    return _with_config(repo, LOCAL.format(args="[--worker, wallet-api]"), tmp_path / "home")


def test_an_agents_in_lane_commit_lands_and_its_out_of_lane_commit_does_not(agent_repo: Path,
                                                                            tmp_path: Path) -> None:
    home = tmp_path / "home"
    _edit(agent_repo, IN_LANE)
    ok = _commit(agent_repo, home, "in lane")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    _edit(agent_repo, OUT_OF_LANE)
    blocked = _commit(agent_repo, home, "out of lane")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0 and "decision: REJECT" in output and OUT_OF_LANE in output
    assert git(agent_repo, "log", "-1", "--format=%s").strip() == "in lane"
    # An environment variable cannot move the pinned clone to the other lane.
    env_moved = subprocess.run(["git", "commit", "-q", "-m", "moved"], cwd=agent_repo,
                               env={**_env(home), "LANEWARDEN_WORKER": "kms-api"},
                               capture_output=True, text=True, check=False)
    assert env_moved.returncode != 0


def test_run_all_files_guards_the_index_against_head(agent_repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    clean = _pre_commit(agent_repo, home, "run", "--all-files")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    _edit(agent_repo, OUT_OF_LANE)
    stray = _pre_commit(agent_repo, home, "run", "--all-files")
    assert stray.returncode == 1 and "decision: REJECT" in stray.stdout


def test_pre_push_stage_guards_the_pushed_range(agent_repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    base = git(agent_repo, "rev-parse", "HEAD").strip()
    with open(agent_repo / OUT_OF_LANE, "a", encoding="utf-8") as fh:
        fh.write("# pushed around the pre-commit hook\n")
    git(agent_repo, "-c", "core.hooksPath=/dev/null", "commit", "-qam", "stray")
    head = git(agent_repo, "rev-parse", "HEAD").strip()
    pushed = _pre_commit(agent_repo, home, "run", "--hook-stage", "pre-push", "--from-ref", base, "--to-ref", head)
    assert pushed.returncode == 1 and OUT_OF_LANE in pushed.stdout, pushed.stdout + pushed.stderr
    same = _pre_commit(agent_repo, home, "run", "--hook-stage", "pre-push", "--from-ref", base, "--to-ref", base)
    assert same.returncode == 0, same.stdout + same.stderr


def test_a_persons_commit_without_a_worker(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    """No --worker in the hook args: a person's commit, decided by gate.unattributed (default owners):
    each path is judged in its owner's lane, so a commit that stays in its owners' lanes lands, and
    what no lane may hold (a secret-like file) is still rejected."""
    home = tmp_path / "home"
    person = _with_config(make_repo(), LOCAL.format(args="[]"), home)
    _edit(person, OUT_OF_LANE)
    _edit(person, IN_LANE)
    result = _commit(person, home, "a person's fix across two lanes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert git(person, "log", "-1", "--format=%s").strip() == "a person's fix across two lanes"
    (person / "services/kms-api/.env").write_text("KMS_ROOT_KEY=hunter2\n", encoding="utf-8")
    git(person, "add", "services/kms-api/.env")
    secret = _commit(person, home, "a person's .env")
    assert secret.returncode == 1 and "decision: REJECT" in secret.stdout + secret.stderr
