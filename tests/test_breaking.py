"""Breaking-change classification on real protobuf and OpenAPI pairs, and what it does to reviews."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES, expect, git, lanewarden
from lanewarden.orchestrator.reviews.breaking import Compat, classify

KMS = FIXTURES / "wallet-platform" / "contracts" / "kms" / "kms.proto"
WALLET = FIXTURES / "wallet-platform" / "contracts" / "wallet" / "openapi.yaml"


@pytest.fixture(autouse=True)
def _actor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")


def _proto(old: str, new: str) -> tuple[Compat, tuple[str, ...]]:
    text = KMS.read_text(encoding="utf-8")
    assert old in text, old
    found = classify("contracts/kms/kms.proto", text.encode(), text.replace(old, new, 1).encode())
    return found.compat, found.reasons


def _openapi(old: str, new: str) -> tuple[Compat, tuple[str, ...]]:
    text = WALLET.read_text(encoding="utf-8")
    assert old in text, old
    found = classify("contracts/wallet/openapi.yaml", text.encode(), text.replace(old, new, 1).encode())
    return found.compat, found.reasons


@pytest.mark.parametrize(("old", "new", "compat", "reason"), [
    ("  bytes digest = 2; // 32-byte message digest\n", "", Compat.BREAKING, "field SignRequest.digest = 2 removed"),
    ("bytes digest = 2;", "bytes digest = 4;", Compat.BREAKING, "renumbered from 2 to 4"),
    ("bytes digest = 2;", "string digest = 2;", Compat.BREAKING, "type changed from bytes to string"),
    ("bytes digest = 2;", "optional bytes digest = 2;", Compat.BREAKING, "cardinality changed"),
    ("  rpc RotateKey(RotateKeyRequest) returns (RotateKeyResponse);\n", "", Compat.BREAKING,
     "method KeyManagement.RotateKey removed"),
    ("  ALGORITHM_ED25519 = 2;\n", "", Compat.BREAKING, "enum value Algorithm.ALGORITHM_ED25519 removed"),
    ("package walletplatform.kms.v1;", "package walletplatform.kms.v2;", Compat.BREAKING, "package changed"),
    ("bytes digest = 2;", "bytes digest = 2;\n  string note = 9;", Compat.COMPATIBLE, "added"),
    ("  bytes digest = 2; // 32-byte message digest\n", "  reserved 2;\n", Compat.COMPATIBLE,
     "removed and its number reserved"),
    ("// never leaves", "// does not leave", Compat.COMPATIBLE, "comments or layout only"),
    ("bytes digest = 2;", 'bytes digest = 2 [json_name = "d"];', Compat.UNKNOWN, "options changed"),
])
def test_protobuf_pairs(old: str, new: str, compat: Compat, reason: str) -> None:
    got, reasons = _proto(old, new)
    assert got == compat, reasons
    assert any(reason in r for r in reasons), reasons


@pytest.mark.parametrize(("old", "new", "compat", "reason"), [
    ("  /v1/wallets/{walletId}/transactions/sign:", "  /v1/wallets/{walletId}/transactions/sign-v2:",
     Compat.BREAKING, "operation POST /v1/wallets/{walletId}/transactions/sign removed"),
    ("          schema: {type: string}\n      requestBody:",
     "          schema: {type: string}\n        - name: idempotencyKey\n          in: header\n"
     "          required: true\n          schema: {type: string}\n      requestBody:",
     Compat.BREAKING, "required header parameter idempotencyKey"),
    ('        "201":\n          description: Wallet created', '        "202":\n          description: Wallet created',
     Compat.BREAKING, "response 201 removed"),
    ("        derivation_path: {type: string, example: \"m/44'/60'/0'/0/0\"}\n", "", Compat.BREAKING,
     "property derivation_path removed (response narrowed)"),
    ("          schema: {type: string}\n      requestBody:",
     "          schema: {type: string}\n        - name: trace\n          in: query\n          schema: {type: string}\n"
     "      requestBody:", Compat.COMPATIBLE, "optional query parameter trace added"),
    ("Wallet created", "The wallet, created", Compat.COMPATIBLE, "no change to the interface"),
    ("chain: {type: string, enum: [bitcoin, ethereum]}", "chain: {type: string, enum: [bitcoin]}",
     Compat.UNKNOWN, "property chain changed"),
])
def test_openapi_pairs(old: str, new: str, compat: Compat, reason: str) -> None:
    got, reasons = _openapi(old, new)
    assert got == compat, reasons
    assert any(reason in r for r in reasons), reasons


def test_no_engine_or_no_parse_is_unknown_never_compatible() -> None:
    assert classify("contracts/mpc/s.schema.json", b'{"type": "object"}', b'{"type": "array"}').compat \
        == Compat.UNKNOWN
    assert classify("contracts/kms/kms.proto", b'syntax = "proto3";', b"message {").compat == Compat.UNKNOWN
    assert classify("contracts/x.yaml", b"openapi: 3.0.0\na: &x [1]\nb: *x\n", b"openapi: 3.0.0\n").compat \
        == Compat.UNKNOWN
    assert classify("contracts/kms/kms.proto", b"x", None).compat == Compat.BREAKING
    assert classify("contracts/kms/new.proto", None, b"x").compat == Compat.COMPATIBLE


def test_breaking_change_raises_risk_and_e2e_is_not_accepted_without_coverage(repo: Path) -> None:
    # hd-manager consumes the wallet API; take its e2e suite away, then break the API on a branch.
    policy = repo / "lanewarden.yaml"
    text = policy.read_text(encoding="utf-8")
    policy.write_text(text.replace("    services: [wallet-api, hd-manager]\n", "    services: [wallet-api]\n"),
                      encoding="utf-8")
    git(repo, "commit", "-q", "-am", "policy: no suite for hd-manager")
    git(repo, "checkout", "-q", "-b", "break")
    api = repo / "contracts/wallet/openapi.yaml"
    api.write_text(api.read_text(encoding="utf-8").replace('        "201":', '        "202":', 1), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "wallet api: 202")
    git(repo, "checkout", "-q", "main")
    data = json.loads(expect(lanewarden("review", "contracts", "--repo", str(repo), "--base", "main", "--head",
                                        "break", "--format", "json"), 3).stdout)  # 3: stale mappings too
    [c] = data["contracts"]
    assert c["compatibility"] == "breaking" and c["risk"] == "high"
    assert any("breaking change in contracts/wallet/openapi.yaml: POST /v1/wallets: response 201 removed" in r
               for r in c["risk_reasons"])
    # The same range: the e2e review no longer says accept when nothing exercises the consumer.
    mx = json.loads(expect(lanewarden("review", "e2e", "--repo", str(repo), "--base", "main", "--head", "break",
                                      "--format", "json"), 3).stdout)
    assert mx["uncovered_services"] == ["hd-manager"] and mx["decision"] == "revision"
