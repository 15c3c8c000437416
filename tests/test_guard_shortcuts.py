"""The guard's per-path shortcuts give exactly the answers of the plain way.

A large range (100,000 paths) is judged with a few shortcuts (guards/changes.py, guards/secrets.py,
orchestrator/reports/verdict.py): the patch's headers read without the general parser, one marker
pass over every hunk instead of one test per change and marker, the JSON written without a dict
per path. Each is compared here with the plain computation it replaces, on awkward inputs.
"""
from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

import pytest

from conftest import git, git_bytes, lanewarden
from lanewarden.guards import secrets
from lanewarden.guards.changes import Change, Status, apply_patch_lines, parse_raw
from lanewarden.guards.engine import GuardRequest, guard
from lanewarden.guards.sections import Cut, Cutter, PendingPatch, cut_whole
from lanewarden.guards.verdict import Mode, Verdict
from lanewarden.orchestrator.reports.verdict import to_json
from lanewarden.workers.errors import LanewardenError
from lanewarden.workers.git import Git

AWKWARD = ["services/wallet-api/plain.py", "services/wallet-api/new\nline.txt", "services/wallet-api/tab\there.txt",
           'services/wallet-api/quote"d.txt', "services/wallet-api/back\\slash.txt", "services/wallet-api/naïve.txt",
           "services/wallet-api/sp ace b/x.txt", "services/wallet-api/a b/a b.txt", "services/wallet-api/🔑.txt",
           "services/wallet-api/esc\x1b[31mred.txt",
           "services/kms-api/AKIA.txt", "contracts/kms/new.proto", "services/wallet-api/secrets/x.txt"]
NON_UTF8 = b"services/wallet-api/caf\xe9.txt"
TOKEN = "AKIA" + "ABCDEFGHIJKLMNOP"  # an AWS access key id (split so this file holds none)


def _write(repo: Path, name: str | bytes, text: str) -> None:
    raw = os.fsencode(str(repo)) + b"/" + (name if isinstance(name, bytes) else name.encode())
    os.makedirs(os.path.dirname(raw), exist_ok=True)
    with open(raw, "w") as fh:
        fh.write(text)


def _range_verdict(repo: Path, worker: str = "wallet-api") -> Verdict:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")
    return guard(Git.discover(str(repo)), GuardRequest(mode=Mode.RANGE, worker=worker, base="HEAD~1",
                                                        head="HEAD")).verdict


def test_json_is_json_dumps_of_the_verdict(repo: Path) -> None:
    # Every awkward name, a rename (same blob moved), a deletion, a mode change, a secret, reasons.
    for i, name in enumerate(AWKWARD):
        _write(repo, name, f"line {i}\n" * (i + 1))
    _write(repo, NON_UTF8, f"key = '{TOKEN}'\n")
    git(repo, "mv", "services/wallet-api/README.md", "services/wallet-api/MOVED.md")
    first, second, third = git(repo, "ls-files", "services/wallet-api/src").split("\n")[:3]
    git(repo, "rm", "-q", first)
    os.chmod(repo / second, 0o755)
    _write(repo, third, "changed\n")
    v = _range_verdict(repo)
    assert v.decision.value == "reject" and len(v.changes) == len(AWKWARD) + 6  # + the 2 sides of the move
    assert any(c.renamed_from for c in v.changes) and any(c.reasons for c in v.changes)
    assert {c.status for c in v.changes} == {"added", "modified", "deleted", "mode_changed"}
    assert to_json(v) == json.dumps(v.as_json(), separators=(",", ":"))
    # The command prints exactly that (no ANSI stripping could apply: the escape is escaped).
    printed = lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--base", "HEAD~1",
                         "--head", "HEAD", "--format", "json").stdout
    assert printed == to_json(v) + "\n" and "\\u001b[31m" in printed
    empty = Verdict(v.decision, v.worker, v.mode, None, None, v.head_tree, v.policy, v.diff_sha256, (), (), (),
                    policy_diff={"changes": [], "x": {"a\u2028": [1, None, True, 2.5]}})
    assert to_json(empty) == json.dumps(empty.as_json(), separators=(",", ":"))


