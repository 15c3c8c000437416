"""Every "refuse to guess" branch, driven to fail closed: an error or a doubt is never an accept.

The change reader's branches (``guards/changes.py``, ``guards/sources.py``) each refuse on their
own input. Where git cannot be made to produce that input, the test feeds them git's real output
for a real repository, cut or swapped, never an invented stand-in for git:

guards/changes.py
- unknown change status (`U`, `X`, new letters), `_status`: test_unmerged_status_is_refused
- raw output with an odd number of fields, `parse_raw`: test_truncated_raw_output_is_refused
- raw output that is not raw, `parse_raw`: test_raw_output_that_is_not_raw_is_refused
- no patch for a non-empty change, `apply_patch_lines`: test_missing_patch_is_refused
- a patch not starting with a header, `apply_patch_lines`: test_patch_with_a_preamble_is_refused
- a patch naming a path the list lacks, `apply_patch_lines`: test_patch_and_path_list_disagreeing_is_refused
- a patch leaving out a listed path, `apply_patch_lines`: test_patch_leaving_out_a_path_is_refused
- git failing while the patch is read, `PendingPatch`: test_patch_reader_failure_reaches_the_caller

guards/sources.py (and the revision and policy lookups they rely on)
- no merge base, `from_range`: test_no_merge_base_is_exit_2
- a shallow clone cutting the merge base off, `from_range`: test_shallow_history_is_exit_2
- criss-cross merge bases, `from_range`: test_guard_bypasses::test_criss_cross_merge_bases_fail_closed
- a revision that is not a commit, `Git.resolve_commit`: test_guard_bypasses::test_missing_base_revision
- an unmerged index, `from_index`: test_unmerged_index_is_exit_2
- work-tree mode on a bare repository, `from_worktree`: test_worktree_mode_on_a_bare_repository_is_exit_2
- a flagged file absent outside a sparse checkout counts as deleted, `from_worktree`:
  test_guard_bypasses::test_skip_worktree_cannot_hide_a_deletion_without_sparse_checkout
- a .gitignore differing from HEAD: no ignore rule is trusted, `_untracked`:
  test_guard_bypasses::test_untracked_out_of_scope_file_cannot_hide (and ..._staged_new_gitignore_...)
- an empty patch, `from_patch`: test_empty_patch_is_exit_2
- a patch that does not apply, `from_patch`: test_guard_bypasses::test_patch_out_of_scope_and_not_applying
- an unborn HEAD, no trusted policy, `engine.policy_for`: test_guard_bypasses::test_unborn_head

Then the engine (a crashing guard, a crashing classifier, no votes at all) and the error
boundary (interrupt, broken pipe, a bug).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import BIN, expect, git, git_bytes, git_env, lanewarden

if TYPE_CHECKING:
    from lanewarden.workers.git import Git

APP = "services/wallet-api/src/wallet_api/app.py"
KEYS = "services/kms-api/src/kms_api/keys.py"


@pytest.fixture(autouse=True)
def _sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return


def guard(repo: Path, *args: str, worker: str = "wallet-api", input: bytes | None = None) -> tuple[int, str]:
    result = lanewarden("guard", "--repo", str(repo), "--worker", worker, "--format", "json", *args, input=input)
    return result.exit_code, (result.stdout if result.exit_code in (0, 1, 3) else result.stderr)


def append(repo: Path, rel: str, text: str = "# touched\n") -> None:
    with open(repo / rel, "a", encoding="utf-8") as fh:
        fh.write(text)


def handle(repo: Path) -> Git:
    from lanewarden.workers.git import Git

    return Git.discover(repo)


def raw_and_patch(repo: Path) -> tuple[bytes, bytes, str, str]:
    """git's own raw path list and -U0 patch for a two-file change (HEAD~1..HEAD)."""
    append(repo, APP)
    append(repo, KEYS)
    git(repo, "commit", "-qam", "two files")
    g = handle(repo)
    old, new = g.tree_of(g.resolve_commit("HEAD~1")), g.tree_of(g.resolve_commit("HEAD"))
    raw = git_bytes(repo, "diff-tree", "-r", "--no-renames", "--raw", "-z", old, new)
    patch = git_bytes(repo, "diff", "--no-renames", "-p", "-U0", "--text", "--src-prefix=a/", "--dst-prefix=b/",
                      old, new)
    return raw, patch, old, new


