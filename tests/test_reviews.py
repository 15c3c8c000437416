"""The root reviewer's desk: graph, contract impact, e2e matrix, final review and plan.

Everything runs on the wallet-platform fixture committed into a real repository;
worker branches are made with plain git, handoffs through the real CLI, and
JUnit XML files are written by real pytest runs. Results are read back through
the CLI's JSON (and Markdown) so the output contract is what is tested.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import expect as _ok
from conftest import git, lanewarden
from lanewarden.orchestrator.reports.document import Details, Document, Para, Table, cell, to_markdown
from lanewarden.orchestrator.reports.html import to_html
from lanewarden.orchestrator.reviews import graph as graph_module
from lanewarden.orchestrator.reviews import matrix
from lanewarden.orchestrator.reviews.matrix import FAIL, NOT_RUN, PASS, read_junit
from lanewarden.orchestrator.runs.records import record_branch
from lanewarden.workers.git import Git
from lanewarden.workers.loader import parse

KMS_PROTO = "contracts/kms/kms.proto"
MPC_SCHEMA = "contracts/mpc/signing-session.schema.json"
WALLET_APP = "services/wallet-api/src/wallet_api/app.py"
HD_MAIN = "services/hd-manager/cmd/hd-manager/main.go"
KMS_KEYS = "services/kms-api/src/kms_api/keys.py"
MAPPINGS = {"kms-api": "services/kms-api/llm-context/contracts.md",
            "wallet-api": "services/wallet-api/llm-context/contracts.md",
            "mpc-manager-rs": "rust-mpc/mpc-manager-rs/llm-context/contracts.md"}
SUITES = ("key-rotation", "signing-flow", "wallet-lifecycle")


@pytest.fixture(autouse=True)
def _actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")


# -- helpers -----------------------------------------------------------------

def _json(result: Any, code: int = 0) -> Any:
    return json.loads(_ok(result, code).stdout)


def _append(repo: Path, path: str, line: str) -> None:
    f = repo / path
    f.parent.mkdir(parents=True, exist_ok=True)
    with f.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def branch(repo: Path, name: str, paths: list[str], base: str = "main", *, recorded: bool = True) -> str:
    """A branch from ``base`` with one commit appending a line to each path; back on main afterwards.

    ``recorded``: lanewarden records it as the work of the worker its name
    suggests, as a run does (the final review attributes branches by that record,
    never by their names).
    """
    git(repo, "checkout", "-q", "-b", name, base)
    for p in paths:
        _append(repo, p, f"# {name} edits {p}")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{name}: edit {len(paths)} file(s)")
    git(repo, "checkout", "-q", "main")
    commit = git(repo, "rev-parse", name).strip()
    if recorded:
        record_branch(Git.discover(repo), name.split("/")[1], name, commit)
    return commit


def edit_policy(repo: Path, old: str, new: str) -> None:
    """Change the trusted policy on main (the base every review reads it from)."""
    policy = repo / "lanewarden.yaml"
    text = policy.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    policy.write_text(text.replace(old, new), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "policy: test setup")


def junit(folder: Path, name: str, *, passing: bool = True) -> Path:
    """A real JUnit XML file, written by a real pytest run of a one-test file."""
    folder.mkdir(parents=True, exist_ok=True)
    work = folder.parent / f"suite-src-{name}"
    work.mkdir(exist_ok=True)
    (work / f"test_{name.replace('-', '_')}.py").write_text(
        f"def test_{name.replace('-', '_')}():\n    assert {'True' if passing else '1 == 2'}\n", encoding="utf-8")
    out = folder / f"{name}.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(work),
                           f"--junitxml={out}", "-o", f"junit_suite_name={name}"],
                          capture_output=True, text=True, check=False, cwd=work)
    assert proc.returncode == (0 if passing else 1), proc.stdout + proc.stderr
    return out


def all_passing(tmp_path: Path) -> Path:
    folder = tmp_path / "results-pass"
    for suite in SUITES:
        junit(folder, suite)
    return folder


# -- graph ---------------------------------------------------------------------

def test_graph_has_services_contracts_suites_and_dependencies(repo: Path) -> None:
    data = _json(lanewarden("graph", "--repo", str(repo), "--format", "json"))
    kinds = {n["id"]: n["kind"] for n in data["nodes"]}
    assert kinds["service:wallet-api"] == "service" and kinds["contract:wallet-api"] == "contract"
    assert kinds["suite:signing-flow"] == "suite"
    edges = {(e["source"], e["target"], e["kind"]) for e in data["edges"]}
    assert ("service:kms-api", "contract:kms-signing", "produces") in edges
    assert ("contract:kms-signing", "service:wallet-api", "consumes") in edges
    # wallet-api depends_on kms-api: a change travels from kms-api to wallet-api.
    assert ("service:kms-api", "service:wallet-api", "depends_on") in edges
    assert ("suite:key-rotation", "service:mpc-manager-rs", "exercises") in edges
    mermaid = _ok(lanewarden("graph", "--repo", str(repo), "--format", "mermaid")).stdout
    assert mermaid.startswith("flowchart LR") and "-->|consumed by|" in mermaid
    dot = _ok(lanewarden("graph", "--repo", str(repo), "--format", "dot")).stdout
    assert dot.startswith("digraph lanewarden {") and '"service:kms-api" -> "service:wallet-api"' in dot
    text = _ok(lanewarden("graph", "--repo", str(repo))).stdout
    assert "wallet-api  produces wallet-api; consumes kms-signing; depends on kms-api" in text


def test_one_traversal_carries_every_contract() -> None:
    policy = parse(b"""version: 1
