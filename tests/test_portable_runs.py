"""Portable runs: ``run prepare`` / ``run execute`` / ``run collect`` with only files between them.

The node is not trusted: these tests play a node that lies (tampered manifest,
a bundle with extra refs, a result not based on the pinned base), one that
crashes or returns nothing, and an agent that widens its own policy in its
clone. Each must end in a rolled-back run with the reason, recorded, and never
in a landed, unguarded change. The last test runs the three steps in three
separate clones that share nothing but the prepared and returned folders, as
CI jobs do.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import BIN, FIXTURES, git, lanewarden
from conftest import expect as _ok

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

AGENTS = FIXTURES / "agents"


@pytest.fixture(autouse=True)
def _actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")


def prepare(repo: Path, out: Path, worker: str = "wallet-api", task: str = "portable") -> dict[str, Any]:
    result = _ok(lanewarden("run", "prepare", worker, "--repo", str(repo), "--task", task, "--out", str(out),
                            "--format", "json"))
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def execute(folder: Path, *command: str) -> dict[str, Any]:
    """``run execute`` as a node would: its own process, in a folder outside every repository."""
    proc = subprocess.run([str(BIN / "lanewarden"), "run", "execute", str(folder), "--format", "json", "--",
                           *command], cwd=folder, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def collect(repo: Path, folder: Path, *extra: str, code: int) -> dict[str, Any]:
    result = _ok(lanewarden("run", "collect", str(folder), "--repo", str(repo), "--format", "json", *extra), code)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def branches(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/lanewarden").split()


def ledger_runs(repo: Path) -> list[dict[str, Any]]:
    out = _ok(lanewarden("ledger", "show", "--kind", "run", "--repo", str(repo), "--format", "json")).stdout
    entries: list[dict[str, Any]] = json.loads(out)
    return [e for e in entries if e.get("kind") == "run"]


def test_prepare_execute_collect_lands_the_change(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    prepared = prepare(repo, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["base.bundle", "context.json", "manifest.json"]
    assert prepared["base"] == git(repo, "rev-parse", "HEAD").strip()
    state = json.loads(_ok(lanewarden("runs", "show", prepared["run_id"], "--repo", str(repo), "--format",
                                      "json")).stdout)
    assert state["status"] == "prepared"  # recorded before any node ran: never a lost run
    done = execute(folder, "sh", str(AGENTS / "append_own.sh"))
    assert done["exit_code"] == 0 and done["result"]
    data = collect(repo, folder, code=0)
    assert data["outcome"] == "accepted" and data["branch"] == f"lanewarden/wallet-api/{prepared['run_id']}"
    commit = data["commit"]
    assert git(repo, "rev-parse", f"{commit}^").strip() == prepared["base"]
    assert f"Lanewarden-Run: {prepared['run_id']}" in git(repo, "log", "-1", "--format=%B", commit)
    # The node's own commit never becomes the branch: lanewarden builds the commit it lands.
    assert commit != done["result"]
    assert git(repo, "for-each-ref", "refs/lanewarden/quarantine").strip() == ""
    assert ledger_runs(repo)[-1]["outcome"]["outcome"] == "accepted"
    # A run is collected once.
    again = lanewarden("run", "collect", str(folder), "--repo", str(repo))
    assert again.exit_code == 2 and "collected already" in again.stderr


def test_the_trusted_policy_judges_not_the_one_in_the_clone(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    prepare(repo, folder)
    # The agent widens its own lane in its clone's policy and writes a sibling service.
    script = ("sed -i 's|allow: \\[\"services/wallet-api/\\*\\*\"\\]|allow: [\"services/**\"]|' "
              "../../lanewarden.yaml && echo hacked >> ../kms-api/README.md && git add -A && "
              "git -c user.name=a -c user.email=a@b commit -qm widen")
    execute(folder, "sh", "-c", script)
    data = collect(repo, folder, code=1)
    assert data["outcome"] == "rejected" and data["commit"] is None
    assert any("lanewarden.yaml" in r or "protected" in r for r in data["reasons"]), data["reasons"]
    assert branches(repo) == []


def test_a_secret_is_rolled_back_and_not_kept_in_clear(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    prepared = prepare(repo, folder)
    execute(folder, "sh", str(AGENTS / "private_key.sh"))
    data = collect(repo, folder, code=1)
    assert any(r.startswith("secrets:") for r in data["reasons"]), data["reasons"]
    run_dir = repo / ".git" / "lanewarden" / "runs" / prepared["run_id"]
    attempt = (run_dir / "attempt.diff").read_bytes()
    assert b"MIIEowIBAAKCAQEAx4" not in attempt
    assert branches(repo) == []


def test_split_queues_handoffs_from_the_trusted_policy(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    prepare(repo, folder)
    execute(folder, "sh", str(AGENTS / "split.sh"))
    data = collect(repo, folder, code=3)
    assert data["outcome"] == "split" and data["commit"] and data["handoffs"]
    landed = git(repo, "diff-tree", "-r", "--name-only", "--no-commit-id", data["commit"]).split()
    assert landed == ["services/wallet-api/src/wallet_api/signing.py"]


def test_proposals_come_back_as_files_and_are_re_proposed(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    prepare(repo, folder, task="sign with key versions")
    script = (f"{sys.executable} -m lanewarden handoff propose --format json --problem 'need key_version' "
              "--evidence 'signing.py cannot pick a key version' --path contracts/kms/kms.proto")
    done = execute(folder, "sh", "-c", script)
    assert len(done["handoffs"]) == 1 and (folder / "result" / "handoffs" / "000.json").is_file()
    data = collect(repo, folder, code=0)
    assert len(data["proposed"]) == 1
    listed = json.loads(_ok(lanewarden("handoffs", "list", "--repo", str(repo), "--format", "json")).stdout)
    assert [(h["source_worker"], h["status"], h["task"]) for h in listed] == [
        ("wallet-api", "open", "sign with key versions")]


def test_a_tampered_manifest_rolls_back(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    prepare(repo, folder)
    execute(folder, "sh", str(AGENTS / "append_own.sh"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["worker"] = "kms-api"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    data = collect(repo, folder, code=1)
    assert data["worker"] == "wallet-api"  # the trusted copy names the run
    assert any("tampered" in r for r in data["reasons"]), data["reasons"]
    assert branches(repo) == []
    assert ledger_runs(repo)[-1]["outcome"]["outcome"] == "rejected"


def _forge(repo: Path, folder: Path, tmp_path: Path, *, parent: str | None, extra_ref: bool) -> None:
    """Rewrite the result bundle as a lying node would, with plain git."""
    node = tmp_path / "liar"
    git(tmp_path, "clone", "-q", str(repo), str(node))
    (node / "services" / "wallet-api" / "forged.txt").write_text("forged\n")
    git(node, "add", "-A")
    git(node, "commit", "-qm", "forged")
    if parent is not None:  # a result whose parent is not the pinned base
        git(node, "reset", "-q", "--soft", parent)
        git(node, "commit", "-qm", "forged on another base")
    git(node, "update-ref", "refs/lanewarden/result", "HEAD")
    refs = ["refs/lanewarden/result", *(["refs/heads/main"] if extra_ref else [])]
    bundle = folder / "result" / "result.bundle"
    bundle.unlink()
    git(node, "bundle", "create", "-q", str(bundle), *refs)


def test_a_bundle_with_extra_refs_rolls_back(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    prepare(repo, folder)
    execute(folder, "true")
    _forge(repo, folder, tmp_path, parent=None, extra_ref=True)
    data = collect(repo, folder, code=1)
    assert any("exactly refs/lanewarden/result" in r for r in data["reasons"]), data["reasons"]
    assert branches(repo) == [] and git(repo, "for-each-ref", "refs/lanewarden/quarantine").strip() == ""


def test_a_result_not_on_the_pinned_base_rolls_back(repo: Path, tmp_path: Path) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "services" / "wallet-api" / "later.txt").write_text("later\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "later")
    folder = tmp_path / "prepared"
    prepare(repo, folder, task="on the newer base")
    execute(folder, "true")
    _forge(repo, folder, tmp_path, parent=base, extra_ref=False)  # the node builds on the old base
    data = collect(repo, folder, code=1)
    assert any("not one commit on the pinned base" in r for r in data["reasons"]), data["reasons"]
    assert branches(repo) == []


def test_a_node_that_returns_nothing_or_crashes_rolls_back(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    prepared = prepare(repo, folder)
    data = collect(repo, folder, code=1)  # nothing came back at all
    assert any("returned no result" in r for r in data["reasons"]), data["reasons"]
    state = json.loads(_ok(lanewarden("runs", "show", prepared["run_id"], "--repo", str(repo), "--format",
                                      "json")).stdout)
    assert state["status"] == "rejected"
    crashed = tmp_path / "crashed"
    prepare(repo, crashed)
    execute(crashed, "sh", str(AGENTS / "crash.sh"))
    data = collect(repo, crashed, code=1)
    assert any("exited with code" in r for r in data["reasons"]), data["reasons"]


def test_three_clones_share_only_the_folders(make_repo: Any, tmp_path: Path) -> None:
    """prepare in one clone, execute on a node with no repository, collect in another clone (CI jobs)."""
    origin = make_repo("wallet-platform", name="origin")
    prepare_job = tmp_path / "job-prepare"
    collect_job = tmp_path / "job-collect"
    git(tmp_path, "clone", "-q", str(origin), str(prepare_job))
    git(tmp_path, "clone", "-q", str(origin), str(collect_job))
    artifact = tmp_path / "artifact-prepared"
    prepared = prepare(prepare_job, artifact)
    node = tmp_path / "job-node" / "run"  # what the node downloads: a copy of the artifact
    shutil.copytree(artifact, node)
    execute(node, "sh", str(AGENTS / "append_own.sh"))
    returned = tmp_path / "artifact-returned"
    shutil.copytree(node, returned)
    # The collect job has no record of the run: it needs the trusted prepare job's folder.
    refused = lanewarden("run", "collect", str(returned), "--repo", str(collect_job))
    assert refused.exit_code == 2 and "--prepared" in refused.stderr
    data = collect(collect_job, returned, "--prepared", str(artifact), code=0)
    assert data["run_id"] == prepared["run_id"] and data["outcome"] == "accepted"
    assert branches(collect_job) == [f"refs/heads/lanewarden/wallet-api/{prepared['run_id']}"]
    assert branches(prepare_job) == []


EMBED = ("mkdir inner && cd inner && git init -q && echo x > f && git add f && "
         "git -c user.name=a -c user.email=a@b commit -qm inner")


@pytest.mark.parametrize(("worker", "command"), [
    ("wallet-api", ["sh", str(AGENTS / "symlink_escape.sh")]),
    ("kms-api", ["sh", str(AGENTS / "sparse_escape.sh")]),
    ("kms-api", ["sh", str(AGENTS / "delete_own.sh")]),
    ("wallet-api", ["sh", str(AGENTS / "edit_policy.sh")]),
    ("wallet-api", ["sh", str(AGENTS / "secret_env.sh")]),
    ("wallet-api", ["sh", str(AGENTS / "commit_own.sh")]),
    ("wallet-api", ["sh", str(AGENTS / "many_files.sh"), "45"]),
    ("wallet-api", ["sh", "-c", EMBED]),
    ("wallet-api", ["sh", str(AGENTS / "split.sh")]),
    ("wallet-api", ["sh", str(AGENTS / "private_key.sh")]),
    ("wallet-api", ["sh", str(AGENTS / "crash.sh")]),
])
def test_a_portable_run_is_judged_as_the_local_run_is(make_repo: Any, tmp_path: Path, worker: str,
                                                      command: list[str]) -> None:
    """The same agent, run locally and through prepare/execute/collect: the same outcome and paths."""
    local_repo, portable_repo = make_repo("wallet-platform"), make_repo("wallet-platform")
    local = json.loads(lanewarden("run", worker, "--repo", str(local_repo), "--format", "json", "--",
                                  *command).stdout)
    folder = tmp_path / "prepared"
    prepare(portable_repo, folder, worker=worker)
    execute(folder, *command)
    result = lanewarden("run", "collect", str(folder), "--repo", str(portable_repo), "--format", "json")
    remote = json.loads(result.stdout)
    assert (remote["outcome"], remote["exit_code"]) == (local["outcome"], local["exit_code"]), (local, remote)
    assert remote["changed_files"] == local["changed_files"]
    assert len(remote["handoffs"]) == len(local["handoffs"])
    if local["commit"]:
        paths = [git(r, "diff-tree", "-r", "--name-only", "--no-commit-id", c).split()
                 for r, c in ((local_repo, local["commit"]), (portable_repo, remote["commit"]))]
        assert paths[0] == paths[1]
    # The same collect judged both: the same verdict, path for path (a crashed node is rolled back
    # before anything is guarded, so only the local run of a crashing agent has a verdict).
    verdicts = [_verdict(r, d["run_id"]) for r, d in ((local_repo, local), (portable_repo, remote))]
    if verdicts[1] is not None:
        assert verdicts[0] == verdicts[1]


def _verdict(repo: Path, run_id: str) -> tuple[str, str, list[tuple[str, str]]] | None:
    path = repo / ".git" / "lanewarden" / "runs" / run_id / "verdict.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return data["mode"], data["decision"], sorted((c["path"], c["class"]) for c in data["changes"])


def test_a_local_run_goes_through_the_shared_collect(repo: Path, tmp_path: Path) -> None:
    """Only ``collect.judge`` turns an embedded repository's gitlink in the result into a rejection,
    and only it fetches the result into quarantine: a local run gets both, and leaves no quarantine."""
    result = lanewarden("run", "wallet-api", "--repo", str(repo), "--format", "json", "--", "sh", "-c", EMBED)
    data = json.loads(_ok(result, 1).stdout)
    assert data["outcome"] == "rejected" and data["commit"] is None
    assert any("(a gitlink in the result)" in r for r in data["reasons"]), data["reasons"]
    verdict = _verdict(repo, data["run_id"])
    assert verdict is not None and verdict[0] == "range"
    landed = lanewarden("run", "wallet-api", "--repo", str(repo), "--format", "json", "--",
                        "sh", str(AGENTS / "commit_own.sh"))
    ok = json.loads(_ok(landed, 0).stdout)
    assert ok["outcome"] == "accepted" and ok["commit"]
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/lanewarden/quarantine").split() == []
    entry = ledger_runs(repo)[-1]
    assert entry["inputs"]["mode"] == "range" and entry["inputs"]["run_id"] == ok["run_id"]


def test_without_a_bundle_the_node_fetches_the_base_commit(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    _ok(lanewarden("run", "prepare", "wallet-api", "--repo", str(repo), "--out", str(folder), "--no-bundle"))
    assert sorted(p.name for p in folder.iterdir()) == ["context.json", "manifest.json"]
    proc = subprocess.run([str(BIN / "lanewarden"), "run", "execute", str(folder), "--", "true"],
                          cwd=folder, capture_output=True, check=False)
    assert proc.returncode == 2 and b"--from" in proc.stderr
    remote = tmp_path / "remote.git"  # what the node can reach: a bare copy, as a hosted remote would be
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    proc = subprocess.run([str(BIN / "lanewarden"), "run", "execute", str(folder), "--from", str(remote), "--",
                           "sh", str(AGENTS / "append_own.sh")], cwd=folder, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert collect(repo, folder, code=0)["outcome"] == "accepted"


def test_symlinks_in_the_returned_folder_are_not_followed(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "prepared"
    prepare(repo, folder)
    execute(folder, "sh", str(AGENTS / "append_own.sh"))
    secret = tmp_path / "orchestrator-secret.txt"
    secret.write_text("TOP SECRET of the orchestrator\n")
    log = folder / "result" / "log.txt"
    log.unlink()
    log.symlink_to(secret)  # a node that tries to make collect copy the orchestrator's files into evidence
    data = collect(repo, folder, code=0)
    run_log = repo / ".git" / "lanewarden" / "runs" / data["run_id"] / "log.txt"
    assert not run_log.exists() or b"TOP SECRET" not in run_log.read_bytes()
    bundle = folder / "result" / "result.bundle"
    other = tmp_path / "elsewhere.bundle"
    folder2 = tmp_path / "prepared2"
    prepare(repo, folder2)
    execute(folder2, "true")
    (folder2 / "result" / "result.bundle").rename(other)
    (folder2 / "result" / "result.bundle").symlink_to(other)
    data = collect(repo, folder2, code=1)
    assert any("no result bundle" in r for r in data["reasons"]), data["reasons"]
    assert bundle.is_file()