# -- the change reader ------------------------------------------------------------------

def _conflict(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    append(repo, APP, "a = 1\n")
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    append(repo, APP, "a = 2\n")
    git(repo, "commit", "-qam", "main")
    git(repo, "merge", "-q", "other", check=False)  # stops on the conflict
    assert "UU" in git(repo, "status", "--porcelain")


def test_unmerged_status_is_refused(repo: Path) -> None:
    from lanewarden.guards.changes import parse_raw
    from lanewarden.workers.errors import LanewardenError

    _conflict(repo)
    raw = git_bytes(repo, "diff-files", "--raw", "-z")  # git's own report of the unmerged path
    assert b" U\0" in raw
    with pytest.raises(LanewardenError, match=r"change status 'U'.*does not know"):
        parse_raw(raw)


def test_unmerged_index_is_exit_2(repo: Path) -> None:
    _conflict(repo)
    code, err = guard(repo, "--staged")
    assert code == 2 and "resolve merge conflicts" in err, err


def test_truncated_raw_output_is_refused(repo: Path) -> None:
    from lanewarden.guards.changes import parse_raw
    from lanewarden.workers.errors import LanewardenError

    raw, _, _, _ = raw_and_patch(repo)
    cut = raw[:raw.rindex(b"\0", 0, len(raw) - 1) + 1]  # the last path is gone
    with pytest.raises(LanewardenError, match="truncated git diff output; refusing to guess"):
        parse_raw(cut)


def test_raw_output_that_is_not_raw_is_refused(repo: Path) -> None:
    from lanewarden.guards.changes import parse_raw
    from lanewarden.workers.errors import LanewardenError

    raw, _, _, _ = raw_and_patch(repo)
    fields = raw.split(b"\0")
    swapped = b"\0".join([fields[1], fields[0], *fields[2:]])  # a path where the metadata belongs
    with pytest.raises(LanewardenError, match="unexpected git diff output"):
        parse_raw(swapped)


def test_missing_patch_is_refused(repo: Path) -> None:
    from lanewarden.guards.changes import apply_patch_lines, parse_raw
    from lanewarden.workers.errors import LanewardenError

    raw, _, _, _ = raw_and_patch(repo)
    with pytest.raises(LanewardenError, match="no patch for a non-empty change"):
        apply_patch_lines(parse_raw(raw), b"")


def test_patch_with_a_preamble_is_refused(repo: Path) -> None:
    from lanewarden.guards.changes import apply_patch_lines, parse_raw
    from lanewarden.workers.errors import LanewardenError

    raw, patch, _, _ = raw_and_patch(repo)
    with pytest.raises(LanewardenError, match="unexpected patch output"):
        apply_patch_lines(parse_raw(raw), b"warning: something\n" + patch)


def test_patch_and_path_list_disagreeing_is_refused(repo: Path) -> None:
    from lanewarden.guards.changes import apply_patch_lines, parse_raw
    from lanewarden.workers.errors import LanewardenError

    raw, patch, _, _ = raw_and_patch(repo)
    only_app = [c for c in parse_raw(raw) if c.path == APP]
    with pytest.raises(LanewardenError, match="patch and path list disagree"):
        apply_patch_lines(only_app, patch)


def test_patch_leaving_out_a_path_is_refused(repo: Path) -> None:
    from lanewarden.guards.changes import apply_patch_lines, parse_raw
    from lanewarden.workers.errors import LanewardenError

    raw, patch, old, new = raw_and_patch(repo)
    partial = git_bytes(repo, "diff", "--no-renames", "-p", "-U0", "--text", "--src-prefix=a/",
                        "--dst-prefix=b/", old, new, "--", APP)
    assert partial and partial != patch
    with pytest.raises(LanewardenError, match=r"leaves out 1 changed path.*refusing to guess"):
        apply_patch_lines(parse_raw(raw), partial)


def test_patch_reader_failure_reaches_the_caller(repo: Path) -> None:
    from lanewarden.guards.changes import PendingPatch
    from lanewarden.workers.errors import GitError

    pending = PendingPatch(handle(repo), "0" * 40, "1" * 40, None)  # trees that do not exist
    with pytest.raises(GitError):
        pending.wait()


def test_no_merge_base_is_exit_2(repo: Path) -> None:
    git(repo, "checkout", "-q", "--orphan", "island")
    git(repo, "commit", "-q", "-m", "unrelated history")
    code, err = guard(repo, "--base", "main", "--head", "island")
    assert code == 2 and "share no history (no merge base)" in err, err


def test_shallow_history_is_exit_2(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "-b", "topic")
    append(repo, APP)
    git(repo, "commit", "-qam", "topic")
    git(repo, "checkout", "-q", "main")
    append(repo, "README.md")
    git(repo, "commit", "-qam", "main moves on")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", f"file://{repo}", str(shallow))
    git(shallow, "branch", "-q", "topic", "origin/topic")
    assert (shallow / ".git" / "shallow").is_file()
    code, err = guard(shallow, "--base", "main", "--head", "topic")
    assert code == 2 and "shallow clone" in err and "--unshallow" in err, err


def test_worktree_mode_on_a_bare_repository_is_exit_2(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    code, err = guard(bare, "--worktree")
    assert code == 2 and "needs a work tree" in err, err


def test_empty_patch_is_exit_2(repo: Path) -> None:
    code, err = guard(repo, "--patch", "-", input=b"\n")
    assert code == 2 and "the patch is empty" in err, err


# -- the engine ----------------------------------------------------------------------------

def _boom(ctx: object) -> object:
    raise RuntimeError("guard bug")


def test_a_crashing_guard_votes_abstain_never_accept(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lanewarden.guards import panel

    append(repo, APP)
    code, out = guard(repo, "--worktree")
    assert code == 0, out  # control: the same change is accepted by the real guards
    monkeypatch.setattr(panel, "GUARDS", (*panel.GUARDS, ("boom", _boom)))
    code, out = guard(repo, "--worktree")
    verdict = json.loads(out)
    assert code == 3 and verdict["decision"] == "revision", verdict
    boom = [v for v in verdict["votes"] if v["guard"] == "boom"]
    assert boom == [{"guard": "boom", "vote": "abstain", "reasons": ["guard crashed: RuntimeError: guard bug"]}]


def test_a_crashing_guard_leaves_a_reject_standing(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lanewarden.guards import panel

    monkeypatch.setattr(panel, "GUARDS", (("boom", _boom), *panel.GUARDS))
    append(repo, KEYS)
    code, out = guard(repo, "--worktree")
    assert code == 1 and json.loads(out)["decision"] == "reject"


def test_a_crashing_classifier_leaves_nothing_writable(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lanewarden.guards import scope

    def broken(ctx: object) -> None:
        raise KeyError("classifier bug")

    monkeypatch.setattr(scope, "classify", broken)
    append(repo, APP)
    code, out = guard(repo, "--worktree")
    verdict = json.loads(out)
    assert code == 3 and verdict["decision"] == "revision", verdict
    votes = {v["guard"]: v["vote"] for v in verdict["votes"]}
    assert votes["classify"] == "abstain" and votes["scope"] == "abstain"
    (app,) = verdict["changes"]
    assert app["class"] == "out_of_scope" and app["rule"] == "unclassified"


def test_a_pattern_that_folds_into_a_reversed_range_does_not_crash_the_classifier(repo: Path) -> None:
    # `[Z-a]` is a valid range; folded it would be `[z-a]`, which is not. The fold check keeps such
    # brackets as written instead of crashing every guard run into a revision.
    policy = (repo / "lanewarden.yaml").read_text()
    (repo / "lanewarden.yaml").write_text(policy.replace(
        'deny: ["services/wallet-api/secrets/**"]', 'deny: ["services/wallet-api/secrets/**", "x/[Z-a]/**"]', 1))
    git(repo, "commit", "-qam", "odd range")
    append(repo, APP)
    (repo / "services/wallet-api/Upper.md").write_text("x\n")
    code, out = guard(repo, "--worktree")
    assert code == 0, out


def test_no_votes_is_not_an_accept() -> None:
    from lanewarden.guards.verdict import Decision, consensus

    assert consensus([]) is Decision.REVISION


# -- the error boundary ------------------------------------------------------------------

def _cli(repo: Path, *args: str, stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    env = git_env()
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_STATE_HOME"] = os.environ["XDG_STATE_HOME"]
    return subprocess.run([str(BIN / "lanewarden"), *args, "--repo", str(repo)], env=env, stdout=stdout,
                          stderr=subprocess.PIPE, check=False)


def test_interrupt_exits_130_not_an_accept(repo: Path) -> None:
    # A reviewer that interrupts the lanewarden process that started it: Ctrl-C mid-guard, no race.
    policy = (repo / "lanewarden.yaml").read_text()
    (repo / "lanewarden.yaml").write_text(
        policy + 'reviewers:\n  ctrl-c:\n    command: ["sh", "-c", "kill -INT $PPID; sleep 2"]\n')
    git(repo, "commit", "-qam", "a reviewer that presses Ctrl-C")
    append(repo, APP)
    proc = _cli(repo, "guard", "--worker", "wallet-api", "--worktree")
    assert proc.returncode == 130, proc.stderr
    assert b"interrupted" in proc.stderr and proc.stdout == b""


def test_broken_pipe_is_never_exit_0(repo: Path) -> None:
    # The reader of a rejecting guard's output is gone before it writes: the reject was never
    # delivered, so the exit code must not read as an accept either.
    append(repo, KEYS)
    read, write = os.pipe()
    os.close(read)
    try:
        proc = _cli(repo, "guard", "--worker", "wallet-api", "--worktree", stdout=write)
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert b"Traceback" not in proc.stderr


def test_a_bug_exits_4_with_a_log(repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from lanewarden.guards import sources

    def broken(*args: object) -> object:
        raise ZeroDivisionError("reader bug")

    monkeypatch.setattr(sources, "from_worktree", broken)
    result = lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--worktree")
    expect(result, 4)
    assert "this is a bug, traceback in" in result.stderr
    logs = list((tmp_path / "state" / "lanewarden").glob("lanewarden-crash-*.log"))
    assert len(logs) == 1 and "ZeroDivisionError: reader bug" in logs[0].read_text()


def test_a_staged_entry_whose_blob_is_missing_is_never_accepted(repo: Path) -> None:
    # guard --staged writes the index's tree without looking up every object (--missing-ok);
    # a staged blob that does not exist must still stop the guard, as write-tree used to.
    path = "services/wallet-api/src/wallet_api/app.py"
    git(repo, "update-index", "--cacheinfo", f"100644,{'1' * 40},{path}")
    result = lanewarden("guard", "--repo", str(repo), "--staged", "--worker", "wallet-api", "--format", "json")
    assert result.exit_code != 0, result.output
    assert '"decision":"accept"' not in result.output.replace(" ", "")


def test_the_console_script_skips_teardown_but_keeps_exit_codes_output_and_atexit(repo: Path,
                                                                                   tmp_path: Path) -> None:
    # main() leaves with os._exit after the command: the exit code, every byte of output and the
    # atexit handlers must survive that, as they would a normal interpreter exit.
    marker = tmp_path / "atexit-ran"
    script = ("import atexit, pathlib, sys\n"
              f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'yes')\n"
              "from lanewarden.orchestrator.cli import main\n"
              "sys.argv = ['lanewarden', *sys.argv[1:]]\nmain()\n")

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-c", script, *args], cwd=repo, env=git_env(),
                              capture_output=True, check=False)

    listed = run("explain", "-", "--format", "json")
    assert listed.returncode == 0 and listed.stdout == b""  # nothing on stdin: nothing to explain
    big = subprocess.run([sys.executable, "-c", script, "explain", "-", "--format", "json"], cwd=repo,
                         env=git_env(), input=b"".join(b"services/wallet-api/f%d.py\n" % i for i in range(20_000)),
                         capture_output=True, check=False)
    lines = big.stdout.splitlines()
    assert big.returncode == 0 and len(lines) == 20_000 and json.loads(lines[-1])["path"].endswith("f19999.py")
    assert marker.read_text() == "yes"
    assert run("guard", "--worker", "nobody-at-all", "--staged").returncode == 2  # a usage error stays 2
    assert run("no-such-command").returncode == 2