root: r
workers:
  r: {allow: ["x/**"]}
  a: {allow: ["a/**"]}
  b: {allow: ["b/**"], depends_on: [a]}
  c: {allow: ["c/**"], depends_on: [b]}
  d: {allow: ["d/**"], depends_on: [c, a]}
""", "test.yaml")
    g = graph_module.build(policy)
    reach = graph_module.dependents(g, {"service:a": {"one"}, "service:c": {"two"}})
    assert reach == {"service:b": {"one": "service:a"}, "service:c": {"one": "service:b"},
                     "service:d": {"one": "service:a", "two": "service:c"}}


# -- contract impact -------------------------------------------------------------

def test_contract_change_reaches_its_consumers_transitively(repo: Path) -> None:
    # hd-manager calls wallet-api, which calls kms-api, which consumes mpc-session.
    edit_policy(repo, "    read_hints: [\"contracts/wallet/**\"]\n",
                "    read_hints: [\"contracts/wallet/**\"]\n    depends_on: [wallet-api]\n")
    branch(repo, "lanewarden/contracts/mpc-round-5", [MPC_SCHEMA])
    data = _json(lanewarden("review", "contracts", "--repo", str(repo), "--base", "main",
                           "--head", "lanewarden/contracts/mpc-round-5", "--format", "json"), 3)
    assert data["schema"] == "lanewarden.contract-impact/1"
    [mpc] = data["contracts"]
    assert mpc["contract"] == "mpc-session"
    assert [c["path"] for c in mpc["changes"]] == [MPC_SCHEMA]
    assert mpc["changes"][0]["source"] == "range" and mpc["changes"][0]["status"] == "modified"
    assert mpc["producers"] == ["mpc-manager-rs"]
    assert mpc["consumers"] == ["party-node-rs", "kms-api"]
    assert mpc["dependents"] == [{"service": "hd-manager", "via": "wallet-api"},
                                 {"service": "wallet-api", "via": "kms-api"}]
    assert [v["suite"] for v in mpc["validations"]] == list(SUITES)
    assert mpc["risk"] == "high"
    assert any("high-risk service(s): kms-api" in r for r in mpc["risk_reasons"])
    assert set(data["affected_services"]) >= {"hd-manager", "wallet-api", "kms-api", "party-node-rs"}


def test_stale_llm_context_mapping_is_named_until_it_is_updated(repo: Path) -> None:
    branch(repo, "lanewarden/contracts/key-version", [KMS_PROTO, MAPPINGS["wallet-api"]])
    data = _json(lanewarden("review", "contracts", "--repo", str(repo), "--base", "main",
                           "--head", "lanewarden/contracts/key-version", "--format", "json", "--no-handoffs"), 3)
    [kms] = data["contracts"]
    state = {m["service"]: m["stale"] for m in kms["mappings"]}
    assert state == {"kms-api": True, "mpc-manager-rs": True, "wallet-api": False}
    stale = {m["file"]: m for m in kms["stale_mappings"]}
    assert set(stale) == {MAPPINGS["kms-api"], MAPPINGS["mpc-manager-rs"]}
    assert stale[MAPPINGS["kms-api"]]["role"] == "producer"
    assert "changes any RPC" in stale[MAPPINGS["kms-api"]]["stale_when"]
    text = _ok(lanewarden("review", "contracts", "--repo", str(repo), "--base", "main",
                         "--head", "lanewarden/contracts/key-version"), 3).stdout
    assert "STALE: not updated in this change" in text
    # Updating every mapping in the same change clears it: exit 0.
    branch(repo, "lanewarden/contracts/key-version-2", [KMS_PROTO, *MAPPINGS.values()])
    data = _json(lanewarden("review", "contracts", "--repo", str(repo), "--base", "main",
                           "--head", "lanewarden/contracts/key-version-2", "--format", "json"))
    assert data["stale_mappings"] == 0 and data["exit_code"] == 0


def test_proposed_contract_change_in_an_open_handoff(repo: Path) -> None:
    head = branch(repo, "lanewarden/wallet-api/stray", [WALLET_APP, KMS_PROTO])
    _ok(lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "main", "--head", head,
                  "--record-handoffs"), 3)
    data = _json(lanewarden("review", "contracts", "--repo", str(repo), "--format", "json"), 3)
    [kms] = data["contracts"]
    [change] = kms["changes"]
    assert change["path"] == KMS_PROTO and change["proposed"] and change["source"] == "handoff"
    assert change["worker"] == "wallet-api"
    assert data["sources"] == ["1 open handoff(s)"]
    markdown = _ok(lanewarden("review", "contracts", "--repo", str(repo), "--format", "markdown"), 3).stdout
    assert "```mermaid" in markdown and "<details><summary>kms-signing: high risk" in markdown
    assert "| `kms-signing` | high |" in markdown


def test_nothing_to_review_is_a_usage_error(repo: Path) -> None:
    result = lanewarden("review", "contracts", "--repo", str(repo), "--no-handoffs")
    assert result.exit_code == 2 and "nothing to review" in result.stderr


# -- e2e matrix -------------------------------------------------------------------

def test_matrix_from_real_junit_files_pass_fail_and_not_run(repo: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    junit(results, "signing-flow", passing=True)
    junit(results, "key-rotation", passing=False)
    branch(repo, "lanewarden/contracts/key-version", [KMS_PROTO])
    args = ["review", "e2e", "--repo", str(repo), "--base", "main", "--head", "lanewarden/contracts/key-version",
            "--results", str(results)]
    data = _json(lanewarden(*args, "--format", "json"), 1)
    rows = {r["suite"]: r for r in data["suites"]}
    assert {s: r["status"] for s, r in rows.items()} == {"key-rotation": FAIL, "signing-flow": PASS,
                                                         "wallet-lifecycle": NOT_RUN}
    assert all(r["required"] for r in rows.values())
    assert data["residual_risk"] == ["wallet-lifecycle"] and data["failed"] == ["key-rotation"]
    assert rows["signing-flow"]["tests"] == 1 and rows["key-rotation"]["failures"] == 1
    assert data["cells"]["key-rotation"]["mpc-manager-rs"] == "required"
    assert data["cells"]["wallet-lifecycle"]["kms-api"] == ""
    assert data["decision"] == "reject"
    text = _ok(lanewarden(*args), 1).stdout
    assert "NOT RUN: residual risk" in text and "FAIL" in text
    # Without the failure, the suite that did not run still blocks: revision, never accept.
    junit(results, "key-rotation", passing=True)
    data = _json(lanewarden(*args, "--format", "json"), 3)
    assert data["residual_risk"] == ["wallet-lifecycle"] and data["decision"] == "revision"


def test_unreadable_or_empty_results_never_pass(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<testsuite><testcase name='x'>", encoding="utf-8")
    assert read_junit(bad).status == NOT_RUN and "unreadable" in read_junit(bad).detail
    skipped = tmp_path / "skipped.xml"
    skipped.write_text('<testsuite tests="1"><testcase name="x"><skipped/></testcase></testsuite>')
    assert read_junit(skipped).status == NOT_RUN
    declared = tmp_path / "declared.xml"
    declared.write_text('<testsuite failures="2"><testcase name="x"/></testsuite>')
    assert read_junit(declared).status == FAIL
    other = tmp_path / "other.xml"
    other.write_text("<html/>")
    assert read_junit(other).status == NOT_RUN
    assert read_junit(tmp_path / "missing.xml").status == NOT_RUN


FAKE_SUITE = """#!/bin/sh
# usage: fake.sh SUITE pass|fail|none
mkdir -p e2e/results
case "$2" in
  pass) printf '<testsuite name="%s"><testcase name="ok"/></testsuite>\\n' "$1" > "e2e/results/$1.xml" ;;
  fail) printf '<testsuite name="%s"><testcase name="bad"><failure/></testcase></testsuite>\\n' "$1" \\
          > "e2e/results/$1.xml"; exit 1 ;;
  none) echo "ran, wrote nothing" ;;
