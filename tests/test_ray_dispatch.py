"""``dispatch --engine ray`` on a real local Ray cluster.

The dispatch runs in its own process and starts a local cluster
(``ray.init(num_cpus=N, include_dashboard=False)``); each run's execute step is
a Ray task in a Ray worker process, which gets the prepared files as bytes and
works in a temporary folder of its own, sharing no folder with the
orchestrator. Prepare and collect happen in the dispatching process.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import BIN, FIXTURES, git, lanewarden
from conftest import expect as _ok

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
AGENTS = FIXTURES / "agents"


def test_dispatch_on_a_local_ray_cluster(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray")
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"tasks": [
        {"worker": "wallet-api", "task": "wallet", "command": ["sh", str(AGENTS / "append_own.sh")]},
        {"worker": "kms-api", "task": "kms", "command": ["sh", "-c", "echo more >> src/kms_api/audit.py"]},
        {"worker": "hd-manager", "task": "crash", "command": ["sh", str(AGENTS / "crash.sh")]},
        {"worker": "wallet-api", "task": "wallet widens", "command": ["sh", str(AGENTS / "split.sh")]},
    ]}))
    proc = subprocess.run([str(BIN / "lanewarden"), "dispatch", str(plan), "--repo", str(repo), "--engine", "ray",
                           "--jobs", "2"], capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the crash is the worst outcome
    runs = {r["task"]: r for r in json.loads(_ok(lanewarden("runs", "list", "--repo", str(repo), "--format",
                                                            "json")).stdout)}
    assert {t: r["status"] for t, r in runs.items()} == {"wallet": "accepted", "kms": "accepted",
                                                          "crash": "rejected", "wallet widens": "split"}
    assert all(r["portable"] for r in runs.values())
    # Each task ran in a Ray worker process in a temporary folder of its own, not in the repository.
    nodes = re.findall(r"executed on \S+ \(pid (\d+)\) in (\S+)", proc.stdout)
    assert len(nodes) == 4, proc.stdout
    assert len({folder for _, folder in nodes}) == 4
    for _, folder in nodes:
        assert "lanewarden-ray-" in folder and not folder.startswith(str(repo)) and not Path(folder).exists()
    wallet = runs["wallet"]
    assert git(repo, "rev-parse", wallet["branch"]).strip() == wallet["commit"]
    assert git(repo, "for-each-ref", "refs/lanewarden/quarantine").strip() == ""
    # The orchestrator judged the out-of-lane write: a handoff, not a landed change.
    widened = runs["wallet widens"]
    assert widened["handoffs"]
    assert git(repo, "diff-tree", "-r", "--name-only", "--no-commit-id", widened["commit"]).split() == [
        "services/wallet-api/src/wallet_api/signing.py"]


def test_the_ray_engine_names_the_extra_when_ray_is_missing(repo: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees without the extra
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"tasks": [{"worker": "wallet-api", "command": "true"}]}))
    result = lanewarden("dispatch", str(plan), "--repo", str(repo), "--engine", "ray")
    assert result.exit_code == 2
    assert "lanewarden[ray]" in result.stderr
    assert not (repo / ".git" / "lanewarden" / "runs").exists()


def test_ray_retries_a_lost_node_but_never_an_agents_failure(repo: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker process killed mid-task is an infrastructure failure: Ray runs the task again.
    An agent that fails is a result: collected once, rejected, never re-run."""
    pytest.importorskip("ray")
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")
    marks = tmp_path / "marks"
    marks.mkdir()
    # Unconfined, the agent's parent is the Ray worker process: the first attempt kills it.
    lost_once = (f'echo attempt >> {marks}/lost; if [ ! -e {marks}/killed ]; then touch {marks}/killed; '
                 'kill -9 $PPID; sleep 60; fi; echo edit >> src/wallet_api/app.py')
    failing = f"echo attempt >> {marks}/failing; exit 3"
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"tasks": [
        {"worker": "wallet-api", "task": "lost once", "command": ["sh", "-c", lost_once]},
        {"worker": "hd-manager", "task": "fails", "command": ["sh", "-c", failing]},
    ]}))
    proc = subprocess.run([str(BIN / "lanewarden"), "dispatch", str(plan), "--repo", str(repo), "--engine", "ray",
                           "--jobs", "2", "--unconfined"], capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    runs = {r["task"]: r for r in json.loads(_ok(lanewarden("runs", "list", "--repo", str(repo), "--format",
                                                            "json")).stdout)}
    assert runs["lost once"]["status"] == "accepted", proc.stdout
    assert (marks / "lost").read_text().count("attempt") == 2  # the lost attempt and Ray's retry
    assert runs["fails"]["status"] == "rejected"
    assert (marks / "failing").read_text().count("attempt") == 1  # never retried


def test_ctrl_c_of_a_ray_dispatch_cancels_and_records_every_run(repo: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray")
    import signal
    import time

    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"tasks": [
        {"worker": "wallet-api", "task": "long", "command": ["sh", "-c", "echo x >> f.txt; sleep 120"]},
        {"worker": "kms-api", "task": "long too", "command": ["sleep", "120"]},
    ]}))
    proc = subprocess.Popen([str(BIN / "lanewarden"), "dispatch", str(plan), "--repo", str(repo), "--engine", "ray",
                             "--jobs", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs_dir = repo / ".git" / "lanewarden" / "runs"
    while len(list(runs_dir.glob("*/state.json")) if runs_dir.is_dir() else []) < 2:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, out + err
    states = [json.loads(p.read_text()) for p in runs_dir.glob("*/state.json")]
    assert sorted(s["status"] for s in states) == ["rejected", "rejected"]  # collected, recorded, nothing landed
    assert git(repo, "for-each-ref", "refs/heads/lanewarden").strip() == ""
    assert "dispatch interrupted" in out