def test_patch_sections_reach_their_own_paths(repo: Path) -> None:
    # Quoted headers (parsed in full) and plain ones (read directly) in one patch; each path
    # must get its own line counts, exactly as git counts them.
    for i, name in enumerate(AWKWARD):
        _write(repo, name, "x\n" * (i + 1))
    _write(repo, NON_UTF8, "a\nb\n")
    v = _range_verdict(repo)
    numstat = git(repo, "diff", "--numstat", "-z", "--no-renames", "HEAD~1", "HEAD").split("\0")
    expected = {numstat[i + 1] if numstat[i].endswith("\t") else numstat[i].split("\t", 2)[2]:
                int(numstat[i].split("\t")[0]) for i in range(len(numstat) - 1)
                if numstat[i] and numstat[i][0].isdigit()}
    assert {c.path: c.added_lines for c in v.changes} == expected
    assert len(expected) == len(AWKWARD) + 1


def test_a_header_the_path_list_lacks_is_still_refused(repo: Path) -> None:
    _write(repo, "services/wallet-api/one.txt", "1\n")
    _write(repo, "services/wallet-api/two.txt", "2\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two files")
    raw = git(repo, "diff-tree", "-r", "-z", "--raw", "--no-renames", "HEAD~1", "HEAD").encode()
    patch = git(repo, "diff", "-U0", "--no-renames", "HEAD~1", "HEAD").encode()
    # Same length as the real header, but naming another path: must not land on either change.
    forged = patch.replace(b"a/services/wallet-api/two.txt b/services/wallet-api/two.txt",
                           b"a/services/wallet-api/TWO.txt b/services/wallet-api/two.txt")
    with pytest.raises(LanewardenError, match="patch and path list disagree"):
        apply_patch_lines(parse_raw(raw), forged)
    # A malformed quoted name is an error where it is met: after a disagreeing header, that one wins.
    malformed = b'\ndiff --git "a/\\5x" b/y\n@@ -0,0 +1 @@\n+x\n'
    with pytest.raises(LanewardenError, match="patch and path list disagree"):
        apply_patch_lines(parse_raw(raw), forged + malformed)
    with pytest.raises(ValueError, match="base 8"):
        apply_patch_lines(parse_raw(raw), malformed.lstrip(b"\n") + patch)


def test_sections_out_of_the_path_lists_order_reach_the_same_changes(repo: Path) -> None:
    # Sections are matched to the path list by position while git keeps its order; any other
    # order (or a path listed twice) falls back to lookups by path, with the same result.
    for i in range(5):
        _write(repo, f"services/wallet-api/f{i}.txt", "x\n" * (i + 1))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "five files")
    raw = git(repo, "diff-tree", "-r", "-z", "--raw", "--no-renames", "HEAD~1", "HEAD").encode()
    patch = git(repo, "diff", "-U0", "--no-renames", "HEAD~1", "HEAD").encode()
    head = b"diff --git "
    sections = [head + s for s in patch[len(head):].split(b"\n" + head)]

    def attached(text: bytes, changes: list[Change]) -> list[tuple[str, int, list[bytes]]]:
        apply_patch_lines(changes, text)
        return [(c.path, c.added_lines, c.hunks) for c in changes]

    expected = attached(patch, parse_raw(raw))
    assert [n for _, n, _ in expected] == [1, 2, 3, 4, 5]
    for order in ([1, 0, 2, 3, 4], [0, 1, 2, 4, 3], [4, 3, 2, 1, 0]):
        assert attached(b"\n".join(sections[i] for i in order), parse_raw(raw)) == expected
    twice = parse_raw(raw)
    twice.insert(1, Change(twice[3].path, Status.MODIFIED, "100644", "100644", "1" * 40, "2" * 40))
    attached(patch, twice)  # like a lookup by path: the last change listed for a path gets its lines
    assert twice[1].hunks == [] and twice[4].added_lines == 4
    with pytest.raises(LanewardenError, match="leaves out 2 changed path"):
        apply_patch_lines(parse_raw(raw), b"\n".join(sections[:3]))
    with pytest.raises(LanewardenError, match="leaves out 2 changed path"):
        apply_patch_lines(parse_raw(raw), b"\n".join([sections[1], sections[0], sections[4]]))


def _plain(cut: Cut) -> tuple[object, ...]:
    """A cut patch with its errors as text (two exceptions never compare equal)."""
    return cut.size, cut.starts_with_head, [(*s[:5], repr(s.error)) for s in cut.sections]


