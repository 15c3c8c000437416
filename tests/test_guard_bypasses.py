"""Bypass attempts against the diff guard, each on a real repository with real git.

Every test tries one way an agent could sneak an out-of-lane change past
``lanewarden guard`` (see /work/shared/NOTES.md) and asserts the guard still
sees the real change set and answers with the right exit code. Nothing here is
mocked: the repository is built by the ``repo`` fixture and the CLI runs
in-process through ``lanewarden()``.
"""
from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import git, lanewarden

WORKER = "wallet-api"
KEYS = "services/kms-api/src/kms_api/keys.py"
SERVER = "services/kms-api/src/kms_api/server.py"
APP = "services/wallet-api/src/wallet_api/app.py"
RELEASE = "tools/release.sh"
POLICY = "lanewarden.yaml"


# -- helpers -----------------------------------------------------------------

@pytest.fixture(autouse=True)
def _sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Crash logs and the current folder stay inside tmp_path."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return


def verdict(repo: Path, *args: str, worker: str | None = WORKER,
            input: str | bytes | None = None) -> tuple[int, Any]:
    """Run the guard with --format json: (exit code, parsed verdict) or (exit code, stderr)."""
    argv = ["guard", "--repo", str(repo), "--format", "json"]
    if worker is not None:
        argv += ["--worker", worker]
    result = lanewarden(*argv, *args, input=input)
    if result.exit_code in (0, 1, 3):
        try:
            data = json.loads(result.stdout)
        except ValueError:
            return result.exit_code, f"no JSON on stdout: {result.stdout!r} / {result.stderr!r}"
        assert data["exit_code"] == result.exit_code, data
        return result.exit_code, data
    return result.exit_code, result.stderr


def write(repo: Path, rel: str, content: str | bytes = "x = 1\n") -> Path:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def append(repo: Path, rel: str, text: str = "# touched\n") -> None:
    with open(repo / rel, "a", encoding="utf-8") as fh:
        fh.write(text)


def commit_on_branch(repo: Path, files: dict[str, str | bytes] | None = None,
                     branch: str = "topic", message: str = "topic") -> str:
    """Create ``branch``, write ``files``, stage everything, commit; returns the commit id."""
    git(repo, "checkout", "-q", "-b", branch)
    for rel, content in (files or {}).items():
        write(repo, rel, content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def three_modes(repo: Path) -> dict[str, tuple[int, Any]]:
    """Guard the uncommitted state as work tree, then staged (add -A), then committed on a branch."""
    out = {"worktree": verdict(repo, "--worktree")}
    git(repo, "add", "-A")
    out["staged"] = verdict(repo, "--staged")
    commit_on_branch(repo)
    out["range"] = verdict(repo, "--base", "main")
    return out


def change(v: dict[str, Any], path: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in v["changes"] if c["path"] == path]
    assert len(found) == 1, f"{path!r} reported {len(found)} times in {[c['path'] for c in v['changes']]}"
    return found[0]


def paths(v: dict[str, Any]) -> set[str]:
    return {c["path"] for c in v["changes"]}


def vote(v: dict[str, Any], guard: str) -> str:
    votes: list[str] = [x["vote"] for x in v["votes"] if x["guard"] == guard]
    assert len(votes) == 1, v["votes"]
    return votes[0]


def _label(v: Any) -> str:
    return f"mode {v.get('mode')}: " if isinstance(v, dict) else ""


def rejected(result: tuple[int, Any], *must_see: str) -> dict[str, Any]:
    """Assert exit 1 with a JSON verdict that lists every path in ``must_see``."""
    code, v = result
    assert code == 1, (_label(v), v)
    assert isinstance(v, dict) and v["decision"] == "reject"
    missing = set(must_see) - paths(v)
    assert not missing, f"{_label(v)}not reported: {missing}; reported: {sorted(paths(v))}"
    return v


def accepted(result: tuple[int, Any]) -> dict[str, Any]:
    code, v = result
    assert code == 0, (_label(v), v)
    assert isinstance(v, dict) and v["decision"] == "accept"
    return v


# -- 1. renames --------------------------------------------------------------

def test_rename_out_of_scope_into_scope_reports_both_sides(repo: Path) -> None:
    # Bypass: a rename shows only its (allowed) target in rename-detecting diffs.
    git(repo, "checkout", "-q", "-b", "topic")
    git(repo, "mv", KEYS, "services/wallet-api/keys.py")
    staged = verdict(repo, "--staged")
    worktree = verdict(repo, "--worktree")
    git(repo, "commit", "-q", "-m", "move")
    ranged = verdict(repo, "--base", "main")
    for mode, result in (("range", ranged), ("staged", staged), ("worktree", worktree)):
        v = rejected(result, KEYS, "services/wallet-api/keys.py")
        src, dst = change(v, KEYS), change(v, "services/wallet-api/keys.py")
        assert src["status"] == "deleted", mode
        assert src["class"] == "out_of_scope", mode
        assert src["renamed_to"] == "services/wallet-api/keys.py", mode
        assert dst["renamed_from"] == KEYS, mode
        assert dst["class"] == "writable", mode


# -- 2. deletions ------------------------------------------------------------

def test_deleting_out_of_scope_file_is_rejected(repo: Path) -> None:
    # Bypass: deletions disappear from "what did you add/modify" checks.
    git(repo, "rm", "-q", RELEASE)
    for mode, result in (("worktree", verdict(repo, "--worktree")), ("staged", verdict(repo, "--staged"))):
        c = change(rejected(result, RELEASE), RELEASE)
        assert (c["status"], c["class"]) == ("deleted", "out_of_scope"), mode
    commit_on_branch(repo)
    c = change(rejected(verdict(repo, "--base", "main"), RELEASE), RELEASE)
    assert (c["status"], c["class"]) == ("deleted", "out_of_scope")


def test_deleting_the_policy_is_protected(repo: Path) -> None:
    # Bypass: remove the policy so nothing constrains the worker.
    (repo / POLICY).unlink()
    for mode, result in three_modes(repo).items():
        c = change(rejected(result, POLICY), POLICY)
        assert (c["status"], c["class"]) == ("deleted", "protected"), mode


# -- 3. mode changes ---------------------------------------------------------

def test_chmod_only_out_of_scope_is_rejected(repo: Path) -> None:
    # Bypass: a mode-only change has no content diff and no name in --stat.
    target = repo / KEYS
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    for mode, result in three_modes(repo).items():
        c = change(rejected(result, KEYS), KEYS)
        assert c["status"] == "mode_changed", mode
        assert (c["old_mode"], c["new_mode"]) == ("100644", "100755"), mode
        assert c["class"] == "out_of_scope", mode


def test_chmod_in_scope_is_accepted(repo: Path) -> None:
    # Control: a mode change inside the lane is fine.
    target = repo / APP
    target.chmod(target.stat().st_mode | stat.S_IXUSR)
    for mode, result in three_modes(repo).items():
        c = change(accepted(result), APP)
        assert c["status"] == "mode_changed", mode


# -- 4./5. symlinks ----------------------------------------------------------

def test_file_replaced_by_symlink_out_of_scope(repo: Path) -> None:
    # Bypass: an in-scope file becomes a symlink into another worker's code.
    (repo / APP).unlink()
    os.symlink("../../../kms-api/src/kms_api/keys.py", repo / APP)
    for mode, result in three_modes(repo).items():
        c = change(rejected(result, APP), APP)
        assert c["status"] == "type_changed", mode
        assert (c["old_mode"], c["new_mode"]) == ("100644", "120000"), mode
        assert c["class"] == "protected", mode


@pytest.mark.parametrize("target", ["../kms-api", "/etc/passwd", "../../../../outside",
                                    "secrets/key.txt", "../../.git/config"])
def test_new_symlink_leaving_scope_is_rejected(repo: Path, target: str) -> None:
    # Bypass: a new in-scope symlink whose target is out of scope or outside the repo.
    os.symlink(target, repo / "services/wallet-api/link")
    for mode, result in three_modes(repo).items():
        c = change(rejected(result, "services/wallet-api/link"), "services/wallet-api/link")
        assert c["class"] == "protected", mode
        assert c["new_mode"] == "120000", mode


def test_symlink_within_scope_is_accepted(repo: Path) -> None:
    # Control: an in-scope symlink to an in-scope file.
    os.symlink("src/wallet_api/app.py", repo / "services/wallet-api/alias.py")
    for mode, result in three_modes(repo).items():
        c = change(accepted(result), "services/wallet-api/alias.py")
        assert c["class"] == "writable", mode


# -- 6. submodules -----------------------------------------------------------

def _sub_repo(tmp_path: Path) -> Path:
    sub = tmp_path / "subsrc"
    sub.mkdir()
    git(sub, "init", "-q")
    write(sub, "lib.txt", "v1\n")
    git(sub, "add", "-A")
    git(sub, "commit", "-q", "-m", "v1")
    return sub


def _bump(checkout: Path, text: str) -> None:
    write(checkout, "lib.txt", text)
    git(checkout, "commit", "-q", "-am", text.strip())


def _ignore_all(repo: Path) -> None:
    gm = repo / ".gitmodules"
    gm.write_text(gm.read_text() + "\tignore = all\n")
    git(repo, "config", "diff.ignoreSubmodules", "all")
    git(repo, "config", "submodule.services/kms-api/vendor/sub.ignore", "all")


def test_submodule_bump_hidden_by_ignore_all(repo: Path, tmp_path: Path) -> None:
    # Bypass: .gitmodules ignore=all and diff.ignoreSubmodules hide a submodule pointer bump.
    sub = _sub_repo(tmp_path)
    path = "services/kms-api/vendor/sub"
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), path)
    git(repo, "commit", "-q", "-m", "add submodule")
    git(repo, "checkout", "-q", "-b", "topic")
    _bump(repo / path, "v2\n")
    git(repo, "add", path)
    _ignore_all(repo)
    git(repo, "add", ".gitmodules")
    git(repo, "commit", "-q", "-m", "bump, hidden")
    assert git(repo, "diff", "--name-only", "main", "HEAD").strip() == ".gitmodules"  # git itself is fooled
    v = rejected(verdict(repo, "--base", "main"), path)
    c = change(v, path)
    assert (c["status"], c["class"]) == ("submodule", "out_of_scope")
    assert change(v, ".gitmodules")["class"] == "protected"
    # Uncommitted bump in the work tree, .gitmodules unchanged from HEAD (ignore=all already there).
    _bump(repo / path, "v3\n")
    assert git(repo, "status", "--porcelain").strip() == ""  # git itself is fooled
    c = change(rejected(verdict(repo, "--worktree"), path), path)
    assert (c["status"], c["class"]) == ("submodule", "out_of_scope")
    git(repo, "add", path)
    c = change(rejected(verdict(repo, "--staged"), path), path)
    assert (c["status"], c["class"]) == ("submodule", "out_of_scope")


