"""Worker runs end to end: ``lanewarden run``, ``runs list|show|clean`` and ``dispatch``.

Each test drives a small scripted agent from ``fixtures/agents/`` against a real
repository and the real git binary. What a run produced is read back through
plain git (branches, commits, trailers, worktrees) and through the run folder
(``.git/lanewarden/runs/<run-id>/``), so the contract is checked independently
of the code that wrote it. The main checkout must never change: every test
compares a byte-for-byte snapshot of it taken before and after.

Agents run confined (bubblewrap): they can write only their clone and a
private /tmp, so they report back on their output (the run's log), never
through files of the test.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from os.path import commonpath
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import BIN, FIXTURES, git, lanewarden
from conftest import expect as _ok

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is not installed (apt-get install bubblewrap): runs confine "
                                       "their agent with it; CI installs it (see .ci/run)")

AGENTS = FIXTURES / "agents"
WALLET_SIGNING = "services/wallet-api/src/wallet_api/signing.py"
KMS_PROTO = "contracts/kms/kms.proto"
KMS_README = "services/kms-api/README.md"
KMS_AUDIT = "services/kms-api/src/kms_api/audit.py"


# -- helpers -----------------------------------------------------------------

@pytest.fixture(autouse=True)
def _actor(monkeypatch: pytest.MonkeyPatch) -> None:
    # Handoffs and commits record who ran them; pin it so no git identity is needed.
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")


def agent(name: str, *args: str) -> list[str]:
    """The command line of a scripted agent (run through ``sh``: no exec bit needed)."""
    return ["sh", str(AGENTS / name), *args]


def run(repo: Path, worker: str, command: list[str], *extra: str, code: int | None = None) -> dict[str, Any]:
    """``lanewarden run --format json``; returns the parsed summary (and checks the exit code if given)."""
    result = lanewarden("run", worker, "--repo", str(repo), "--format", "json", *extra, "--", *command)
    if code is not None:
        _ok(result, code)
    data: dict[str, Any] = json.loads(result.stdout)
    # The process exit code and the JSON must agree.
    assert data["exit_code"] == result.exit_code
    return data


def snapshot(repo: Path) -> dict[str, bytes]:
    """Everything about the main checkout that a run must not change."""
    # status first: it may refresh stale stat data in the index, which is not a change.
    status = git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all").encode("utf-8", "surrogateescape")
    snap: dict[str, bytes] = {":status": status, ":index": (repo / ".git" / "index").read_bytes()}
    heads = git(repo, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads")
    # Runs add their own lanewarden/* branches; every other branch must stay put.
    snap[":heads"] = "\n".join(line for line in heads.splitlines()
                               if not line.split(" ", 1)[1].startswith("refs/heads/lanewarden/")).encode()
    for dirpath, dirnames, filenames in os.walk(repo):
        rel_dir = Path(dirpath).relative_to(repo)
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            p = Path(dirpath) / name
            key = (rel_dir / name).as_posix()
            snap[key] = b"link:" + os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
    return snap


def assert_unchanged(before: dict[str, bytes], repo: Path) -> None:
    after = snapshot(repo)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"the main checkout changed: {changed}"


def lanewarden_branches(repo: Path, worker: str = "") -> list[str]:
    out = git(repo, "for-each-ref", "--format=%(refname:short)", f"refs/heads/lanewarden/{worker}")
    return out.split()


def worktrees(repo: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in git(repo, "worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")]


def run_folder(repo: Path, run_id: str) -> Path:
    return repo / ".git" / "lanewarden" / "runs" / run_id


def state(repo: Path, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_folder(repo, run_id) / "state.json").read_text())
    return data


def changed_paths(repo: Path, commit: str) -> list[str]:
    return git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", f"{commit}^", commit).split()


def trailers(repo: Path, commit: str) -> dict[str, str]:
    out = git(repo, "log", "-1", "--format=%(trailers:only,unfold)", commit)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def commit_policy(repo: Path, worker: str, **budgets: int) -> None:
    """Commit new budgets for ``worker``: a run enforces the policy of its base revision."""
    path = repo / "lanewarden.yaml"
    data = yaml.safe_load(path.read_text())
    data["workers"][worker].setdefault("budgets", {}).update(budgets)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    git(repo, "commit", "-q", "-am", f"policy: {worker} budgets {budgets}")


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (killed, not yet reaped by init) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def pids_with(token: str) -> list[int]:
    """Processes whose command line holds ``token`` (agents inside a sandbox have other pids there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if token.encode() in cmdline and pid_alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def unique_sleep() -> str:
    """A sleep duration nobody else uses: finding it in /proc finds our agent's child."""
    return f"29.{os.getpid()}{time.monotonic_ns() % 10**9:09d}"


def log_of(data: dict[str, Any]) -> str:
    return Path(data["log"]).read_text()


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def assert_rolled_back(repo: Path, data: dict[str, Any], before: dict[str, bytes], *, diff: bool) -> Path:
    """A rolled-back run: nothing left but its evidence in the run folder."""
    assert data["outcome"] == "rejected" and data["exit_code"] == 1, data
    assert data["commit"] is None and data["branch"] is None and data["handoffs"] == []
    assert data["reasons"], "a rollback must say why"
    assert lanewarden_branches(repo, data["worker"]) == []
    assert worktrees(repo) == [str(repo.resolve())]
    assert_unchanged(before, repo)
    folder = run_folder(repo, data["run_id"])
    assert (folder / "verdict.json").is_file()
    assert (folder / "log.txt").is_file() and (folder / "context.json").is_file()
    assert not (folder / "checkout").exists() and not (folder / "git").exists()
    if diff:
        assert (folder / "attempt.diff").read_bytes().startswith(b"diff --git"), "the attempt is kept as evidence"
    st = state(repo, data["run_id"])
    assert st["status"] == "rejected" and st["reasons"] == data["reasons"]
    return folder


# -- 1. accepted ----------------------------------------------------------------

def test_accepted_run_commits_only_its_file_on_its_branch(repo: Path) -> None:
    before = snapshot(repo)
    data = run(repo, "wallet-api", agent("append_own.sh"), "--task", "tidy signing", code=0)
    assert data["outcome"] == "accepted" and data["handoffs"] == [] and data["reasons"] == []
    assert data["branch"] == f"lanewarden/wallet-api/{data['run_id']}"
    assert lanewarden_branches(repo, "wallet-api") == [data["branch"]]
    commit = git(repo, "rev-parse", data["branch"]).strip()
    assert commit == data["commit"]
    # One parent, the base; one path changed.
    assert git(repo, "rev-parse", f"{commit}^").strip() == git(repo, "rev-parse", "main").strip()
    assert changed_paths(repo, commit) == [WALLET_SIGNING]
    added = git(repo, "show", f"{commit}:{WALLET_SIGNING}").splitlines()[-1]
    assert added == f"# touched by run {data['run_id']}"  # the agent saw LANEWARDEN_RUN_ID
    t = trailers(repo, commit)
    assert t["Lanewarden-Worker"] == "wallet-api" and t["Lanewarden-Run"] == data["run_id"]
    assert t["Lanewarden-Context"] == state(repo, data["run_id"])["context_hash"]
    assert git(repo, "log", "-1", "--format=%s", commit).strip() == "wallet-api: tidy signing"
    # The worktree is gone (no --keep), the main checkout untouched.
    assert worktrees(repo) == [str(repo.resolve())]
    assert_unchanged(before, repo)
    assert "agent wallet-api run" in Path(data["log"]).read_text()
    runs = json.loads(_ok(lanewarden("runs", "list", "--repo", str(repo), "--format", "json")).stdout)
    assert [(r["run_id"], r["status"], r["commit"]) for r in runs] == [(data["run_id"], "accepted", commit)]
    text = _ok(lanewarden("runs", "list", "--repo", str(repo))).stdout
    assert data["run_id"] in text and "accepted" in text


def test_text_format_streams_the_agent_output_then_a_summary(repo: Path) -> None:
    result = _ok(lanewarden("run", "wallet-api", "--repo", str(repo), "--", *agent("append_own.sh")))
    head, _, summary = result.stdout.partition("\nlanewarden run ")
    assert "agent wallet-api run" in head
    assert ": accepted (exit 0)" in summary and "committed" in summary


def test_keep_leaves_the_clone_as_the_agent_left_it(repo: Path) -> None:
    data = run(repo, "wallet-api", agent("append_own.sh"), "--keep", code=0)
    clone = run_folder(repo, data["run_id"]) / "checkout"
    assert worktrees(repo) == [str(repo.resolve())], "a run's checkout is a clone, never a worktree"
    assert (clone / WALLET_SIGNING).read_text().endswith(f"# touched by run {data['run_id']}\n")
    # The clone borrows the main repository's objects instead of copying them.
    alternates = (clone / ".git" / "objects" / "info" / "alternates").read_text().strip()
    assert Path(alternates).resolve() == (repo / ".git" / "objects").resolve()
    assert git(repo, "show", f"{data['commit']}:{WALLET_SIGNING}") == (clone / WALLET_SIGNING).read_text()


# -- 2. split -------------------------------------------------------------------

def test_split_run_commits_own_change_and_hands_off_the_rest(repo: Path) -> None:
    before = snapshot(repo)
    data = run(repo, "wallet-api", agent("split.sh"), code=3)
    assert data["outcome"] == "split" and data["changed_files"] == 3
    assert changed_paths(repo, data["commit"]) == [WALLET_SIGNING]
    assert len(data["handoffs"]) == 2
    listed = json.loads(_ok(lanewarden("handoffs", "list", "--repo", str(repo), "--format", "json")).stdout)
    assert sorted(h["id"] for h in listed) == sorted(data["handoffs"])
    by_target: dict[str, dict[str, Any]] = {}
    for hid in data["handoffs"]:
        h = json.loads(_ok(lanewarden("handoffs", "show", hid, "--repo", str(repo), "--format", "json")).stdout)
        by_target[h["target_worker"]] = h
    assert set(by_target) == {"contracts", "kms-api"}
    assert by_target["contracts"]["evidence"]["paths"] == [KMS_PROTO]
    assert by_target["kms-api"]["evidence"]["paths"] == [KMS_README]
    for target, h in by_target.items():
        assert h["source_worker"] == "wallet-api" and h["status"] == "open"
        patch = h["proposed_change"]
        assert patch and WALLET_SIGNING not in patch, f"{target}: the handoff carries only out-of-lane paths"
        # The main checkout sits at the base, so each patch must apply there as is.
        patch_file = repo.parent / f"{target}.diff"
        patch_file.write_text(patch)
        git(repo, "apply", "--check", str(patch_file))
    # Escape through ../ into a sibling: a handoff, never a write to the real sibling.
    assert (repo / KMS_README).read_bytes() == before[KMS_README]
    assert (repo / KMS_PROTO).read_bytes() == before[KMS_PROTO]
    assert_unchanged(before, repo)
    assert state(repo, data["run_id"])["handoffs"] == data["handoffs"]


# -- 3. context pack -----------------------------------------------------------

def test_context_pack_describes_the_lane_and_stays_out_of_the_diff(repo: Path) -> None:
    data = run(repo, "wallet-api", agent("dump_context.sh"), "--task", "read the pack", code=0)
    pack = json.loads(log_of(data))  # what the agent read inside its sandbox
    assert pack["worker"] == "wallet-api" and pack["task"] == "read the pack"
    assert pack["run_id"] == data["run_id"] and pack["cwd"] == "services/wallet-api"
    assert pack["allow"] == ["services/wallet-api/**"] and pack["deny"] == ["services/wallet-api/secrets/**"]
    assert pack["propose_only"] == ["contracts/**"]
    assert pack["read_hints"] == ["contracts/wallet/**", "contracts/kms/**", "services/kms-api/client/**"]
    assert set(pack["contracts"]["produces"]) == {"wallet-api"}
    assert set(pack["contracts"]["consumes"]) == {"kms-signing"}
    assert pack["contracts"]["consumes"]["kms-signing"]["producers"] == ["kms-api"]
    assert [a["path"] for a in pack["agents_md"]] == ["AGENTS.md", "services/wallet-api/AGENTS.md"]
    assert pack["agents_md"][1]["text"] == (repo / "services/wallet-api/AGENTS.md").read_text()
    assert pack["base"] == git(repo, "rev-parse", "HEAD").strip()
    assert pack["policy_sha256"] == hashlib.sha256((repo / "lanewarden.yaml").read_bytes()).hexdigest()
    # The hash covers everything else in the pack, and is what the commit and the state record.
    body = {k: v for k, v in pack.items() if k != "context_hash"}
    canon = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    assert pack["context_hash"] == hashlib.sha256(canon).hexdigest()
    assert trailers(repo, data["commit"])["Lanewarden-Context"] == pack["context_hash"]
    assert state(repo, data["run_id"])["context_hash"] == pack["context_hash"]
    # The pack lives in the run folder, outside every work tree: never in the diff or the commit.
    assert changed_paths(repo, data["commit"]) == [WALLET_SIGNING] and data["changed_files"] == 1
    tree = git(repo, "ls-tree", "-r", "--name-only", data["commit"]).split()
    assert not any(p.endswith("context.json") for p in tree)


def test_context_pack_lists_open_handoffs_for_the_worker(repo: Path) -> None:
    split = run(repo, "wallet-api", agent("split.sh"), code=3)
    # kms-api is the target of one handoff of the split run; its next run is told about it.
    data = run(repo, "kms-api", ["sh", "-c", 'cat "$LANEWARDEN_CONTEXT"'], code=0)
    pack = json.loads(log_of(data))
    assert [h["paths"] for h in pack["open_handoffs"]] == [[KMS_README]]
    assert pack["open_handoffs"][0]["id"] in split["handoffs"] and pack["high_risk"] is True


# -- 4. rollbacks ---------------------------------------------------------------

@pytest.mark.parametrize(("script", "reason"), [
    ("secret_env.sh", "secrets"),
    ("private_key.sh", "secrets"),
])
def test_secret_like_artifact_rolls_back(repo: Path, script: str, reason: str) -> None:
    before = snapshot(repo)
    data = run(repo, "wallet-api", agent(script), code=1)
    assert_rolled_back(repo, data, before, diff=True)
    assert any(r.startswith(f"{reason}:") for r in data["reasons"]), data["reasons"]


def test_budget_breach_rolls_back(repo: Path) -> None:
    commit_policy(repo, "wallet-api", max_files=2)
    before = snapshot(repo)
    data = run(repo, "wallet-api", agent("many_files.sh", "3"), code=1)
    assert_rolled_back(repo, data, before, diff=True)
    assert any(r.startswith("budget:") for r in data["reasons"]), data["reasons"]
    assert data["changed_files"] == 3
    attempt = (run_folder(repo, data["run_id"]) / "attempt.diff").read_text()
    assert all(f"src/wallet_api/gen_{i}.py" in attempt for i in (1, 2, 3))


def test_budget_at_the_limit_is_accepted(repo: Path) -> None:
    commit_policy(repo, "wallet-api", max_files=2)
    data = run(repo, "wallet-api", agent("many_files.sh", "2"), code=0)
    assert len(changed_paths(repo, data["commit"])) == 2


def test_crash_rolls_back_and_keeps_the_log(repo: Path) -> None:
    before = snapshot(repo)
    data = run(repo, "wallet-api", agent("crash.sh"), code=1)
    folder = assert_rolled_back(repo, data, before, diff=True)
    assert "the agent exited with code 7" in data["reasons"]
    assert "boom" in (folder / "log.txt").read_text()
    assert WALLET_SIGNING in (folder / "attempt.diff").read_text()


def test_timeout_rolls_back_and_stops_the_whole_process_group(repo: Path) -> None:
    commit_policy(repo, "wallet-api", timeout_s=2)
    token = unique_sleep()
    before = snapshot(repo)
    data = run(repo, "wallet-api", agent("hang.sh", token), code=1)
    try:
        assert_rolled_back(repo, data, before, diff=True)
        assert any("timed out after 2s" in r for r in data["reasons"]), data["reasons"]
        # The background child of the agent went down with it (its PID namespace ended).
        assert pids_with(token) == [], "the agent's background child survived the timeout"
    finally:
        for pid in pids_with(token):
            kill_quietly(pid)


# -- 5. escapes -----------------------------------------------------------------

def test_editing_the_policy_through_dotdot_is_rejected(repo: Path) -> None:
    before = snapshot(repo)
    data = run(repo, "wallet-api", agent("edit_policy.sh"), code=1)
    assert_rolled_back(repo, data, before, diff=True)
    assert any(r.startswith("protected:") and "lanewarden.yaml" in r for r in data["reasons"]), data["reasons"]
    assert data["handoffs"] == [] and json.loads(
        _ok(lanewarden("handoffs", "list", "--repo", str(repo), "--format", "json")).stdout) == []


def test_symlink_out_of_scope_is_rejected(repo: Path) -> None:
    before = snapshot(repo)
    data = run(repo, "wallet-api", agent("symlink_escape.sh"), code=1)
    assert_rolled_back(repo, data, before, diff=True)
    assert any(r.startswith("protected:") for r in data["reasons"]), data["reasons"]
    assert not (repo / "services/wallet-api/leak").exists()


# -- 6. high-risk worker ---------------------------------------------------------

def test_high_risk_worker_sees_only_its_sparse_set(repo: Path) -> None:
    before = snapshot(repo)
    data = run(repo, "kms-api", agent("list_files.sh"), code=0)
    seen = {line.removeprefix("../../") for line in log_of(data).splitlines()}
    assert KMS_AUDIT in seen and "services/kms-api/src/kms_api/keys.py" in seen
    assert KMS_PROTO in seen and "contracts/mpc/signing-session.schema.json" in seen
    assert "services/kms-api/AGENTS.md" in seen and "AGENTS.md" in seen
    assert not [p for p in seen if p.startswith(("services/wallet-api/", "rust-mpc/", "services/hd-manager/"))]
    # Files outside the sparse set are absent from its worktree, not deleted by it.
    assert data["outcome"] == "accepted" and data["changed_files"] == 1
    assert changed_paths(repo, data["commit"]) == [KMS_AUDIT]
    assert set(git(repo, "ls-tree", "-r", "--name-only", data["commit"]).split()) == \
        set(git(repo, "ls-tree", "-r", "--name-only", "main").split())
    assert_unchanged(before, repo)


def test_high_risk_worker_deleting_its_own_file_is_reported(repo: Path) -> None:
    data = run(repo, "kms-api", agent("delete_own.sh"), code=0)
    assert data["changed_files"] == 1
    status = git(repo, "diff-tree", "--no-commit-id", "--name-status", "-r", f"{data['commit']}^", data["commit"])
    assert status.split() == ["D", KMS_AUDIT]
    verdict = json.loads((run_folder(repo, data["run_id"]) / "verdict.json").read_text())
    assert KMS_AUDIT in json.dumps(verdict)


def test_high_risk_worker_writing_outside_its_sparse_set_hands_off(repo: Path) -> None:
    before = snapshot(repo)
    data = run(repo, "kms-api", agent("sparse_escape.sh"), code=3)
    assert data["commit"] is None and data["branch"] is None and len(data["handoffs"]) == 1
    h = json.loads(_ok(lanewarden("handoffs", "show", data["handoffs"][0], "--repo", str(repo),
                                 "--format", "json")).stdout)
    assert h["target_worker"] == "wallet-api" and h["evidence"]["paths"] == ["services/wallet-api/NOTES.md"]
    assert lanewarden_branches(repo, "kms-api") == []
    assert_unchanged(before, repo)


def test_agent_commits_and_branch_moves_are_judged_against_the_base(repo: Path) -> None:
    before = snapshot(repo)
    data = run(repo, "wallet-api", agent("commit_own.sh"), code=0)
    # One lanewarden commit on the base (the agent's own commit is not kept as history).
    assert git(repo, "rev-parse", f"{data['commit']}^").strip() == git(repo, "rev-parse", "main").strip()
    assert changed_paths(repo, data["commit"]) == [WALLET_SIGNING]
    assert "Lanewarden-Run" in trailers(repo, data["commit"])
    assert lanewarden_branches(repo, "wallet-api") == [data["branch"]]
    # The work tree itself is untouched; the branch the agent created is checked on its own below.
    assert {k: v for k, v in snapshot(repo).items() if k != ":heads"} == \
        {k: v for k, v in before.items() if k != ":heads"}


def test_agent_cannot_move_or_add_branches_outside_its_lane(repo: Path) -> None:
    # Worktrees share refs with the main checkout: a run must leave every other branch as it was.
    main_before = git(repo, "rev-parse", "main").strip()
    before = snapshot(repo)
    run(repo, "wallet-api", agent("move_main.sh"))
    assert git(repo, "rev-parse", "main").strip() == main_before, "an agent moved main"
    run(repo, "wallet-api", agent("commit_own.sh"))
    others = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()
    assert [b for b in others if not b.startswith("lanewarden/")] == ["main"], others
    assert_unchanged(before, repo)


# -- 7. interrupted runs --------------------------------------------------------

def _start_and_kill(repo: Path, *extra: str) -> tuple[str, str]:
    """A real ``lanewarden run`` killed with SIGKILL mid-run; returns its run id and the agent's token."""
    token = unique_sleep()
    proc = subprocess.Popen([sys.executable, "-m", "lanewarden", "run", "--repo", str(repo), *extra, "wallet-api",
                             "--", "sh", "-c", f"exec sleep {token}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    root = repo / ".git" / "lanewarden" / "runs"
    run_id = None
    deadline = time.monotonic() + 60  # a bound on waiting, never a speed claim: CI machines can be slow
    try:
        while time.monotonic() < deadline:
            running = [json.loads(s.read_text()) for s in root.glob("*/state.json")] if root.is_dir() else []
            running = [s for s in running if s.get("status") == "running" and s.get("pid") == proc.pid]
            if running and pids_with(token):
                run_id = running[0]["run_id"]
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()  # reap it: a zombie still answers kill(pid, 0)
    assert run_id is not None, "the run never reached the running state"
    return run_id, token


@pytest.fixture
def agent_tokens() -> Iterator[list[str]]:
    """Agents a killed lanewarden may leave behind; stopped after the test whatever happened."""
    tokens: list[str] = []
    yield tokens
    for token in tokens:
        for pid in pids_with(token):
            kill_quietly(pid)


def _gone(token: str) -> bool:
    deadline = time.monotonic() + 30  # the kernel ends a PID namespace asynchronously
    while pids_with(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not pids_with(token)


def _assert_tidied(repo: Path, run_id: str) -> None:
    st = state(repo, run_id)
    assert st["status"] == "interrupted", st
    assert not (run_folder(repo, run_id) / "checkout").exists()
    assert not (run_folder(repo, run_id) / "git").exists()
    assert worktrees(repo) == [str(repo.resolve())]
    assert not [b for b in lanewarden_branches(repo, "wallet-api") if b.endswith(run_id)]


def test_runs_clean_tidies_a_killed_run(repo: Path, agent_tokens: list[str]) -> None:
    before = snapshot(repo)
    run_id, token = _start_and_kill(repo)
    agent_tokens.append(token)
    assert state(repo, run_id)["status"] == "running"  # nobody has tidied yet
    result = _ok(lanewarden("runs", "clean", "--repo", str(repo)))
    assert result.stdout.startswith("cleaned 1 interrupted run(s)") and run_id in result.stdout
    _assert_tidied(repo, run_id)
    assert lanewarden_branches(repo, "wallet-api") == []
    assert_unchanged(before, repo)
    # Cleaning again finds nothing.
    assert _ok(lanewarden("runs", "clean", "--repo", str(repo))).stdout.startswith("cleaned 0 ")


def test_killed_runs_agent_dies_with_lanewarden(repo: Path, agent_tokens: list[str]) -> None:
    # Confined, the agent is in a PID namespace that ends with bwrap, which ends with lanewarden:
    # even SIGKILL, which lanewarden cannot catch, leaves no agent behind.
    _, token = _start_and_kill(repo)
    agent_tokens.append(token)
    assert _gone(token), "the agent outlived the lanewarden process that started it"


def test_unconfined_killed_runs_agent_does_not_outlive_the_cleanup(repo: Path, agent_tokens: list[str]) -> None:
    # Unconfined, the agent runs in its own session, so killing lanewarden's group misses it;
    # once the run is cleaned up it must not keep running in a deleted clone.
    _, token = _start_and_kill(repo, "--unconfined")
    agent_tokens.append(token)
    _ok(lanewarden("runs", "clean", "--repo", str(repo)))
    assert _gone(token), "the orphaned agent of a cleaned-up run is still running"


def test_next_run_tidies_a_killed_run_by_itself(repo: Path, agent_tokens: list[str]) -> None:
    run_id, token = _start_and_kill(repo)
    agent_tokens.append(token)
    data = run(repo, "wallet-api", agent("append_own.sh"), code=0)
    _assert_tidied(repo, run_id)
    assert lanewarden_branches(repo, "wallet-api") == [data["branch"]]
    statuses = {r["run_id"]: r["status"] for r in json.loads(
        _ok(lanewarden("runs", "list", "--repo", str(repo), "--format", "json")).stdout)}
    assert statuses == {run_id: "interrupted", data["run_id"]: "accepted"}


# -- 8. dispatch ----------------------------------------------------------------

def test_dispatch_runs_lanes_in_parallel_and_serialises_each_worker(repo: Path, tmp_path: Path) -> None:
    def slow(file: str) -> list[str]:
        # A short sleep makes an overlap of same-worker runs visible in their timestamps.
        return ["sh", "-c", f'sleep 0.4 && exec sh "{AGENTS / "append_file.sh"}" {file}']

    plan: dict[str, list[dict[str, Any]]] = {"tasks": [
        {"worker": "wallet-api", "task": "wallet one", "command": slow("src/wallet_api/app.py")},
        {"worker": "kms-api", "task": "kms one", "command": slow("src/kms_api/keys.py")},
        {"worker": "wallet-api", "task": "wallet split", "command": f'sh "{AGENTS / "split.sh"}"'},
        {"worker": "hd-manager", "task": "hd", "command": slow("README.md")},
        {"worker": "kms-api", "task": "kms two", "command": slow("src/kms_api/audit.py")},
        {"worker": "party-node-rs", "task": "party", "command": slow("src/round.rs")},
    ]}
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump(plan))
    before = snapshot(repo)
    result = lanewarden("dispatch", str(plan_file), "--repo", str(repo), "--jobs", "3")
    _ok(result, 3)  # the worst outcome is the split
    runs = json.loads(_ok(lanewarden("runs", "list", "--repo", str(repo), "--format", "json")).stdout)
    by_task = {r["task"]: r for r in runs}
    assert set(by_task) == {t["task"] for t in plan["tasks"]}, runs
    expected = {"wallet one": "accepted", "kms one": "accepted", "wallet split": "split", "hd": "accepted",
                "kms two": "accepted", "party": "accepted"}
    assert {task: r["status"] for task, r in by_task.items()} == expected
    # One writer per lane: runs of the same worker never overlap.
    for worker in ("wallet-api", "kms-api"):
        spans = sorted((r["started"], r["finished"]) for r in runs if r["worker"] == worker)
        assert len(spans) == 2 and spans[0][1] <= spans[1][0], f"{worker} runs overlapped: {spans}"
    # Each accepted run committed its own file on its own branch.
    assert changed_paths(repo, by_task["party"]["commit"]) == ["rust-mpc/party-node-rs/src/round.rs"]
    assert changed_paths(repo, by_task["kms two"]["commit"]) == [KMS_AUDIT]
    assert len(lanewarden_branches(repo)) == 6
    assert worktrees(repo) == [str(repo.resolve())]
    assert_unchanged(before, repo)
    # The summary has one line per task, in plan order, with its outcome.
    summary = result.stdout.split("\nsummary:\n", 1)[1].splitlines()
    rows = [line.split() for line in summary[1:] if line.strip() and line.split()[0].isdigit()]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (str(i + 1), t["worker"], expected[t["task"]]) for i, t in enumerate(plan["tasks"])]
    assert result.stdout.rstrip().endswith("worst outcome: exit 3")


def test_dispatch_reports_a_rejected_task_as_worst(repo: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump({"tasks": [
        {"worker": "wallet-api", "command": f'sh "{AGENTS / "append_own.sh"}"'},
        {"worker": "hd-manager", "command": ["sh", "-c", "exit 5"]},
    ]}))
    result = lanewarden("dispatch", str(plan_file), "--repo", str(repo), "--jobs", "2")
    _ok(result, 1)  # rejected beats accepted (0)
    assert "the agent exited with code 5" in result.stdout


def test_dispatch_checks_the_whole_plan_before_anything_starts(repo: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump({"tasks": [
        {"worker": "wallet-api", "command": f'sh "{AGENTS / "append_own.sh"}"'},
        {"worker": "walet-api", "command": "true"},
    ]}))
    result = lanewarden("dispatch", str(plan_file), "--repo", str(repo))
    _ok(result, 2)
    assert "unknown worker 'walet-api'" in result.stderr and "nothing was started" in result.stderr
    assert not (repo / ".git" / "lanewarden" / "runs").exists()  # no run of the valid task either


def test_dispatch_progress_moves_while_a_run_works(repo: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump({"tasks": [
        {"worker": "wallet-api", "task": "slow", "command": ["sh", "-c", "echo a > a.txt; echo b > b.txt; sleep 120"]},
    ]}))
    proc = subprocess.Popen([str(BIN / "lanewarden"), "dispatch", str(plan_file), "--repo", str(repo)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # not a terminal: one line per change of state or files changed
        seen.append(line)
        if "running" in line and "2 file(s)" in line:
            break
    else:
        raise AssertionError("".join(seen) + proc.stderr.read() if proc.stderr else "")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode == 130


def test_dispatch_ctrl_c_ends_every_run_cleanly(repo: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump({"tasks": [
        {"worker": "wallet-api", "task": "long one", "command": ["sh", "-c", "echo x >> app.txt; sleep 120"]},
        {"worker": "kms-api", "task": "long two", "command": ["sleep", "120"]},
        {"worker": "kms-api", "task": "queued", "command": ["true"]},
    ]}))
    before = snapshot(repo)
    proc = subprocess.Popen([str(BIN / "lanewarden"), "dispatch", str(plan_file), "--repo", str(repo), "--jobs", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    runs_dir = repo / ".git" / "lanewarden" / "runs"

    def agents_started() -> bool:
        states = [json.loads(p.read_text()) for p in runs_dir.glob("*/state.json")] if runs_dir.is_dir() else []
        return len([s for s in states if s.get("agent_pgid")]) == 2

    while not agents_started():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    states = {s["task"]: s for s in (json.loads(p.read_text()) for p in runs_dir.glob("*/state.json"))}
    assert {k: v["status"] for k, v in states.items()} == {"long one": "interrupted", "long two": "interrupted"}
    for s in states.values():
        assert not Path(s["checkout"]).exists()  # each run's clone removed by its own interrupt path
    assert b"cancelled" in out and b"dispatch interrupted" in out
    assert snapshot(repo) == before


# -- 9. runs list / show ---------------------------------------------------------

def test_runs_list_is_oldest_first(repo: Path) -> None:
    # Several quick runs start within the same second; the list must still follow run order.
    ids = [run(repo, "hd-manager", ["true"], "--task", f"noop {i}", code=0)["run_id"] for i in range(5)]
    runs = json.loads(_ok(lanewarden("runs", "list", "--repo", str(repo), "--format", "json")).stdout)
    assert [r["run_id"] for r in runs] == ids
    assert [r["task"] for r in runs] == [f"noop {i}" for i in range(5)]


def test_runs_show_by_prefix_and_list_as_json(repo: Path) -> None:
    assert _ok(lanewarden("runs", "list", "--repo", str(repo))).stdout.strip() == "no runs"
    first = run(repo, "wallet-api", agent("append_own.sh"), "--task", "first", code=0)
    second = run(repo, "wallet-api", agent("crash.sh"), "--task", "second", code=1)
    runs = json.loads(_ok(lanewarden("runs", "list", "--repo", str(repo), "--format", "json")).stdout)
    by_id = {r["run_id"]: r for r in runs}
    assert set(by_id) == {first["run_id"], second["run_id"]}
    one, two = by_id[first["run_id"]], by_id[second["run_id"]]
    assert one["status"] == "accepted" and one["commit"] == first["commit"] and one["task"] == "first"
    assert two["status"] == "rejected" and two["commit"] is None and two["exit_code"] == 1
    for r in runs:
        assert r["worker"] == "wallet-api" and r["base"] == git(repo, "rev-parse", "main").strip()
        assert r["started"] <= r["finished"] and len(r["context_hash"]) == 64
    shown = json.loads(_ok(lanewarden("runs", "show", first["run_id"][:-1], "--repo", str(repo),
                                      "--format", "json")).stdout)
    assert shown == one
    # A prefix both ids share is ambiguous; one that matches nothing is an input error.
    common = commonpath([first["run_id"], second["run_id"]])
    ambiguous = lanewarden("runs", "show", common, "--repo", str(repo))
    assert ambiguous.exit_code == 2 and "more than one run" in ambiguous.stderr
    missing = lanewarden("runs", "show", "19990101", "--repo", str(repo))
    assert missing.exit_code == 2 and "no run matches" in missing.stderr


def test_agent_hands_off_from_inside_a_run(repo: Path) -> None:
    # `lanewarden handoff propose` inside a run takes worker, task and base from the environment.
    script = (f"{sys.executable} -m lanewarden handoff propose --format json "
              "--problem 'SignRequest needs a key_version field' "
              "--evidence 'signing.py cannot pick a key version' --path contracts/kms/kms.proto")
    data = run(repo, "wallet-api", ["sh", "-c", script], "--task", "sign with key versions", code=0)
    assert data["outcome"] == "accepted" and data["commit"] is None  # nothing changed in the tree
    listed = json.loads(_ok(lanewarden("handoffs", "list", "--repo", str(repo), "--format", "json")).stdout)
    assert len(listed) == 1
    h = listed[0]
    assert (h["source_worker"], h["target_worker"], h["task"]) == ("wallet-api", "contracts",
                                                                  "sign with key versions")
    assert h["evidence"]["base"] == git(repo, "rev-parse", "main").strip()
