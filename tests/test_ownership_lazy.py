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
