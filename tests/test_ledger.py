"""The audit ledger: hash chain, tampering, anchors, replay and concurrent appends.

Tampering is done the way an attacker with write access to the repository
would do it: by rebuilding the ledger's commits with plain git plumbing and
moving the ref, never through lanewarden's own code.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import git, git_env, lanewarden
from lanewarden.workers.ledger import canonical, digest

REF = "refs/lanewarden/ledger"
WALLET = "services/wallet-api/src/wallet_api/signing.py"
KMS = "services/kms-api/src/kms_api/audit.py"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")


def _commit_change(repo: Path, path: str, text: str = "\n# changed\n", message: str = "change") -> str:
    with open(repo / path, "a", encoding="utf-8") as fh:
        fh.write(text)
    git(repo, "commit", "-qam", message)
    return git(repo, "rev-parse", "HEAD").strip()


def _record_some(repo: Path) -> None:
    """Genesis, an accepted range, a rejected range, an accepted work-tree change."""
    _commit_change(repo, WALLET)
    assert lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "HEAD~1",
                     "--record").exit_code == 0
    _commit_change(repo, KMS)
    assert lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "HEAD~1",
                     "--record").exit_code == 1
    (repo / "services/wallet-api/NOTES.md").write_text("new file\n")
    assert lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--worktree",
                     "--record").exit_code == 0


Item = tuple[dict[str, Any], list[str]]


def _read_chain(repo: Path) -> list[Item]:
    items = []
    for commit in git(repo, "rev-list", "--first-parent", "--reverse", REF).split():
        entry = json.loads(git(repo, "cat-file", "blob", f"{commit}:entry.json"))
        others = [line for line in git(repo, "ls-tree", commit).splitlines() if not line.endswith("\tentry.json")]
        items.append((entry, others))
    return items


def _write_chain(repo: Path, items: list[Item], *, start: str | None = None, keep: str | None = None) -> None:
    """Commit ``items`` as a chain (on top of ``start``); the last one also gets ``keep`` as a parent."""
    parent: str | None = start
    for n, (entry, others) in enumerate(items):
        raw = entry["__raw__"].encode() if "__raw__" in entry else canonical(entry) + b"\n"
        blob = git(repo, "hash-object", "-w", "--stdin", input=raw).strip()
        lines = "\n".join([*others, f"100644 blob {blob}\tentry.json"]) + "\n"
        tree = git(repo, "mktree", input=lines.encode()).strip()
        args = ["commit-tree", tree, "-m", "rewritten"] + (["-p", parent] if parent else [])
        if keep and n == len(items) - 1:
            args += ["-p", keep]
        parent = git(repo, *args).strip()
    assert parent is not None
    git(repo, "update-ref", REF, parent)


def _rehash(entry: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return {**body, "hash": digest(canonical(body))}


def _verify(repo: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = lanewarden("ledger", "verify", "--repo", str(repo), "--format", "json", *extra)
    return result.exit_code, json.loads(result.stdout)


def _violations(report: dict[str, Any]) -> list[tuple[str, int | None]]:
    return [(p["violation"], p["seq"]) for p in report["problems"]]


# -- the chain ---------------------------------------------------------------

def test_recorded_decisions_form_a_verified_chain(repo: Path) -> None:
    _record_some(repo)
    code, report = _verify(repo)
    assert code == 0 and report["ok"] and report["entries"] == 4
    shown = json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json").stdout)
    assert [e["kind"] for e in shown] == ["genesis", "guard", "guard", "guard"]
    assert [e["outcome"].get("decision") for e in shown[1:]] == ["accept", "reject", "accept"]
    guard_entry = shown[1]
    assert set(guard_entry["inputs"]) >= {"worker", "mode", "base", "head", "policy", "diff_sha256",
                                          "context_hash"}
    assert guard_entry["inputs"]["policy"]["sha256"] and guard_entry["prev"] == shown[0]["hash"]
    text = lanewarden("ledger", "show", "--repo", str(repo), "--kind", "guard", "--last", "1")
    assert "accept" in text.stdout and "reject" not in text.stdout


def test_an_entry_edited_in_place_is_a_hash_mismatch(repo: Path) -> None:
    _record_some(repo)
    items = _read_chain(repo)
    items[2][0]["outcome"]["decision"] = "accept"  # turn the reject into an accept
    _write_chain(repo, items)
    code, report = _verify(repo)
    assert code == 1
    assert _violations(report) == [("HASH_MISMATCH", 2)]
    text = lanewarden("ledger", "verify", "--repo", str(repo))
    assert text.exit_code == 1 and "HASH_MISMATCH: entry 2" in text.stdout


def test_an_entry_stored_in_another_byte_form_still_verifies(repo: Path) -> None:
    # verify proves most hashes from the stored bytes alone; bytes lanewarden would not write (indented,
    # keys unsorted) must still verify by re-encoding what they hold: the hash covers content, not layout.
    _record_some(repo)
    items = _read_chain(repo)
    entry = items[2][0]
    blob_text = json.dumps(dict(reversed(list(entry.items()))), indent=2).encode() + b"\n"
    items[2] = ({"__raw__": blob_text.decode()}, items[2][1])
    _write_chain(repo, items)
    assert _verify(repo)[0] == 0


@pytest.mark.parametrize("forge", ["extra-key", "bool-seq", "no-attachments", "number-time"])
def test_entries_lanewarden_never_writes_are_caught_even_when_their_hash_matches(repo: Path, forge: str) -> None:
    # Each forged entry's hash is computed over exactly what is stored, so the stored bytes "prove" it;
    # none of them is an entry lanewarden writes, and reading one as if it were would hide what was changed.
    _record_some(repo)
    items = _read_chain(repo)
    entry = dict(items[2][0])
    if forge == "extra-key":
        entry["note"] = "unhashed before, hashed now"
    elif forge == "bool-seq":
        entry["seq"] = True
    elif forge == "no-attachments":
        del entry["attachments"]
    else:
        entry["time"] = 20260101
    items[2] = (_rehash(entry), items[2][1])
    _write_chain(repo, items)
    code, report = _verify(repo)
    assert code == 1 and _violations(report)[0] == ("HASH_MISMATCH", None), report
    assert "cannot be read" in report["problems"][0]["message"]


def test_an_edited_entry_with_a_recomputed_hash_breaks_the_chain(repo: Path) -> None:
    _record_some(repo)
    items = _read_chain(repo)
    items[2] = (_rehash({**items[2][0], "actor": "someone else"}), items[2][1])
    _write_chain(repo, items)
    code, report = _verify(repo)
    assert code == 1 and _violations(report) == [("CHAIN_BREAK", 3)]


def test_an_edited_attachment_is_a_hash_mismatch(repo: Path) -> None:
    _record_some(repo)
    items = _read_chain(repo)
    fake = git(repo, "hash-object", "-w", "--stdin", input=b"{}").strip()
    items[1] = (items[1][0], [ln if not ln.endswith("\tverdict.json") else f"100644 blob {fake}\tverdict.json"
                              for ln in items[1][1]])
    _write_chain(repo, items)
    code, report = _verify(repo)
    assert code == 1 and _violations(report) == [("HASH_MISMATCH", 1)]
    replayed = lanewarden("ledger", "replay", "1", "--repo", str(repo))
    assert replayed.exit_code == 2 and "does not match its recorded hash" in replayed.stderr


def test_a_removed_entry_breaks_the_chain(repo: Path) -> None:
    _record_some(repo)
    items = _read_chain(repo)
    del items[2]
    _write_chain(repo, items)
    code, report = _verify(repo)
    assert code == 1 and _violations(report) == [("CHAIN_BREAK", 3)]
    assert "missing" in report["problems"][0]["message"]


def test_reordered_entries_break_the_chain(repo: Path) -> None:
    _record_some(repo)
    items = _read_chain(repo)
    items[1], items[2] = items[2], items[1]
    _write_chain(repo, items)
    code, report = _verify(repo)
    assert code == 1 and {v for v, _ in _violations(report)} == {"CHAIN_BREAK"}


def test_a_history_rewritten_from_scratch_is_caught_by_the_anchor(repo: Path) -> None:
    _record_some(repo)
    published = lanewarden("ledger", "head", "--repo", str(repo)).stdout.strip()
    assert len(published) == 64
    assert _verify(repo, "--anchor", published)[0] == 0
    # Drop the reject and rebuild a consistent chain: every hash and link recomputed.
    items = [item for item in _read_chain(repo) if item[0]["outcome"].get("decision") != "reject"]
    prev = "0" * 64
    rebuilt = []
    for seq, (entry, others) in enumerate(items):
        entry = _rehash({**entry, "seq": seq, "prev": prev})
        prev = entry["hash"]
        rebuilt.append((entry, others))
    _write_chain(repo, rebuilt)
    assert _verify(repo)[0] == 0  # internally consistent: only the anchor can tell
    code, report = _verify(repo, "--anchor", published)
    assert code == 1 and _violations(report) == [("ANCHOR_MISSING", None)]
    bad = lanewarden("ledger", "verify", "--repo", str(repo), "--anchor", "xyz")
    assert bad.exit_code == 2 and "not a ledger hash" in bad.stderr


def _rebuilt_without_the_reject(repo: Path, *, from_scratch: bool) -> tuple[str, str]:
    """Drop the recorded reject, re-hash what follows, keep the old head as an extra parent of the new one.

    Returns (old head, new head). ``from_scratch`` rebuilds every commit (a new genesis);
    otherwise the commits before the reject are reused as they are.
    """
    old = git(repo, "rev-parse", REF).strip()
    commits = git(repo, "rev-list", "--first-parent", "--reverse", REF).split()
    chain = _read_chain(repo)
    cut = next(n for n, (e, _) in enumerate(chain) if e["outcome"].get("decision") == "reject")
    first = 0 if from_scratch else cut
    kept = chain[first:cut] + chain[cut + 1:]
    prev = "0" * 64 if from_scratch else chain[cut - 1][0]["hash"]
    rebuilt = []
    for seq, (entry, others) in enumerate(kept, start=first):
        entry = _rehash({**entry, "seq": seq, "prev": prev})
        prev = entry["hash"]
        rebuilt.append((entry, others))
    _write_chain(repo, rebuilt, start=None if from_scratch else commits[cut - 1], keep=old)
    return old, git(repo, "rev-parse", REF).strip()


@pytest.mark.parametrize("from_scratch", [True, False], ids=["new-genesis", "shared-prefix"])
def test_a_rebuilt_chain_that_keeps_the_old_head_as_a_parent_is_caught(repo: Path, from_scratch: bool) -> None:
    from lanewarden.workers.git import Git
    from lanewarden.workers.ledger import Ledger

    _record_some(repo)
    honest_before = git(repo, "rev-parse", f"{REF}~1").strip()
    old, new = _rebuilt_without_the_reject(repo, from_scratch=from_scratch)
    # What the run used to check: every parent counts, so the old head is "still there".
    git(repo, "merge-base", "--is-ancestor", old, new)
    ledger = Ledger(Git.discover(repo))
    assert not ledger.extends(old, new)
    assert ledger.extends(honest_before, old) and ledger.extends(old, old)  # control: a normal append
    code, report = _verify(repo)  # no anchor needed
    assert code == 1 and _violations(report) == [("HIDDEN_CHAIN", None)]
    message = report["problems"][0]["message"]
    assert "only through an extra parent" in message and "not in the chain: seq 2 (guard reject" in message
    text = lanewarden("ledger", "verify", "--repo", str(repo))
    assert text.exit_code == 1 and text.stdout.startswith("HIDDEN_CHAIN: ledger:")


def test_a_run_whose_agent_rebuilds_the_ledger_keeping_the_old_head_is_rolled_back(repo: Path) -> None:
    _record_some(repo)
    before = git(repo, "rev-parse", REF).strip()
    genesis = git(repo, "rev-list", "--max-parents=0", REF).split()[0]

    def rebuild(git_dir: str) -> str:
        # The new head's first parent skips every entry; the old head stays reachable as a second parent.
        g = f"git --git-dir={git_dir}"
        return (f"echo '# x' >> NOTES.md && {g} update-ref {REF} "
                f"$({g} commit-tree $({g} mktree </dev/null) -p {genesis} -p {before} -m x)")

    # Confined, the agent can rewrite only its clone's ledger: none of it reaches the main repository.
    confined = lanewarden("run", "wallet-api", "--repo", str(repo), "--format", "json", "--",
                          "sh", "-c", rebuild("$(git rev-parse --absolute-git-dir)"))
    assert confined.exit_code == 0, confined.output
    assert before in git(repo, "rev-list", "--first-parent", REF).split()
    before = git(repo, "rev-parse", REF).strip()
    # Unconfined, it can write the main repository's ledger ref: the run puts it back and rolls back.
    result = lanewarden("run", "wallet-api", "--unconfined", "--repo", str(repo), "--format", "json", "--",
                        "sh", "-c", rebuild(str(repo / ".git")))
    assert result.exit_code == 1, result.output
    assert "the ledger was rewritten during the run" in result.output
    shown = json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json").stdout)
    assert shown[-2]["commit"] == before and shown[-1]["outcome"]["outcome"] == "rejected"
    assert _verify(repo)[0] == 0


@pytest.mark.parametrize("damage", ["blob", "missing"])
def test_a_ledger_ref_that_names_no_commit_is_an_error_not_an_empty_ledger(repo: Path, damage: str) -> None:
    _record_some(repo)
    if damage == "blob":
        blob = git(repo, "hash-object", "-w", "--stdin", input=b"not a ledger").strip()
        git(repo, "update-ref", REF, blob)
    else:  # git update-ref refuses a missing object; writing the ref file does not
        (repo / ".git" / REF).write_text("d" * 40 + "\n")
    for args in (("ledger", "verify"), ("ledger", "show"), ("guard", "--worker", "wallet-api", "--staged",
                                                               "--record")):
        result = lanewarden(*args, "--repo", str(repo))
        assert result.exit_code == 2, (args, result.output)
        assert f"{REF} points at a {damage}" in result.stderr and "git reflog show" in result.stderr


def test_an_empty_ledger_verifies(repo: Path) -> None:
    assert _verify(repo)[0] == 0
    assert "empty" in lanewarden("ledger", "head", "--repo", str(repo)).stdout
    assert "no ledger entries" in lanewarden("ledger", "show", "--repo", str(repo)).stdout


def test_a_dry_run_is_never_recorded(repo: Path, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_bytes((repo / "lanewarden.yaml").read_bytes())
    result = lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--staged", "--policy",
                       str(policy), "--record")
    assert result.exit_code == 2 and "dry run" in result.stderr
    assert git(repo, "for-each-ref", REF) == ""


# -- concurrency ---------------------------------------------------------------

_APPENDER = """
import sys
from lanewarden.workers.git import Git
from lanewarden.workers.ledger import Kind, Ledger
ledger = Ledger(Git.discover(sys.argv[1]))
for i in range(int(sys.argv[3])):
    ledger.append(Kind.GUARD, {"writer": sys.argv[2], "i": i}, {"decision": "accept"})
