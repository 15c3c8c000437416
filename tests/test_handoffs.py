"""Handoffs end to end: both ways in, routing, ids, lifecycle, concurrency, apply, sync, scale, export.

Everything runs against real repositories and the real git binary; the queue is
read back through the CLI (``handoffs show/list --format json``) and through
plain git (``rev-list``, ``for-each-ref``) so the storage contract is checked
independently of the code that wrote it.
"""
from __future__ import annotations

import datetime
import json
import re
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import expect as _ok
from conftest import git, git_env, lanewarden
from lanewarden.handoffs.model import SCHEMA, Action, Handoff, Status, Transition, handoff_id
from lanewarden.handoffs.queue import PREFIX, Queue
from lanewarden.handoffs.states import next_status
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git

KMS_PROTO = "contracts/kms/kms.proto"
KMS_KEYS = "services/kms-api/src/kms_api/keys.py"
WALLET_OWN = "services/wallet-api/src/wallet_api/app.py"
WALLET_OPENAPI = "contracts/wallet/openapi.yaml"
HD_MAIN = "services/hd-manager/cmd/hd-manager/main.go"


# -- helpers -----------------------------------------------------------------

def _touch(repo: Path, path: str, line: str) -> None:
    """Append a line, so every edit is a small, well-defined hunk."""
    f = repo / path
    f.parent.mkdir(parents=True, exist_ok=True)
    with f.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def _patch_file(repo: Path, tmp: Path, paths: list[str], tag: str = "change") -> Path:
    """A `git diff` of edits to ``paths`` against HEAD, written to a file; the work tree is restored."""
    for p in paths:
        _touch(repo, p, f"# {tag} to {p}")
    text = git(repo, "diff", "--no-color", "HEAD", "--", *paths)
    git(repo, "checkout", "-q", "--", ".")
    out = tmp / f"{tag}-{len(list(tmp.glob('*.diff')))}.diff"
    out.write_text(text, encoding="utf-8")
    return out


def _diff_paths(patch: str) -> set[str]:
    """The paths a unified git diff touches (both sides of each header)."""
    paths: set[str] = set()
    for m in re.finditer(r"^diff --git a/(\S+) b/(\S+)$", patch, re.MULTILINE):
        paths.update(m.groups())
    return paths


def _show(repo: Path, hid: str) -> dict[str, Any]:
    return json.loads(_ok(lanewarden("handoffs", "show", hid, "--repo", str(repo), "--format", "json")).stdout)


def _list(repo: Path, *args: str) -> list[dict[str, Any]]:
    return json.loads(_ok(lanewarden("handoffs", "list", "--repo", str(repo), "--format", "json", *args)).stdout)


def _propose(repo: Path, *args: str, code: int = 0) -> list[dict[str, Any]]:
    result = _ok(lanewarden("handoff", "propose", "--repo", str(repo), "--format", "json", *args), code)
    return json.loads(result.stdout) if code == 0 else []


def _revs(repo: Path, hid: str) -> int:
    """Length of the audit trail, read with plain git."""
    return int(git(repo, "rev-list", "--count", f"{PREFIX}{hid}").strip())


def _guard_scenario(repo: Path) -> tuple[Any, dict[str, str]]:
    """wallet-api, on a branch, edits a contract, a kms-api file and its own file; record the verdict."""
    git(repo, "checkout", "-q", "-b", "lanewarden/wallet-api/t1")
    for p in (KMS_PROTO, KMS_KEYS, WALLET_OWN):
        _touch(repo, p, f"# wallet-api edit of {p}")
    git(repo, "commit", "-q", "-am", "wallet-api: cross-lane edit")
    result = lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "main",
                       "--record-handoffs", "--task", "add key rotation")
    ids: dict[str, str] = {}
    for h in _list(repo):
        ids[h["target_worker"]] = h["id"]
    return result, ids


# -- 1. both ways in ---------------------------------------------------------

