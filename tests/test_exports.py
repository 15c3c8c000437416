"""``lanewarden export claude|codex``: exact output for a known policy, and safe writing."""
from __future__ import annotations

import hashlib
import json
import re
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
  },
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Write|Edit|MultiEdit|NotebookEdit|Bash",
        "hooks": [
          {
            "type": "command",
            "command": "lanewarden tool-hook --runtime claude --worker api",
            "timeout": 30
          }
        ]
      }
    ],
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "lanewarden tool-hook --runtime claude --worker api",
            "timeout": 120
          }
        ]
      }
    ],
    "SubagentStop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "lanewarden tool-hook --runtime claude --worker api",
            "timeout": 120
          }
        ]
      }
    ],
    "TaskCompleted": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "lanewarden tool-hook --runtime claude --worker api",
            "timeout": 120
          }
        ]
      }
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

# The tool-call hook denies out-of-lane writes (apply_patch and shell); Stop is the done gate.
[[hooks.PreToolUse]]
matcher = "Bash|apply_patch|Edit|Write"
[[hooks.PreToolUse.hooks]]
type = "command"
command = "lanewarden tool-hook --runtime codex --worker api"
timeout = 30

[[hooks.Stop]]
[[hooks.Stop.hooks]]
type = "command"
command = "lanewarden tool-hook --runtime codex --worker api"
timeout = 120

[mcp_servers.lanewarden]
command = "lanewarden"
args = ["mcp", "--worker", "api"]
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

# The tool-call hook denies out-of-lane writes (apply_patch and shell); Stop is the done gate.
[[hooks.PreToolUse]]
matcher = "Bash|apply_patch|Edit|Write"
[[hooks.PreToolUse.hooks]]
type = "command"
command = "lanewarden tool-hook --runtime codex --worker root"
timeout = 30

[[hooks.Stop]]
[[hooks.Stop.hooks]]
type = "command"
command = "lanewarden tool-hook --runtime codex --worker root"
timeout = 120

[mcp_servers.lanewarden]
command = "lanewarden"
args = ["mcp", "--worker", "root"]
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


# -- hooks and the other runtimes -------------------------------------------------------------

def test_every_runtime_installs_the_tool_hook_and_mcp(repo: Path, policy: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "run-checkout"
    expected = {
        "claude": {".claude/settings.json", ".claude/agents/api.md", ".mcp.json"},
        "codex": {".codex/config.toml"},
        "gemini": {".gemini/settings.json", ".gemini/policies/lanewarden-api.toml"},
        "copilot": {".github/hooks/lanewarden.json"},
        "cursor": {".cursor/hooks.json", ".cursor/mcp.json"},
    }
    for runtime, files in expected.items():
        result = lanewarden("export", runtime, "api", "--repo", str(repo), "--policy", str(policy),
                            "--checkout", str(checkout), "--write")
        assert result.exit_code == 0, result.stderr
        written = {str(p.relative_to(checkout)) for p in checkout.rglob("*") if p.is_file()}
        assert files <= written, runtime
        hook = f"lanewarden tool-hook --runtime {runtime} --worker api"
        assert all(hook in (checkout / f).read_text() for f in files if "settings" in f or "hooks" in f
                   or f.endswith("config.toml"))
    assert lanewarden("export", "cursor", "api", "--repo", str(repo), "--policy", str(policy),
                      "--checkout", str(checkout), "--write").exit_code == 2  # never replaced without --force
    copilot = json.loads((checkout / ".github/hooks/lanewarden.json").read_text())
    assert copilot["version"] == 1 and set(copilot["hooks"]) == {"preToolUse", "agentStop", "subagentStop"}
    cursor = json.loads((checkout / ".cursor/hooks.json").read_text())
    assert all(h["failClosed"] for h in cursor["hooks"]["preToolUse"] + cursor["hooks"]["beforeShellExecution"])
    tomllib = pytest.importorskip("tomllib")
    rules = tomllib.loads((checkout / ".gemini/policies/lanewarden-api.toml").read_text())["rule"]

    def decision(path: str) -> str:  # the highest-priority rule whose argsPattern matches, as Gemini decides
        args = json.dumps({"file_path": path, "content": "x"}, separators=(",", ":"))
        hits = [r for r in rules if re.search(r["argsPattern"], args)]
        return str(max(hits, key=lambda r: r["priority"])["decision"])

    assert decision(f"{checkout}/services/api/app.py") == "allow"
    assert decision(f"{checkout}/services/api/secrets/key") == "deny"
    assert decision(f"{checkout}/libs/auth") == decision(f"{checkout}/libs/auth/x.py") == "allow"
    assert decision(f"{checkout}/libs/authz.py") == decision(f"{checkout}/contracts/x.proto") == "deny"
    assert all("argsPattern" in r for r in rules)  # a rule without one would hide the tool from the model
    agent = (checkout / ".claude/agents/api.md").read_text()
    assert agent.startswith("---\nname: api\n")  # its agent_type is the worker id
    assert json.loads((checkout / ".mcp.json").read_text())["mcpServers"]["lanewarden"]["args"] == [
        "mcp", "--worker", "api"]


def test_configs_for_run_reads_the_trusted_policy_of_the_checkout(repo: Path) -> None:
    from lanewarden.orchestrator.integrations.configs import configs_for_run

    files = configs_for_run("codex", "wallet-api", repo, command="/venv/bin/python -m lanewarden")
    text = files[".codex/config.toml"].decode()
    assert f'"{repo.resolve()}/services/wallet-api",' in text
    assert 'command = "/venv/bin/python -m lanewarden tool-hook --runtime codex --worker wallet-api"' in text
    assert 'command = "/venv/bin/python"\nargs = ["-m", "lanewarden", "mcp", "--worker", "wallet-api"]' in text
    assert set(configs_for_run("cursor-agent", "kms-api", repo)) == {".cursor/hooks.json", ".cursor/mcp.json"}


@pytest.mark.parametrize(("argv", "runtime"), [
    (["claude", "-p", "fix it"], "claude"),
    (["/usr/local/bin/codex", "exec", "x"], "codex"),
    (["npx", "-y", "@openai/codex@latest", "exec"], "codex"),
    (["env", "FOO=1", "gemini", "-p", "x"], "gemini"),
    (["npx", "@google/gemini-cli"], "gemini"),
    (["copilot", "-p", "x"], "copilot"),
    (["cursor-agent", "-p", "x"], "cursor"),
    (["python", "agent.py"], None),
    ([], None),
])
def test_detect_runtime(argv: list[str], runtime: str | None) -> None:
    from lanewarden.orchestrator.integrations.configs import detect_runtime

    assert detect_runtime(argv) == runtime


def test_the_exported_claude_hook_denies_an_out_of_lane_write(repo: Path) -> None:
    import subprocess

    from conftest import BIN, git_env

    settings = json.loads(lanewarden("export", "claude", "wallet-api", "--repo", str(repo)).stdout)
    command = settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    doc = {"session_id": "s", "transcript_path": "/t", "cwd": str(repo), "hook_event_name": "PreToolUse",
           "tool_name": "Write", "tool_input": {"file_path": str(repo / "contracts/wallet/openapi.yaml")}}
    proc = subprocess.run(command.replace("lanewarden", str(BIN / "lanewarden"), 1), shell=True, cwd=repo,
                          input=json.dumps(doc).encode(), capture_output=True, env=git_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
