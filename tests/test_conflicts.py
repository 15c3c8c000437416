"""Real conflicts (git merge-tree over branches and accepted handoffs) and integration reviews.

Real repositories from the wallet-platform fixture; branches with plain git,
handoffs through the real CLI, worker runs' commits with lanewarden's own
trailers. The review is read back through the CLI's JSON.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import expect, git, lanewarden
from lanewarden.handoffs.queue import Queue
from lanewarden.orchestrator.reviews import conflicts
from lanewarden.orchestrator.runs.records import record_branch
from lanewarden.workers.git import Git
from lanewarden.workers.ledger import Kind, Ledger

KMS_PROTO = "contracts/kms/kms.proto"
WALLET_APP = "services/wallet-api/src/wallet_api/app.py"
HD_MAIN = "services/hd-manager/cmd/hd-manager/main.go"
KMS_KEYS = "services/kms-api/src/kms_api/keys.py"


@pytest.fixture(autouse=True)
def _actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")


def _replace(repo: Path, path: str, old: str, new: str) -> None:
    f = repo / path
    text = f.read_text(encoding="utf-8")
    assert old in text, old
    f.write_text(text.replace(old, new, 1), encoding="utf-8")


def commit_on(repo: Path, name: str, edits: list[tuple[str, str, str]], message: str | None = None,
              base: str = "main") -> str:
    git(repo, "checkout", "-q", "-B", name, base)
    for path, old, new in edits:
        _replace(repo, path, old, new)
    git(repo, "commit", "-q", "-am", message or f"{name}: edit")
    git(repo, "checkout", "-q", "main")
    commit = git(repo, "rev-parse", name).strip()
    if name.startswith("lanewarden/"):  # as a run would: the final review attributes branches by record only
        record_branch(Git.discover(repo), name.split("/")[1], name, commit)
    return commit


def accepted_handoff(repo: Path, worker: str, path: str, old: str, new: str, problem: str) -> str:
    """A handoff proposing a real patch, accepted; the work tree is left clean."""
    _replace(repo, path, old, new)
    patch = git(repo, "diff")
    git(repo, "checkout", "-q", "--", path)
    out = expect(lanewarden("handoff", "propose", "--repo", str(repo), "--worker", worker, "--problem", problem,
                            "--patch", "-", "--format", "json", input=patch), 0).stdout
    hid = str(json.loads(out)[0]["id"])
    expect(lanewarden("handoffs", "accept", "--repo", str(repo), hid))
    return hid


def final(repo: Path, *args: str, code: int) -> Any:
    return json.loads(expect(lanewarden("review", "final", "--repo", str(repo), "--format", "json", *args),
                             code).stdout)


def test_two_accepted_handoffs_editing_one_proto_conflict(repo: Path) -> None:
    a = accepted_handoff(repo, "wallet-api", KMS_PROTO, "bytes digest = 2;", "bytes digest = 2; // sha-256",
                         "document the digest")
    b = accepted_handoff(repo, "kms-api", KMS_PROTO, "bytes digest = 2;", "bytes message_digest = 2;",
                         "rename the digest")
    commit_on(repo, "lanewarden/hd-manager/account", [(HD_MAIN, "package main", "package main // account")])
    data = final(repo, code=1)
    votes = {v["guard"]: v for v in data["votes"]}
    assert votes["conflicts"]["vote"] == "reject"
    [conflict] = data["conflicts"]
    assert conflict["path"] == KMS_PROTO and conflict["workers"] == ["contracts"]
    assert conflict["branches"] == sorted([f"handoff {a[:12]}", f"handoff {b[:12]}"])
    # Every pair was merged: the branch and the two handoffs.
    assert data["merges"]["pairs"] == 3 and len(data["merges"]["clashes"]) == 1


def test_same_worker_branches_conflict_and_clean_overlaps_do_not(repo: Path) -> None:
    commit_on(repo, "lanewarden/wallet-api/one", [(WALLET_APP, "import", "import  ")])
    commit_on(repo, "lanewarden/wallet-api/two", [(WALLET_APP, "import", "import   ")])
    data = final(repo, code=1)
    assert data["conflicts"] == [{"path": WALLET_APP, "workers": ["wallet-api"],
                                  "branches": ["lanewarden/wallet-api/one", "lanewarden/wallet-api/two"]}]
    git(repo, "branch", "-D", "lanewarden/wallet-api/two")
    # A different part of the same file: git merges it, so it is no conflict.
    text = (repo / WALLET_APP).read_text(encoding="utf-8")
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    commit_on(repo, "lanewarden/wallet-api/three", [(WALLET_APP, last, last + "  # three")])
    data = final(repo, code=3)  # e2e suites did not run: residual risk, never a pass
    votes = {v["guard"]: v for v in data["votes"]}
    assert votes["conflicts"]["vote"] == "approve" and data["conflicts"] == []


def test_a_handoff_meets_later_work_on_its_own_base(repo: Path) -> None:
    hid = accepted_handoff(repo, "wallet-api", KMS_PROTO, "bytes digest = 2;", "bytes digest = 2; // x", "doc")
    _replace(repo, KMS_PROTO, "bytes digest = 2;", "bytes hash = 2;")
    git(repo, "commit", "-q", "-am", "contracts: rename on main")
    commit_on(repo, "lanewarden/hd-manager/account", [(HD_MAIN, "package main", "package main // account")])
    # The patch is applied on the base it was written for, then merged with the branch built on the rename.
    data = final(repo, code=1)
    assert data["conflicts"] == [{"path": KMS_PROTO, "workers": ["contracts", "hd-manager"],
                                  "branches": [f"handoff {hid[:12]}", "lanewarden/hd-manager/account"]}]
    # Without a base of its own it is tried on the review's base, where it no longer applies: a doubt.
    g = Git.discover(repo)
    [stored] = Queue(g).all()
    orphan = stored.handoff.model_copy(update={"evidence": stored.handoff.evidence.model_copy(update={"base": None})})
    cand = conflicts.handoff_candidate(g, orphan, g.resolve_commit("main"))
    assert cand.commit is None and cand.problem is not None and "does not apply" in cand.problem
    assert conflicts.check(g, [cand]).broken == (cand,)


def test_merge_tree_batch_matches_single_merges(repo: Path) -> None:
    heads = [commit_on(repo, f"b{i}", [(WALLET_APP, "import", "import" + " " * (i + 1))]) for i in range(3)]
    heads.append(commit_on(repo, "other", [(HD_MAIN, "package main", "package main // x")]))
    g = Git.discover(repo)
    cands = [conflicts.Candidate(f"b{i}", "branch", "w", c) for i, c in enumerate(heads)]
    merges = conflicts.check(g, cands)
    assert merges.pairs == 6
    assert sorted((c.a.name, c.b.name) for c in merges.clashes) == [("b0", "b1"), ("b0", "b2"), ("b1", "b2")]
    assert all(c.paths == (WALLET_APP,) for c in merges.clashes)
    assert git(repo, "status", "--porcelain") == ""  # no work tree or index touched


# -- integration reviews -------------------------------------------------------------

def test_integration_review_attributes_recorded_commits_and_judges_human_ones(repo: Path) -> None:
    # A forged trailer: no run record backs it, so the commit is judged by the owners of its paths.
    git(repo, "checkout", "-q", "-b", "train")
    _replace(repo, WALLET_APP, "import", "import ")
    _replace(repo, HD_MAIN, "package main", "package main // hd")
    git(repo, "commit", "-q", "-am", "people: two services\n\nLanewarden-Worker: wallet-api\nLanewarden-Run: r1\n")
    _replace(repo, KMS_KEYS, "import", "import ")
    git(repo, "commit", "-q", "-am", "kms: tidy")
    git(repo, "checkout", "-q", "main")
    data = final(repo, "--base", "main", "--head", "train", code=3)
    assert data["mode"] == "integration"
    lanes = [(lane["worker"], lane["via"], lane["decision"]) for lane in data["lanes"]]
    assert lanes == [("hd-manager", "human commit", "accept"), ("wallet-api", "human commit", "accept"),
                     ("kms-api", "human commit", "accept")]
    assert data["lanes_covered"] == ["hd-manager", "kms-api", "wallet-api"]
    assert any("no run record or applied handoff backs it" in n for n in data["notes"])
    # Each owner judged only its own paths.
    assert [lane["paths"] for lane in data["lanes"]] == [[HD_MAIN], [WALLET_APP], [KMS_KEYS]]


def test_integration_review_credits_an_applied_handoff_to_its_target(repo: Path) -> None:
    hid = accepted_handoff(repo, "wallet-api", KMS_KEYS, "import", "import ", "tidy kms imports")
    expect(lanewarden("handoffs", "apply", "--repo", str(repo), hid))
    branch = f"lanewarden/kms-api/handoff-{hid[:12]}"
    data = final(repo, "--base", "main", "--head", f"refs/heads/{branch}", code=3)
    # lanewarden's record of the applied handoff names the worker: one range for that lane.
    assert data["mode"] == "range"
    git(repo, "branch", "-m", branch, "pr-42")
    data = final(repo, "--base", "main", "--head", "pr-42", code=3)
    # Renamed, the branch still holds the applied commit, and the record still names its lane.
    [lane] = data["lanes"]
    assert data["mode"] == "range" and (lane["worker"], lane["decision"]) == ("kms-api", "accept")
    git(repo, "commit", "--allow-empty", "-qm", "on top")  # main moves; pr-42 is merged as a train
    git(repo, "checkout", "-q", "-b", "train", "pr-42")
    git(repo, "commit", "--allow-empty", "-qm", "a person's empty commit on top")
    git(repo, "checkout", "-q", "main")
    data = final(repo, "--base", "main", "--head", "train", code=3)
    assert data["mode"] == "integration"
    assert ("kms-api", f"handoff {hid[:12]}") in [(lane["worker"], lane["via"]) for lane in data["lanes"]]


def test_integration_review_rejects_a_commit_outside_every_lane_it_claims(repo: Path) -> None:
    # A human commit editing a protected-by-nobody path still lands in its owner's lane; a commit
    # that a backed trailer puts in the wrong lane is judged in that lane and rejected there.
    hid = accepted_handoff(repo, "wallet-api", KMS_KEYS, "import", "import ", "tidy kms imports")
    expect(lanewarden("handoffs", "apply", "--repo", str(repo), hid, "--branch", "pr-7"))
    git(repo, "checkout", "-q", "pr-7")
    _replace(repo, KMS_PROTO, "bytes digest = 2;", "bytes digest = 2; // doc")
    git(repo, "commit", "-q", "-am", "contracts: doc")
    git(repo, "checkout", "-q", "main")
    data = final(repo, "--base", "main", "--head", "pr-7", code=3)
    assert [(lane["worker"], lane["via"]) for lane in data["lanes"]] == [
        ("kms-api", f"handoff {hid[:12]}"), ("contracts", "human commit")]


def test_integration_review_trusts_a_trailer_only_with_its_run_record(repo: Path) -> None:
    c = commit_on(repo, "pr-9", [(WALLET_APP, "import", "import ")],
                  message="wallet-api: retry\n\nLanewarden-Worker: wallet-api\nLanewarden-Run: r1\n")
    g = Git.discover(repo)
    # What orchestrator/runs/worker_run.py records when a run lands a commit.
    Ledger(g).append(Kind.RUN, {"worker": "wallet-api", "run_id": "r1", "branch": "lanewarden/wallet-api/r1"},
                     {"decision": "accept", "commit": c})
    data = final(repo, "--base", "main", "--head", "pr-9", code=3)
    [lane] = data["lanes"]
    assert (lane["worker"], lane["via"], lane["decision"]) == ("wallet-api", "run r1", "accept")
    assert not any("backs it" in n for n in data["notes"])


# -- reports ------------------------------------------------------------------------

def test_report_groups_a_workers_branches_and_marks_proposed_apart(repo: Path, tmp_path: Path) -> None:
    for topic in ("one", "two", "three-with-a-very-long-branch-name-that-must-not-break-the-table-layout"):
        commit_on(repo, f"lanewarden/wallet-api/{topic}", [(WALLET_APP, "import", f"import {topic}\nimport")])
    # kms-api is only named by a pending handoff: proposed, not changed.
    expect(lanewarden("handoff", "propose", "--repo", str(repo), "--worker", "wallet-api", "--path", KMS_KEYS,
                      "--problem", "retry needs an idempotency key"))
    page = tmp_path / "final.html"
    expect(lanewarden("review", "final", "--repo", str(repo), "--format", "html", "--output", str(page)), 1)
    html = page.read_text(encoding="utf-8")
    assert html.count("<summary>lane wallet-api:") == 1
    assert "lane wallet-api: 3 branch(es)" in html
    assert "overflow-wrap:anywhere" in html
    assert "proposed only: kms-api" in html
    kms = html[html.index("<title>service: kms-api</title>"):]
    assert 'stroke-dasharray="5 3"' in kms[:kms.index("</g>")]
    wallet = html[html.index("<title>service: wallet-api</title>"):]
    assert 'stroke="#e16f24"' in wallet[:wallet.index("</g>")]
    data = json.loads(expect(lanewarden("review", "contracts", "--repo", str(repo), "--format", "json")).stdout)
    assert data["proposed_services"] == ["kms-api"] and data["changed_services"] == []


def test_integration_review_of_a_merge_train_judges_the_commits_a_merge_brings(repo: Path) -> None:
    commit_on(repo, "a", [(WALLET_APP, "import", "import ")])
    commit_on(repo, "b", [(HD_MAIN, "package main", "package main // b")])
    git(repo, "checkout", "-q", "-b", "train", "a")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge b", "b")
    git(repo, "checkout", "-q", "main")
    data = final(repo, "--base", "main", "--head", "train", code=3)
    assert sorted(lane["worker"] for lane in data["lanes"]) == ["hd-manager", "wallet-api"]
    assert any(n.startswith("merge commit") and "not judged itself" in n for n in data["notes"])
    assert data["conflicts"] == [] and data["lanes_covered"] == ["hd-manager", "wallet-api"]