"""


def test_eight_concurrent_appenders_never_fork_or_lose_an_entry(repo: Path) -> None:
    env = {**git_env(), "LANEWARDEN_ACTOR": "tester", "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _APPENDER, str(repo), f"w{n}", "6"], env=env,
                              stderr=subprocess.PIPE) for n in range(8)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    code, report = _verify(repo)
    assert code == 0 and report["entries"] == 1 + 8 * 6
    shown = json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json").stdout)
    assert [e["seq"] for e in shown] == list(range(49))
    written = {(e["inputs"]["writer"], e["inputs"]["i"]) for e in shown[1:]}
    assert written == {(f"w{n}", i) for n in range(8) for i in range(6)}


# -- replay ------------------------------------------------------------------

def test_replay_reproduces_accepts_and_rejects_in_every_recorded_mode(repo: Path) -> None:
    _record_some(repo)
    git(repo, "add", "-A")
    _commit_change(repo, "services/wallet-api/README.md")
    patch = git(repo, "format-patch", "-1", "--stdout", "HEAD").encode()
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    (repo / "change.patch").write_bytes(patch)
    assert lanewarden("guard", "--repo", str(repo), "--worker", "kms-api", "--patch", str(repo / "change.patch"),
                     "--record").exit_code == 1
    for seq, decision in ((1, "accept"), (2, "reject"), (3, "accept"), (4, "reject")):
        result = lanewarden("ledger", "replay", str(seq), "--repo", str(repo), "--format", "json")
        data = json.loads(result.stdout)
        assert result.exit_code == 0 and data["reproduced"], data
        assert data["recorded_decision"] == data["replayed_decision"] == decision


def test_replay_survives_the_branch_being_deleted(repo: Path) -> None:
    git(repo, "switch", "-qc", "topic")
    _commit_change(repo, WALLET)
    assert lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "main",
                     "--record").exit_code == 0
    git(repo, "switch", "-q", "main")
    git(repo, "branch", "-qD", "topic")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    assert lanewarden("ledger", "replay", "1", "--repo", str(repo)).exit_code == 0


def test_replay_detects_changed_policy_semantics(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _record_some(repo)
    from lanewarden.workers.ownership import OwnershipIndex, PathClass, Standing

    real = OwnershipIndex.standing_from

    def upgraded(fields: dict[str, Any]) -> Standing:
        # A matcher "upgrade" that stops honouring deny and propose-only carve-outs.
        found = real(fields)
        if found.path_class is PathClass.OUT_OF_SCOPE:
            return Standing(PathClass.WRITABLE, "upgraded matcher", None)
        return found

    monkeypatch.setattr(OwnershipIndex, "standing_from", staticmethod(upgraded))
    result = lanewarden("ledger", "replay", "2", "--repo", str(repo))
    assert result.exit_code == 1
    assert "does NOT reproduce (recorded reject, now accept)" in result.stdout
    assert f"{KMS}: recorded out_of_scope" in result.stdout and "now writable (upgraded matcher)" in result.stdout
    assert "guard scope: recorded reject, now approve" in result.stdout


def test_replay_refuses_what_is_not_a_decision(repo: Path) -> None:
    _record_some(repo)
    assert lanewarden("ledger", "replay", "0", "--repo", str(repo)).exit_code == 2
    missing = lanewarden("ledger", "replay", "99", "--repo", str(repo))
    assert missing.exit_code == 2 and "no ledger entry 99" in missing.stderr


def test_handoff_transitions_are_entries(repo: Path) -> None:
    _commit_change(repo, "contracts/kms/kms.proto")
    result = lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "HEAD~1",
                       "--record-handoffs", "--record")
    assert result.exit_code == 3
    shown = json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json").stdout)
    kinds = [e["kind"] for e in shown]
    assert kinds == ["genesis", "handoff", "guard"]
    hid = shown[1]["inputs"]["handoff"]
    assert shown[2]["outcome"]["handoffs"] == [hid]
    assert lanewarden("handoffs", "accept", hid[:10], "--repo", str(repo)).exit_code == 0
    last = json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json", "--last", "1").stdout)[0]
    assert last["kind"] == "handoff" and last["inputs"]["action"] == "accept"
    assert last["outcome"]["status"] == "accepted"


def test_runs_record_their_outcome_and_replay(repo: Path) -> None:
    result = lanewarden("run", "wallet-api", "--repo", str(repo), "--task", "touch a file", "--",
                       "sh", "-c", "echo '# run' >> NOTES.md")
    shown = json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json",
                                 "--kind", "run").stdout)
    assert len(shown) == 1, result.output
    entry = shown[0]
    assert entry["inputs"]["task"] == "touch a file" and entry["inputs"]["context_hash"]
    assert entry["outcome"]["outcome"] == "accepted" and entry["outcome"]["commit"]
    assert lanewarden("ledger", "replay", str(entry["seq"]), "--repo", str(repo)).exit_code == 0


def test_sync_moves_the_ledger_and_overrides_and_keeps_diverged_chains(repo: Path, tmp_path: Path) -> None:
    origin, a, b = tmp_path / "origin.git", tmp_path / "a", tmp_path / "b"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(a))
    git(tmp_path, "clone", "-q", str(origin), str(b))
    _commit_change(a, WALLET)
    assert lanewarden("guard", "--repo", str(a), "--worker", "wallet-api", "--base", "HEAD~1",
                     "--record").exit_code == 0
    assert lanewarden("override", "request", "--repo", str(a), "--worker", "kms-api", "--paths", "docs/**",
                     "--reason", "r", "--scope", "window").exit_code == 0
    assert lanewarden("handoffs", "sync", "origin", "--repo", str(a)).exit_code == 0
    assert lanewarden("handoffs", "sync", "origin", "--repo", str(b)).exit_code == 0
    assert git(b, "rev-parse", REF) == git(a, "rev-parse", REF)
    assert git(b, "for-each-ref", "refs/lanewarden/overrides/") == git(a, "for-each-ref", "refs/lanewarden/overrides/")
    # Both record on their own: the chains diverge, each keeps its own, and sync says so.
    for clone in (a, b):
        assert lanewarden("guard", "--repo", str(clone), "--worker", "wallet-api", "--staged",
                         "--record").exit_code == 0
    assert lanewarden("handoffs", "sync", "origin", "--repo", str(a)).exit_code == 0
    result = lanewarden("handoffs", "sync", "origin", "--repo", str(b))
    assert result.exit_code == 0 and "each keeps its own chain" in result.stdout
    assert _verify(b)[0] == 0 and _verify(a)[0] == 0


def test_the_final_review_records_each_lane_and_its_decision(repo: Path) -> None:
    git(repo, "switch", "-qc", "lanewarden/wallet-api/t1")
    _commit_change(repo, WALLET)
    git(repo, "switch", "-q", "main")
    # The final review attributes a branch by lanewarden's record of the run that made it, not its name.
    from lanewarden.orchestrator.runs.records import record_branch
    from lanewarden.workers.git import Git

    record_branch(Git.discover(repo), "wallet-api", "lanewarden/wallet-api/t1",
                  git(repo, "rev-parse", "lanewarden/wallet-api/t1").strip())
    result = lanewarden("review", "final", "--repo", str(repo), "--base", "main", "--format", "json")
    assert result.exit_code in (0, 3), result.output
    shown = json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json").stdout)
    review = shown[-1]
    assert review["kind"] == "review" and review["outcome"]["decision"] == json.loads(result.stdout)["decision"]
    lane = review["outcome"]["lanes"][0]
    assert lane["worker"] == "wallet-api" and lane["decision"] == "accept"
    assert lanewarden("ledger", "replay", str(lane["guard_seq"]), "--repo", str(repo)).exit_code == 0
    assert _verify(repo)[0] == 0


def test_a_run_whose_agent_rewrites_the_ledger_is_rolled_back(repo: Path) -> None:
    _record_some(repo)
    before = git(repo, "rev-parse", REF).strip()
    script = ("echo '# x' >> NOTES.md && "
              f"git update-ref {REF} $(git commit-tree $(git mktree </dev/null) -m forged)")
    # Confined, the agent rewrites only its clone's ledger: the main chain is untouched and the run lands.
    confined = lanewarden("run", "wallet-api", "--repo", str(repo), "--format", "json", "--", "sh", "-c", script)
    assert confined.exit_code == 0, confined.output
    assert git(repo, "merge-base", "--is-ancestor", before, REF) == "" and _verify(repo)[0] == 0
    before = git(repo, "rev-parse", REF).strip()
    # Unconfined, it can rewrite the main repository's chain: put back, and the run rolled back.
    # (the main git dir is three folders above the context pack: .git/lanewarden/runs/<run-id>/context.json)
    main_git = 'M="$(cd "$(dirname "$LANEWARDEN_CONTEXT")/../../.." && pwd)" && '
    script = main_git + ("echo '# x' >> NOTES.md && "
                         f'git --git-dir="$M" update-ref {REF} '
                         '$(git --git-dir="$M" commit-tree $(git --git-dir="$M" mktree </dev/null) -m forged)')
    result = lanewarden("run", "wallet-api", "--repo", str(repo), "--format", "json", "--unconfined", "--",
                        "sh", "-c", script)
    assert result.exit_code == 1, result.output
    assert "the ledger was rewritten during the run" in result.output
    shown = json.loads(lanewarden("ledger", "show", "--repo", str(repo), "--format", "json").stdout)
    assert shown[-2]["commit"] == before  # the chain was put back, then the rejected run recorded
    assert shown[-1]["kind"] == "run" and shown[-1]["outcome"]["outcome"] == "rejected"
    assert _verify(repo)[0] == 0


def test_verify_proves_written_entries_from_their_bytes_and_falls_back_for_any_other_form(repo: Path) -> None:
    from lanewarden.workers.git import Git
    from lanewarden.workers.ledger import Entry, Ledger, _parse

    _record_some(repo)
    walked = list(Ledger(Git.discover(repo)).walk())
    assert len(walked) == 4
    for commit, _, raw in walked:
        assert raw is not None
        entry = _parse(raw, commit)
        assert isinstance(entry, Entry) and entry.sealed and entry.holds()  # as written: one sha256
        loose = json.dumps(json.loads(raw), indent=1).encode()
        same = _parse(loose, commit)
        assert isinstance(same, Entry) and not same.sealed  # not proven this way...
        assert same.holds() and same.computed_hash() == same.hash  # ...and the definition still holds
        edited = _parse(raw.replace(b'"seq":', b'"seq":1'), commit)
        assert isinstance(edited, Entry) and not edited.holds()  # control: a changed entry fails either way
    assert any(parents for _, parents, _ in walked)  # range decisions keep their commits as extra parents
