"""Vendored contract copies, their drift, and consumer inference on the telemetry-shop fixture.

The fixture keeps a drifted copy of ``pb/demo.proto`` in ``services/shipping/proto``,
generated code in Go (checkout) and Python (recommendation), a Dockerfile and a
``.gitignore`` entry for a build-time copy, and a generator script that still
names ``services/ad`` although ad stopped using the proto.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import git, lanewarden

COPY = "services/shipping/proto/demo.proto"


@pytest.fixture
def shop(make_repo: Callable[..., Path]) -> Path:
    return make_repo("telemetry-shop")


def _review(repo: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = lanewarden("review", "contracts", "--repo", str(repo), "--format", "json", *args)
    return result.exit_code, json.loads(result.stdout)


def test_a_drifted_vendored_copy_is_found_with_its_diff(shop: Path) -> None:
    shutil.copy(shop / "pb/demo.proto", shop / "services/frontend/demo.proto")
    git(shop, "add", "-A")
    git(shop, "commit", "-qm", "frontend vendors the proto too")
    _, review = _review(shop)
    copies = {c["path"]: c for c in review["copies"]}
    assert set(copies) == {COPY, "services/frontend/demo.proto"}
    drifted = copies[COPY]
    assert drifted["contract"] == "demo-proto" and drifted["canonical"] == "pb/demo.proto"
    assert not drifted["identical"] and 0.6 < drifted["similarity"] < 1
    assert "-  string zip_code = 4;" in drifted["diff"] and "+  int32 zip_code = 4;" in drifted["diff"]
    assert "-message ShipOrderRequest {" in drifted["diff"]
    assert copies["services/frontend/demo.proto"]["identical"] and copies["services/frontend/demo.proto"]["diff"] == ""
    text = lanewarden("review", "contracts", "--repo", str(shop)).stdout
    assert "DRIFTED (92% alike)" in text and "+  int32 zip_code = 4;" in text
    markdown = lanewarden("review", "contracts", "--repo", str(shop), "--format", "markdown").stdout
    assert "```diff" in markdown


def test_a_change_to_a_copy_is_a_contract_change(shop: Path) -> None:
    with open(shop / COPY, "a", encoding="utf-8") as fh:
        fh.write("\nmessage Parcel { string id = 1; }\n")
    git(shop, "commit", "-qam", "shipping edits its copy")
    _, review = _review(shop, "--base", "HEAD~1")
    [contract] = review["contracts"]
    assert contract["contract"] == "demo-proto"
    assert [c["path"] for c in contract["changes"]] == [COPY]
    assert contract["risk"] == "high"
    assert any("copy of the contract changed" in r for r in contract["risk_reasons"])
    # and it reaches the contract's consumers like any contract change
    assert set(contract["consumers"]) == {"checkout", "recommendation"}


def test_a_copy_that_is_not_alike_is_not_a_copy(shop: Path) -> None:
    (shop / "services/frontend/demo.proto").write_text('syntax = "proto3";\nmessage Banner { string text = 1; }\n')
    git(shop, "add", "-A")
    git(shop, "commit", "-qm", "an unrelated file with the same name")
    _, review = _review(shop)
    assert [c["path"] for c in review["copies"]] == [COPY]


def test_policy_check_warns_about_copies(shop: Path) -> None:
    result = lanewarden("policy", "check", "--repo", str(shop))
    assert result.exit_code == 0
    assert "warning[contract_copy]" in result.stdout and COPY in result.stdout and "DRIFTED" in result.stdout
    assert lanewarden("policy", "check", "--repo", str(shop), "--strict").exit_code == 2


def test_consumers_are_inferred_with_evidence_and_a_stale_mention_is_marked(shop: Path) -> None:
    _, review = _review(shop, "--infer")
    found = {c["service"]: c for c in review["inferred_consumers"]}
    assert set(found) == {"checkout", "recommendation", "shipping", "ad"}
    kinds = {s: {e["kind"] for e in c["evidence"]} for s, c in found.items()}
    assert kinds["checkout"] == {"generated", "build-copy"}
    assert kinds["recommendation"] == {"generated", "build-copy", "ignore-entry", "generator-script"}
    assert kinds["shipping"] == {"vendored-copy"}
    assert kinds["ad"] == {"generator-script"}
    assert {s: c["confidence"] for s, c in found.items()} == {
        "checkout": "high", "recommendation": "high", "shipping": "medium", "ad": "low"}
    assert [s for s, c in found.items() if c["possibly_stale"]] == ["ad"]
    assert {s for s, c in found.items() if c["declared"]} == {"checkout", "recommendation"}
    assert "protocol" not in found  # the producer is not its own consumer
    text = lanewarden("review", "contracts", "--repo", str(shop), "--infer").stdout
    assert "possibly stale" in text and "NO: not in the policy" in text
    assert _review(shop)[1]["inferred_consumers"] is None  # only when asked