# -- 7. untracked files hidden from status ----------------------------------

def _hide(repo: Path, tmp_path: Path, rel: str, hider: str) -> None:
    """Hide the untracked file ``rel`` from `git status` in one of several ways."""
    if hider == "showUntrackedFiles":
        git(repo, "config", "status.showUntrackedFiles", "no")
    elif hider == "info_exclude":
        write(repo, ".git/info/exclude", rel + "\n")
    elif hider == "excludesFile":
        write(tmp_path, "global-ignore", rel + "\n")
        git(repo, "config", "core.excludesFile", str(tmp_path / "global-ignore"))
    elif hider == "new_gitignore":  # ignores itself too
        write(repo, "services/kms-api/.gitignore", "*\n")
    elif hider == "new_gitignore_not_self":
        write(repo, "services/kms-api/.gitignore", "*.py\n")
    elif hider == "modified_gitignore":
        append(repo, ".gitignore", "services/kms-api/\n")
    else:
        raise AssertionError(hider)


HIDERS = ("showUntrackedFiles", "info_exclude", "excludesFile", "new_gitignore", "new_gitignore_not_self",
          "modified_gitignore")


@pytest.mark.parametrize("hider", HIDERS)
def test_untracked_out_of_scope_file_cannot_hide(repo: Path, tmp_path: Path, hider: str) -> None:
    # Bypass: git status settings and uncommitted ignore files hide a new out-of-scope file.
    rel = "services/kms-api/src/kms_api/backdoor.py"
    write(repo, rel, "EVIL = True\n")
    _hide(repo, tmp_path, rel, hider)
    assert rel not in git(repo, "status", "--porcelain")  # git itself is fooled
    c = change(rejected(verdict(repo, "--worktree"), rel), rel)
    assert (c["status"], c["class"]) == ("untracked", "out_of_scope")