def test_guard_verdict_records_one_handoff_per_target_with_its_own_patch(repo: Path, tmp_path: Path) -> None:
    result, ids = _guard_scenario(repo)
    _ok(result, 1)  # a kms-api file is out of scope: the change is rejected
    assert sorted(ids) == ["contracts", "kms-api"]
    for target in ids:
        assert f"queued: -> {target}" in result.stdout + result.stderr
    expected = {"contracts": {KMS_PROTO}, "kms-api": {KMS_KEYS}}
    git(repo, "checkout", "-q", "main")
    for target, hid in ids.items():
        h = _show(repo, hid)
        assert h["schema"] == SCHEMA and h["status"] == "open"
        assert h["source_worker"] == "wallet-api" and h["target_worker"] == target
        assert h["task"] == "add key rotation"
        assert set(h["evidence"]["paths"]) == expected[target]
        # The patch carries exactly this target's part of the change, nothing of the other lanes.
        assert _diff_paths(h["proposed_change"]) == expected[target]
        patch = tmp_path / f"{target}.diff"
        patch.write_text(h["proposed_change"], encoding="utf-8")
        git(repo, "apply", "--check", str(patch))
        # Applying it on main reproduces the branch's version of those files exactly.
        git(repo, "apply", str(patch))
        for p in expected[target]:
            assert (repo / p).read_bytes() == git(repo, "show", f"lanewarden/wallet-api/t1:{p}").encode()
        git(repo, "checkout", "-q", "--", ".")
    contracts = _show(repo, ids["contracts"])
    assert "kms-signing" in contracts["contracts"]
    assert "signing-flow" in contracts["e2e"]
    assert "signing-flow" in contracts["suggested_validation"]["e2e"]
    # Recording the same verdict again queues nothing new.
    git(repo, "checkout", "-q", "lanewarden/wallet-api/t1")
    again = lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "main",
                      "--record-handoffs", "--task", "add key rotation")
    assert again.exit_code == 1
    assert (again.stdout + again.stderr).count("already queued") == 2
    assert len(_list(repo)) == 2


def test_agent_proposal_with_a_contract_patch_goes_to_contracts(repo: Path, tmp_path: Path) -> None:
    patch = _patch_file(repo, tmp_path, [WALLET_OPENAPI])
    out = _propose(repo, "--worker", "wallet-api", "--problem", "wallet-api needs a /v2/wallets endpoint",
                   "--evidence", "tests/test_routes.py::test_v2 fails", "--risk", "v2 clients break",
                   "--patch", str(patch))
    assert [(o["target_worker"], o["created"], o["status"]) for o in out] == [("contracts", True, "open")]
    h = _show(repo, out[0]["id"])
    assert h["source_worker"] == "wallet-api"
    assert h["evidence"]["notes"] == ["tests/test_routes.py::test_v2 fails"]
    assert h["risk_if_ignored"] == "v2 clients break"
    assert _diff_paths(h["proposed_change"]) == {WALLET_OPENAPI}
    assert "wallet-api" in h["contracts"]  # the contract named wallet-api covers contracts/wallet/**


def test_agent_proposal_without_to_splits_per_owner(repo: Path, tmp_path: Path) -> None:
    patch = _patch_file(repo, tmp_path, [WALLET_OPENAPI, KMS_KEYS])
    out = _propose(repo, "--worker", "wallet-api", "--problem", "two lanes need changes", "--patch", str(patch))
    by_target = {o["target_worker"]: o["id"] for o in out}
    assert sorted(by_target) == ["contracts", "kms-api"]
    assert _diff_paths(_show(repo, by_target["contracts"])["proposed_change"]) == {WALLET_OPENAPI}
    assert _diff_paths(_show(repo, by_target["kms-api"])["proposed_change"]) == {KMS_KEYS}
    assert len(_list(repo)) == 2


# -- 2. routing --------------------------------------------------------------

@pytest.mark.parametrize(("path", "target", "why"), [
    (KMS_KEYS, "kms-api", "owned by kms-api"),
    ("tools/release.sh", "root", "owned by no worker"),
    (KMS_PROTO, "contracts", "contract kms-signing"),
    ("lanewarden.yaml", "root", "policy file"),
])
def test_routing_by_path(repo: Path, path: str, target: str, why: str) -> None:
    out = _propose(repo, "--worker", "hd-manager", "--problem", f"please change {path}", "--path", path)
    assert [o["target_worker"] for o in out] == [target]
    h = _show(repo, out[0]["id"])
    assert why in h["routing_reason"], h["routing_reason"]
    assert h["evidence"]["paths"] == [path]


