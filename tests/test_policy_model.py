"""The fast policy check and the pydantic schema, both derived from one declaration, must give the same answers.

``strict_policy`` may only accept what the schema accepts, and must then build
exactly the values the schema builds; whatever it is unsure of goes to pydantic.
A seeded fuzzer mutates real policies thousands of times to hold it to that.
"""
from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from conftest import FIXTURES
from lanewarden.workers.policy import strict_policy
from lanewarden.workers.schema import Policy as Schema
from lanewarden.workers.schema import to_policy

FIXTURE = yaml.safe_load((FIXTURES / "wallet-platform" / "lanewarden.yaml").read_text())
SHOP = yaml.safe_load((FIXTURES / "telemetry-shop" / "lanewarden.yaml").read_text())
# Every optional section at once: reviewers, shared files, depends_on, subagent types.
RICH = {**FIXTURE, "workers": {**FIXTURE["workers"], "kms-api": {**FIXTURE["workers"]["kms-api"],
                                                                 "agents": ["kms-coder", "kms.reviewer"]}},
        "shared": {"append_only": ["CHANGELOG.md", "docs/*.md"]},
        "reviewers": {"llm": {"command": ["review", "--strict"], "timeout_s": 5, "workers": ["wallet-api"]},
                      "plain": {"command": ["check"], "description": "d"}}}


def _schema(data: Any) -> Any:
    try:
        return to_policy(Schema.model_validate(data))
    except ValidationError:
        return None


def _agree(data: Any) -> None:
    fast = strict_policy(data)
    slow = _schema(data)
    if fast is not None:
        assert slow is not None, f"the fast check accepted what the schema rejects: {data!r}"
        assert fast == slow
    # The fast check may pass a document to pydantic (None) even when it is valid: never the reverse.


@pytest.mark.parametrize("doc", [FIXTURE, SHOP, RICH], ids=["wallet", "shop", "rich"])
def test_fixture_policy_takes_the_fast_path_and_matches(doc: Any) -> None:
    fast = strict_policy(doc)
    assert fast is not None
    assert fast == _schema(doc)


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _leaves(v, (*path, i))
    return out


REPLACEMENTS: list[Any] = [None, True, False, 0, 1, -1, 2, 1.0, "1", "", "x", "bad id!", "a" * 101, [], ["x"],
                           [1], {}, {"x": 1}, "services/**", ("t",), 10**20]


def _mutate(rng: random.Random, data: Any) -> Any:
    doc = copy.deepcopy(data)
    paths = [p for p in _leaves(doc) if p]
    path = rng.choice(paths)
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    action = rng.randrange(4)
    if action == 0 and isinstance(parent, dict):
        del parent[key]
    elif action == 1 and isinstance(parent, dict):
        parent[rng.choice(["extra", "alow", "budget", "Description", 7])] = rng.choice(REPLACEMENTS)
    elif action == 2 and isinstance(parent, dict) and isinstance(key, str):
        parent[rng.choice(["", "-x", "x y", "ok.id", "a" * 101, 3])] = parent.pop(key)
    else:
        parent[key] = rng.choice(REPLACEMENTS)
    return doc


@pytest.mark.parametrize("seed", range(4))
def test_fuzzed_policies_agree(seed: int) -> None:
    rng = random.Random(20261121 + seed)
    for _ in range(600):
        doc = rng.choice([FIXTURE, SHOP, RICH])
        for _ in range(rng.randint(1, 3)):
            doc = _mutate(rng, doc)
        _agree(doc)


def test_every_table_policy_agrees() -> None:
    # The error table's documents: each is either rejected by both or equal on both paths.
    import test_policy_errors as table

    texts = [case[1] for case in table.CASES]
    assert len(texts) > 30
    for text in texts:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        _agree(data)


def test_version_must_be_the_integer_one() -> None:
    for version in (True, 1.0, "1", 2, 0):
        doc = {**FIXTURE, "version": version}
        assert strict_policy(doc) is None
        assert _schema(doc) is None


def test_budgets_and_optional_values() -> None:
    doc = copy.deepcopy(FIXTURE)
    doc["workers"]["wallet-api"]["budgets"] = {"max_files": 3, "max_lines": None}
    doc["workers"]["root"]["cwd"] = None
    fast = strict_policy(doc)
    assert fast is not None and fast == _schema(doc)
    assert fast.workers["wallet-api"].budgets.max_files == 3


def test_the_guard_path_never_imports_pydantic(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom workers.loader import parse\n"
            f"parse(open({str(FIXTURES / 'wallet-platform' / 'lanewarden.yaml')!r}, 'rb').read(), 'x')\n"
            "print('pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "False"