def test_committed_gitignore_is_honoured(repo: Path) -> None:
    # Control: files ignored by a .gitignore committed in HEAD are build output, not changes.
    write(repo, "services/kms-api/src/kms_api/__pycache__/keys.cpython-311.pyc", b"\x00pyc")
    write(repo, "services/kms-api/stale.pyc", b"\x00pyc")
    append(repo, APP)
    v = accepted(verdict(repo, "--worktree"))
    assert paths(v) == {APP}


def test_staged_new_gitignore_cannot_hide_untracked(repo: Path) -> None:
    # Bypass: a NEW .gitignore that is staged (so not untracked) but not in HEAD hides new files.
    write(repo, "services/kms-api/.gitignore", "*.py\n")
    git(repo, "add", "services/kms-api/.gitignore")
    rel = "services/kms-api/src/kms_api/backdoor.py"
    write(repo, rel, "EVIL = True\n")
    v = rejected(verdict(repo, "--worktree"), rel, "services/kms-api/.gitignore")
    assert change(v, rel)["class"] == "out_of_scope"


def test_staged_new_file_is_seen_in_worktree_mode(repo: Path) -> None:
    # Bypass: `git add` a new out-of-scope file: it is no longer untracked, and not in HEAD either.
    rel = "services/kms-api/src/kms_api/backdoor.py"
    write(repo, rel, "EVIL = True\n")
    git(repo, "add", rel)
    c = change(rejected(verdict(repo, "--worktree"), rel), rel)
    assert c["class"] == "out_of_scope"
    assert c["status"] in ("added", "untracked")


def test_staged_deletion_recreated_is_not_a_change(repo: Path) -> None:
    # Control for the above: `git rm --cached` + file still on disk equals HEAD in the work tree.
    append(repo, APP)
    git(repo, "rm", "-q", "--cached", RELEASE)
    v = verdict(repo, "--worktree")
    # The work tree still holds the file as in HEAD: worktree mode may report it or not, never accept
    # a change to it silently; the staged view certainly reports the deletion.
    assert v[0] in (0, 1)
    c = change(rejected(verdict(repo, "--staged"), RELEASE), RELEASE)
    assert c["status"] == "deleted"


# -- 8. index flags and stat tricks -----------------------------------------

@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_index_flag_cannot_hide_edit(repo: Path, flag: str) -> None:
    # Bypass: update-index flags make status and diff skip an edited out-of-scope file.
    git(repo, "update-index", flag, KEYS)
    append(repo, KEYS, "BACKDOOR = 1\n")
    assert git(repo, "status", "--porcelain").strip() == ""  # git itself is fooled
    c = change(rejected(verdict(repo, "--worktree"), KEYS), KEYS)
    assert (c["status"], c["class"]) == ("modified", "out_of_scope")


@pytest.mark.parametrize("config", [None, ("core.checkStat", "minimal"), ("core.trustctime", "false"),
                                    ("core.ignoreStat", "true")])
def test_same_size_same_mtime_edit_is_seen(repo: Path, config: tuple[str, str] | None) -> None:
    # Bypass: a same-size edit with the old mtime restored looks clean to git's stat check.
    if config:
        git(repo, "config", *config)
    git(repo, "status", "--porcelain")  # refresh the real index so its stat data is current
    target = repo / KEYS
    before = target.stat()
    data = bytearray(target.read_bytes())
    data[0] = ord("X") if data[0] != ord("X") else ord("Y")
    target.write_bytes(bytes(data))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_size == before.st_size
    c = change(rejected(verdict(repo, "--worktree"), KEYS), KEYS)
    assert (c["status"], c["class"]) == ("modified", "out_of_scope")


# -- 9. diff.relative --------------------------------------------------------

def test_diff_relative_from_subdirectory(repo: Path) -> None:
    # Bypass: diff.relative=true hides every path outside the folder the guard runs from.
    git(repo, "config", "diff.relative", "true")
    append(repo, KEYS)
    append(repo, APP)
    sub = repo / "services/wallet-api"
    assert "kms-api" not in git(sub, "diff", "--name-only")  # git itself is fooled
    v = rejected(verdict(sub, "--worktree"), KEYS, APP)
    assert change(v, KEYS)["class"] == "out_of_scope"
    git(repo, "add", "-A")
    rejected(verdict(sub, "--staged"), KEYS, APP)
    commit_on_branch(repo)
    rejected(verdict(sub, "--base", "main"), KEYS, APP)


def test_core_worktree_elsewhere(repo: Path, tmp_path: Path) -> None:
    # Bypass: core.worktree pointing at a clean copy makes status look clean.
    elsewhere = tmp_path / "elsewhere"
    git(repo, "worktree", "list")
    git(repo, "archive", "--format=tar", "-o", str(tmp_path / "clean.tar"), "HEAD")
    elsewhere.mkdir()
    import tarfile

    with tarfile.open(tmp_path / "clean.tar") as tar:
        tar.extractall(elsewhere, filter="data")
    append(repo, KEYS)
    git(repo, "config", "core.worktree", str(elsewhere))
    rejected(verdict(repo, "--worktree"), KEYS)


# -- 10. code execution through repository config ---------------------------

def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.sh"
    path.write_text(f"#!/bin/sh\necho {name} \"$@\" >> {tmp_path / 'marker'}\n{body}\n")
    path.chmod(0o755)
    return path


HOOKS = ("pre-commit", "post-commit", "post-checkout", "post-index-change", "reference-transaction",
         "pre-auto-gc", "post-rewrite", "fsmonitor-watchman", "pre-push", "commit-msg")


def _arm(repo: Path, tmp_path: Path, vector: str) -> list[str]:
    """Configure one code-execution vector; returns a plain git command that does trigger it."""
    if vector == "fsmonitor":
        git(repo, "config", "core.fsmonitor", str(_script(tmp_path, "fsmonitor", "exit 0")))
        return ["status"]
    if vector == "filter":
        s = _script(tmp_path, "filter", "cat")
        for part in ("clean", "smudge"):
            git(repo, "config", f"filter.evil.{part}", str(s))
        git(repo, "config", "filter.evil.required", "true")
        return ["add", "-A"]
    if vector == "filter_with_equals_in_name":
        s = _script(tmp_path, "filter", "cat")
        git(repo, "config", "filter.x=y.clean", str(s))
        return ["add", "-A"]
    if vector == "filter_process":
        git(repo, "config", "filter.evil.process", str(_script(tmp_path, "process", "exit 1")))
        return ["add", "-A"]
    if vector == "diff_external":
        git(repo, "config", "diff.external", str(_script(tmp_path, "external", "exit 0")))
        return ["diff"]
    if vector == "diff_driver_command":
        git(repo, "config", "diff.evil.command", str(_script(tmp_path, "command", "exit 0")))
        return ["diff"]
    if vector == "textconv":
        git(repo, "config", "diff.evil.textconv", str(_script(tmp_path, "textconv", 'cat "$1"')))
        return ["diff"]
    if vector == "hooks":
        hooks = tmp_path / "hooks"
        hooks.mkdir()
        for name in HOOKS:
            _script(hooks, name, "exit 0")
            os.rename(hooks / f"{name}.sh", hooks / name)
        git(repo, "config", "core.hooksPath", str(hooks))
        return ["commit", "-q", "--allow-empty", "-m", "trigger"]
    raise AssertionError(vector)


