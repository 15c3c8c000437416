"""The ownership trie expands on first visit: same answers, same rule order, safe across threads."""
from __future__ import annotations

import threading
from pathlib import Path

from lanewarden.workers import loader
from lanewarden.workers.git import Git
from lanewarden.workers.ownership import OwnershipIndex
from lanewarden.workers.trie import FIELDS

PATHS = ["services/wallet-api/src/wallet_api/app.py", "services/wallet-api/secrets/key.pem",
         "contracts/kms/kms.proto", "rust-mpc/Cargo.toml", "README.md", "e2e/x/y.py", "nowhere/at/all"]


def test_rules_keep_the_policy_order_and_answers_do_not_depend_on_visit_order(repo: Path) -> None:
    policy = loader.load_revision(Git.discover(repo), "HEAD").policy
    index = OwnershipIndex(policy)
    expected = [(wid, fld, i, text) for wid, w in policy.workers.items()
                for fld in FIELDS for i, text in enumerate(getattr(w, fld))]
    assert [(r.worker, r.field, r.index, r.pattern.text) for r in index.rules] == expected
    forward = [OwnershipIndex(policy).explain(p).as_json() for p in PATHS]
    fresh = OwnershipIndex(policy)
    backward = [fresh.explain(p).as_json() for p in reversed(PATHS)]
    assert forward == list(reversed(backward))


def test_threads_expanding_one_index_agree(repo: Path) -> None:
    policy = loader.load_revision(Git.discover(repo), "HEAD").policy
    expected = [OwnershipIndex(policy).explain(p).as_json() for p in PATHS]
    shared = OwnershipIndex(policy)
    results: list[list[object]] = []

    def work() -> None:
        results.append([shared.explain(p).as_json() for p in PATHS])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 8


MIXED = b"""version: 1
root: root
workers:
  root:
    allow: ["*", "docs/**"]
  api:
    allow: ["services/api/**", "services/*.md", "shared/", "tools/gen.py"]
    deny: ["services/api/secrets/**"]
    propose_only: ["contracts/**"]
  web:
    allow: ["services/web/**", "services/api/ui/**", "**/*.css", "shared/web"]
    handoff_required_on: ["services/web/package.json"]
  contracts:
    allow: ["contracts/**"]
  tools:
    allow: ["tools/**", "tools/[a-c]*/*.sh"]
"""


def test_owners_of_many_paths_match_one_lookup_per_path() -> None:
    # owners() matches literal and dir/** patterns once per folder; every other kind file by file.
    policy = loader.parse(MIXED, "mixed.yaml")
    paths = [f"{folder}/{name}" for folder in ("services", "services/api", "services/api/secrets",
                                              "services/api/ui", "services/web", "shared", "shared/web",
                                              "contracts/kms", "tools", "tools/abc", "tools/xyz", "docs/a/b")
             for name in ("x.py", "README.md", "site.css", "gen.py", "run.sh", "package.json", "web")]
    paths += ["README.md", "top.css", "Makefile"]
    one_by_one = OwnershipIndex(policy)
    expected = {p: one_by_one.owner_from(one_by_one.hits(p)) for p in paths}
    assert OwnershipIndex(policy).owners(paths) == expected
    assert OwnershipIndex(policy).owners(reversed(paths)) == expected
    assert len(set(expected.values())) >= 5  # the policy really spreads them over its workers
