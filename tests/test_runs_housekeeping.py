"""``runs show`` as text with local times, and ``runs clean --branches RULE`` retiring finished runs' branches."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, git, lanewarden
from conftest import expect as _ok

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
AGENTS = FIXTURES / "agents"


@pytest.fixture(autouse=True)
def _actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")


def run(repo: Path, worker: str, script: str, task: str) -> dict[str, Any]:
    args = [str(AGENTS / script)] if worker == "wallet-api" else [str(AGENTS / "append_file.sh"), "README.md"]
    result = _ok(lanewarden("run", worker, "--repo", str(repo), "--task", task, "--format", "json", "--",
                            "sh", *args))
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def heads(repo: Path) -> set[str]:
    return set(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/lanewarden").split())


def test_runs_show_reads_as_text_with_local_times(repo: Path) -> None:
    data = run(repo, "wallet-api", "append_own.sh", "show me")
    text = _ok(lanewarden("runs", "show", data["run_id"][:16], "--repo", str(repo))).stdout
    state = json.loads(_ok(lanewarden("runs", "show", data["run_id"], "--repo", str(repo), "--format",
                                      "json")).stdout)
    local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state["started"]))
    assert f"started  {local}" in text
    assert "status  accepted" in text and f"branch  {data['branch']}" in text and "task  show me" in text


def test_clean_branches_merged_retires_only_lanewardens_merged_branches(repo: Path) -> None:
    merged = run(repo, "wallet-api", "append_own.sh", "to merge")
    open_run = run(repo, "kms-api", "append_own.sh", "not merged")
    git(repo, "merge", "-q", "--no-edit", merged["branch"])
    git(repo, "branch", "lanewarden/wallet-api/hand-made", merged["commit"])  # no record: not lanewarden's
    out = _ok(lanewarden("runs", "clean", "--repo", str(repo), "--branches", "merged")).stdout
    assert f"deleted: {merged['branch']}" in out
    assert heads(repo) == {open_run["branch"], "lanewarden/wallet-api/hand-made"}


def test_clean_branches_older_than_uses_the_run_record(repo: Path) -> None:
    old = run(repo, "wallet-api", "append_own.sh", "old")
    fresh = run(repo, "kms-api", "append_own.sh", "fresh")
    state_file = repo / ".git" / "lanewarden" / "runs" / old["run_id"] / "state.json"
    state = json.loads(state_file.read_text())
    state["finished"] -= 8 * 86400  # as if it finished eight days ago
    state_file.write_text(json.dumps(state))
    _ok(lanewarden("runs", "clean", "--repo", str(repo), "--branches", "older-than=7d"))
    assert heads(repo) == {fresh["branch"]}
    bad = lanewarden("runs", "clean", "--repo", str(repo), "--branches", "everything")
    assert bad.exit_code == 2 and "unknown rule" in bad.stderr


def test_a_moved_branch_is_left_alone(repo: Path) -> None:
    data = run(repo, "wallet-api", "append_own.sh", "moved")
    git(repo, "merge", "-q", "--no-edit", data["branch"])
    git(repo, "branch", "-f", data["branch"], "HEAD~1")
    out = _ok(lanewarden("runs", "clean", "--repo", str(repo), "--branches", "merged")).stdout
    assert "moved since its run recorded it" in out and data["branch"] in heads(repo)
