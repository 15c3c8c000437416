"""``lanewarden policy check|schema`` and ``lanewarden explain`` through the real CLI.

All runs go through the in-process runner (same error boundary and exit codes
as the console script) against a real git repository of the wallet-platform
fixture, plus one run of the installed console script itself.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from conftest import FIXTURES, git, lanewarden

FIXTURE_POLICY = FIXTURES / "wallet-platform" / "lanewarden.yaml"

# The smallest policy that is clean on the fixture (no lint findings); each lint
# case below adds one thing to it, so a finding can only come from that change.
LINT_BASE: dict[str, Any] = {
    "version": 1,
    "root": "root",
    "workers": {
        "wallet-api": {"allow": ["services/wallet-api/**"]},
        "root": {"allow": ["e2e/**"]},
    },
}


def _write_policy(path: Path, data: dict[str, Any]) -> Path:
    # Dump through yaml so every pattern is quoted correctly; the syntax of
    # hand-written YAML is test_policy_errors' business, not this file's.
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _with_workers(**workers: dict[str, Any]) -> dict[str, Any]:
    data = json.loads(json.dumps(LINT_BASE))  # deep copy
    data["workers"].update(workers)
    return data


def _json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


# --- policy check on the fixture ----------------------------------------------------

def test_fixture_policy_is_valid_and_clean(repo: Path) -> None:
    result = lanewarden("policy", "check", "--repo", str(repo))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    # The fixture is the demo everyone reads first: it must lint clean.
    assert [ln for ln in lines if "warning[" in ln] == []
    assert lines[-1].endswith("lanewarden.yaml: valid: 7 workers, 3 contracts, 3 e2e suites; 0 warnings")
    assert result.stderr == ""


def test_fixture_policy_check_json(repo: Path) -> None:
    result = lanewarden("policy", "check", "--repo", str(repo), "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["valid"] is True
    assert doc["schema"] == "lanewarden.policy-check/1"
    assert (doc["workers"], doc["contracts"], doc["e2e"]) == (7, 3, 3)
    assert doc["findings"] == []
    assert re.fullmatch(r"[0-9a-f]{64}", doc["sha256"])


def test_policy_check_rev_head(repo: Path) -> None:
    result = lanewarden("policy", "check", "--repo", str(repo), "--rev", "HEAD", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["valid"] is True
    # The source names the revision, so a reader knows which policy was checked.
    assert doc["source"] == "HEAD:lanewarden.yaml"


def test_policy_check_rev_reads_the_committed_policy_not_the_worktree(repo: Path) -> None:
    # A broken work-tree copy must not matter to --rev HEAD (guards trust commits only).
    (repo / "lanewarden.yaml").write_text("version: 2\n", encoding="utf-8")
    assert lanewarden("policy", "check", "--repo", str(repo)).exit_code == 2
    result = lanewarden("policy", "check", "--repo", str(repo), "--rev", "HEAD")
    assert result.exit_code == 0, result.stderr


def test_policy_check_unknown_rev(repo: Path) -> None:
    result = lanewarden("policy", "check", "--repo", str(repo), "--rev", "doesnotexist")
    assert result.exit_code == 2
    assert "doesnotexist" in result.stderr
    assert result.stdout == ""


# --- lint warnings ---------------------------------------------------------------------

LINT_CASES: list[tuple[str, dict[str, Any]]] = [
    # A typo in a folder name: the pattern silently grants nothing.
    ("unmatched_pattern", _with_workers(**{
        "wallet-api": {"allow": ["services/wallet-api/**", "services/walet-api/**"]}})),
    # Two workers can write the same files; the more specific one owns them.
    ("overlap", _with_workers(platform={"allow": ["services/**"]})),
    # Equally specific patterns: ownership is decided by nothing but the worker id.
    ("tie", _with_workers(**{"kms-a": {"allow": ["services/kms-api/**"]},
                             "kms-b": {"allow": ["services/kms-api/**"]}})),
    # The deny matches tracked files, but none the worker could write anyway.
    ("useless_deny", _with_workers(**{
        "wallet-api": {"allow": ["services/wallet-api/**"], "deny": ["services/kms-api/**"]}})),
    # A read hint over files the worker can already write is noise in its context pack.
    ("writable_read_hint", _with_workers(**{
        "wallet-api": {"allow": ["services/wallet-api/**"], "read_hints": ["services/wallet-api/src/**"]}})),
    # Starting a worker in a folder it cannot write is almost always a copy-paste slip.
    ("cwd_outside_allow", _with_workers(**{
        "wallet-api": {"cwd": "services/kms-api", "allow": ["services/wallet-api/**"]}})),
]


def test_lint_base_is_clean(repo: Path, tmp_path: Path) -> None:
    # Guards LINT_CASES: every finding there comes from the one change it makes.
    file = _write_policy(tmp_path / "base.yaml", LINT_BASE)
    result = lanewarden("policy", "check", "--repo", str(repo), "--policy", str(file), "--strict")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "warning[" not in result.stdout


@pytest.mark.parametrize(("kind", "data"), [pytest.param(k, d, id=k) for k, d in LINT_CASES])
def test_lint_warning(repo: Path, tmp_path: Path, kind: str, data: dict[str, Any]) -> None:
    file = _write_policy(tmp_path / "policy.yaml", data)
    result = lanewarden("policy", "check", "--repo", str(repo), "--policy", str(file))
    assert result.exit_code == 0, result.stderr
    lines = [ln for ln in result.stdout.splitlines() if f"warning[{kind}]" in ln]
    assert lines, result.stdout
    # Each warning names where in the policy file it comes from.
    assert all(re.match(rf"^{re.escape(str(file))}:\d+:\d+: warning\[{kind}\]: ", ln) for ln in lines), lines

    strict = lanewarden("policy", "check", "--repo", str(repo), "--policy", str(file), "--strict")
    assert strict.exit_code == 2
    assert f"warning[{kind}]" in strict.stdout
    assert "--strict" in strict.stderr

    as_json = lanewarden("policy", "check", "--repo", str(repo), "--policy", str(file), "--format", "json")
    assert as_json.exit_code == 0
    assert kind in {f["kind"] for f in json.loads(as_json.stdout)["findings"]}


def test_lint_on_committed_policy_and_explain_shows_the_tie(repo: Path) -> None:
    # The default source is the repository's own lanewarden.yaml; after a commit
    # --rev HEAD must see the same findings, and explain must show the tie it lints.
    data = dict(LINT_CASES)["tie"]
    _write_policy(repo / "lanewarden.yaml", data)
    git(repo, "commit", "-q", "-am", "policy with a tie")
    for extra in ((), ("--rev", "HEAD")):
        result = lanewarden("policy", "check", "--repo", str(repo), *extra)
        assert result.exit_code == 0, result.stderr
        assert "warning[tie]" in result.stdout
        assert "kms-a, kms-b" in result.stdout
    explained = lanewarden("explain", "--repo", str(repo), "--format", "json",
                          "services/kms-api/src/kms_api/keys.py")
    assert explained.exit_code == 0, explained.stderr
    row = json.loads(explained.stdout)
    assert row["tie"] == ["kms-a", "kms-b"]
    assert row["writers"] == ["kms-a", "kms-b"]
    assert row["owner"] in ("kms-a", "kms-b")


# --- policy schema ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = lanewarden("policy", "schema")
    assert result.exit_code == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_schema_is_a_valid_2020_12_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_fixture_policy_validates_against_schema(schema: dict[str, Any]) -> None:
    data = yaml.safe_load(FIXTURE_POLICY.read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    assert errors == [], [e.message for e in errors]


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda d: d["workers"]["wallet-api"].update(alow=["x/**"]), id="unknown-worker-key"),
    pytest.param(lambda d: d.update(extra=1), id="unknown-top-level-key"),
    pytest.param(lambda d: d["workers"]["wallet-api"].update(allow="x/**"), id="allow-string"),
    pytest.param(lambda d: d.update(version=2), id="version-2"),
    pytest.param(lambda d: d.update(version=True), id="version-true"),
    pytest.param(lambda d: d.pop("workers"), id="no-workers"),
])
def test_schema_rejects_broken_policy(schema: dict[str, Any], mutate: Any) -> None:
    # Editors validate with the schema alone: it must reject what the loader rejects.
    data = yaml.safe_load(FIXTURE_POLICY.read_text(encoding="utf-8"))
    mutate(data)
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(data)) != []


# --- explain ---------------------------------------------------------------------------

# path, owner, writers, class for wallet-api, substring of the class rule
EXPLAIN_CASES: list[tuple[str, str, list[str], str, str]] = [
    ("services/wallet-api/src/wallet_api/app.py", "wallet-api", ["wallet-api"], "writable",
     "workers.wallet-api.allow[0]"),
    ("contracts/kms/kms.proto", "contracts", ["contracts"], "propose_only",
     "workers.wallet-api.propose_only[0]"),
    ("e2e/signing-flow/test_signing_flow.py", "root", ["root"], "out_of_scope", "no allow pattern"),
    # Owned by nobody: routes to the root worker, and nobody may write it.
    ("tools/release.sh", "root", [], "out_of_scope", "no allow pattern"),
    # Denied to its only candidate, so also unowned; the deny is the deciding rule.
    ("services/wallet-api/secrets/README.md", "root", [], "out_of_scope", "workers.wallet-api.deny[0]"),
    ("services/wallet-api/api/routes.py", "wallet-api", ["wallet-api"], "handoff_required",
     "workers.wallet-api.handoff_required_on[0]"),
]


@pytest.mark.parametrize(("path", "owner", "writers", "path_class", "class_rule"),
                         [pytest.param(*c, id=c[0]) for c in EXPLAIN_CASES])
def test_explain_json(repo: Path, path: str, owner: str, writers: list[str], path_class: str,
                      class_rule: str) -> None:
    result = lanewarden("explain", "--repo", str(repo), "--worker", "wallet-api", "--format", "json", path)
    assert result.exit_code == 0, result.stderr
    [row] = _json_lines(result.stdout)
    assert {"path", "writers", "owner", "rule", "class"} <= row.keys()
    assert row["path"] == path
    assert row["owner"] == owner
    assert row["writers"] == writers
    assert row["class"] == path_class
    assert class_rule in row["class_rule"]
    assert "tie" not in row  # the fixture has no ties
    if not writers:
        assert "unowned" in row["rule"] and "root" in row["rule"]
    else:
        assert row["rule"].startswith(f"workers.{owner}.allow[")


def test_explain_without_worker_has_no_class(repo: Path) -> None:
    result = lanewarden("explain", "--repo", str(repo), "--format", "json", "contracts/kms/kms.proto")
    assert result.exit_code == 0, result.stderr
    [row] = _json_lines(result.stdout)
    assert "class" not in row
    assert row["owner"] == "contracts"


def test_explain_text(repo: Path) -> None:
    paths = [c[0] for c in EXPLAIN_CASES]
    result = lanewarden("explain", "--repo", str(repo), "--worker", "wallet-api", *paths)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    # One block per path, in the order asked, each with owner, writers, rule and class.
    positions = [out.index(f"{p}\n") for p in paths]
    assert positions == sorted(positions)
    assert "owner: wallet-api   writers: wallet-api" in out
    assert "owner: contracts   writers: contracts" in out
    assert "tools/release.sh\n  owner: root   writers: -\n  rule:  unowned" in out
    assert "wallet-api: writable (" in out
    assert "wallet-api: propose_only (" in out
    assert "wallet-api: handoff_required (" in out
    assert "wallet-api: out_of_scope (workers.wallet-api.deny[0]" in out


def test_explain_unknown_worker(repo: Path) -> None:
    result = lanewarden("explain", "--repo", str(repo), "--worker", "nosuch", "tools/release.sh")
    assert result.exit_code == 2
    assert "nosuch" in result.stderr
    assert result.stdout == ""


def _ten_thousand_paths() -> list[str]:
    # Deterministic mix of every ownership situation, including paths that do
    # not exist (explain answers for the policy, not for the tree).
    services = ["wallet-api", "kms-api", "hd-manager"]
    out: list[str] = []
    for i in range(10_000):
        kind = i % 5
        if kind == 0:
            out.append(f"services/{services[i % 3]}/src/module_{i}.py")
        elif kind == 1:
            out.append(f"contracts/{['wallet', 'kms', 'mpc'][i % 3]}/file {i}.yaml")
        elif kind == 2:
            out.append(f"e2e/suite-{i}/test_{i}.py")
        elif kind == 3:
            out.append(f"tools/script-{i}.sh")
        else:
            out.append(f"rust-mpc/party-node-rs/src/r{i}.rs")
    return out


def test_explain_stdin_ten_thousand_paths(repo: Path) -> None:
    paths = _ten_thousand_paths()
    result = lanewarden("explain", "--repo", str(repo), "--worker", "wallet-api", "--format", "json", "-",
                       input="\n".join(paths) + "\n")
    assert result.exit_code == 0, result.stderr
    rows = _json_lines(result.stdout)
    assert len(rows) == 10_000
    assert [r["path"] for r in rows] == paths
    expected_owner = {0: None, 1: "contracts", 2: "root", 3: "root", 4: "party-node-rs"}
    for i, row in enumerate(rows):
        assert {"path", "writers", "owner", "rule", "class"} <= row.keys()
        owner = expected_owner[i % 5] or paths[i].split("/")[1]
        assert row["owner"] == owner, row
    assert sum(r["class"] == "writable" for r in rows) == len([p for p in paths
                                                               if p.startswith("services/wallet-api/")])


# --- error boundary --------------------------------------------------------------------

def test_internal_error_writes_a_crash_log(repo: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from lanewarden.workers.ownership import OwnershipIndex

    def boom(self: OwnershipIndex, path: str, worker: str | None = None) -> Any:
        raise RuntimeError("simulated bug in explain")

    monkeypatch.setattr(OwnershipIndex, "explain", boom)
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    result = lanewarden("explain", "--repo", str(repo), "tools/release.sh")
    assert result.exit_code == 4
    lines = result.stderr.splitlines()
    # One line for the user; the traceback goes to the log, not the terminal.
    assert len(lines) == 1, result.stderr
    assert "internal error" in lines[0]
    assert "Traceback" not in result.stderr
    match = re.search(r"(/\S+\.log)", lines[0])
    assert match, lines[0]
    log = Path(match.group(1))
    assert log.is_file()
    assert log.parent == state / "lanewarden"
    text = log.read_text(encoding="utf-8")
    assert "Traceback" in text
    assert "simulated bug in explain" in text


# --- the installed console script -------------------------------------------------------

def _console_script() -> str | None:
    found = shutil.which("lanewarden")
    if found:
        return found
    # The venv's bin folder is often not on PATH when pytest is started as
    # /venv/bin/python -m pytest; the script next to the interpreter is the installed one.
    beside = Path(sys.executable).parent / "lanewarden"
    return str(beside) if beside.is_file() else None


def test_console_script_explain(repo: Path) -> None:
    script = _console_script()
    if script is None:
        pytest.skip("the lanewarden console script is not installed (pip install -e .)")
    proc = subprocess.run([script, "explain", "--repo", str(repo), "--format", "json",
                           "contracts/kms/kms.proto"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    [row] = _json_lines(proc.stdout)
    assert row["owner"] == "contracts"
    assert row["path"] == "contracts/kms/kms.proto"
