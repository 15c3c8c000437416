"""Shell write detection and apply_patch envelopes: what a command or patch writes, from a table."""
from __future__ import annotations

import pytest

from lanewarden.orchestrator.integrations.apply_patch import PatchError, Touch, touched
from lanewarden.orchestrator.integrations.shell_writes import analyse

# command -> (paths written, joined with the folder /r), refs moved?, unresolved?
TABLE: list[tuple[str, list[str], bool, bool]] = [
    ("ls -la && cat a.txt | grep x", [], False, False),
    ("echo hi > a.txt", ["/r/a.txt"], False, False),
    ("echo hi >> logs/a.txt", ["/r/logs/a.txt"], False, False),
    ("make 2> err.log", ["/r/err.log"], False, False),
    ("make > /dev/null 2>&1", [], False, False),
    ("cmd &> out.txt", ["/r/out.txt"], False, False),
    ("cat x | tee -a b c", ["/r/b", "/r/c"], False, False),
    ("sed -i 's/a/b/' f1 f2", ["/r/f1", "/r/f2"], False, False),
    ("sed -i.bak -e 's/a/b/' f1", ["/r/f1"], False, False),
    ("sed 's/a/b/' f1 > f2", ["/r/f2"], False, False),
    ("mv a b/", ["/r/b/", "/r/b/a", "/r/a"], False, False),
    ("cp -r src dst", ["/r/dst", "/r/dst/src"], False, False),
    ("cp -t dst a", ["/r/dst", "/r/dst/a"], False, False),
    ("rm -rf build dist", ["/r/build", "/r/dist"], False, False),
    ("rm -- -weird", ["/r/-weird"], False, False),
    ("touch a && mkdir -p d/e", ["/r/a", "/r/d/e"], False, False),
    ("chmod +x run.sh", ["/r/run.sh"], False, False),
    ("cd sub && touch x; cd .. && touch y", ["/r/sub/x", "/r/y"], False, False),
    ("cd /abs && rm z", ["/abs/z"], False, False),
    ("FOO=1 env BAR=2 touch z", ["/r/z"], False, False),
    ("bash -c 'echo > y'", ["/r/y"], False, False),
    ("cat <<EOF > out.txt\nnot > a write\nEOF\nls", ["/r/out.txt"], False, False),
    ("dd if=/dev/zero of=disk.img bs=1", ["/r/disk.img"], False, False),
    ("git rm old.py && git mv a.py b.py", ["/r/old.py", "/r/a.py", "/r/b.py"], False, False),
    ("git -C sub rm x", ["/r/sub/x"], False, False),
    ("git push origin main", [], True, False),
    ("git update-ref refs/lanewarden/ledger HEAD", [], True, False),
    ("git branch -f main HEAD~1", [], True, False),
    ("git branch feature", [], False, False),
    ("git reset --hard HEAD~1", [], True, False),
    ("git reset -- a.txt", [], False, False),
    ("git checkout -B main", [], True, False),
    ("git checkout -- a.txt", [], False, False),
    ("git switch -C topic", [], True, False),
    ("git commit -qm wip", [], False, False),
    ("echo x > $OUT", [], False, True),
    ("cd $DIR && touch a", [], False, True),
    ("rm ~/x", [], False, True),
]


@pytest.mark.parametrize(("command", "paths", "refs", "unresolved"), TABLE)
def test_shell_writes(command: str, paths: list[str], refs: bool, unresolved: bool) -> None:
    found = analyse(command, "/r")
    assert [p for p, _ in found.writes] == paths
    assert bool(found.refs) is refs
    assert bool(found.unresolved) is unresolved


def test_unknown_folder_makes_relative_writes_unresolved() -> None:
    found = analyse("cd - && touch a; touch /abs/b", "/r")
    assert found.unresolved == ["touch a"] and [p for p, _ in found.writes] == ["/abs/b"]


def test_unbalanced_quotes_raise() -> None:
    with pytest.raises(ValueError, match="quotation"):
        analyse("echo 'unterminated > x", "/r")


def test_apply_patch_envelope_with_moves() -> None:
    text = ("*** Begin Patch\n*** Add File: docs/new.md\n+hello\n*** Update File: src/a.py\n*** Move to: src/b.py\n"
            "@@ def f():\n-    return 1\n+    return 2\n*** Delete File: old.txt\n"
            "*** Update File: src/c.py\n@@\n-x\n+y\n*** End Patch\n")
    assert touched(text) == [Touch("docs/new.md", "add"), Touch("src/a.py", "move from"),
                             Touch("src/b.py", "move to"), Touch("old.txt", "delete"), Touch("src/c.py", "update")]


@pytest.mark.parametrize("text", [
    "diff --git a/x b/x\n",
    "*** Begin Patch\n*** Update File: a\n",
    "*** Begin Patch\n*** End Patch\n",
    "*** Begin Patch\n*** Move to: b\n*** End Patch\n",
    "*** Begin Patch\n*** Delete File:   \n*** End Patch\n",
])
def test_apply_patch_rejects_what_it_cannot_read(text: str) -> None:
    with pytest.raises(PatchError):
        touched(text)