@pytest.mark.parametrize("vector", ["fsmonitor", "filter", "filter_with_equals_in_name", "filter_process",
                                    "diff_external", "diff_driver_command", "textconv", "hooks"])
def test_repository_config_cannot_run_code(repo: Path, tmp_path: Path, vector: str) -> None:
    # Bypass: repository config makes git run an agent's script inside the guard.
    attrs = "* filter=x=y diff=evil\n" if vector == "filter_with_equals_in_name" else "* filter=evil diff=evil\n"
    commit_on_branch(repo, {".gitattributes": attrs, KEYS: "BACKDOOR = 1\n"})
    append(repo, RELEASE, "echo staged\n")
    git(repo, "add", RELEASE)
    append(repo, SERVER, "WORKTREE = 1\n")
    trigger = _arm(repo, tmp_path, vector)
    marker = tmp_path / "marker"
    hooks_marker = tmp_path / "hooks" / "marker"
    results = {
        "worktree": verdict(repo, "--worktree"),
        "staged": verdict(repo, "--staged"),
        "range": verdict(repo, "--base", "main"),
        "patch": verdict(repo, "--patch", "-", input=b"diff --git a/services/wallet-api/n.txt "
                         b"b/services/wallet-api/n.txt\nnew file mode 100644\n--- /dev/null\n"
                         b"+++ b/services/wallet-api/n.txt\n@@ -0,0 +1 @@\n+hi\n"),
    }
    ran = [m.read_text() for m in (marker, hooks_marker) if m.exists()]
    assert not ran, f"the guard ran repository-configured code: {ran}"
    rejected(results["worktree"], SERVER, RELEASE)
    rejected(results["staged"], RELEASE)
    rejected(results["range"], KEYS)
    accepted(results["patch"])
    # The trap is real: plain git does run the script.
    git(repo, *trigger, check=False)
    assert marker.exists() or hooks_marker.exists(), "test setup: the vector was never armed"


def test_filter_named_with_equals_cannot_hide_edit(repo: Path, tmp_path: Path) -> None:
    # Bypass: a clean filter whose name contains '=' escapes `-c filter.<name>.clean=` neutralising
    # and rewrites an edited out-of-scope file back to its HEAD content while the guard hashes it.
    commit_on_branch(repo, {".gitattributes": "* filter=x=y\n"})
    script = tmp_path / "unedit.sh"
    script.write_text(f'#!/bin/sh\necho ran >> {tmp_path / "marker"}\nexec git cat-file blob "HEAD:$1"\n')
    script.chmod(0o755)
    git(repo, "config", "filter.x=y.clean", f"{script} %f")
    append(repo, KEYS, "BACKDOOR = 1\n")
    result = verdict(repo, "--worktree")
    assert not (tmp_path / "marker").exists(), "the guard ran a repository-configured clean filter"
    assert change(rejected(result, KEYS), KEYS)["class"] == "out_of_scope"


# -- 11. replace refs --------------------------------------------------------

def test_replace_ref_cannot_hide_range_change(repo: Path) -> None:
    # Bypass: `git replace` makes the branch head look like a commit without the change.
    head = commit_on_branch(repo, {KEYS: "BACKDOOR = 1\n"})
    git(repo, "replace", head, "main")
    assert git(repo, "diff", "--name-only", "main", "topic").strip() == ""  # git itself is fooled
    c = change(rejected(verdict(repo, "--base", "main"), KEYS), KEYS)
    assert c["class"] == "out_of_scope"


def test_replace_ref_cannot_fake_head_or_widen_policy(repo: Path) -> None:
    # Bypass: replace HEAD by a commit whose tree already holds the edit and a widened policy.
    append(repo, KEYS, "BACKDOOR = 1\n")
    policy = (repo / POLICY).read_text()
    widened = policy.replace('allow: ["services/wallet-api/**"]',
                             'allow: ["services/wallet-api/**", "services/kms-api/**"]', 1)
    assert widened != policy
    (repo / POLICY).write_text(widened)
    git(repo, "add", "-A")
    tree = git(repo, "write-tree").strip()
    fake = git(repo, "commit-tree", tree, "-p", "HEAD", "-m", "fake").strip()
    git(repo, "replace", "HEAD", fake)
    git(repo, "reset", "-q")
    (repo / POLICY).write_text(policy)  # only the edit stays in the work tree
    assert git(repo, "status", "--porcelain").strip() != ""
    c = change(rejected(verdict(repo, "--worktree"), KEYS), KEYS)
    assert c["class"] == "out_of_scope"


def _planted_root(repo: Path) -> tuple[str, str, str]:
    """main, a topic head with an in-lane and an out-of-lane edit, and a parentless root whose
    tree already holds the out-of-lane edit (the tree of main plus that edit)."""
    main = git(repo, "rev-parse", "main").strip()
    head = commit_on_branch(repo, {APP: "x = 2\n", KEYS: "BACKDOOR = 1\n"})
    git(repo, "checkout", "-q", "main")
    write(repo, KEYS, "BACKDOOR = 1\n")
    git(repo, "add", "-A")
    tree = git(repo, "write-tree").strip()
    git(repo, "reset", "-q", "--hard")
    root = git(repo, "commit-tree", tree, "-m", "planted root").strip()
    return main, head, root


def test_grafts_planted_root_cannot_move_the_merge_base(repo: Path) -> None:
    # Bypass (attack 8): info/grafts gives both sides a planted root whose tree already holds
    # the out-of-lane edit; the merge base moves to it and the range shows only the in-lane part.
    main, head, root = _planted_root(repo)
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "grafts").write_text(f"{head} {root}\n{main} {root}\n")
    # Control: the attack is live for git itself.
    assert git(repo, "merge-base", "main", "topic").strip() == root
    assert git(repo, "diff", "--name-only", "main...topic").split() == [APP]
    v = rejected(verdict(repo, "--base", "main", "--head", "topic"), KEYS, APP)
    assert change(v, KEYS)["class"] == "out_of_scope"
    assert any("info/grafts" in n and "ignored" in n for n in v["notes"]), v["notes"]


