"""The typed git operations: names that look like options, and paths git must not mangle.

Every listing method gets a path holding a newline and a non-UTF-8 byte; each
must hand it back intact (decoded with surrogateescape, so it re-encodes to the
same bytes). A remote or branch spelled like an option never reaches git.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from conftest import expect, git, lanewarden
from lanewarden.orchestrator.reviews.copies import Tree
from lanewarden.workers.errors import GitError, InputError
from lanewarden.workers.git import Git, fsdecode, fsencode, split_z

ODD = fsdecode(b"odd dir/new\nline \xff.txt")  # a newline, a space and a byte that is not UTF-8
IGNORED = fsdecode(b"logs/run\n\xfe.log")
STAR = "lit/*"  # a file literally named '*': a glob pathspec would match its sibling too


def _write(repo: Path, name: str, data: bytes) -> None:
    path = fsencode(str(repo)) + b"/" + fsencode(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


@pytest.fixture
def odd(tmp_path: Path) -> tuple[Git, str, str]:
    """A repository whose second commit adds ODD and STAR (and a sibling of STAR) and a .gitignore."""
    repo = tmp_path / "odd"
    repo.mkdir()
    git(repo, "init", "-q")
    _write(repo, "README", b"hello\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    base = git(repo, "rev-parse", "HEAD").strip()
    _write(repo, ODD, b"one\n")
    _write(repo, STAR, b"star\n")
    _write(repo, "lit/other", b"other\n")
    _write(repo, ".gitignore", b"*.log\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "odd names")
    return Git.discover(repo), base, git(repo, "rev-parse", "HEAD").strip()


def test_tree_listings_keep_odd_paths(odd: tuple[Git, str, str]) -> None:
    g, _, head = odd
    names = g.ls_tree_names(head)
    assert ODD in names and fsencode(ODD) == b"odd dir/new\nline \xff.txt"
    entries = {e.path: e for e in g.ls_tree_entries(head)}
    assert entries[ODD].kind == "blob" and entries[ODD].mode == "100644" and len(entries[ODD].oid) == 40
    top = {e.path for e in g.ls_tree_entries(head, recursive=False)}
    assert top == {".gitignore", "README", "lit", "odd dir"}
    # Paths are literal: '*' selects the file named '*', not every file in lit/.
    assert g.ls_tree_names(head, [STAR]) == [STAR]
    assert g.ls_tree_names(head, [ODD]) == [ODD]


def test_index_and_work_tree_listings_keep_odd_paths(odd: tuple[Git, str, str]) -> None:
    g, _, _ = odd
    assert g.top is not None
    assert ODD in g.ls_files_cached()
    git(g.top, "update-index", "--skip-worktree", "--", ODD)
    assert ("S", ODD) in g.ls_files_tagged()
    git(g.top, "update-index", "--no-skip-worktree", "--", ODD)
    _write(g.top, IGNORED, b"noise\n")
    fresh = fsdecode(b"new\n\xfd")
    _write(g.top, fresh, b"new\n")
    assert g.ls_files_others(gitignore=True) == [fresh]
    assert sorted(g.ls_files_others(gitignore=False)) == sorted([fresh, IGNORED])
    assert IGNORED in g.ls_files_ignored()
    _write(g.top, ODD, b"one, edited to another size\n")
    os.unlink(fsencode(str(g.top / "README")))
    assert sorted(g.diff_files_raw()) == [("D", "README"), ("M", ODD)]


def test_diffs_and_a_scratch_index_keep_odd_paths(odd: tuple[Git, str, str]) -> None:
    g, base, head = odd
    base_tree, head_tree = g.tree_of(base), g.tree_of(head)
    with tempfile.TemporaryFile() as out:
        g.diff_tree_raw_to_file(base_tree, head_tree, out)
        out.seek(0)
        fields = split_z(out.read())
    assert {fsdecode(p) for p in fields[1::2]} == {ODD, STAR, "lit/other", ".gitignore"}
    with tempfile.TemporaryFile() as out:
        g.diff_zero_context_to_file(base_tree, head_tree, out)
        out.seek(0)
        assert b"+one" in out.read()
    # A patch of exactly two paths, applied by git to a scratch index on the base.
    patch = g.diff_tree_patch(base_tree, head_tree, [ODD, STAR])
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": f"{tmp}/index"}
        g.read_tree(base_tree, env=env)
        g.apply_cached(patch, env=env)
        tree = g.write_tree(env=env)
        assert sorted(g.ls_files_cached(env=env)) == sorted(["README", ODD, STAR])
        # The work tree's copy of ODD, staged into the scratch index by name.
        assert g.top is not None
        _write(g.top, ODD, b"edited\n")
        g.refresh_index(env=env)
        g.update_index_add([ODD], env=env)
        edited = g.write_tree(env=env)
    assert sorted(g.ls_tree_names(tree)) == sorted(["README", ODD, STAR])
    assert g.read_file_at(edited, ODD) == b"edited\n"
    assert g.read_file_at(tree, ODD) == b"one\n"


def test_history_reads_odd_paths_and_refs(odd: tuple[Git, str, str]) -> None:
    g, base, head = odd
    assert g.rev_list(head) == [head, base]
    assert g.rev_list(head, first_parent=True, reverse=True) == [base, head]
    assert g.log_authors(base, head, ODD) == ["Test Author <author@example.com>"]
    assert g.log_authors(base, head, "lit/o*") == []  # literal: no file is named 'lit/o*'
    assert g.update_ref("refs/lanewarden/test", base, None)
    assert not g.delete_ref("refs/lanewarden/test", head)  # compare-and-swap: it points at base
    assert g.delete_ref("refs/lanewarden/test", base)
    assert g.ref_value("refs/lanewarden/test") is None
    g.checkout("topic", create_at=base)
    assert g.current_branch() == "topic" and g.head_commit() == base
    g.checkout("main")
    g.symbolic_ref("HEAD", "refs/heads/topic")
    assert g.current_branch() == "topic"


@pytest.mark.parametrize("name", ["--upload-pack=touch pwned", "-x", "", "origin\nmain"])
def test_names_spelled_like_options_never_reach_git(odd: tuple[Git, str, str], name: str) -> None:
    g, _, _ = odd
    for call in (lambda: g.fetch(name, ["refs/heads/*:refs/x/*"]), lambda: g.push(name, ["HEAD:refs/x"]),
                 lambda: g.checkout(name), lambda: g.checkout("ok", create_at=name)):
        with pytest.raises(InputError) as refused:
            call()
        # Refused by lanewarden before any git process, not a failure git reported.
        assert not isinstance(refused.value, GitError) and repr(name) in refused.value.message
    assert g.current_branch() == "main"


def test_handoffs_sync_refuses_a_remote_named_like_an_option(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    result = expect(lanewarden("handoffs", "sync", "--repo", str(repo), "--", f"--upload-pack=touch {marker}"), 2)
    assert "remote '--upload-pack=touch" in result.stderr
    assert "starts with '-': git would read it as an option" in result.stderr
    assert "git remote -v" in result.stderr
    assert not marker.exists()


def test_a_relative_folder_named_like_an_option_is_still_a_folder(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    created = Git.init(Path("--bare"))  # without --end-of-options git would make tmp_path a bare repository
    assert created.top == (tmp_path / "--bare").resolve() and (tmp_path / "--bare" / ".git").is_dir()
    assert not (tmp_path / "HEAD").exists()


def test_first_parent_reach_follows_first_parents_only_and_agrees_with_the_walk(tmp_path: Path) -> None:
    repo = tmp_path / "chains"
    repo.mkdir()
    git(repo, "init", "-q")
    line = []
    for n in range(6):  # a line of states, as a handoff's ref holds
        line.append(git(repo, "commit-tree", "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "-m", f"s{n}",
                        *(["-p", line[-1]] if line else [])).strip())
    # A rewrite that keeps the old tip only as a second parent: git calls it an ancestor, a chain does not.
    other = git(repo, "commit-tree", "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "-m", "other").strip()
    rewrite = git(repo, "commit-tree", "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "-m", "rw",
                  "-p", other, "-p", line[3]).strip()
    g = Git.discover(repo)
    pairs = [(line[0], line[5]), (line[5], line[0]), (line[3], line[3]), (line[3], rewrite), (other, rewrite)]
    expected = {(line[0], line[5]), (line[3], line[3]), (other, rewrite)}
    assert g.is_ancestor(line[3], rewrite)  # the control: all parents followed
    assert g.first_parent_reach(pairs) == expected
    assert g.first_parent_reach(pairs, steps=2) == expected  # past the step budget: asked one by one
    assert {p for p in pairs if g.is_first_parent_ancestor(*p)} == expected


def test_ls_tree_files_lists_regular_files_only_and_is_not_fooled_by_a_path_that_looks_like_an_entry(
        tmp_path: Path) -> None:
    repo = tmp_path / "lst"
    repo.mkdir()
    git(repo, "init", "-q")
    blob = git(repo, "hash-object", "-w", "--stdin", input=b"x\n").strip()
    fake = f"100644 blob {blob}\tforged"  # a symlink named like an ls-tree line of a regular file
    lines = [f"100644 blob {blob}\tplain", f"100755 blob {blob}\ttool", f"120000 blob {blob}\t{fake}",
             f"160000 commit {'1' * 40}\tsub"]
    tree = git(repo, "mktree", "-z", "--missing", input=("\0".join(lines) + "\0").encode()).strip()
    odd = b"new\nline \xff.txt"  # a newline and a byte that is not UTF-8
    entries = [b"040000 tree " + tree.encode() + b"\tdir", b"100644 blob " + blob.encode() + b"\t" + odd]
    tree2 = git(repo, "mktree", "-z", "--missing", input=b"\x00".join(entries) + b"\x00").strip()
    g = Git.discover(repo)
    assert sorted(g.ls_tree_files(tree2)) == sorted([("dir/plain", blob), ("dir/tool", blob), (fsdecode(odd), blob)])
    everything = {(e.path, e.oid) for e in g.ls_tree_entries(tree2)}  # the control: git lists all five
    assert (f"dir/{fake}", blob) in everything and len(everything) == 5
    # The review's Tree reads the same listing without a regular expression: the same files, sorted.
    listed = Tree(g.ls_tree(tree2))
    assert [(f.path, f.oid) for f in listed] == sorted(g.ls_tree_files(tree2))
    assert [listed.file(i).path for i in listed.under("dir/")] == ["dir/plain", "dir/tool"]


def test_a_tree_listed_out_of_order_is_still_searched_in_order() -> None:
    # A hand-made tree object need not be sorted; bisecting it as git lists it could miss a file.
    blob = "e" * 40
    listing = b"".join(b"100644 blob %s\t%s\0" % (blob.encode(), p) for p in (b"z/a", b"a/b", b"m/c", b"a/a"))
    tree = Tree(listing)
    assert [f.path for f in tree] == ["a/a", "a/b", "m/c", "z/a"]
    assert [tree.file(i).path for i in tree.under("a/")] == ["a/a", "a/b"]
    assert len(Tree(b"")) == 0
