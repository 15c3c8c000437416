"""``lanewarden export claude|codex``: exact output for a known policy, and safe writing."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import lanewarden

POLICY = """\
version: 1
root: root
workers:
  api:
    cwd: services/api
    allow: ["services/api/**", "services/*/shared/*.py", "libs/auth"]
    deny: ["services/api/secrets/**"]
    propose_only: ["contracts/**"]
    handoff_required_on: ["services/api/routes/**"]
  root:
    allow: ["README.md", "docs/"]
"""

CLAUDE_API = """\
{
  "permissions": {
    "allow": [
      "Edit(/services/api/**)",
      "Edit(/services/*/shared/*.py)",
      "Edit(/libs/auth)",
      "Edit(/libs/auth/**)"
    ],
    "deny": [
      "Edit(/services/api/secrets/**)",
      "Edit(/contracts/**)",
      "Edit(/lanewarden.yaml)",
      "Edit(/.gitmodules)",
      "Edit(/.git/**)",
      "Edit(/**/.git)",
      "Edit(/**/.git/**)"
    ]
  }
}
"""

CODEX_API = """\
# Codex CLI sandbox for lanewarden worker 'api', exported from lanewarden.yaml (sha256 {sha}).
# Defence in depth only: `lanewarden guard` on the diff stays the authority on what lands.
# Globs are narrowed to their literal directory; Codex may also write the folder it starts in
# (start it in 'services/api') and the temporary folders.
# note: 'services/*/shared/*.py' is opened as its literal folder 'services/'
# note: deny 'services/api/secrets/**' lies inside a writable root: Codex cannot carve it out \
(the diff guard rejects or hands off such edits)
sandbox_mode = "workspace-write"

[sandbox_workspace_write]
writable_roots = [
  "/work/tree/services",
  "/work/tree/libs/auth",
]
"""

CODEX_ROOT = """\
# Codex CLI sandbox for lanewarden worker 'root', exported from lanewarden.yaml (sha256 {sha}).
# Defence in depth only: `lanewarden guard` on the diff stays the authority on what lands.
# Globs are narrowed to their literal directory; Codex may also write the folder it starts in
# and the temporary folders.
# note: 'README.md' is a single file: Codex writable roots are folders (not opened)
sandbox_mode = "workspace-write"

[sandbox_workspace_write]
writable_roots = [
  "/work/tree/docs",
]
"""


@pytest.fixture
def policy(repo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "lanewarden.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_claude_rules_exact(repo: Path, policy: Path) -> None:
    result = lanewarden("export", "claude", "api", "--repo", str(repo), "--policy", str(policy))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == CLAUDE_API
    assert "'services/*/shared/*.py': Claude Code also allows what lies below a folder it matches" in result.stderr
    assert json.loads(result.stdout)["permissions"]["deny"][2] == "Edit(/lanewarden.yaml)"


def test_codex_settings_exact(repo: Path, policy: Path) -> None:
    api = lanewarden("export", "codex", "api", "--repo", str(repo), "--policy", str(policy), "--root", "/work/tree")
    assert api.exit_code == 0, api.stderr
    assert api.stdout == CODEX_API.format(sha=_sha(policy))
    root = lanewarden("export", "codex", "root", "--repo", str(repo), "--policy", str(policy), "--root", "/work/tree")
    assert root.stdout == CODEX_ROOT.format(sha=_sha(policy))  # README.md is a tracked file, not a folder


def test_output_file_is_never_replaced_without_force(repo: Path, policy: Path) -> None:
    target = repo / ".claude" / "settings.json"
    args = ("export", "claude", "api", "--repo", str(repo), "--policy", str(policy), "--output", str(target))
    assert lanewarden(*args).exit_code == 0
    assert target.read_text() == CLAUDE_API
    target.write_text('{"model": "mine"}\n')
    refused = lanewarden(*args)
    assert refused.exit_code == 2 and "already exists" in refused.stderr and "--force" in refused.stderr
    assert target.read_text() == '{"model": "mine"}\n'
    assert lanewarden(*args, "--force").exit_code == 0 and target.read_text() == CLAUDE_API


def test_unknown_worker_lists_the_known_ones(repo: Path, policy: Path) -> None:
    result = lanewarden("export", "codex", "nobody", "--repo", str(repo), "--policy", str(policy))
    assert result.exit_code == 2 and "unknown worker 'nobody'" in result.stderr and "api, root" in result.stderr
