"""``lanewarden run`` installs a known agent runtime's config in the run's clone, and it is not the agent's change.

The agents are fake: one small Python script, put first on PATH under the names of the real
binaries (``claude``, ``codex``, ...), in a folder under the repository's ``.git`` (the sandbox
mounts the repository read-only; the test's own /tmp folders are hidden from it). It reports on
its output what it found and what the installed done gate answered, then writes its change.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from test_runs import WALLET_SIGNING, changed_paths, log_of, run, run_folder, state

from conftest import git

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is not installed (apt-get install bubblewrap); "
                                       "CI installs it, see .ci/run")

# The binary, the runtime it is and the file that carries its hooks.
MAIN_FILE = {"claude": ("claude", ".claude/settings.json"), "codex": ("codex", ".codex/config.toml"),
             "gemini": ("gemini", ".gemini/settings.json"),
             "copilot": ("copilot", ".github/hooks/lanewarden.json"),
             "cursor-agent": ("cursor", ".cursor/hooks.json")}

FAKE_AGENT = '''#!{python}
import json, os, subprocess, sys
from pathlib import Path

runtime, main_file = {table}[Path(sys.argv[0]).name]
mode = sys.argv[1] if len(sys.argv) > 1 else "in-lane"
checkout = Path(os.environ["LANEWARDEN_CONTEXT"]).parent / "checkout"
config = checkout / main_file
stop_hook = None
if not config.exists():
    print("config: none")
else:
    text = config.read_text()
    want = "tool-hook --runtime " + runtime + " --worker wallet-api --rev " + os.environ["LANEWARDEN_BASE"]
    print("config: ok" if want in text else "config: wrong " + text)
    if runtime == "claude":
        # Claude Code reads the settings of the folder it starts in (the worker's cwd).
        here = json.loads((Path.cwd() / ".claude" / "settings.json").read_text())
        stop_hook = here["hooks"]["Stop"][0]["hooks"][0]["command"]
        print("cwd hooks: ok" if want in stop_hook else "cwd hooks: wrong " + stop_hook)
if mode == "edit-config":
    config.write_text(config.read_text().replace("tool-hook", "tool-hook-off"))
elif mode == "chmod-config":
    os.chmod(config, 0o755)
elif mode == "symlink-config":  # the same bytes, behind a symlink
    Path("/tmp/same.json").write_bytes(config.read_bytes())
    config.unlink()
    config.symlink_to("/tmp/same.json")
with open(checkout / "{signing}", "a") as fh:
    fh.write("# honest work\\n")
if stop_hook is not None:
    event = {{"session_id": "s", "cwd": os.getcwd(), "hook_event_name": "Stop", "stop_hook_active": False}}
    done = subprocess.run(stop_hook, shell=True, input=json.dumps(event), capture_output=True, text=True)
    print("stop hook:", done.returncode, "blocks" if "block" in done.stdout else "lets me stop", done.stderr)
'''


@pytest.fixture(autouse=True)
def _actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")


@pytest.fixture
def agents(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake agent binaries, first on PATH (readable inside the sandbox: under the repository)."""
    folder = repo / ".git" / "fake-agents"
    folder.mkdir()
    table = {name: list(v) for name, v in MAIN_FILE.items()}
    for name in MAIN_FILE:
        path = folder / name
        path.write_text(FAKE_AGENT.format(python=sys.executable, table=repr(table), signing=WALLET_SIGNING))
        path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


def _verdict_paths(repo: Path, data: dict[str, Any]) -> list[str]:
    verdict = json.loads((run_folder(repo, data["run_id"]) / "verdict.json").read_text())
    return sorted(c["path"] for c in verdict["changes"])


@pytest.mark.parametrize("binary", sorted(MAIN_FILE))
def test_a_known_agent_gets_its_config_and_it_never_lands(repo: Path, agents: Path, binary: str) -> None:
    runtime, main_file = MAIN_FILE[binary]
    data = run(repo, "wallet-api", [binary, "in-lane"], "--keep", code=0)
    assert "config: ok" in log_of(data), log_of(data)
    assert data["outcome"] == "accepted" and data["agent_runtime"] == runtime
    assert main_file in data["agent_config"]
    assert changed_paths(repo, data["commit"]) == [WALLET_SIGNING]
    assert _verdict_paths(repo, data) == [WALLET_SIGNING]
    # Kept in the clone (--keep) as written; recorded in the run's state and notes.
    checkout = run_folder(repo, data["run_id"]) / "checkout"
    assert (checkout / main_file).is_file()
    record = state(repo, data["run_id"])
    assert record["agent_runtime"] == runtime and record["agent_config"] == data["agent_config"]
    assert any(n.startswith(f"agent runtime {runtime}: installed {main_file}") for n in data["notes"])
    if binary == "claude":
        assert "cwd hooks: ok" in log_of(data)
        assert "services/wallet-api/.claude/settings.json" in data["agent_config"]
        # The installed done gate runs inside the sandbox and does not count the config either.
        assert "stop hook: 0 lets me stop" in log_of(data), log_of(data)


