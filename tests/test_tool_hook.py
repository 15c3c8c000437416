"""``lanewarden tool-hook``: each runtime's exact hook documents in and out, decided from a table.

Every input sample is shaped as the runtime's own documentation shows it; the
source of each is in the comment above it. The decision is pure (document in,
document and exit code out), so most rows run in-process on the fixture
policy; the fail-closed rows run the real CLI as a subprocess.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import BIN, FIXTURES, git, git_env
from lanewarden.orchestrator.integrations.dialects import Runtime
from lanewarden.orchestrator.integrations.tool_hook import Setup, decide
from lanewarden.workers.loader import parse
from lanewarden.workers.ownership import OwnershipIndex

TOP = "/work/repo"
POLICY = parse((FIXTURES / "wallet-platform" / "lanewarden.yaml").read_bytes(), "lanewarden.yaml")
SETUP = Setup(worker="wallet-api", top=TOP, index=OwnershipIndex(POLICY))

HANDOFF = ("lanewarden handoff propose --worker wallet-api --to {owner} --problem 'WHAT MUST CHANGE AND WHY' "
           "--path {path}")
TAIL = ("(or the MCP tool propose_handoff (lanewarden MCP server); add --patch FILE with the change you would "
        "have made).\nThe diff guard rejects out-of-lane changes in any case.")


def reason(path: str, why: str, owner: str) -> str:
    return ("lanewarden: this call leaves the lane of worker 'wallet-api'.\n"
            f"- {path}: {why}; owned by {owner}\n"
            "Do not write these paths yourself. Hand the work to their owner instead:\n"
            f"  {HANDOFF.format(owner=owner, path=path)}\n" + TAIL)


CONTRACT = "contracts/wallet/openapi.yaml"
CONTRACT_WHY = "propose-only for you (workers.wallet-api.propose_only[0] 'contracts/**')"
KMS = "services/kms-api/src/kms_api/server.py"
KMS_WHY = "outside your lane (no allow pattern matches)"
MINE = "services/wallet-api/src/wallet_api/app.py"


def run(doc: Any, setup: Setup = SETUP) -> tuple[Any, int]:
    answer = decide(json.dumps(doc).encode(), setup)
    return (json.loads(answer.stdout) if answer.stdout else None), answer.exit_code


# Claude Code PreToolUse, as in https://code.claude.com/docs/en/hooks ("PreToolUse input"):
# common fields session_id, transcript_path, cwd, permission_mode, hook_event_name; tool_name,
# tool_input (Write: file_path absolute, content) and tool_use_id.
def claude(tool: str, tool_input: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"session_id": "abc123", "transcript_path": "/home/u/.claude/projects/x/abc123.jsonl", "cwd": TOP,
            "permission_mode": "default", "hook_event_name": "PreToolUse", "tool_name": tool,
            "tool_input": tool_input, "tool_use_id": "toolu_01ABC", **extra}


def claude_deny(text: str) -> dict[str, Any]:
    # Output shape from the same page ("PreToolUse decision control").
    return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                   "permissionDecisionReason": text}}


def test_claude_write_in_lane_has_no_opinion() -> None:
    # No opinion rather than "allow": Claude Code's allow would skip its own permission prompt.
    assert run(claude("Write", {"file_path": f"{TOP}/{MINE}", "content": "x"})) == (None, 0)


def test_claude_write_out_of_lane_is_denied_with_owner_and_handoff() -> None:
    out = run(claude("Write", {"file_path": f"{TOP}/{CONTRACT}", "content": "x"}))
    assert out == (claude_deny(reason(CONTRACT, CONTRACT_WHY, "contracts")), 0)


def test_claude_subagent_agent_type_maps_to_its_worker() -> None:
    # agent_id/agent_type are added inside a subagent (same page, "Common input fields").
    setup = Setup(worker="wallet-api", top=TOP, index=OwnershipIndex(parse(
        (FIXTURES / "wallet-platform" / "lanewarden.yaml").read_bytes().replace(
            b"  kms-api:\n    cwd: services/kms-api\n",
            b"  kms-api:\n    cwd: services/kms-api\n    agents: [kms-coder]\n"), "lanewarden.yaml")))
    doc = claude("Edit", {"file_path": f"{TOP}/{KMS}", "old_string": "a", "new_string": "b"},
                 agent_id="agent-1", agent_type="kms-coder")
    assert run(doc, setup) == (None, 0)  # kms-coder works as kms-api: in its lane
    out, code = run({**doc, "agent_type": "Explore"}, setup)  # an unmapped subagent keeps the session's lane
    assert code == 0 and out["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_claude_relative_path_and_path_outside_the_repository() -> None:
    assert run(claude("Write", {"file_path": "src/wallet_api/x.py"}, cwd=f"{TOP}/services/wallet-api")) == (None, 0)
    out, code = run(claude("Write", {"file_path": "/etc/passwd"}))
    text = out["hookSpecificOutput"]["permissionDecisionReason"]
    assert code == 0 and "- /etc/passwd: outside the repository: no lane covers it" in text
    out, _ = run(claude("Write", {"file_path": f"{TOP}/services/wallet-api/../kms-api/x"}))
    assert "services/kms-api/x: outside your lane" in out["hookSpecificOutput"]["permissionDecisionReason"]


def test_paths_git_ignores_pass_unless_protected_or_outside() -> None:
    # The diff guard never sees ignored files, so the hook lets them be written (logs, build output).
    asked: list[list[str]] = []

    def ignored(paths: list[str]) -> set[str]:
        asked.append(paths)
        return {p for p in paths if p.endswith(".log") or p == "lanewarden.yaml"}

    setup = Setup(worker="wallet-api", top=TOP, index=SETUP.index, ignored=ignored)
    assert run(claude("Bash", {"command": "make test 2>&1 | tee build.log"}), setup) == (None, 0)
    out, _ = run(claude("Bash", {"command": f"echo > lanewarden.yaml; echo > {KMS}; echo > /tmp/x.log"}), setup)
    text = out["hookSpecificOutput"]["permissionDecisionReason"]
    assert "- lanewarden.yaml: protected" in text and f"- {KMS}: outside your lane" in text and "/tmp/x.log" in text
    assert asked == [["build.log"], [KMS]]  # only paths the lane alone denies are asked about
    assert run(claude("Write", {"file_path": f"{TOP}/{MINE}"}), setup) == (None, 0) and len(asked) == 2


def test_claude_protected_paths_are_denied_even_inside_the_lane() -> None:
    for path in ("lanewarden.yaml", "services/wallet-api/.git/config", ".gitmodules"):
        out, _ = run(claude("Write", {"file_path": f"{TOP}/{path}"}))
        assert "protected" in out["hookSpecificOutput"]["permissionDecisionReason"], path


def test_claude_read_tools_and_other_events_pass() -> None:
    assert run(claude("Read", {"file_path": f"{TOP}/{CONTRACT}"})) == (None, 0)
    assert run({**claude("Read", {}), "hook_event_name": "PostToolUse"}) == (None, 0)


def test_claude_bash_write_out_of_lane() -> None:
    out, code = run(claude("Bash", {"command": f"echo x > {KMS}", "description": "write"}))
    assert (out, code) == (claude_deny(reason(KMS, KMS_WHY, "kms-api")), 0)
    assert run(claude("Bash", {"command": f"echo x >> {MINE} 2>/dev/null && ls"})) == (None, 0)


# Codex PreToolUse for apply_patch, as in https://developers.openai.com/codex/hooks: the Claude shape
# plus model and turn_id; tool_input.command holds the raw patch envelope (no file_path).
def codex(tool: str, command: str) -> dict[str, Any]:
    return {"session_id": "019a-sess", "transcript_path": None, "cwd": TOP, "hook_event_name": "PreToolUse",
            "model": "gpt-5-codex", "turn_id": "turn-1", "tool_name": tool, "tool_input": {"command": command},
            "tool_use_id": "call_1"}


def envelope(*body: str) -> str:
    return "\n".join(["*** Begin Patch", *body, "*** End Patch"]) + "\n"


def test_codex_apply_patch_in_lane_and_move_out_of_lane() -> None:
    inside = envelope(f"*** Update File: {MINE}", "@@", "-a", "+b", "*** Add File: services/wallet-api/n.py", "+x")
    assert run(codex("apply_patch", inside)) == (None, 0)
    # A move writes both sides: out of the lane on the destination.
    moved = envelope(f"*** Update File: {MINE}", f"*** Move to: {KMS}", "@@", "-a", "+b")
    assert run(codex("apply_patch", moved)) == (claude_deny(reason(KMS, KMS_WHY, "kms-api")), 0)
    # ... and on the source: deleting another lane's file is writing it.
    away = envelope(f"*** Update File: {KMS}", f"*** Move to: {MINE}")
    out, _ = run(codex("apply_patch", away))
    assert f"- {KMS}: outside your lane" in out["hookSpecificOutput"]["permissionDecisionReason"]
    deleted = envelope(f"*** Delete File: {CONTRACT}")
    assert run(codex("apply_patch", deleted)) == (claude_deny(reason(CONTRACT, CONTRACT_WHY, "contracts")), 0)


def test_codex_broken_envelope_is_denied() -> None:
    for text in ("*** Begin Patch\n*** Update File: \n", "--- a/x\n+++ b/x\n", ""):
        out, code = run(codex("apply_patch", text))
        assert code == 0 and "lanewarden cannot tell where this writes" in \
            out["hookSpecificOutput"]["permissionDecisionReason"], text


def test_codex_shell_ref_moves_are_denied() -> None:
    for command in ("git push origin HEAD", "git update-ref refs/lanewarden/ledger HEAD", "git branch -f main HEAD",
                    "git reset --hard HEAD~1", "git checkout -B main"):
        out, _ = run(codex("Bash", command))
        assert "moves git refs" in out["hookSpecificOutput"]["permissionDecisionReason"], command
    assert run(codex("Bash", "git commit -qm wip && git status")) == (None, 0)


# Gemini CLI BeforeTool, as in https://geminicli.com/docs/hooks/reference: session_id,
# transcript_path, cwd, hook_event_name, timestamp; tool_name (write_file, replace,
# run_shell_command), tool_input. Output: {"decision": "deny", "reason": ...}.
def gemini(tool: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"session_id": "g-1", "transcript_path": "/tmp/t.json", "cwd": TOP, "hook_event_name": "BeforeTool",
            "timestamp": "2026-12-01T10:00:00Z", "tool_name": tool, "tool_input": tool_input}


def test_shell_folder_arguments_move_relative_paths() -> None:
    # Gemini's run_shell_command takes dir_path; Codex's shell takes workdir.
    assert run(gemini("run_shell_command", {"command": "touch x.py", "dir_path": "services/wallet-api"})) == ({}, 0)
    out, _ = run(gemini("run_shell_command", {"command": "touch x.py", "dir_path": "services/kms-api"}))
    assert out["decision"] == "deny" and "services/kms-api/x.py" in out["reason"]


def test_gemini_write_file_and_shell() -> None:
    assert run(gemini("write_file", {"file_path": f"{TOP}/{MINE}", "content": "x"})) == ({}, 0)
    assert run(gemini("replace", {"file_path": f"{TOP}/{CONTRACT}", "old_string": "a", "new_string": "b"})) == (
        {"decision": "deny", "reason": reason(CONTRACT, CONTRACT_WHY, "contracts")}, 0)
    out, _ = run(gemini("run_shell_command", {"command": f"sed -i s/a/b/ {KMS}"}))
    assert out == {"decision": "deny", "reason": reason(KMS, KMS_WHY, "kms-api")}


# GitHub Copilot CLI preToolUse (camelCase input), as in
# https://docs.github.com/en/copilot/reference/copilot-cli-reference/cli-hooks-reference:
# {sessionId, timestamp, cwd, toolName, toolArgs}; tools "create", "edit", "bash".
def copilot(tool: str, args: Any) -> dict[str, Any]:
    return {"sessionId": "c-1", "timestamp": 1764669600000, "cwd": TOP, "toolName": tool, "toolArgs": args}


def test_copilot_edit_and_bash() -> None:
    assert run(copilot("edit", {"path": f"{TOP}/{MINE}", "old_str": "a", "new_str": "b"})) == (None, 0)
    # toolArgs may arrive as a JSON string.
    out = run(copilot("create", json.dumps({"path": f"{TOP}/{CONTRACT}", "file_text": "x"})))
    assert out == ({"permissionDecision": "deny",
                    "permissionDecisionReason": reason(CONTRACT, CONTRACT_WHY, "contracts")}, 0)
    out2, _ = run(copilot("bash", {"command": f"rm -f {KMS}", "description": "clean"}))
    assert out2["permissionDecision"] == "deny"
    # agentStop input ({timestamp, cwd, transcriptPath, stopReason}) is recognised without a sessionId.
    gate = decide(json.dumps({"timestamp": 1764669600000, "cwd": TOP, "transcriptPath": "/t", "stopReason": "end_turn"})
                  .encode(), SETUP, lambda worker: f"{worker} is not done")
    assert (json.loads(gate.stdout), gate.exit_code) == ({"decision": "block", "reason": "wallet-api is not done"}, 0)


# Cursor, as in https://cursor.com/docs/agent/hooks: common fields conversation_id, generation_id,
# model, hook_event_name, cursor_version, workspace_roots, user_email; beforeShellExecution adds
# command and cwd; preToolUse (newer releases) adds tool_name and tool_input.
def cursor(event: str, **fields: Any) -> dict[str, Any]:
    return {"conversation_id": "conv-1", "generation_id": "gen-1", "model": "gpt-5", "hook_event_name": event,
            "cursor_version": "1.7.2", "workspace_roots": [TOP], "user_email": None, **fields}


def test_cursor_shell_and_pre_tool_use() -> None:
    assert run(cursor("beforeShellExecution", command="ls -la", cwd=TOP)) == ({"permission": "allow"}, 0)
    out = run(cursor("beforeShellExecution", command=f"touch {KMS}", cwd=TOP))
    text = reason(KMS, KMS_WHY, "kms-api")
    assert out == ({"permission": "deny", "user_message": text.splitlines()[0], "agent_message": text}, 0)
    out2, _ = run(cursor("preToolUse", tool_name="Write", tool_input={"file_path": f"{TOP}/{CONTRACT}"}))
    assert out2["permission"] == "deny"
    assert run(cursor("afterFileEdit", file_path=f"{TOP}/{KMS}", edits=[])) == ({}, 0)  # cannot block: no opinion


def test_no_worker_no_policy_and_unknown_documents_fail_closed() -> None:
    out, code = run(claude("Write", {"file_path": f"{TOP}/{MINE}"}), Setup(top=TOP, index=SETUP.index))
    assert code == 2 and "which worker is this?" in out["hookSpecificOutput"]["permissionDecisionReason"]
    out, code = run(copilot("edit", {"path": "x"}), Setup(problem="no policy"))
    assert code == 0 and out["permissionDecision"] == "deny"  # Copilot ignores exit codes: the JSON blocks
    out, code = run({"what": "ever"})
    assert code == 2 and out["hookSpecificOutput"]["permissionDecision"] == "deny"
    answer = decide(b"\xff not json", Setup(runtime=Runtime.GEMINI))
    assert answer.exit_code == 2 and json.loads(answer.stdout)["decision"] == "deny"


class Exploding(OwnershipIndex):
    def standing(self, path: str, worker: str) -> Any:
        raise RuntimeError("boom")


def test_internal_error_in_the_decision_denies() -> None:
    setup = Setup(worker="wallet-api", top=TOP, index=Exploding(POLICY))
    answer = decide(json.dumps(claude("Write", {"file_path": f"{TOP}/{MINE}"})).encode(), setup)
    assert answer.exit_code == 2 and "internal error (RuntimeError: boom)" in answer.stderr
    assert json.loads(answer.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"


# -- the real CLI as a subprocess: exit codes and stdout ----------------------------------------


def hook(cwd: Path, data: bytes, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(BIN / "lanewarden"), "tool-hook", *args], cwd=cwd, input=data, capture_output=True,
                          env={**git_env(), **(env or {})}, check=False)


@pytest.mark.parametrize(("runtime", "code"), [("claude", 2), ("codex", 2), ("gemini", 2), ("copilot", 0),
                                               ("cursor", 2)])
def test_cli_malformed_input_blocks_in_each_runtime(repo: Path, runtime: str, code: int) -> None:
    proc = hook(repo, b"{not json", "--runtime", runtime, "--worker", "wallet-api")
    assert proc.returncode == code, proc.stderr
    doc = json.loads(proc.stdout)
    decision = {"claude": lambda d: d["hookSpecificOutput"]["permissionDecision"],
                "codex": lambda d: d["hookSpecificOutput"]["permissionDecision"],
                "gemini": lambda d: d["decision"], "copilot": lambda d: d["permissionDecision"],
                "cursor": lambda d: d["permission"]}[runtime](doc)
    assert decision == "deny"


def test_cli_decides_in_a_real_repository(repo: Path) -> None:
    doc = claude("Write", {"file_path": str(repo / CONTRACT)}, cwd=str(repo))
    proc = hook(repo, json.dumps(doc).encode(), env={"LANEWARDEN_WORKER": "wallet-api"})
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == claude_deny(reason(CONTRACT, CONTRACT_WHY, "contracts"))
    ok = hook(repo / "services", json.dumps(claude("Write", {"file_path": str(repo / MINE)})).encode(),
              "--worker", "wallet-api")
    assert (ok.returncode, ok.stdout) == (0, b"")
    # Ignored by a .gitignore: the diff guard never sees it, so it passes. info/exclude is not the
    # repository's: the work-tree guard does not read it, and neither does the hook.
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text("*.txt\n")
    (repo / ".gitignore").write_text((repo / ".gitignore").read_text() + "*.log\n!keep.log\n")
    git(repo, "commit", "-qam", "ignore logs")
    log = claude("Bash", {"command": "make 2>&1 | tee build.log"}, cwd=str(repo))
    assert hook(repo, json.dumps(log).encode(), "--worker", "wallet-api").stdout == b""
    for command in ("make > notes.txt", "make > keep.log"):
        other = hook(repo, json.dumps(claude("Bash", {"command": command}, cwd=str(repo))).encode(),
                     "--worker", "wallet-api")
        assert json.loads(other.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny", command


def test_cli_without_a_committed_policy_blocks(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("a")
    git(tmp_path, "add", "a.txt")
    git(tmp_path, "commit", "-qm", "no policy")
    proc = hook(tmp_path, json.dumps(claude("Write", {"file_path": str(tmp_path / "a.txt")})).encode(),
                "--worker", "wallet-api")
    assert proc.returncode == 2
    assert "does not exist" in json.loads(proc.stdout)["hookSpecificOutput"]["permissionDecisionReason"]
    edit = json.dumps(copilot("edit", {"path": "/x/y"})).encode()
    outside = hook(tmp_path.parent, edit, "--runtime", "copilot")  # not a repository at all
    assert outside.returncode == 0 and json.loads(outside.stdout)["permissionDecision"] == "deny"


def test_cli_crash_blocks_with_the_runtime_answer(repo: Path) -> None:
    # A bug anywhere below the command: the decision raises; the hook must still block (not exit 4).
    script = ("import sys\nfrom lanewarden.orchestrator.integrations import tool_hook\n"
              "def boom(*a, **k):\n    raise MemoryError('simulated')\n"
              "tool_hook.decide = boom\nfrom lanewarden.orchestrator.cli import main\n"
              "sys.argv = ['lanewarden', 'tool-hook', '--runtime', sys.argv[1], '--worker', 'wallet-api']\nmain()\n")
    for runtime, code in (("claude", 2), ("copilot", 0)):
        proc = subprocess.run([sys.executable, "-c", script, runtime], cwd=repo, input=b"{}", capture_output=True,
                              env=git_env(), check=False)
        assert proc.returncode == code, proc.stderr
        assert b"internal error (MemoryError: simulated)" in proc.stdout


def test_done_gate_on_a_real_repository(repo: Path) -> None:
    # Claude Code Stop input (https://code.claude.com/docs/en/hooks, "Stop input"): stop_hook_active.
    stop = {"session_id": "abc123", "transcript_path": "/t.jsonl", "cwd": str(repo), "permission_mode": "default",
            "hook_event_name": "Stop", "stop_hook_active": False}
    assert hook(repo, json.dumps(stop).encode(), "--worker", "wallet-api").stdout == b""
    (repo / MINE).write_text("in lane\n")
    assert hook(repo, json.dumps(stop).encode(), "--worker", "wallet-api").returncode == 0
    (repo / KMS).write_text("out of lane\n")
    (repo / "contracts" / "wallet" / "new.yaml").write_text("new: 1\n")
    proc = hook(repo, json.dumps(stop).encode(), "--worker", "wallet-api")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["decision"] == "block"
    assert f"- {KMS} (modified): out_of_scope; belongs to kms-api" in doc["reason"]
    assert "lanewarden handoff propose --worker wallet-api --to contracts" in doc["reason"]
    assert f"git restore --staged --worktree -- {KMS}" in doc["reason"]
    assert "git clean -f -- contracts/wallet/new.yaml" in doc["reason"]
    # Claude TaskCompleted blocks by exit 2; Cursor's stop sends the agent back with a follow-up message.
    task = {**stop, "hook_event_name": "TaskCompleted", "task_id": "t1", "task_subject": "x"}
    blocked = hook(repo, json.dumps(task).encode(), "--worker", "wallet-api")
    assert blocked.returncode == 2 and b"you are not done" in blocked.stderr
    cursor_stop = cursor("stop", status="completed", loop_count=0, workspace_roots=[str(repo)])
    follow = hook(repo, json.dumps(cursor_stop).encode(), "--worker", "wallet-api")
    assert "you are not done" in json.loads(follow.stdout)["followup_message"]


def test_done_gate_blocks_on_a_guard_that_cannot_decide(repo: Path) -> None:
    # An external reviewer that fails abstains: a doubt, never a pass (fail closed).
    policy = repo / "lanewarden.yaml"
    policy.write_text(policy.read_text() + "reviewers:\n  broken:\n    command: [\"false\"]\n")
    git(repo, "commit", "-qam", "a reviewer that always fails")
    (repo / MINE).write_text("in lane\n")
    stop = {"session_id": "s", "transcript_path": "/t.jsonl", "cwd": str(repo), "hook_event_name": "Stop",
            "stop_hook_active": True}
    proc = hook(repo, json.dumps(stop).encode(), "--worker", "wallet-api")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["decision"] == "block"
    assert "- reviewer:broken (abstain):" in doc["reason"]


def test_a_pinned_revision_keeps_the_agent_from_widening_its_lane(repo: Path) -> None:
    from lanewarden.orchestrator.integrations.configs import configs_for_run

    base = git(repo, "rev-parse", "HEAD").strip()
    settings = json.loads(configs_for_run("claude", "wallet-api", repo, base="HEAD")[".claude/settings.json"])
    command = settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    assert command == f"lanewarden tool-hook --runtime claude --worker wallet-api --rev {base}"
    # The agent commits a policy that opens contracts/ to itself: HEAD would now allow the write.
    policy = repo / "lanewarden.yaml"
    widened = policy.read_text().replace('allow: ["services/wallet-api/**"]',
                                         'allow: ["services/wallet-api/**", "contracts/**"]', 1)
    policy.write_text(widened.replace('    propose_only: ["contracts/**"]\n', "", 1))
    git(repo, "commit", "-qam", "widen my own lane")
    doc = json.dumps(claude("Write", {"file_path": str(repo / CONTRACT)}, cwd=str(repo))).encode()
    assert hook(repo, doc, "--worker", "wallet-api").stdout == b""  # HEAD's (the agent's) policy
    pinned = hook(repo, doc, "--worker", "wallet-api", "--rev", base)
    assert json.loads(pinned.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    (repo / CONTRACT).write_text("changed\n")
    stop = {"session_id": "s", "cwd": str(repo), "hook_event_name": "Stop", "stop_hook_active": False}
    gate = hook(repo, json.dumps(stop).encode(), "--worker", "wallet-api", "--rev", base)
    assert json.loads(gate.stdout)["decision"] == "block"