def test_grafts_leave_an_honest_range_alone(repo: Path) -> None:
    # Control: the same grafts file around an in-lane change: still the one real change, accepted.
    main = git(repo, "rev-parse", "main").strip()
    head = commit_on_branch(repo, {APP: "x = 2\n"})
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "grafts").write_text(f"{head} {main}\n")
    assert paths(accepted(verdict(repo, "--base", "main", "--head", "topic"))) == {APP}


def _forge_commit_graph(repo: Path, commits: list[str], child: str, parent: str) -> None:
    """Write a commit-graph for ``commits``, then point ``child``'s first parent at ``parent`` in it."""
    import struct

    git(repo, "commit-graph", "write", "--stdin-commits", input="\n".join(commits).encode())
    path = repo / ".git" / "objects" / "info" / "commit-graph"
    data = bytearray(path.read_bytes())
    chunks = {bytes(data[8 + 12 * i:12 + 12 * i]): struct.unpack(">Q", data[12 + 12 * i:20 + 12 * i])[0]
              for i in range(data[6] + 1)}
    oidl, cdat = chunks[b"OIDL"], chunks[b"CDAT"]
    oids = [bytes(data[oidl + 20 * i:oidl + 20 * i + 20]).hex() for i in range((cdat - oidl) // 20)]
    at = cdat + 36 * oids.index(child) + 20  # CDAT entry: tree id, then the first parent's position
    data[at:at + 4] = struct.pack(">I", oids.index(parent))
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def test_forged_commit_graph_cannot_rewrite_parents(repo: Path) -> None:
    # Bypass: a commit-graph file is a cache of parents git trusts without reading the commits.
    from lanewarden.workers.git import Git

    main, head, root = _planted_root(repo)
    _forge_commit_graph(repo, [main, head, root], head, root)
    # Control: git itself now believes the head's parent is the planted root.
    assert git(repo, "rev-list", "--parents", "-n", "1", head).split() == [head, root]
    assert Git.discover(repo).parents(head) == [main]
    c = change(rejected(verdict(repo, "--base", "main", "--head", "topic"), KEYS, APP), KEYS)
    assert c["class"] == "out_of_scope"


def test_history_caches_and_graft_files_are_pinned_off() -> None:
    # A forged commit-graph (or multi-pack index) would feed git parents it never reads from the
    # commits; GIT_GRAFT_FILE points below /dev/null, where no file can ever exist.
    from lanewarden.workers.git import _SAFE_CONFIG, clean_env

    assert {("core.commitGraph", "false"), ("core.multiPackIndex", "false")} <= set(_SAFE_CONFIG)
    graft = clean_env()["GIT_GRAFT_FILE"]
    assert graft.startswith(os.devnull + os.sep) and not os.path.exists(graft)


# -- 12. nasty path names ----------------------------------------------------

NASTY_IN_SCOPE = ["services/wallet-api/new\nline.txt", "services/wallet-api/tab\there.txt",
                  'services/wallet-api/quote"d.txt', "services/wallet-api/naïve.txt",
                  "services/wallet-api/sp ace b/x.txt", "services/wallet-api/-dash.txt"]


@pytest.mark.parametrize("name", NASTY_IN_SCOPE, ids=repr)
def test_nasty_names_in_scope_are_reported_exactly(repo: Path, name: str) -> None:
    # Bypass attempt on the parser: quoting/newlines could misname or drop a path.
    write(repo, name, "ok\n")
    for mode, result in three_modes(repo).items():
        v = accepted(result)
        assert paths(v) == {name}, mode


def test_non_utf8_name_in_scope(repo: Path) -> None:
    # Bypass attempt on decoding: a non-UTF-8 byte in a path must not crash or vanish.
    raw = os.fsencode(str(repo)) + b"/services/wallet-api/caf\xe9.txt"
    with open(raw, "wb") as fh:
        fh.write(b"ok\n")
    expected = os.fsdecode(b"services/wallet-api/caf\xe9.txt")
    for mode, result in three_modes(repo).items():
        v = accepted(result)
        assert [c["path"] for c in v["changes"]] == [expected], mode


def test_backslash_name_is_protected(repo: Path) -> None:
    # Bypass: a backslash is a separator on Windows (`wallet-api\..\..\kms-api`).
    name = "services/wallet-api/back\\slash.txt"
    write(repo, name, "x\n")
    for mode, result in three_modes(repo).items():
        assert change(rejected(result, name), name)["class"] == "protected", mode


@pytest.mark.parametrize("name", ["services/kms-api/evil\nname.py", "services/kms-api/t\tab.py",
                                  'services/kms-api/q"uote.py', "services/kms-api/naïve.py",
                                  "services/wallet-api\nservices/kms-api/x.py"], ids=repr)
def test_nasty_names_out_of_scope_are_rejected(repo: Path, name: str) -> None:
    # Bypass: a nasty name out of scope (or one that looks like two paths) must still reject.
    write(repo, name, "x\n")
    for mode, result in three_modes(repo).items():
        assert change(rejected(result, name), name)["class"] in ("out_of_scope", "protected"), mode


def test_non_utf8_name_out_of_scope(repo: Path) -> None:
    # Bypass: non-UTF-8 bytes in an out-of-scope name.
    with open(os.fsencode(str(repo)) + b"/services/kms-api/caf\xe9.py", "wb") as fh:
        fh.write(b"x\n")
    for result in three_modes(repo).values():
        rejected(result, os.fsdecode(b"services/kms-api/caf\xe9.py"))


# -- 13. case-only rename ----------------------------------------------------

def test_case_only_rename_with_ignorecase(repo: Path) -> None:
    # Bypass: core.ignorecase=true hides or re-cases a case-only rename.
    git(repo, "config", "core.ignorecase", "true")
    old, new = "services/kms-api/README.md", "services/kms-api/readme.md"
    git(repo, "checkout", "-q", "-b", "topic")
    git(repo, "mv", old, new)
    staged = verdict(repo, "--staged")
    worktree = verdict(repo, "--worktree")
    git(repo, "commit", "-q", "-m", "recase")
    for mode, result in (("range", verdict(repo, "--base", "main")), ("staged", staged),
                         ("worktree", worktree)):
        v = rejected(result, old, new)
        assert change(v, old)["class"] == "out_of_scope", mode
        assert change(v, new)["class"] == "out_of_scope", mode
        assert change(v, old)["status"] == "deleted", mode


# -- 13b. case and Unicode folding (attack 9) ---------------------------------
# Matching is byte-exact, as git's; on a case-insensitive or normalising checkout two paths that
# fold alike are one file. A path that collides, once folded, with a denied, protected or foreign
# path is rejected; the exact matcher still decides everything else.

def _widen_policy(repo: Path, extra: str, deny: str | None = None) -> None:
    policy = (repo / POLICY).read_text()
    if deny is not None:
        policy = policy.replace('deny: ["services/wallet-api/secrets/**"]',
                                f'deny: ["services/wallet-api/secrets/**", "{deny}"]', 1)
    policy = policy.replace("contracts:\n  wallet-api:", extra + "contracts:\n  wallet-api:", 1)
    (repo / POLICY).write_text(policy, encoding="utf-8")
    git(repo, "commit", "-q", "-am", "policy for folding tests")


def test_case_variant_of_a_denied_folder_is_rejected(repo: Path) -> None:
    leak = "services/wallet-api/SECRETS/token.txt"
    write(repo, leak, "x\n")
    for result in three_modes(repo).values():
        c = change(rejected(result, leak), leak)
        assert c["class"] == "out_of_scope"
        assert "workers.wallet-api.deny[0]" in c["rule"] and "when case/Unicode-folded" in c["rule"], c


@pytest.mark.parametrize(("pattern_form", "path_form"), [("NFC", "NFD"), ("NFD", "NFC")])
def test_unicode_form_variant_of_a_denied_folder_is_rejected(repo: Path, pattern_form: str,
                                                             path_form: str) -> None:
    import unicodedata

    folder = "services/wallet-api/caf\u00e9"
    _widen_policy(repo, "", deny=unicodedata.normalize(pattern_form, folder) + "/**")
    leak = unicodedata.normalize(path_form, folder) + "/x.txt"
    write(repo, leak, "x\n")
    c = change(rejected(verdict(repo, "--worktree"), leak), leak)
    assert c["class"] == "out_of_scope" and "when case/Unicode-folded" in c["rule"], c


def test_case_variant_of_a_foreign_lane_is_rejected(repo: Path) -> None:
    _widen_policy(repo, '  platform:\n    allow: ["services/**"]\n')
    stray = "services/KMS-api/src/kms_api/keys.py"
    write(repo, stray, "x = 1\n")
    c = change(rejected(verdict(repo, "--worktree", worker="platform"), stray), stray)
    assert c["class"] == "out_of_scope" and "collides with kms-api's lane" in c["rule"], c
    assert c["route_to"] == "kms-api"


def test_case_variant_of_the_policy_file_is_protected(repo: Path) -> None:
    _widen_policy(repo, '  toplevel:\n    allow: ["*"]\n')
    write(repo, "Lanewarden.yaml", "version: 1\n")
    c = change(rejected(verdict(repo, "--worktree", worker="toplevel"), "Lanewarden.yaml"), "Lanewarden.yaml")
    assert c["class"] == "protected"
    assert any("collides with lanewarden.yaml" in r for r in c["reasons"]), c


def test_explain_says_what_the_guard_will_say_about_a_collision(repo: Path) -> None:
    out = lanewarden("explain", "services/wallet-api/SECRETS/x", "services/wallet-api/Upper.md",
                     "--repo", str(repo), "--worker", WORKER, "--format", "json")
    leak, fine = (json.loads(line) for line in out.stdout.splitlines())
    assert leak["class"] == "out_of_scope" and "when case/Unicode-folded" in leak["class_rule"], leak
    assert fine["class"] == "writable", fine


def test_capitals_that_collide_with_nothing_are_accepted(repo: Path) -> None:
    # Control: capitals and non-ASCII letters in the lane, folding onto nothing denied or foreign.
    _widen_policy(repo, '  platform:\n    allow: ["services/**"]\n')
    own = ["services/wallet-api/src/wallet_api/Upper_Case.py", "services/wallet-api/docs/Caf\u00e9.md"]
    for rel in own:
        write(repo, rel, "x = 1\n")
    assert paths(accepted(verdict(repo, "--worktree"))) == set(own)
    git(repo, "clean", "-qfd")
    write(repo, "services/New-Service/README.md", "# new\n")
    accepted(verdict(repo, "--worktree", worker="platform"))


# -- 14. patch mode ----------------------------------------------------------

def test_patch_with_lying_header_moves_protected_file(repo: Path, tmp_path: Path) -> None:
    # Bypass: the diff --git header names allowed files, `rename from` moves an out-of-scope one.
    patch = (b"diff --git a/services/wallet-api/x.py b/services/wallet-api/y.py\n"
             b"similarity index 100%\n"
             b"rename from " + KEYS.encode() + b"\n"
             b"rename to services/wallet-api/y.py\n")
    (tmp_path / "lying.patch").write_bytes(patch)
    code, v = verdict(repo, "--patch", str(tmp_path / "lying.patch"))
    assert code in (1, 2), v
    if code == 1:
        c = change(v, KEYS)
        assert (c["status"], c["class"]) == ("deleted", "out_of_scope")
    code2, _v2 = verdict(repo, "--patch", "-", input=patch)
    assert code2 == code


def test_patch_with_lying_plus_minus_lines(repo: Path) -> None:
    # Bypass: the diff --git header names an allowed file, the ---/+++ lines an out-of-scope one.
    append(repo, KEYS, "BACKDOOR = 1\n")
    real = git(repo, "diff").encode()
    git(repo, "checkout", "--", KEYS)
    header = f"diff --git a/{KEYS} b/{KEYS}".encode()
    assert real.startswith(header)
    patch = real.replace(header, b"diff --git a/services/wallet-api/z.py b/services/wallet-api/z.py", 1)
    code, v = verdict(repo, "--patch", "-", input=patch)
    assert code in (1, 2), v
    if code == 1:
        assert change(v, KEYS)["class"] == "out_of_scope"


def test_patch_in_scope_on_stdin_is_accepted(repo: Path) -> None:
    # Control: a normal in-scope patch from stdin.
    append(repo, APP, "ADDED = 1\n")
    patch = git(repo, "diff").encode()
    git(repo, "checkout", "--", APP)
    v = accepted(verdict(repo, "--patch", "-", input=patch))
    assert v["mode"] == "patch" and paths(v) == {APP}


def test_patch_out_of_scope_and_not_applying(repo: Path, tmp_path: Path) -> None:
    # Bypass: a patch out of scope is rejected; one that does not apply is an input error.
    append(repo, KEYS)
    patch = git(repo, "diff").encode()
    git(repo, "checkout", "--", KEYS)
    rejected(verdict(repo, "--patch", "-", input=patch), KEYS)
    broken = patch.replace(b"@@ -", b"@@ -9")
    code, err = verdict(repo, "--patch", "-", input=broken.replace(b"\n ", b"\n nope"))
    assert code == 2, err
    assert "does not apply" in err
    code, err = verdict(repo, "--patch", str(tmp_path / "missing.patch"))
    assert code == 2, err


def test_patch_with_dotdot_path(repo: Path) -> None:
    # Bypass: a path that walks out of the allowed folder with '..'.
    patch = (b"diff --git a/services/wallet-api/../kms-api/x.py b/services/wallet-api/../kms-api/x.py\n"
             b"new file mode 100644\n--- /dev/null\n+++ b/services/wallet-api/../kms-api/x.py\n"
             b"@@ -0,0 +1 @@\n+x\n")
    code, v = verdict(repo, "--patch", "-", input=patch)
    assert code in (1, 2), v


# -- 15. policy self-widening ------------------------------------------------

def _widen(repo: Path) -> None:
    policy = (repo / POLICY).read_text()
    widened = policy.replace('allow: ["services/wallet-api/**"]',
                             'allow: ["services/wallet-api/**", "services/kms-api/**"]', 1)
    assert widened != policy
    (repo / POLICY).write_text(widened)


def test_policy_self_widening_range(repo: Path) -> None:
    # Bypass: the branch widens its own lane in lanewarden.yaml and uses it at once.
    git(repo, "checkout", "-q", "-b", "topic")
    _widen(repo)
    append(repo, KEYS)
    git(repo, "commit", "-q", "-am", "widen")
    v = rejected(verdict(repo, "--base", "main"), POLICY, KEYS)
    assert change(v, POLICY)["class"] == "protected"
    assert change(v, KEYS)["class"] == "out_of_scope"
    assert v["policy"]["trusted"] is True
    assert v["policy"]["rev"] in ("main", git(repo, "rev-parse", "main").strip())


def test_policy_self_widening_staged_and_worktree(repo: Path) -> None:
    # Bypass: same, uncommitted; the policy must come from HEAD, not the index or disk.
    _widen(repo)
    append(repo, KEYS)
    for mode in ("--worktree",):
        v = rejected(verdict(repo, mode), POLICY, KEYS)
        assert change(v, KEYS)["class"] == "out_of_scope"
    git(repo, "add", "-A")
    v = rejected(verdict(repo, "--staged"), POLICY, KEYS)
    assert change(v, POLICY)["class"] == "protected"
    assert change(v, KEYS)["class"] == "out_of_scope"


def test_policy_widening_committed_then_guarded_from_head(repo: Path) -> None:
    # Bypass: commit the widened policy, then guard the next edit in staged mode (HEAD is trusted);
    # the range check against main must still catch both.
    git(repo, "checkout", "-q", "-b", "topic")
    _widen(repo)
    git(repo, "commit", "-q", "-am", "widen")
    append(repo, KEYS)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "edit")
    rejected(verdict(repo, "--base", "main"), POLICY, KEYS)


# -- 16. criss-cross merge bases ---------------------------------------------

def test_criss_cross_merge_bases_fail_closed(repo: Path) -> None:
    # Bypass: with two merge bases, `A...B` silently picks one and can hide changes.
    commit_on_branch(repo, {"services/wallet-api/b1.txt": "b1\n"}, message="b1")
    git(repo, "checkout", "-q", "main")
    write(repo, "docs/a1.md", "a1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a1")
    git(repo, "tag", "a1")
    git(repo, "merge", "-q", "--no-ff", "--no-edit", "-m", "m1", "topic")
    git(repo, "checkout", "-q", "topic")
    git(repo, "merge", "-q", "--no-ff", "--no-edit", "-m", "m2", "a1")
    assert len(git(repo, "merge-base", "--all", "main", "topic").split()) == 2
    code, err = verdict(repo, "--base", "main")
    assert code == 2, err
    assert "merge base" in err


# -- 17. option injection through a revision ---------------------------------

@pytest.mark.parametrize("argv", [["--base", "--output=stolen.txt"], ["--base=--output=stolen.txt"],
                                  ["--base", "main", "--head", "--output=stolen.txt"],
                                  ["--patch", "-", "--base", "--output=stolen.txt"]])
def test_revision_spelled_like_an_option(repo: Path, tmp_path: Path, argv: list[str]) -> None:
    # Bypass: a revision like --output=FILE that git would take as an option and write a file.
    commit_on_branch(repo, {APP: "x = 2\n"})
    code, err = verdict(repo, *argv, input=b"")
    assert code == 2, err
    found = list(tmp_path.rglob("stolen.txt")) + list(Path.cwd().rglob("stolen.txt"))
    assert not found


# -- 18. secrets -------------------------------------------------------------

AKIA = "AKIA" + "ABCDEFGHIJKLMNOP"
SECRETS: dict[str, tuple[str, str]] = {
    "dotenv": ("services/wallet-api/.env", "DB_PASSWORD=hunter2\n"),
    "private_key_block": ("services/wallet-api/src/wallet_api/key.py",
                          'KEY = """\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n"""\n'),
    "aws_key_id": ("services/wallet-api/src/wallet_api/cfg.py", f'AWS = "{AKIA}"\n'),
    "id_rsa": ("services/wallet-api/id_rsa", "opaque\n"),
    "pem": ("services/wallet-api/certs/server.pem", "opaque\n"),
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_secrets_in_scope_are_rejected(repo: Path, kind: str) -> None:
    # Bypass: a secret committed inside the worker's own lane.
    rel, content = SECRETS[kind]
    write(repo, rel, content)
    for mode, result in three_modes(repo).items():
        v = rejected(result, rel)
        assert vote(v, "secrets") == "reject", mode
        assert change(v, rel)["class"] == "writable", mode


def test_secret_appended_to_existing_file(repo: Path) -> None:
    # Bypass: a key id hidden in an edit of an existing in-scope file (not a new file).
    append(repo, APP, f'TOKEN = "{AKIA}"\n')
    for mode, result in three_modes(repo).items():
        assert vote(rejected(result, APP), "secrets") == "reject", mode


# -- 19. budget --------------------------------------------------------------

def test_budget_exceeded_asks_for_revision(repo: Path) -> None:
    # Bypass: a change too big for review; 41 files against max_files 40.
    for i in range(41):
        write(repo, f"services/wallet-api/gen/m{i:02}.py", f"N = {i}\n")
    for mode, result in three_modes(repo).items():
        code, v = result
        assert code == 3, (mode, v)
        assert v["decision"] == "revision"
        assert vote(v, "budget") == "abstain"
        assert len(v["changes"]) == 41


# -- 20. the accept path and handoffs ---------------------------------------

def test_in_scope_edit_accepted_in_all_four_modes(repo: Path) -> None:
    # Control: every mode accepts a plain in-scope edit and labels the verdict correctly.
    append(repo, APP, "OK = 1\n")
    patch = git(repo, "diff").encode()
    results = three_modes(repo)
    results["patch"] = verdict(repo, "--patch", "-", "--base", "main", input=patch)
    for mode, result in results.items():
        v = accepted(result)
        assert v["schema"] == "lanewarden.verdict/1"
        assert v["mode"] == mode
        assert v["worker"] == WORKER
        assert paths(v) == {APP}
        assert change(v, APP)["class"] == "writable"
        assert {x["guard"] for x in v["votes"]} >= {"scope", "protected", "secrets", "budget"}
        assert all(x["vote"] == "approve" for x in v["votes"])
        assert v["handoffs"] == []


def test_propose_only_edit_routes_to_contracts(repo: Path) -> None:
    # Control: a contract edit by a consumer needs a handoff to the contracts owner.
    append(repo, "contracts/kms/kms.proto", "// proposal\n")
    for mode, result in three_modes(repo).items():
        code, v = result
        assert code == 3, (mode, v)
        assert change(v, "contracts/kms/kms.proto")["class"] == "propose_only"
        targets = {h["target_worker"] for h in v["handoffs"]}
        assert targets == {"contracts"}, mode


def test_handoff_required_edit_routes_to_root(repo: Path) -> None:
    # Control: an API edit is writable but needs root review.
    append(repo, "services/wallet-api/api/routes.py", "# new route\n")
    for mode, result in three_modes(repo).items():
        code, v = result
        assert code == 3, (mode, v)
        assert change(v, "services/wallet-api/api/routes.py")["class"] == "handoff_required"
        assert {h["target_worker"] for h in v["handoffs"]} == {"root"}, mode


def test_secrets_dir_is_denied(repo: Path) -> None:
    # Bypass: the deny list inside the worker's own folder.
    write(repo, "services/wallet-api/secrets/notes.txt", "x\n")
    for mode, result in three_modes(repo).items():
        assert change(rejected(result, "services/wallet-api/secrets/notes.txt"),
                      "services/wallet-api/secrets/notes.txt")["class"] == "out_of_scope", mode


# -- 21. worker identity -----------------------------------------------------

def test_worker_identity_sources(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Bypass: no worker, or an unknown one, must never mean "no lane". No worker means the owners'
    # lanes (gate.unattributed: owners): each path judged in its owner's lane, never in none.
    append(repo, APP)
    v = accepted(verdict(repo, "--worktree", worker=None))
    assert v["worker"] == "(unattributed)" and v["changes"][0]["rule"].startswith("workers.wallet-api.")
    code, err = verdict(repo, "--worktree", worker="nobody")
    assert code == 2, err
    monkeypatch.setenv("LANEWARDEN_WORKER", WORKER)
    v = accepted(verdict(repo, "--worktree", worker=None))
    assert v["worker"] == WORKER
    monkeypatch.delenv("LANEWARDEN_WORKER")
    git(repo, "checkout", "-q", "-b", "lanewarden/wallet-api/topic")
    v = accepted(verdict(repo, "--worktree", worker=None))
    assert v["worker"] == WORKER
    append(repo, KEYS)
    rejected(verdict(repo, "--worktree", worker=None), KEYS)


# -- 22. missing revisions and unborn HEAD -----------------------------------

def test_missing_base_revision(repo: Path) -> None:
    # Bypass: a base that does not exist must not turn into "empty range".
    code, err = verdict(repo, "--base", "nosuchrev")
    assert code == 2, err
    assert "nosuchrev" in err
    code, err = verdict(repo, "--base", "main", "--head", "nosuchhead")
    assert code == 2 and "nosuchhead" in err, err
    code, err = verdict(repo, "--patch", "-", "--base", "nosuchrev", input=b"x")
    assert code == 2 and "nosuchrev" in err, err


def test_unborn_head(tmp_path: Path) -> None:
    # Bypass: an empty repository has no trusted policy; a policy on disk must not be used.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")
    write(fresh, POLICY, "version: 1\nworkers:\n  wallet-api:\n    allow: ['**']\n")
    write(fresh, KEYS, "x\n")
    for mode in ("--worktree", "--staged"):
        code, err = verdict(fresh, mode)
        assert code == 2, err
        assert "HEAD" in err
    code, err = verdict(fresh, "--base", "HEAD")
    assert code == 2, err


def test_other_modes_reject_bad_combinations(repo: Path) -> None:
    # Bypass: ambiguous mode combinations must not silently pick the easiest mode.
    for args in (["--staged", "--worktree"], ["--staged", "--base", "main"], ["--worktree", "--head", "main"],
                 []):
        code, err = verdict(repo, *args)
        assert code == 2, (args, err)


def test_skip_worktree_cannot_hide_a_deletion_without_sparse_checkout(repo: Path) -> None:
    # Flag an out-of-scope file skip-worktree, then delete it: not a sparse checkout, so a deletion.
    target = "services/kms-api/src/kms_api/keys.py"
    git(repo, "update-index", "--skip-worktree", target)
    (repo / target).unlink()
    code, data = verdict(repo, "--worktree")
    assert code == 1
    assert isinstance(data, dict)
    assert {c["path"]: c["status"] for c in data["changes"]}.get(target) == "deleted"


def test_a_real_sparse_checkout_is_not_a_deletion(repo: Path) -> None:
    git(repo, "sparse-checkout", "set", "--no-cone", "/services/wallet-api/", "/lanewarden.yaml")
    assert not (repo / "services/kms-api/src/kms_api/keys.py").exists()
    with open(repo / "services/wallet-api/README.md", "a") as fh:
        fh.write("in lane\n")
    code, data = verdict(repo, "--worktree")
    assert code == 0, data
    assert isinstance(data, dict)
    assert [c["path"] for c in data["changes"]] == ["services/wallet-api/README.md"]