def test_a_patch_cut_as_it_arrives_is_the_whole_patch_cut(repo: Path) -> None:
    # The cutter sees git's output in whatever pieces the file has when it looks: every way of
    # splitting the bytes (a separator or the first header torn in two, one byte at a time)
    # must give the sections cutting the finished patch gives, and so must the real thing.
    for i, name in enumerate(AWKWARD):
        _write(repo, name, "x\n" * (i + 1))
    _write(repo, NON_UTF8, "a\nb\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "awkward names")
    patch = git_bytes(repo, "diff", "-U0", "--no-renames", "HEAD~1", "HEAD")
    samples = [patch, b"", b"diff --gi", b"diff --git ", b"warning: x\n" + patch, patch[:len(patch) // 2],
               patch + b"\ndiff --git ", b'diff --git "a/\\5x" b/y\n@@ -0,0 +1 @@\n+\ndiff --git \ndiff --git ']
    rng = random.Random(11)
    for text in samples:
        for sizes in [(1,), (11, 12, 13), (1, 2, 3, 50, 4096), (1 << 20,)]:
            cutter, at = Cutter(), 0
            while at < len(text):
                n = rng.choice(sizes)
                cutter.feed(text[at:at + n])
                at += n
            assert _plain(cutter.finish()) == _plain(cut_whole(text)), (text[:40], sizes)
    assert cut_whole(samples[-1]).sections[0].error is not None  # a malformed quoted name, kept for attach
    handle = Git.discover(str(repo))
    trees = [git(repo, "rev-parse", f"{rev}^{{tree}}").strip() for rev in ("HEAD~1", "HEAD")]
    with tempfile.TemporaryFile() as out:
        handle.without_worktree().diff_zero_context_to_file(trees[0], trees[1], out)
        out.seek(0)
        whole = cut_whole(out.read())
    assert PendingPatch(handle.without_worktree(), trees[0], trees[1], None).wait() == whole
    assert len(whole.sections) == len(AWKWARD) + 1


def _change(i: int, hunks: list[bytes]) -> Change:
    ch = Change(f"f{i}", Status.MODIFIED, "100644", "100644", "1" * 40, "2" * 40)
    ch.hunks.extend(hunks)
    return ch


def test_one_marker_pass_finds_the_changes_the_per_change_test_finds() -> None:
    rng = random.Random(20)
    pieces = [b"\n@@ -1,0 +2 @@\n+x = 1", b"\n+y", b"AK", b"IA", b"ASIA", b"sk", b"-", b"xo", b"x", b"\n",
              b"gh", b"p_", b"PRIVATE", b" KEY", b"npm_", b"_live_", b"\n@@ -3 +3 @@\n-old\n+new"]
    changes = []
    for i in range(3000):
        hunks = [b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
                 for _ in range(rng.choice((0, 1, 1, 1, 2, 3)))]
        changes.append(_change(i, hunks))
    plain = {i for i, c in enumerate(changes) if any(secrets.might_hold_token(h) for h in c.hunks)}
    assert 0 < len(plain) < len(changes)
    assert secrets.suspects(changes) == plain


def test_a_marker_split_between_hunks_or_changes_is_neither() -> None:
    # The per-hunk test sees no marker in "AK" + "IA": neither must the joined pass.
    split = [_change(0, [b"\n+AK"]), _change(1, [b"IA\n+ok"]), _change(2, [b"\n+AK", b"IA"])]
    assert secrets.suspects(split) == set()
    # Overlapping markers, and a marker at the very start and end of the joined text.
    edges = [_change(0, [b"AKIASIA"]), _change(1, []), _change(2, [b"", b"\n+ok"]), _change(3, [b"x", b"npm_"])]
    assert secrets.suspects(edges) == {0, 3}


def test_a_token_among_many_changes_is_found_where_it_is(repo: Path) -> None:
    # Many changed files, the token in one with a quoted name, a marker only in another's path:
    # exactly the file with the token is flagged, by the token rule.
    for i in range(300):
        _write(repo, f"services/wallet-api/gen/f{i:03d}.txt", f"value {i}\n")
    _write(repo, "services/wallet-api/AKIA/ghp_name.txt", "nothing here\n")
    _write(repo, NON_UTF8, f"first line\nkey = '{TOKEN}'\n")
    v = _range_verdict(repo)
    flagged = {c.path: c.reasons for c in v.changes if any(r.startswith(secrets.MARK) for r in c.reasons)}
    found = "secret: a AWS access key id in an added line [rule aws-access-key-id]"
    assert flagged == {os.fsdecode(NON_UTF8): (found,)}
    assert v.decision.value == "reject"
