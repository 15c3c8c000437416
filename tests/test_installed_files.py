"""``GuardRequest(installed=...)``: files lanewarden wrote into a run's clone are left out only while exact.

The work-tree guard of a worker run (and its done gate) is told which untracked files lanewarden
installed (path -> sha256 of the bytes written). Every way an agent could use that to hide a
change of its own is tried here against a real repository: each must stay in the change.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from conftest import git
from lanewarden.guards.engine import GuardRequest, guard
from lanewarden.guards.verdict import Mode
from lanewarden.workers.git import Git

SETTINGS = ".claude/settings.json"
CONTENT = b'{"hooks": {}}\n'
INSTALLED = {SETTINGS: hashlib.sha256(CONTENT).hexdigest()}
WALLET_README = "services/wallet-api/README.md"


def _changed(repo: Path, installed: dict[str, str] | None = INSTALLED) -> list[str]:
    req = GuardRequest(mode=Mode.WORKTREE, worker="wallet-api", installed=installed)
    return sorted(c.path for c in guard(Git.discover(repo), req).verdict.changes)


def _install(repo: Path, content: bytes = CONTENT) -> Path:
    path = repo / SETTINGS
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    return path


def test_an_installed_file_as_written_is_not_a_change(repo: Path) -> None:
    _install(repo)
    assert _changed(repo) == []
    assert _changed(repo, None) == [SETTINGS]  # without the record it is an untracked file like any


def test_an_edited_installed_file_is_the_agents_change(repo: Path) -> None:
    _install(repo, CONTENT + b"\n")
    assert _changed(repo) == [SETTINGS]


def test_an_executable_installed_file_is_the_agents_change(repo: Path) -> None:
    _install(repo).chmod(0o755)
    assert _changed(repo) == [SETTINGS]


def test_a_symlink_to_the_same_bytes_is_the_agents_change(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "same.json"
    elsewhere.write_bytes(CONTENT)
    (repo / ".claude").mkdir()
    os.symlink(elsewhere, repo / SETTINGS)
    assert _changed(repo) == [SETTINGS]


def test_a_symlinked_folder_holding_the_same_file_is_the_agents_change(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "claude"
    folder.mkdir()
    (folder / "settings.json").write_bytes(CONTENT)
    os.symlink(folder, repo / ".claude")
    assert _changed(repo) == [".claude"]


def test_a_tracked_file_made_equal_to_an_installed_one_still_counts(repo: Path) -> None:
    (repo / WALLET_README).write_bytes(CONTENT)
    assert _changed(repo, {WALLET_README: INSTALLED[SETTINGS]}) == [WALLET_README]


def test_a_committed_installed_path_changed_by_the_agent_still_counts(repo: Path) -> None:
    # The base tracks the path (a run never installs over it): a change there is a tracked edit.
    _install(repo, b"{}\n")
    git(repo, "add", SETTINGS)
    git(repo, "commit", "-qm", "team settings")
    _install(repo)
    assert _changed(repo) == [SETTINGS]


def test_other_files_next_to_an_installed_one_count(repo: Path) -> None:
    _install(repo)
    (repo / ".claude" / "extra.json").write_bytes(CONTENT)
    assert _changed(repo) == [".claude/extra.json"]