def test_routing_of_a_contract_nobody_owns_goes_to_root(repo: Path) -> None:
    policy = yaml.safe_load((repo / "lanewarden.yaml").read_text())
    del policy["workers"]["contracts"]  # nobody may write contracts/ any more (others are propose_only)
    (repo / "lanewarden.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    git(repo, "commit", "-q", "-am", "policy: drop the contracts worker")
    _ok(lanewarden("policy", "check", "--repo", str(repo)))
    out = _propose(repo, "--worker", "wallet-api", "--problem", "kms proto change", "--path", KMS_PROTO)
    assert [o["target_worker"] for o in out] == ["root"]
    reason = _show(repo, out[0]["id"])["routing_reason"]
    assert "kms-signing" in reason and "no owning worker" in reason, reason


def test_routing_splits_paths_of_several_owners(repo: Path) -> None:
    paths = [KMS_KEYS, HD_MAIN, "tools/release.sh", KMS_PROTO, "lanewarden.yaml"]
    args = [a for p in paths for a in ("--path", p)]
    out = _propose(repo, "--worker", "wallet-api", "--problem", "a cross-cutting change", *args)
    by_target = {o["target_worker"]: _show(repo, o["id"]) for o in out}
    assert sorted(by_target) == ["contracts", "hd-manager", "kms-api", "root"]
    assert by_target["kms-api"]["evidence"]["paths"] == [KMS_KEYS]
    assert by_target["hd-manager"]["evidence"]["paths"] == [HD_MAIN]
    assert by_target["contracts"]["evidence"]["paths"] == [KMS_PROTO]
    assert sorted(by_target["root"]["evidence"]["paths"]) == ["lanewarden.yaml", "tools/release.sh"]
    root_reason = by_target["root"]["routing_reason"]
    assert "policy file" in root_reason and "owned by no worker" in root_reason, root_reason


# -- 3. id stability ---------------------------------------------------------

def test_the_same_finding_is_queued_once(repo: Path) -> None:
    args = ["--worker", "wallet-api", "--to", "contracts", "--path", WALLET_OPENAPI]
    first = _propose(repo, *args, "--problem", "add a v2 endpoint")
    second = _propose(repo, *args, "--problem", "add a v2 endpoint")
    assert first[0]["created"] is True and second[0]["created"] is False
    assert first[0]["id"] == second[0]["id"]
    assert len(_list(repo)) == 1
    assert _revs(repo, first[0]["id"]) == 1  # the duplicate wrote no new state
    other = _propose(repo, *args, "--problem", "add a v3 endpoint")
    assert other[0]["created"] is True and other[0]["id"] != first[0]["id"]
    assert len(_list(repo)) == 2


# -- 4. lifecycle ------------------------------------------------------------

def test_every_legal_transition_and_the_illegal_ones(repo: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", "alice")
    patch = _patch_file(repo, tmp_path, [WALLET_OPENAPI])
    hid = _propose(repo, "--worker", "wallet-api", "--to", "contracts", "--problem", "v2 endpoint",
                   "--patch", str(patch))[0]["id"]
    short = hid[:8]  # abbreviated ids work like git's
    count = 1
    assert _revs(repo, hid) == count

    def step(*args: str, status: str, who: str, reason: str | None) -> None:
        nonlocal count
        monkeypatch.setenv("LANEWARDEN_ACTOR", who)
        _ok(lanewarden("handoffs", *args, short, "--repo", str(repo), *(("--reason", reason) if reason else ())))
        count += 1
        assert _revs(repo, hid) == count
        h = _show(repo, hid)
        assert h["status"] == status
        last = h["history"][-1]
        assert last["who"] == who and last["action"] == args[0] and last["reason"] == reason

    def refused(action: str, message: str, *extra: str) -> None:
        result = lanewarden("handoffs", action, short, "--repo", str(repo), *extra)
        _ok(result, 2)
        assert message in result.stderr, result.stderr
        assert _revs(repo, hid) == count  # a refused transition writes nothing

    refused("reopen", "cannot reopen a handoff that is open", "--reason", "x")
    refused("apply", "only accepted handoffs are applied")
    step("reject", status="rejected", who="bob", reason="not now")
    step("reopen", status="open", who="carol", reason="needed after all")
    step("supersede", status="superseded", who="bob", reason="replaced by another handoff")
    step("reopen", status="open", who="carol", reason="the replacement was dropped")
    step("accept", status="accepted", who="dave", reason=None)
    step("reject", status="rejected", who="dave", reason="changed my mind")
    step("reopen", status="open", who="carol", reason="again")
    step("accept", status="accepted", who="dave", reason="ok")
    step("supersede", status="superseded", who="erin", reason="done elsewhere")
    step("reopen", status="open", who="carol", reason="not done elsewhere")
    step("accept", status="accepted", who="dave", reason="ok, really")
    monkeypatch.setenv("LANEWARDEN_ACTOR", "frank")
    _ok(lanewarden("handoffs", "apply", short, "--repo", str(repo), "--base", "main"))
    count += 1
    assert _revs(repo, hid) == count
    refused("accept", "cannot accept a handoff that is applied")
    refused("reject", "cannot reject a handoff that is applied", "--reason", "x")
    refused("supersede", "cannot supersede a handoff that is applied", "--reason", "x")
    refused("reopen", "cannot reopen a handoff that is applied", "--reason", "x")
    refused("apply", "only accepted handoffs are applied")

    h = _show(repo, hid)
    assert h["status"] == "applied"
    actions = [t["action"] for t in h["history"]]
    assert actions == ["create", "reject", "reopen", "supersede", "reopen", "accept", "reject", "reopen",
                       "accept", "supersede", "reopen", "accept", "apply"]
    assert h["history"][0]["who"] == "alice" and h["history"][-1]["who"] == "frank"
    assert h["history"][-1]["commit"] == h["applied_commit"]
    for t in h["history"]:
        datetime.datetime.fromisoformat(t["when"])  # every step says when
    # The git history is the same trail: one commit per state, each with its parent.
    assert len(h["history"]) == count
    subjects = git(repo, "log", "--format=%s", f"{PREFIX}{hid}").splitlines()
    assert [s.split(": ", 1)[1].split(" by ")[0] for s in reversed(subjects)] == actions


def test_unknown_and_malformed_ids_are_refused(repo: Path) -> None:
    _propose(repo, "--worker", "wallet-api", "--to", "contracts", "--problem", "x")
    for bad in ("ffffffffff", "not-hex", ""):
        result = lanewarden("handoffs", "show", bad, "--repo", str(repo))
        _ok(result, 2)


# -- 5. concurrency ----------------------------------------------------------

def _record(n: int, *, source: str = "wallet-api", target: str = "contracts",
            status: Status = Status.OPEN) -> Handoff:
    problem = f"finding number {n}"
    stamp = "2026-01-01T00:00:00+00:00"
    return Handoff(id=handoff_id(source, target, (), problem, None), status=status, source_worker=source,
                   target_worker=target, routing_reason="test", problem=problem, created_at=stamp,
                   created_by="tester", history=(Transition(who="tester", when=stamp, action=Action.CREATE),))


def test_eight_concurrent_creators_lose_nothing(repo: Path) -> None:
    def writer(w: int) -> list[bool]:
        queue = Queue(Git.discover(repo))  # each thread its own handle, as separate processes would
        return [queue.create(_record(w * 10 + i))[1] for i in range(10)]

    with ThreadPoolExecutor(8) as pool:
        created = [c for batch in pool.map(writer, range(8)) for c in batch]
    assert created == [True] * 80
    assert len(Queue(Git.discover(repo)).all()) == 80
    assert len(git(repo, "for-each-ref", PREFIX).splitlines()) == 80


def _race(repo: Path, hid: str, plan: list[Action], writers: int = 8) -> tuple[int, list[str]]:
    """Each writer runs ``plan`` against the same handoff; returns (successes, refusal messages)."""
    start = threading.Barrier(writers)
    lock = threading.Lock()
    successes = 0
    refusals: list[str] = []

    def writer(_: int) -> None:
        nonlocal successes
        queue = Queue(Git.discover(repo))
        start.wait()  # maximise contention
        for action in plan:
            try:
                queue.transition(hid, action, reason=f"{action.value} in a race")
            except InputError as exc:
                with lock:
                    refusals.append(str(exc))
            else:
                with lock:
                    successes += 1

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(writer, range(writers)))  # re-raises anything unexpected
    return successes, refusals


def test_eight_writers_racing_accept_exactly_one_wins(repo: Path) -> None:
    stored, _ = Queue(Git.discover(repo)).create(_record(1))
    wins, refusals = _race(repo, stored.handoff.id, [Action.ACCEPT])
    assert wins == 1
    assert len(refusals) == 7
    assert all("cannot accept a handoff that is accepted" in r for r in refusals), refusals
    assert _revs(repo, stored.handoff.id) == 2


def test_eight_writers_cycling_reject_and_reopen_keep_every_transition(repo: Path) -> None:
    stored, _ = Queue(Git.discover(repo)).create(_record(2))
    hid = stored.handoff.id
    wins, refusals = _race(repo, hid, [Action.REJECT, Action.REOPEN] * 4)
    assert wins >= 2  # at least the first reject and some reopen get through
    assert wins + len(refusals) == 8 * 8
    # Only illegal-transition refusals: never "too many concurrent updates", never a lost write.
    assert all("cannot " in r for r in refusals), [r for r in refusals if "cannot " not in r]
    assert _revs(repo, hid) == 1 + wins
    final = Queue(Git.discover(repo)).get(hid).handoff
    assert len(final.history) == 1 + wins
    # The trail replays: every recorded step was legal from the state before it.
    state = Status.OPEN
    for t in final.history[1:]:
        state = next_status(state, t.action)
    assert state == final.status


# -- 6. apply ----------------------------------------------------------------

def test_apply_an_accepted_guard_handoff_on_a_target_branch(repo: Path) -> None:
    _, ids = _guard_scenario(repo)
    hid = ids["contracts"]
    git(repo, "checkout", "-q", "main")
    _ok(lanewarden("handoffs", "accept", hid[:10], "--repo", str(repo), "--reason", "looks right"))
    _ok(lanewarden("handoffs", "apply", hid[:10], "--repo", str(repo)))
    branch = f"lanewarden/contracts/handoff-{hid[:12]}"
    commit = git(repo, "rev-parse", "--verify", f"refs/heads/{branch}").strip()
    assert git(repo, "rev-parse", f"{branch}^").strip() == git(repo, "rev-parse", "main").strip()
    assert git(repo, "diff", "--name-only", "main", branch).split() == [KMS_PROTO]
    # The applied file is exactly what wallet-api wrote on its branch.
    assert git(repo, "show", f"{branch}:{KMS_PROTO}") == git(repo, "show", f"lanewarden/wallet-api/t1:{KMS_PROTO}")
    _ok(lanewarden("guard", "--repo", str(repo), "--worker", "contracts", "--base", "main", "--head", branch))
    h = _show(repo, hid)
    assert h["status"] == "applied" and h["applied_commit"] == commit
    assert _revs(repo, hid) == 3
    assert git(repo, "rev-parse", "HEAD").strip() == git(repo, "rev-parse", "main").strip()  # HEAD untouched


def test_apply_refuses_a_patch_outside_the_target_lane(repo: Path, tmp_path: Path) -> None:
    patch = _patch_file(repo, tmp_path, [KMS_KEYS])
    hid = _propose(repo, "--worker", "wallet-api", "--to", "contracts", "--problem", "misrouted",
                   "--patch", str(patch))[0]["id"]
    _ok(lanewarden("handoffs", "accept", hid, "--repo", str(repo)))
    result = lanewarden("handoffs", "apply", hid, "--repo", str(repo))
    assert result.exit_code != 0
    assert "nothing applied" in result.stderr
    assert git(repo, "for-each-ref", "refs/heads/lanewarden/") == ""
    assert _show(repo, hid)["status"] == "accepted"
    assert _revs(repo, hid) == 2


# -- 7. sync -----------------------------------------------------------------

def _sync(clone: Path, code: int = 0) -> Any:
    return _ok(lanewarden("handoffs", "sync", "origin", "--repo", str(clone)), code)


def test_sync_between_two_clones_both_ways_and_conflicts(repo: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    origin, a, b = tmp_path / "origin.git", tmp_path / "a", tmp_path / "b"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(a))
    git(tmp_path, "clone", "-q", str(origin), str(b))

    monkeypatch.setenv("LANEWARDEN_ACTOR", "ann")
    hid = _propose(a, "--worker", "wallet-api", "--to", "contracts", "--problem", "from A")[0]["id"]
    _sync(a)
    assert git(origin, "rev-parse", f"{PREFIX}{hid}").strip() == git(a, "rev-parse", f"{PREFIX}{hid}").strip()
    _sync(b)
    assert [h["id"] for h in _list(b)] == [hid]

    monkeypatch.setenv("LANEWARDEN_ACTOR", "ben")
    _ok(lanewarden("handoffs", "accept", hid, "--repo", str(b)))
    _sync(b)
    _sync(a)
    seen = _show(a, hid)
    assert seen["status"] == "accepted" and seen["history"][-1]["who"] == "ben"

    # Conflict: both clones move the same state in different directions.
    other = _propose(a, "--worker", "wallet-api", "--to", "kms-api", "--problem", "contested")[0]["id"]
    _sync(a)
    _sync(b)
    _ok(lanewarden("handoffs", "accept", other, "--repo", str(a)))
    _ok(lanewarden("handoffs", "reject", other, "--repo", str(b), "--reason", "no"))
    b_state = git(b, "rev-parse", f"{PREFIX}{other}").strip()
    _sync(a)
    result = _sync(b, 2)
    assert re.search(r"conflict|diverged", result.stderr, re.IGNORECASE), result.stderr
    assert other in result.stderr
    assert git(b, "rev-parse", f"{PREFIX}{other}").strip() == b_state  # nothing overwritten
    assert _show(b, other)["status"] == "rejected"
    assert git(origin, "rev-parse", f"{PREFIX}{other}").strip() == git(a, "rev-parse", f"{PREFIX}{other}").strip()
    assert _show(a, other)["status"] == "accepted"
    # The remote's side of the conflict stays readable in the mirror until the two agree again.
    mirror = f"refs/lanewarden-sync/origin/handoffs/{other}"
    a_state = git(a, "rev-parse", f"{PREFIX}{other}").strip()
    assert git(b, "rev-parse", mirror).strip() == a_state
    assert not git(b, "for-each-ref", "refs/lanewarden-sync/origin/handoffs/" + hid)  # landed: no copy
    git(b, "update-ref", f"{PREFIX}{other}", a_state, b_state)  # b's reviewer gives way to a's decision
    _sync(b)
    assert not git(b, "for-each-ref", "refs/lanewarden-sync/origin/handoffs/")  # resolved: copy dropped
    assert git(b, "for-each-ref", "refs/lanewarden-sync/origin/ledger")  # the two ledgers still differ


# -- 8. list at scale ---------------------------------------------------------

TARGETS = ["contracts", "kms-api", "hd-manager", "mpc-manager-rs", "party-node-rs", "root", "wallet-api"]


def _bulk_load(repo: Path, n: int) -> Counter[str]:
    """Write ``n`` handoffs with ONE git fast-import stream (blob + root commit + ref each)."""
    targets: Counter[str] = Counter()
    statuses = list(Status)
    chunks: list[bytes] = []
    for i in range(n):
        target = TARGETS[i % len(TARGETS)]
        source = "wallet-api" if target != "wallet-api" else "kms-api"
        h = _record(i, source=source, target=target, status=statuses[i % len(statuses)])
        targets[target] += 1
        blob = h.to_json().encode()
        msg = f"handoff {h.id}: create by tester\n".encode()
        chunks.append(b"blob\nmark :%d\ndata %d\n%s\n" % (i + 1, len(blob), blob))
        chunks.append(b"commit %s%s\ncommitter tester <tester@lanewarden> 1767225600 +0000\ndata %d\n%s"
                      b"M 100644 :%d handoff.json\n\n" % (PREFIX.encode(), h.id.encode(), len(msg), msg, i + 1))
    proc = subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=repo, env=git_env(),
                          input=b"".join(chunks) + b"done\n", capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return targets


def test_list_ten_thousand_handoffs(repo: Path) -> None:
    n = 10_000
    targets = _bulk_load(repo, n)
    assert len(git(repo, "for-each-ref", PREFIX).splitlines()) == n

    t0 = time.perf_counter()
    result = _ok(lanewarden("handoffs", "list", "--repo", str(repo), "--format", "json"))
    t_all = time.perf_counter() - t0
    items = json.loads(result.stdout)
    assert len(items) == n
    assert len({h["id"] for h in items}) == n
    assert Counter(h["status"] for h in items) == Counter(list(Status)[i % 5].value for i in range(n))
    assert all("proposed_change" not in h and h["has_patch"] is False for h in items)

    t0 = time.perf_counter()
    filtered = _ok(lanewarden("handoffs", "list", "--repo", str(repo), "--target", "kms-api"))
    t_target = time.perf_counter() - t0
    assert filtered.stdout.rstrip().endswith(f"{targets['kms-api']} handoff(s)")
    assert len(filtered.stdout.splitlines()) == targets["kms-api"] + 2  # header + rows + count

    both = _list(repo, "--target", "kms-api", "--status", "accepted")
    assert len(both) == sum(1 for i in range(n) if TARGETS[i % 7] == "kms-api" and i % 5 == 1)
    print(f"\nhandoffs list --format json on {n} handoffs: {t_all:.2f}s; "
          f"--target kms-api ({targets['kms-api']} rows, text): {t_target:.2f}s")

    # With 10,000 ids a one-character prefix is surely ambiguous.
    ambiguous = lanewarden("handoffs", "show", "a", "--repo", str(repo))
    _ok(ambiguous, 2)
    assert "ambiguous" in ambiguous.stderr


# -- 9. export ---------------------------------------------------------------

def test_export_writes_one_yaml_per_handoff(repo: Path, tmp_path: Path) -> None:
    patch = _patch_file(repo, tmp_path, [WALLET_OPENAPI, KMS_KEYS])
    ids = {o["id"] for o in _propose(repo, "--worker", "wallet-api", "--problem", "export me",
                                     "--patch", str(patch))}
    ids |= {o["id"] for o in _propose(repo, "--worker", "hd-manager", "--problem", "and me",
                                      "--path", "tools/release.sh")}
    assert len(ids) == 3
    dest = tmp_path / "out"
    _ok(lanewarden("handoffs", "export", str(dest), "--repo", str(repo)))
    files = sorted(dest.iterdir())
    assert {f.name for f in files} == {f"{i}.yaml" for i in ids}
    for f in files:
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        assert data["schema"] == "lanewarden.handoff/1"
        assert data["id"] == f.stem
        assert data == _show(repo, f.stem)  # the same record as show --format json
        Handoff.model_validate(data)


# -- 10. bad input -------------------------------------------------------------

def test_bad_proposals_write_nothing(repo: Path, tmp_path: Path) -> None:
    good = _patch_file(repo, tmp_path, [WALLET_OPENAPI])
    stale = tmp_path / "stale.diff"
    # Same patch, but a context line no longer matches the file: it cannot apply on HEAD.
    lines = good.read_text(encoding="utf-8").splitlines(keepends=True)
    ctx = next(i for i, line in enumerate(lines) if line.startswith(" "))
    lines[ctx] = " this context line is not in the file\n"
    stale.write_text("".join(lines), encoding="utf-8")
    (tmp_path / "garbage.diff").write_text("this is not a diff\n")
    cases: list[tuple[list[str], str]] = [
        (["--to", "nobody", "--problem", "x", "--path", WALLET_OPENAPI], "unknown worker"),
        (["--problem", "", "--to", "contracts"], "empty"),
        (["--problem", "   ", "--to", "contracts"], "empty"),
        (["--problem", "x", "--patch", str(stale)], "does not apply"),
        (["--problem", "x", "--patch", str(tmp_path / "garbage.diff")], "does not apply"),
        (["--problem", "x", "--patch", str(tmp_path / "missing.diff")], "cannot read"),
    ]
    for args, message in cases:
        result = lanewarden("handoff", "propose", "--repo", str(repo), "--worker", "wallet-api", *args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    unknown_source = lanewarden("handoff", "propose", "--repo", str(repo), "--worker", "ghost",
                               "--problem", "x", "--to", "contracts")
    assert unknown_source.exit_code == 2
    assert "unknown worker 'ghost'" in unknown_source.stderr
    assert _list(repo) == []
    assert git(repo, "for-each-ref", "refs/lanewarden/") == ""