esac
"""


def test_run_executes_required_suites_and_reads_what_they_wrote(repo: Path) -> None:
    (repo / "e2e" / "fake.sh").write_text(FAKE_SUITE, encoding="utf-8")
    git(repo, "add", "e2e/fake.sh")
    text = (repo / "lanewarden.yaml").read_text(encoding="utf-8")
    for suite, target, mode in (("signing-flow", "signing", "pass"), ("wallet-lifecycle", "wallet", "none"),
                                ("key-rotation", "rotation", "fail")):
        text = text.replace(f'"make -C e2e {target}"', f'"sh e2e/fake.sh {suite} {mode}"')
    (repo / "lanewarden.yaml").write_text(text, encoding="utf-8")
    git(repo, "commit", "-q", "-am", "e2e: fake suites")
    branch(repo, "lanewarden/contracts/key-version", [KMS_PROTO])
    # A passing file from an earlier run must not count for a suite that writes nothing now.
    stale = repo / "e2e" / "results" / "wallet-lifecycle.xml"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text('<testsuite><testcase name="old"/></testsuite>')
    data = _json(lanewarden("review", "e2e", "--repo", str(repo), "--base", "main",
                           "--head", "lanewarden/contracts/key-version", "--run", "--timeout", "60",
                           "--format", "json"), 1)
    rows = {r["suite"]: r for r in data["suites"]}
    assert rows["signing-flow"]["status"] == PASS
    assert rows["key-rotation"]["status"] == FAIL and "exited 1" in rows["key-rotation"]["detail"]
    assert rows["wallet-lifecycle"]["status"] == NOT_RUN and rows["wallet-lifecycle"]["residual_risk"]
    assert not stale.exists()
    log = repo / ".git" / "lanewarden" / "e2e" / "wallet-lifecycle.log"
    assert "ran, wrote nothing" in log.read_text()


def test_a_suite_that_hangs_fails_after_its_own_timeout(tmp_path: Path) -> None:
    policy = parse(b'version: 1\nroot: root\nworkers:\n  root:\n    allow: ["e2e/**"]\n'
                   b"e2e:\n  hangs:\n    services: [root]\n    timeout_s: 1\n", "p.yaml")
    result = matrix.runner(policy, tmp_path, tmp_path / "logs")("hangs", "sleep 30")
    assert result.status == FAIL and "timed out" in result.detail


# -- final review -----------------------------------------------------------------

def test_final_rejects_a_path_changed_by_two_workers(repo: Path, tmp_path: Path) -> None:
    # Both may write docs/: each lane is clean on its own, the overlap is the conflict.
    edit_policy(repo, 'allow: ["services/wallet-api/**"]', 'allow: ["services/wallet-api/**", "docs/**"]')
    branch(repo, "lanewarden/wallet-api/runbook", ["docs/runbooks/rotation.md", WALLET_APP])
    branch(repo, "lanewarden/root/runbook", ["docs/runbooks/rotation.md"])
    data = _json(lanewarden("review", "final", "--repo", str(repo), "--results", str(all_passing(tmp_path)),
                           "--format", "json"), 1)
    assert data["decision"] == "reject" and data["exit_code"] == 1
    assert [lane["decision"] for lane in data["lanes"]] == ["accept", "accept"]
    assert data["conflicts"] == [{"path": "docs/runbooks/rotation.md", "workers": ["root", "wallet-api"],
                                  "branches": ["lanewarden/root/runbook", "lanewarden/wallet-api/runbook"]}]
    votes = {v["guard"]: v["vote"] for v in data["votes"]}
    assert votes["conflicts"] == "reject" and votes["handoffs"] == "approve" and votes["e2e"] == "approve"


def test_final_asks_for_revision_while_a_handoff_is_open(repo: Path, tmp_path: Path) -> None:
    branch(repo, "lanewarden/wallet-api/retry", [WALLET_APP])
    _ok(lanewarden("handoff", "propose", "--repo", str(repo), "--worker", "wallet-api", "--path", KMS_KEYS,
                  "--problem", "retry needs an idempotency key on Sign"))
    data = _json(lanewarden("review", "final", "--repo", str(repo), "--results", str(all_passing(tmp_path)),
                           "--format", "json"), 3)
    votes = {v["guard"]: v for v in data["votes"]}
    assert votes["handoffs"]["vote"] == "abstain"
    assert votes["lane wallet-api (lanewarden/wallet-api/retry)"]["vote"] == "approve"
    assert [v["vote"] for g, v in votes.items() if g != "handoffs"] == ["approve"] * (len(votes) - 1)
    [h] = data["handoffs"]
    assert h["target_worker"] == "kms-api" and h["paths"] == [KMS_KEYS]


def test_final_loads_the_handoff_model_only_when_there_is_a_handoff_to_read(repo: Path) -> None:
    # pydantic and the record's model are a third of a final review's start-up; an empty queue needs neither.
    branch(repo, "lanewarden/wallet-api/retry", [WALLET_APP])
    code = ("import sys\nfrom lanewarden.orchestrator.reviews import final\nfrom lanewarden.workers.git import Git\n"
            f"r = final.review(Git.discover({str(repo)!r}), head='lanewarden/wallet-api/retry')\n"
            "print(len(r.handoffs), 'pydantic' in sys.modules)")

    def review() -> str:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()

    assert review() == "0 False"
    _ok(lanewarden("handoff", "propose", "--repo", str(repo), "--worker", "wallet-api", "--path", KMS_KEYS,
                  "--problem", "retry needs an idempotency key on Sign"))
    assert review() == "1 True"  # the control: a queued handoff is read, through the model


def test_final_accepts_a_clean_set_and_fails_closed_on_unreadable_results(repo: Path, tmp_path: Path) -> None:
    branch(repo, "lanewarden/wallet-api/retry", [WALLET_APP])
    branch(repo, "lanewarden/hd-manager/account-1", [HD_MAIN])
    results = all_passing(tmp_path)
    data = _json(lanewarden("review", "final", "--repo", str(repo), "--results", str(results),
                           "--format", "json"))
    assert data["schema"] == "lanewarden.final-review/1"
    assert data["decision"] == "accept" and data["exit_code"] == 0
    assert [lane["worker"] for lane in data["lanes"]] == ["hd-manager", "wallet-api"]
    assert data["e2e"]["residual_risk"] == [] and data["conflicts"] == [] and data["handoffs"] == []
    assert data["policy"]["rev"] == git(repo, "rev-parse", "main").strip()
    # The same set with one unparsable results file: never an accept.
    (results / "wallet-lifecycle.xml").write_text("<testsuite", encoding="utf-8")
    data = _json(lanewarden("review", "final", "--repo", str(repo), "--results", str(results),
                           "--format", "json"), 3)
    assert data["decision"] == "revision" and data["e2e"]["residual_risk"] == ["wallet-lifecycle"]
    # One worker's range: the worker comes from the branch name.
    data = _json(lanewarden("review", "final", "--repo", str(repo), "--head", "lanewarden/hd-manager/account-1",
                           "--results", str(all_passing(tmp_path / "again")), "--format", "json"))
    assert data["mode"] == "range" and [lane["worker"] for lane in data["lanes"]] == ["hd-manager"]


def test_final_guard_errors_abstain_and_missing_branches_are_usage_errors(repo: Path, tmp_path: Path) -> None:
    result = lanewarden("review", "final", "--repo", str(repo))
    assert result.exit_code == 2 and "no worker branch" in result.stderr
    branch(repo, "lanewarden/ghost/x", [WALLET_APP])  # no worker called ghost: the guard cannot run
    data = _json(lanewarden("review", "final", "--repo", str(repo), "--results", str(all_passing(tmp_path)),
                           "--format", "json"), 3)
    [lane] = data["lanes"]
    assert lane["decision"] == "revision" and "unknown worker 'ghost'" in lane["error"]


def test_final_markdown_has_tables_a_mermaid_picture_and_details(repo: Path, tmp_path: Path) -> None:
    branch(repo, "lanewarden/wallet-api/retry", [WALLET_APP, KMS_PROTO])
    out = _ok(lanewarden("review", "final", "--repo", str(repo), "--format", "markdown"), 3).stdout
    assert out.startswith("### ⚠️ lanewarden: final review: REVISION")
    assert "| part | vote | reasons |" in out and "```mermaid\nflowchart LR" in out
    assert "<details open><summary>impacted part of the service and contract graph</summary>" in out
    assert "NOT RUN: residual risk" in out


# -- plan --------------------------------------------------------------------------

def test_plan_lists_affected_workers_contracts_and_suites(repo: Path) -> None:
    branch(repo, "lanewarden/contracts/key-version", [KMS_PROTO])
    args = ["plan", "--repo", str(repo), "--base", "main", "--head", "lanewarden/contracts/key-version"]
    data = _json(lanewarden(*args, "--format", "json"))
    workers = {w["worker"]: w for w in data["workers"]}
    assert set(workers) == {"contracts", "kms-api", "wallet-api", "mpc-manager-rs"}
    assert "owns 1 changed path(s)" in workers["contracts"]["reasons"]
    assert workers["wallet-api"]["reasons"] == ["consumes contract kms-signing"]
    assert data["contracts"] == ["kms-signing"]
    assert [s["suite"] for s in data["e2e"]] == list(SUITES)
    matrix = _ok(lanewarden(*args, "--format", "github-matrix")).stdout.strip()
    assert "\n" not in matrix
    include = json.loads(matrix)["include"]
    assert {"worker": "kms-api", "cwd": "services/kms-api"} in include and len(include) == 4


# -- report rendering ------------------------------------------------------------------

def test_reports_escape_what_they_show() -> None:
    nasty = '<script>alert("x")</script> | `tick`'
    doc = Document(nasty, (Para(nasty), Table(("h",), ((cell(nasty, code=True),),)),
                           Details(nasty, (Para(nasty),))), decision="reject", tone="bad")
    page = to_html(doc)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    md = to_markdown(doc)
    assert "<script>" not in md and "\\|" in md


# -- demo -------------------------------------------------------------------------

def test_demo_reviews_after_the_dispatch(tmp_path: Path) -> None:
    result = _ok(lanewarden("demo", "--dir", str(tmp_path / "demo")))
    out = result.stdout
    review = out[out.index("== 7. review contracts"):]
    assert "kms-signing  high" in review and "STALE: not updated in this change" in review
    matrix = review[review.index("== 8. review e2e"):review.index("== 9. review final")]
    assert "lanewarden: e2e matrix: REJECT" in matrix
    assert "FAIL" in matrix and "pass" in matrix and "NOT RUN: residual risk" in matrix
    assert "final decision: reject (exit 1)" in review
    page = tmp_path / "demo" / ".git" / "lanewarden" / "final-review.html"
    assert page.is_file() and "residual risk" in page.read_text(encoding="utf-8")


def test_plan_and_review_take_a_dry_run_policy_marked_untrusted(repo: Path, tmp_path: Path) -> None:
    branch(repo, "lanewarden/contracts/key-version", [KMS_PROTO])
    dry = tmp_path / "dry.yaml"
    # The dry-run policy takes kms-api out of the contract's consumers: the plan must follow the file.
    text = (repo / "lanewarden.yaml").read_text()
    dry.write_text(text.replace("consumers: [wallet-api, mpc-manager-rs]", "consumers: [wallet-api]"))
    args = ["--repo", str(repo), "--base", "main", "--head", "lanewarden/contracts/key-version"]
    result = lanewarden("plan", *args, "--policy", str(dry), "--format", "json")
    data = _json(result)
    assert data["policy"] == {"source": "file", "path": str(dry), "trusted": False}
    assert "dry run" in result.stderr and "untrusted" in result.stderr
    contracts = lanewarden("review", "contracts", *args, "--policy", str(dry), "--format", "json")
    assert json.loads(contracts.stdout)["policy"]["trusted"] is False  # exit 3: stale maps, as without --policy
    final = lanewarden("review", "final", "--repo", str(repo), "--base", "main", "--policy", str(dry),
                       "--format", "json")
    assert final.exit_code in (0, 1, 3) and json.loads(final.stdout)["policy"]["trusted"] is False
    ledger = lanewarden("ledger", "show", "--repo", str(repo), "--format", "json")
    assert "final" not in ledger.stdout  # a dry run is never recorded


def test_contracts_touched_meets_literal_wildcard_and_top_level_patterns() -> None:
    from lanewarden.orchestrator.reviews.impact import contracts_touched
    from lanewarden.orchestrator.reviews.inputs import ChangeRef

    policy = parse(b"""version: 1
root: root
workers:
  root:
    allow: ["**"]
contracts:
  file: {paths: ["api/v1/x.proto"], producers: [root]}
  folder: {paths: ["schemas/**"], producers: [root]}
  top: {paths: ["*.graphql"], producers: [root]}
  deep: {paths: ["deep/**/y.json", "api/v1/x.proto"], producers: [root]}
""", "contracts.yaml")
    paths = ["api/v1/x.proto", "api/v1/x.proto.bak", "api/v1/z.proto", "schemas/a/b.json", "schema.json",
             "q.graphql", "sub/q.graphql", "deep/y.json", "deep/a/b/y.json", "deep/a/b/z.json"]
    touched = contracts_touched(policy, tuple(ChangeRef(p, "range", "a..b", "modified") for p in paths))
    assert {cid: [c.path for c in cs] for cid, cs in touched.items()} == {
        "file": ["api/v1/x.proto"], "folder": ["schemas/a/b.json"], "top": ["q.graphql"],
        "deep": ["api/v1/x.proto", "deep/y.json", "deep/a/b/y.json"]}
