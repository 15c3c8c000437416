"""``guard --staged`` reads the index through ``git diff-index --cached`` and builds its tree from the
entries that changed (guards/indextree.py). Each case stages a kind of change and checks the built
tree against git's own answer, ``git write-tree`` on a copy of the same index (the control), then
that the guard reports the change; the real index is never written.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import git, lanewarden

APP = "services/wallet-api/src/wallet_api/app.py"
SIGNING = "services/wallet-api/src/wallet_api/signing.py"
KEYS = "services/kms-api/src/kms_api/keys.py"
RELEASE = "tools/release.sh"


def trees(repo: Path) -> tuple[str | None, str]:
    """(the tree built from diff-index's entries or None when that way declines, write-tree's tree)."""
    from lanewarden.guards import indextree, sources
    from lanewarden.workers.git import Git

    g = Git.discover(repo).without_worktree()
    head = g.head_commit()
    assert head is not None
    base = g.tree_of(head)
    index = repo / ".git" / "index"
    before = hashlib.sha256(index.read_bytes()).hexdigest()
    with sources.scratch(g) as env:
        raw = g.diff_index_cached_raw(base, env={**env, "GIT_INDEX_FILE": str(index)})
        built = indextree.build(g, env, base, raw)
        shutil.copyfile(index, env["GIT_INDEX_FILE"])
        written = g.write_tree(env=env)
    assert hashlib.sha256(index.read_bytes()).hexdigest() == before, "the user's index was written"
    return built, written


def staged(repo: Path, worker: str = "wallet-api") -> tuple[int, dict[str, dict[str, object]]]:
    result = lanewarden("guard", "--repo", str(repo), "--worker", worker, "--staged", "--format", "json")
    assert result.exit_code in (0, 1, 3), result.output
    verdict = json.loads(result.stdout)
    return result.exit_code, {c["path"]: c for c in verdict["changes"]}


def _edit(repo: Path) -> None:
    (repo / APP).write_text((repo / APP).read_text() + "X = 1\n")
    git(repo, "add", APP)


def _delete(repo: Path) -> None:
    git(repo, "rm", "-q", "--cached", KEYS)


def _chmod(repo: Path) -> None:
    git(repo, "update-index", "--chmod=+x", SIGNING)


def _symlink(repo: Path) -> None:
    (repo / APP).unlink()
    (repo / APP).symlink_to("signing.py")
    git(repo, "add", APP)


def _new_folders(repo: Path) -> None:
    deep = repo / "services/wallet-api/src/wallet_api/new/deeper/still"
    deep.mkdir(parents=True)
    (deep / "mod.py").write_text("Y = 2\n")
    git(repo, "add", str(deep / "mod.py"))


def _empty_a_folder(repo: Path) -> None:
    git(repo, "rm", "-q", "-r", "--cached", "services/kms-api/client")


def _file_becomes_folder(repo: Path) -> None:
    git(repo, "rm", "-q", "--cached", RELEASE)
    blob = git(repo, "hash-object", "-w", "--stdin", input=b"echo new\n").strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"100755,{blob},{RELEASE}/run.sh")


def _folder_becomes_file(repo: Path) -> None:
    git(repo, "rm", "-q", "-r", "--cached", "services/kms-api/client")
    blob = git(repo, "hash-object", "-w", "--stdin", input=b"client\n").strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},services/kms-api/client")


def _submodule(repo: Path) -> None:
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{'a' * 40},services/wallet-api/vendor/lib")


def _odd_names(repo: Path) -> None:
    for name in ("services/wallet-api/src/sp ace.py", "services/wallet-api/src/ünï.py",
                 'services/wallet-api/src/q"uo\tte.py', "services/wallet-api/src-x/a.py"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("Z = 3\n")
        git(repo, "add", "--", name)


def _everything_deleted(repo: Path) -> None:
    git(repo, "rm", "-q", "-r", "--cached", ".")


CASES: dict[str, tuple[Callable[[Path], None], dict[str, str]]] = {
    "edit": (_edit, {APP: "modified"}),
    "deletion": (_delete, {KEYS: "deleted"}),
    "mode change": (_chmod, {SIGNING: "mode_changed"}),
    "file to symlink": (_symlink, {APP: "type_changed"}),
    "new nested folders": (_new_folders, {"services/wallet-api/src/wallet_api/new/deeper/still/mod.py": "added"}),
    "folder emptied": (_empty_a_folder, {"services/kms-api/client/__init__.py": "deleted",
                                         "services/kms-api/client/kms.py": "deleted"}),
    "file becomes a folder": (_file_becomes_folder, {RELEASE: "deleted", f"{RELEASE}/run.sh": "added"}),
    "folder becomes a file": (_folder_becomes_file, {"services/kms-api/client": "added",
                                                     "services/kms-api/client/kms.py": "deleted"}),
    "submodule": (_submodule, {"services/wallet-api/vendor/lib": "submodule"}),
    "odd names": (_odd_names, {"services/wallet-api/src/sp ace.py": "added",
                               "services/wallet-api/src/ünï.py": "added",
                               'services/wallet-api/src/q"uo\tte.py': "added",
                               "services/wallet-api/src-x/a.py": "added"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_built_tree_is_the_tree_git_writes(repo: Path, case: str) -> None:
    stage, expected = CASES[case]
    stage(repo)
    built, written = trees(repo)
    assert built is not None, "diff-index's way declined a plain index"
    assert built == written
    _, changes = staged(repo)
    for path, status in expected.items():
        assert changes[path]["status"] == status, changes.get(path)


def test_nothing_staged_is_the_head_tree_and_no_change(repo: Path) -> None:
    built, written = trees(repo)
    assert built == written == git(repo, "rev-parse", "HEAD^{tree}").strip()
    code, changes = staged(repo)
    assert code == 0 and changes == {}


def test_an_index_that_deletes_everything_is_the_empty_tree(repo: Path) -> None:
    _everything_deleted(repo)
    built, written = trees(repo)
    assert built == written == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    code, changes = staged(repo)
    assert code == 1 and changes[KEYS]["status"] == "deleted" and changes[APP]["status"] == "deleted"


def test_an_intent_to_add_file_is_left_out_as_a_commit_leaves_it_out(repo: Path) -> None:
    (repo / "services/kms-api/new.py").write_text("N = 1\n")
    git(repo, "add", "-N", "services/kms-api/new.py")
    _edit(repo)
    built, written = trees(repo)
    assert built == written
    code, changes = staged(repo)
    assert code == 0 and set(changes) == {APP}
    # Control: staged for real, the same file is seen, outside the lane.
    git(repo, "add", "services/kms-api/new.py")
    code, changes = staged(repo)
    assert code == 1 and changes["services/kms-api/new.py"]["class"] == "out_of_scope"


def test_a_folder_name_cat_file_cannot_take_falls_back_to_write_tree(repo: Path) -> None:
    # cat-file --batch reads one object name per line: a folder with a newline in its name is read the old way.
    name = "services/kms-api/we\nird/x.py"
    (repo / name).parent.mkdir(parents=True)
    (repo / name).write_text("W = 1\n")
    git(repo, "add", "--", name)
    built, _ = trees(repo)
    assert built is None
    code, changes = staged(repo)
    assert code == 1 and changes[name]["status"] == "added"


def test_a_built_tree_that_disagrees_with_diff_index_is_not_used(repo: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from lanewarden.guards import indextree

    git(repo, "rm", "-q", "--cached", KEYS)
    built, _ = trees(repo)
    assert built is not None
    # A builder bug that loses the deletion: the diff of its tree no longer matches diff-index's list,
    # so the index is written as a tree instead, and the deletion is still seen.
    monkeypatch.setattr(indextree, "build", lambda git, env, base, raw: base)
    code, changes = staged(repo)
    assert code == 1 and changes[KEYS]["status"] == "deleted"


def test_a_mode_head_spells_the_old_way_is_canonical_in_rewritten_folders(repo: Path) -> None:
    # Trees written by old tools may say 100664; the index (and so write-tree) says 100644.
    folder = "services/kms-api/client"
    lines = git(repo, "ls-tree", f"HEAD:{folder}").replace("100644 blob", "100664 blob")
    sub = git(repo, "mktree", input=lines.encode()).strip()
    root_lines = git(repo, "ls-tree", "HEAD:services/kms-api").replace(
        git(repo, "rev-parse", f"HEAD:{folder}").strip(), sub)
    kms = git(repo, "mktree", input=root_lines.encode()).strip()
    services = git(repo, "ls-tree", "HEAD:services").replace(
        git(repo, "rev-parse", "HEAD:services/kms-api").strip(), kms)
    top = git(repo, "ls-tree", "HEAD").replace(
        git(repo, "rev-parse", "HEAD:services").strip(), git(repo, "mktree", input=services.encode()).strip())
    tree = git(repo, "mktree", input=top.encode()).strip()
    commit = git(repo, "commit-tree", tree, "-p", "HEAD", "-m", "old modes").strip()
    git(repo, "reset", "-q", commit)
    (repo / folder / "kms.py").write_text("changed\n")
    git(repo, "add", f"{folder}/kms.py")
    built, written = trees(repo)
    assert built == written
    _, changes = staged(repo, worker="kms-api")
    assert set(changes) == {f"{folder}/kms.py"}


def test_a_scratch_folder_hash_object_cannot_name_falls_back_to_write_tree(repo: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    odd = tmp_path / "tmp\nwith a newline"
    odd.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(odd))
    _edit(repo)
    built, written = trees(repo)
    assert built is None and written
    code, changes = staged(repo)
    assert code == 0 and changes[APP]["status"] == "modified"
