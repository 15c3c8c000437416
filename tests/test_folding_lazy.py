"""The case/Unicode-folded view of the ownership trie is built per folder, on first visit
(workers/folding.py). It must answer exactly as a folded copy of the whole policy would (the way
it was built before), including where plain folders of different case or Unicode form fold into
one, and the guard must still reject what the folded view finds in the folders a change touches.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import git, lanewarden

if TYPE_CHECKING:
    from lanewarden.workers.policy import Policy

POLICY = """version: 1
root: root
workers:
  root:
    allow: ["README.md", "docs/**"]
  upper:
    allow: ["Services/KMS/**", "Docs/*.md"]
    deny: ["Services/KMS/Secrets/**"]
  lower:
    allow: ["services/kms/**", "docs/*.md"]
  wide:
    allow: ["services/**", "Services/**", "tools/**"]
    deny: ["services/*/secrets/**"]
  nfd:
    allow: ["services/cafe\u0301/**"]
  nfc:
    allow: ["services/caf\u00e9/Menu/**"]
  brackets:
    allow: ["tools/[A-Z]*.sh", "tools/[Z-a]x/**"]
"""

PATHS = ["services/kms/x.py", "Services/KMS/x.py", "services/KMS/secrets/k", "Services/kms/Secrets/k",
         "docs/A.md", "Docs/a.md", "DOCS/a.md", "README.md", "readme.md", "Readme.MD",
         "services/caf\u00e9/x", "services/cafe\u0301/x", "services/CAF\u00c9/menu/y", "services/cafe\u0301/menu/y",
         "tools/Run.sh", "tools/run.sh", "tools/Zx/a", "tools/zx/a", "services/other/secrets/x",
         "services/Other/Secrets/x", "nowhere/x", "SERVICES/KMS/SECRETS/KEY"]


def _eager(policy: Policy, path: str, worker: str) -> tuple[str, str] | None:
    """The folding check as it was built before: a folded copy of every worker, one index over it."""
    from lanewarden.workers.folding import fold, fold_pattern
    from lanewarden.workers.ownership import OwnershipIndex, PathClass
    from lanewarden.workers.trie import FIELDS

    workers = {wid: dataclasses.replace(w, **{f: tuple(fold_pattern(p) for p in getattr(w, f)) for f in FIELDS})
               for wid, w in policy.workers.items()}
    folded = OwnershipIndex(dataclasses.replace(policy, workers=workers))
    plain = OwnershipIndex(policy)
    if not plain.needs_fold_check(path):
        return None
    hits = folded.hits(fold(path))
    own = folded.standing_from(hits.get(worker, {}))
    owner = folded.owner_from(hits)
    if own.path_class not in (PathClass.WRITABLE, PathClass.HANDOFF_REQUIRED):
        return f"collides with {own.rule} when case/Unicode-folded", owner
    if owner != worker and owner != plain.owner_from(plain.hits(path)):
        return f"collides with {owner}'s lane {hits[owner]['allow'].label} when case/Unicode-folded", owner
    return None


def test_the_lazy_fold_answers_as_a_folded_copy_of_the_policy() -> None:
    from lanewarden.workers.loader import parse
    from lanewarden.workers.ownership import OwnershipIndex

    policy = parse(POLICY.encode(), "lanewarden.yaml")
    index = OwnershipIndex(policy)
    found = 0
    for path in PATHS:
        for worker in policy.workers:
            lazy = index.collision(path, worker)
            expected = _eager(policy, path, worker)
            assert (None if lazy is None else (lazy[0].rule, lazy[1])) == expected, (path, worker)
            found += expected is not None
    assert found > 10  # the cases above do collide: the comparison is not of two Nones


def test_folding_never_makes_or_unmakes_a_wildcard() -> None:
    # The folded trie files a pattern under its plain folders folded one by one; that is where the
    # folded pattern belongs only if folding keeps every wildcard and every '/' where it was.
    from lanewarden.workers.folding import fold

    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        if unicodedata.category(ch) == "Cs":
            continue
        folded = fold(ch)
        for special in "*?[/":
            assert (special in folded) == (special == ch), (hex(code), folded)


def test_only_the_folders_a_path_enters_are_folded() -> None:
    from lanewarden.workers.loader import parse
    from lanewarden.workers.ownership import OwnershipIndex

    lines = ["version: 1", "root: root", "workers:", "  root:", '    allow: ["README.md"]']
    for i in range(300):
        lines += [f"  w{i:03d}:", f'    allow: ["services/s{i:03d}/**", "services/s{i:03d}/**/*.py"]',
                  f'    deny: ["services/s{i:03d}/Secrets/**"]']
    index = OwnershipIndex(parse(("\n".join(lines) + "\n").encode(), "lanewarden.yaml"))
    assert index.patterns_fold  # README.md and Secrets fold: every path is checked
    assert index.collision("services/s007/secrets/key", "w007") is not None
    trie = index._folded_trie()
    built = []
    stack = [trie]
    while stack:
        node = stack.pop()
        if node._rules is not None:
            built.append(node)
        stack.extend(node._made.values())
    assert len(built) <= 5  # the root, services, s007, secrets (and the path's own name): not 300 folders


def _repo(make_repo: Callable[..., Path]) -> Path:
    repo = make_repo()
    text = (repo / "lanewarden.yaml").read_text()
    text = text.replace("  contracts:\n", '  platform:\n    allow: ["services/**"]\n'
                                          '  legacy:\n    allow: ["services/Legacy-KMS/**"]\n  contracts:\n', 1)
    (repo / "lanewarden.yaml").write_text(text)
    git(repo, "commit", "-q", "-am", "a legacy lane whose folder is spelled in capitals")
    return repo


def _staged(repo: Path, rel: str, worker: str) -> tuple[int, dict[str, object]]:
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_text("x = 1\n")
    git(repo, "add", "--", rel)
    result = lanewarden("guard", "--repo", str(repo), "--worker", worker, "--staged", "--format", "json")
    git(repo, "rm", "-q", "--cached", "--", rel)
    changes = {c["path"]: c for c in json.loads(result.stdout)["changes"]}
    return result.exit_code, changes[rel]


def test_a_denied_folder_in_other_case_is_found_in_the_folder_the_change_touches(
        make_repo: Callable[..., Path]) -> None:
    repo = _repo(make_repo)
    code, change = _staged(repo, "services/wallet-api/Secrets/token.txt", "wallet-api")
    assert code == 1 and "workers.wallet-api.deny[0]" in str(change["rule"]), change
    code, change = _staged(repo, "services/wallet-api/Secretsx/token.txt", "wallet-api")  # control
    assert code == 0 and change["class"] == "writable", change


@pytest.mark.parametrize("spelling", ["services/legacy-kms/src/a.py", "services/LEGACY-kms/src/a.py"])
def test_a_lane_filed_under_a_folder_spelled_otherwise_is_not_missed(make_repo: Callable[..., Path],
                                                                     spelling: str) -> None:
    # The plain trie has no `services/legacy-kms` folder: only `services/Legacy-KMS`. The folded view
    # must merge the two spellings to see that the path, on a case-insensitive checkout, is legacy's.
    repo = _repo(make_repo)
    code, change = _staged(repo, spelling, "platform")
    assert code == 1 and "collides with legacy's lane" in str(change["rule"]), change
    assert change["route_to"] == "legacy"
    code, change = _staged(repo, "services/legacy-kms2/src/a.py", "platform")  # control: no such lane
    assert code == 0 and change["class"] == "writable", change