@pytest.mark.parametrize("mode", ["edit-config", "chmod-config", "symlink-config"])
def test_an_agent_that_changes_the_installed_config_is_guarded_for_it(repo: Path, agents: Path,
                                                                       mode: str) -> None:
    data = run(repo, "wallet-api", ["claude", mode])
    assert data["outcome"] in ("split", "rejected"), data
    assert ".claude/settings.json" in _verdict_paths(repo, data)
    if data["commit"]:
        assert ".claude/settings.json" not in changed_paths(repo, data["commit"])
    if data["outcome"] == "split":
        handed = [json.loads(lanewarden_show(repo, h)) for h in data["handoffs"]]
        assert any(".claude/settings.json" in h["evidence"]["paths"] for h in handed), handed
    # The other installed files, untouched, are still lanewarden's and not part of the change.
    assert ".claude/agents/wallet-api.md" not in _verdict_paths(repo, data)
    assert ".mcp.json" not in _verdict_paths(repo, data)


def lanewarden_show(repo: Path, handoff: str) -> str:
    from conftest import lanewarden

    result = lanewarden("handoffs", "show", handoff, "--repo", str(repo), "--format", "json")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_an_unknown_agent_command_gets_no_config(repo: Path) -> None:
    show = 'ls -A "$(dirname "$LANEWARDEN_CONTEXT")/checkout"; printf "# honest work\\n" >> src/wallet_api/signing.py'
    data = run(repo, "wallet-api", ["sh", "-c", show], code=0)
    assert data["agent_runtime"] is None and data["agent_config"] == []
    listing = log_of(data).split()
    assert not {".claude", ".codex", ".gemini", ".cursor", ".mcp.json"} & set(listing), listing
    assert not (run_folder(repo, data["run_id"]) / "installed.json").exists()
    assert changed_paths(repo, data["commit"]) == [WALLET_SIGNING]


def test_no_agent_config_installs_nothing(repo: Path, agents: Path) -> None:
    data = run(repo, "wallet-api", ["claude", "in-lane"], "--no-agent-config", code=0)
    assert "config: none" in log_of(data), log_of(data)
    assert data["agent_runtime"] == "claude" and data["agent_config"] == []
    assert any("--no-agent-config" in n for n in data["notes"])
    assert changed_paths(repo, data["commit"]) == [WALLET_SIGNING]


def test_a_config_file_the_repository_commits_is_left_as_it_is(repo: Path, agents: Path) -> None:
    (repo / ".mcp.json").write_text('{"mcpServers": {}}\n')
    git(repo, "add", ".mcp.json")
    git(repo, "commit", "-qm", "team MCP config")
    data = run(repo, "wallet-api", ["claude", "in-lane"], "--keep", code=0)
    assert ".mcp.json" not in data["agent_config"] and ".claude/settings.json" in data["agent_config"]
    assert any(n.startswith(".mcp.json is committed") for n in data["notes"])
    checkout = run_folder(repo, data["run_id"]) / "checkout"
    assert (checkout / ".mcp.json").read_text() == '{"mcpServers": {}}\n'
    assert changed_paths(repo, data["commit"]) == [WALLET_SIGNING]


def test_the_runs_ledger_entry_names_the_config_and_replays(repo: Path, agents: Path) -> None:
    from conftest import lanewarden

    data = run(repo, "wallet-api", ["claude", "in-lane"], code=0)
    shown = json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json").stdout)
    entry = shown[-1]
    assert entry["inputs"]["agent_runtime"] == "claude"
    assert entry["inputs"]["agent_config"] == data["agent_config"]
    replayed = lanewarden("ledger", "replay", str(entry["seq"]), "--repo", str(repo), "--format", "json")
    assert replayed.exit_code == 0 and json.loads(replayed.stdout)["reproduced"], replayed.stdout
