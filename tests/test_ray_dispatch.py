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
