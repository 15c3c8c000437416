"""The run boundary under attack: scripted agents that try to get out, each with an honest control.

Every test writes a small agent script that attempts one escape from issue 14
and, in the same run, makes an ordinary in-lane change. The attack must fail
(or, unconfined, be undone or reported) while the in-lane change still lands.
Agents run under the real bubblewrap; nothing is mocked. An agent finds the
main repository the way a real one could: the context pack's path lies in
``<main>/.git/lanewarden/runs/<run-id>/``.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_runs import (
    WALLET_SIGNING,
    _gone,
    assert_unchanged,
    changed_paths,
    commit_policy,
    kill_quietly,
    lanewarden_branches,
    log_of,
    pids_with,
    run,
    run_folder,
    snapshot,
    state,
    unique_sleep,
)

from conftest import expect as _ok
from conftest import git, lanewarden

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is not installed (apt-get install bubblewrap); "
                                       "CI installs it, see .ci/run")

# Shell prologue for agents: where the main repository is, found from the context pack's path.
FIND_MAIN = ('RUNS="$(cd "$(dirname "$LANEWARDEN_CONTEXT")/.." && pwd)"\n'
             'MAIN_GIT="$(cd "$RUNS/../.." && pwd)"\n'
             'MAIN="$(cd "$MAIN_GIT/.." && pwd)"\n')
OWN_CHANGE = 'printf "# honest work\\n" >> src/wallet_api/signing.py\n'
FAKE_ID = "20260101T000000000000-abcdef"


@pytest.fixture(autouse=True)
def _actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")


def script(tmp_path: Path, name: str, body: str) -> list[str]:
    """The agent ``name``: a shell script given inline (the sandbox's /tmp is private, so a file
    under the test's tmp_path would be invisible to it); ``tmp_path`` is kept for the script's name."""
    return ["sh", "-c", f"# {name}\n" + FIND_MAIN + body]


def assert_honest_change_landed(repo: Path, data: dict[str, Any]) -> None:
    assert data["outcome"] == "accepted", data
    assert changed_paths(repo, data["commit"]) == [WALLET_SIGNING]
    assert git(repo, "show", f"{data['commit']}:{WALLET_SIGNING}").endswith("# honest work\n")


# -- (1) a forged run record deletes anything -----------------------------------

FORGE = f'''
forge() {{
  mkdir -p "$RUNS/$1" && printf '{{"run_id": "%s", "worker": "wallet-api", "status": "running", "pid": 999999999,
  "worktree": "%s", "checkout": "%s", "branch": "main", "base": "x"}}\\n' "$2" "$MAIN" "$MAIN" \\
  > "$RUNS/$1/state.json" && echo "forged $1" || echo "blocked $1"
}}
forge {FAKE_ID} {FAKE_ID}
forge evil evil
forge 20260101T000000000001-abcdef {FAKE_ID}
'''


def test_confined_agent_cannot_forge_a_run_record(repo: Path, tmp_path: Path) -> None:
    before = snapshot(repo)
    data = run(repo, "wallet-api", script(tmp_path, "forge.sh", FORGE + OWN_CHANGE), code=0)
    assert "blocked " + FAKE_ID in log_of(data) and "forged" not in log_of(data)
    assert not (repo / ".git" / "lanewarden" / "runs" / FAKE_ID).exists()
    assert_honest_change_landed(repo, data)
    assert_unchanged(before, repo)


def test_a_forged_run_record_removes_nothing_outside_its_run_folder(repo: Path, tmp_path: Path) -> None:
    # Unconfined, the agent can write the runs folder: the forged records name the whole
    # checkout as their worktree and `main` as their branch, with a dead pid.
    main = git(repo, "rev-parse", "main").strip()
    data = run(repo, "wallet-api", script(tmp_path, "forge.sh", FORGE + OWN_CHANGE), "--unconfined", code=0)
    assert f"forged {FAKE_ID}" in log_of(data)
    assert_honest_change_landed(repo, data)
    before = snapshot(repo)
    cleaned = _ok(lanewarden("runs", "clean", "--repo", str(repo))).stdout
    assert f"names {repo.resolve()} as its worktree; ignored" in cleaned, cleaned
    assert "evil: not a run id; left alone" in cleaned
    assert f"names run '{FAKE_ID}', not 20260101T000000000001-abcdef; left alone" in cleaned
    assert "names branch main; not lanewarden's, left alone" in cleaned
    # The next run tidies (by itself) too: still nothing outside the runs folder goes.
    run(repo, "wallet-api", ["true"], code=0)
    assert_unchanged(before, repo)
    assert git(repo, "rev-parse", "main").strip() == main
    assert (repo / "lanewarden.yaml").is_file() and (repo / ".git" / "HEAD").is_file()
    assert state(repo, FAKE_ID)["status"] == "interrupted"  # its own (empty) run folder was tidied


# -- (2) a child that outlives the run --------------------------------------------

def test_a_setsid_child_dies_with_the_run(repo: Path, tmp_path: Path) -> None:
    token = unique_sleep()
    attack = (f'setsid sh -c \'sleep {token}; git --git-dir="$0" update-ref refs/heads/main HEAD~1; '
              'printf "#!/bin/sh\\nexit 1\\n" > "$0/hooks/pre-commit"\' "$MAIN_GIT" >/dev/null 2>&1 &\n'
              'sleep 0.2; kill -0 $! && echo "child alive"\n')
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")  # so HEAD~1 exists
    main = git(repo, "rev-parse", "main").strip()
    before = snapshot(repo)
    try:
        data = run(repo, "wallet-api", script(tmp_path, "setsid.sh", attack + OWN_CHANGE), code=0)
        assert_honest_change_landed(repo, data)
        assert "child alive" in log_of(data)  # the escape was really tried
        assert _gone(token), "a setsid child outlived the accepted run"
    finally:
        for pid in pids_with(token):
            kill_quietly(pid)
    assert git(repo, "rev-parse", "main").strip() == main
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert_unchanged(before, repo)


# -- (3) another worker's branch ---------------------------------------------------

def test_a_branch_named_for_another_worker_is_never_that_workers_lane(repo: Path, tmp_path: Path) -> None:
    # Inside its clone the agent may create any branch; none of them reaches the main repository.
    in_clone = ('git checkout -q -b lanewarden/kms-api/x && printf "# planted\\n" >> ../kms-api/README.md '
                '&& git -c user.name=a -c user.email=a@x commit -qam planted && git checkout -q - '
                '&& git push -q origin lanewarden/kms-api/x 2>/dev/null && echo pushed || echo "push blocked"\n')
    data = run(repo, "wallet-api", script(tmp_path, "plant.sh", in_clone + OWN_CHANGE), code=0)
    assert "push blocked" in log_of(data)
    assert lanewarden_branches(repo, "kms-api") == []
    assert_honest_change_landed(repo, data)
    # Unconfined, the agent can write the main repository's refs directly: the branch survives,
    # but the final review takes workers from lanewarden's run records, never from branch names.
    planted = ('git checkout -q -b plant && printf "# planted\\n" >> ../kms-api/README.md '
               '&& git -c user.name=a -c user.email=a@x commit -qam planted '
               '&& git push -q "$MAIN_GIT" plant:refs/heads/lanewarden/kms-api/x && echo planted\n'
               'git checkout -q -\n')
    second = run(repo, "wallet-api", script(tmp_path, "plant2.sh", planted + OWN_CHANGE), "--unconfined", code=0)
    assert "planted" in log_of(second)
    assert lanewarden_branches(repo, "kms-api") == ["lanewarden/kms-api/x"]
    result = lanewarden("review", "final", "--repo", str(repo), "--base", "main", "--format", "json")
    review = json.loads(result.stdout)
    assert result.exit_code != 0 and review["decision"] != "accept"
    assert [lane["worker"] for lane in review["lanes"]] == ["wallet-api", "wallet-api"]
    votes = {v["guard"]: v for v in review["votes"]}
    assert votes["unattributed"]["vote"] == "abstain"
    assert "lanewarden/kms-api/x" in votes["unattributed"]["reasons"][0]
    assert "no lanewarden run record" in votes["unattributed"]["reasons"][0]
    # Named directly, the branch has no worker either: an integration review judges its commit as a
    # person's, by the owners of what it touches, and says so; no run of kms-api is credited with it.
    direct = lanewarden("review", "final", "--repo", str(repo), "--head", "lanewarden/kms-api/x",
                        "--format", "json")
    shown = json.loads(direct.stdout)
    assert direct.exit_code != 0 and shown["mode"] == "integration"
    assert [(lane["worker"], lane["via"]) for lane in shown["lanes"]] == [("kms-api", "human commit")]


# -- (6) writing into a concurrent run ----------------------------------------------

def test_an_agent_cannot_write_into_a_concurrent_runs_checkout(repo: Path, tmp_path: Path) -> None:
    attacker = script(tmp_path, "intrude.sh", '''
i=0
while [ "$i" -lt 200 ]; do
  for other in "$RUNS"/*/checkout/services/hd-manager; do
    case "$other" in "$RUNS/$LANEWARDEN_RUN_ID/"*) continue ;; esac
    if [ -d "$other" ]; then
      echo "found $other"
      printf 'intruder\\n' > "$other/EVIL.md" && echo wrote || echo "write blocked"
      i=1000
    fi
  done
  i=$((i + 1)); sleep 0.05
done
''' + OWN_CHANGE)
    # The victim waits (bounded) for the intruder's file, so the window is open while it tries.
    victim = ["sh", "-c", 'i=0; while [ ! -e EVIL.md ] && [ "$i" -lt 60 ]; do i=$((i+1)); sleep 0.1; done; '
                          'printf "# hd\\n" >> README.md']
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"tasks": [{"worker": "hd-manager", "task": "victim", "command": victim},
                                              {"worker": "wallet-api", "task": "intruder", "command": attacker}]}))
    before = snapshot(repo)
    _ok(lanewarden("dispatch", str(plan), "--repo", str(repo), "--jobs", "2"))
    runs = {r["task"]: r for r in json.loads(
        _ok(lanewarden("runs", "list", "--repo", str(repo), "--format", "json")).stdout)}
    intruder_log = Path(runs["intruder"]["log"]).read_text()
    assert "found " in intruder_log and "write blocked" in intruder_log, intruder_log
    assert changed_paths(repo, runs["victim"]["commit"]) == ["services/hd-manager/README.md"]
    assert changed_paths(repo, runs["intruder"]["commit"]) == [WALLET_SIGNING]
    assert_unchanged(before, repo)


# -- the main checkout by absolute path ----------------------------------------------

def test_the_main_checkout_is_read_only_to_a_confined_agent(repo: Path, tmp_path: Path) -> None:
    attack = ('printf "x\\n" >> "$MAIN/README.md" && echo "wrote main" || echo "main blocked"\n'
              'printf "[core]\\n\\tfsmonitor = evil\\n" >> "$MAIN_GIT/config" || echo "config blocked"\n'
              'touch /tmp/private && echo "tmp ok"\n')
    before = snapshot(repo)
    data = run(repo, "wallet-api", script(tmp_path, "abs.sh", attack + OWN_CHANGE), code=0)
    log = log_of(data)
    assert "main blocked" in log and "config blocked" in log and "tmp ok" in log, log
    assert_honest_change_landed(repo, data)
    assert_unchanged(before, repo)
    assert data["confined"] is True


# -- interrupts -----------------------------------------------------------------------

def _start(repo: Path, command: list[str], *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """A real ``lanewarden run`` in a subprocess; returns it once the agent has said ``ready``."""
    proc = subprocess.Popen([sys.executable, "-m", "lanewarden", "run", "--repo", str(repo), *extra,
                             "wallet-api", "--", *command],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    root = repo / ".git" / "lanewarden" / "runs"
    deadline = time.monotonic() + 60  # a bound on waiting, never a speed claim
    while time.monotonic() < deadline:
        for st in root.glob("*/state.json") if root.is_dir() else []:
            data = json.loads(st.read_text())
            log = Path(data.get("log", "/nonexistent"))
            if data.get("pid") == proc.pid and log.is_file() and "ready" in log.read_text():
                return proc, data["run_id"]
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the run never got ready: {proc.communicate()}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_keeps_its_change_as_evidence_and_changes_nothing(
        repo: Path, tmp_path: Path, sig: signal.Signals) -> None:
    token = unique_sleep()
    agent = script(tmp_path, "slow.sh", OWN_CHANGE + f'echo ready\nexec sleep {token}\n')
    before = snapshot(repo)
    proc, run_id = _start(repo, agent)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 130, text
    folder = run_folder(repo, run_id)
    assert f"kept: {folder / 'attempt.diff'}" in text and f"cleaned: {folder / 'checkout'}" in text, text
    assert "the main repository was not changed" in text
    assert "# honest work" in (folder / "attempt.diff").read_text()
    st = state(repo, run_id)
    assert st["status"] == "interrupted" and str(folder / "attempt.diff") in st["kept"]
    assert not (folder / "checkout").exists() and lanewarden_branches(repo) == []
    assert _gone(token)
    assert_unchanged(before, repo)
    entries = json.loads(_ok(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json")).stdout)
    assert any(e["kind"] == "run" and e["outcome"].get("outcome") == "interrupted" for e in entries)


def test_an_interrupted_unconfined_run_restores_main_and_the_hooks(repo: Path, tmp_path: Path) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    main = git(repo, "rev-parse", "main").strip()
    attack = ('git --git-dir="$MAIN_GIT" update-ref refs/heads/main HEAD~1\n'
              'printf "#!/bin/sh\\nexit 1\\n" > "$MAIN_GIT/hooks/pre-commit"\n')
    agent = script(tmp_path, "move.sh", attack + OWN_CHANGE + "echo ready\nexec sleep 30\n")
    proc, run_id = _start(repo, agent, "--unconfined")
    assert git(repo, "rev-parse", "main").strip() != main  # the attack happened
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert git(repo, "rev-parse", "main").strip() == main
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert "# honest work" in (run_folder(repo, run_id) / "attempt.diff").read_text()


# -- no sandbox here, --unconfined, --no-network ----------------------------------------

def _path_without_bwrap(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git", "sh", "true", "cat", "dirname"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_without_bubblewrap_a_run_refuses_unless_unconfined(repo: Path, tmp_path: Path) -> None:
    env = dict(os.environ, PATH=_path_without_bwrap(tmp_path))
    cmd = [sys.executable, "-m", "lanewarden", "run", "--repo", str(repo), "wallet-api"]
    refused = subprocess.run([*cmd, "--", "true"], env=env, capture_output=True, text=True, check=False)
    assert refused.returncode == 2, refused.stderr
    assert "bwrap (bubblewrap) is not installed" in refused.stderr
    assert "apt-get install bubblewrap" in refused.stderr and "--unconfined" in refused.stderr
    assert not (repo / ".git" / "lanewarden" / "runs").exists() or not any(
        (repo / ".git" / "lanewarden" / "runs").iterdir()), "nothing is created before the refusal"
    ran = subprocess.run([*cmd, "--unconfined", "--", "sh", "-c", OWN_CHANGE], env=env, capture_output=True,
                         text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    assert "UNCONFINED" in ran.stderr and "UNCONFINED: the agent ran without a sandbox" in ran.stdout
    entries = json.loads(_ok(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json")).stdout)
    runs = [e for e in entries if e["kind"] == "run"]
    assert runs[-1]["inputs"]["confinement"] == "unconfined"


@pytest.fixture
def listener() -> Any:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    yield sock.getsockname()[1]
    sock.close()


def test_no_network_from_the_flag_or_the_policy(repo: Path, tmp_path: Path, listener: int) -> None:
    probe = (f'{sys.executable} -c "import socket; socket.create_connection((\'127.0.0.1\', {listener}), 2)" '
             '2>/dev/null && echo online || echo offline\n')
    agent = script(tmp_path, "net.sh", probe + OWN_CHANGE)
    assert "online" in log_of(run(repo, "wallet-api", agent, code=0))  # the control
    assert "offline" in log_of(run(repo, "wallet-api", agent, "--no-network", code=0))
    commit_policy(repo, "wallet-api", network=False)
    data = run(repo, "wallet-api", agent, code=0)
    assert "offline" in log_of(data) and state(repo, data["run_id"])["network"] is False


# -- embedded repositories -------------------------------------------------------------

EMBED = ('mkdir -p nested && git -C nested init -q && printf "x\\n" > nested/f '
         '&& git -C nested add f && git -C nested -c user.name=a -c user.email=a@x commit -qm n\n')


def test_an_embedded_repository_is_rejected_by_guard_worktree(repo: Path) -> None:
    # The control: an in-lane edit alone is accepted.
    (repo / WALLET_SIGNING).write_text((repo / WALLET_SIGNING).read_text() + "# honest work\n")
    _ok(lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--worktree"), 0)
    subprocess.run(["sh", "-c", EMBED], cwd=repo / "services" / "wallet-api", check=True, capture_output=True)
    result = lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--worktree", "--format", "json")
    verdict = json.loads(_ok(result, 1).stdout)
    votes = {v["guard"]: v for v in verdict["votes"]}
    assert votes["protected"]["vote"] == "reject"
    assert "'services/wallet-api/nested': an embedded git repository" in votes["protected"]["reasons"]


def test_an_embedded_repository_rolls_a_run_back(repo: Path, tmp_path: Path) -> None:
    before = snapshot(repo)
    data = run(repo, "wallet-api", script(tmp_path, "embed.sh", EMBED + OWN_CHANGE), code=1)
    assert data["outcome"] == "rejected" and data["commit"] is None
    assert any("an embedded git repository" in r for r in data["reasons"]), data["reasons"]
    assert "# honest work" in (run_folder(repo, data["run_id"]) / "attempt.diff").read_text()
    assert_unchanged(before, repo)


# -- what comes back from the clone ------------------------------------------------------

def test_only_new_proposals_come_back_from_the_clone_and_as_the_runs_own_worker(repo: Path, tmp_path: Path) -> None:
    # The agent claims to be kms-api, accepts its own handoff, forges an override and rewrites the
    # ledger, all inside its clone. Only the proposal comes back: as wallet-api's, open, with its own id.
    lw = f"{sys.executable} -m lanewarden"
    forged = (f'ID=$({lw} handoff propose --worker kms-api --format json --problem "SignRequest needs key_version" '
              '--path contracts/kms/kms.proto | sed -n \'s/.*"id": "\\([0-9a-f]*\\)".*/\\1/p\')\n'
              'echo "forged $ID"\n'
              f'{lw} handoffs accept "$ID" >/dev/null 2>&1 && echo "accepted in clone"\n'
              'git update-ref refs/lanewarden/overrides/forged HEAD && echo "override forged"\n'
              'git update-ref refs/lanewarden/ledger HEAD && echo "ledger rewritten"\n')
    run(repo, "hd-manager", ["true"], code=0)  # the ledger has a history the agent could try to rewrite
    ledger_before = git(repo, "rev-parse", "refs/lanewarden/ledger").strip()
    data = run(repo, "wallet-api", script(tmp_path, "forge_handoff.sh", forged + OWN_CHANGE), code=0)
    log = log_of(data)
    assert "override forged" in log and "ledger rewritten" in log, log
    forged_id = log.split("forged ", 1)[1].split()[0]
    assert len(data["proposed"]) == 1 and data["proposed"][0] != forged_id
    listed = json.loads(_ok(lanewarden("handoffs", "list", "--repo", str(repo), "--format", "json")).stdout)
    assert [(h["id"], h["source_worker"], h["target_worker"], h["status"]) for h in listed] == \
        [(data["proposed"][0], "wallet-api", "contracts", "open")]
    assert git(repo, "for-each-ref", "refs/lanewarden/overrides") == ""
    assert sorted(git(repo, "for-each-ref", "--format=%(refname)", "refs/heads").split()) == \
        sorted(["refs/heads/main", f"refs/heads/{data['branch']}"])
    git(repo, "merge-base", "--is-ancestor", ledger_before, "refs/lanewarden/ledger")  # appended, never rewritten
    _ok(lanewarden("ledger", "verify", "--repo", str(repo)))
    assert_honest_change_landed(repo, data)
