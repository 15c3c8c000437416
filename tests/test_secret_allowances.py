"""Reviewed exceptions to the secrets guard (secrets.allow), read from the trusted policy only.

Shaped like open-telemetry/opentelemetry-demo's React Native app, which commits a `.env` of public
`EXPO_PUBLIC_*` values, Android's well-known debug keystore and `ios/.xcode.env`.
"""
from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import expect, git, lanewarden

APP = "src/react-native-app"
POLICY = textwrap.dedent("""\
    version: 1
    root: root
    workers:
      mobile:
        allow: ["src/react-native-app/**"]
      root:
        allow: ["**"]
    """)
ALLOW = textwrap.dedent("""\
    secrets:
      allow:
        expo-public:
          paths: ["src/react-native-app/.env"]
          rules: [env-file]
          reason: "only EXPO_PUBLIC_* values, bundled into the app anyway"
        android-debug:
          paths: ["src/react-native-app/android/app/debug.keystore"]
          reason: "Android's well-known debug keystore (password android), public by design"
        xcode-env:
          paths: ["src/react-native-app/ios/.xcode.env"]
          rules: [env-file]
          reason: "sets NODE_BINARY for Xcode builds; holds no secret"
    """)


def _app(make_repo: Callable[..., Path], policy: str) -> Path:
    repo = make_repo("otel-shaped")
    (repo / "lanewarden.yaml").write_text(policy, encoding="utf-8")
    (repo / APP).mkdir(parents=True)
    (repo / APP / "package.json").write_text('{"name": "react-native-app"}\n', encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "policy and app")
    return repo


def _add_public_files(repo: Path) -> None:
    (repo / APP / ".env").write_text("EXPO_PUBLIC_FRONTEND_PROXY_PORT=8080\n", encoding="utf-8")
    (repo / APP / "android/app").mkdir(parents=True)
    (repo / APP / "android/app/debug.keystore").write_bytes(b"\xfe\xed\xfe\xed\x00\x00\x00\x02debug")
    (repo / APP / "ios").mkdir()
    (repo / APP / "ios/.xcode.env").write_text("export NODE_BINARY=$(command -v node)\n", encoding="utf-8")


def _guard(repo: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = lanewarden("guard", "--repo", str(repo), "--worker", "mobile", "--base", "HEAD~1",
                        "--format", "json", *extra)
    return result.exit_code, json.loads(result.stdout)


def _reasons(verdict: dict[str, Any], path: str) -> list[str]:
    return next(c["reasons"] for c in verdict["changes"] if c["path"] == path)


def test_public_files_allowed_by_the_trusted_policy_are_accepted_and_said_so(
        make_repo: Callable[..., Path]) -> None:
    repo = _app(make_repo, POLICY + ALLOW)
    _add_public_files(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "public files")
    code, verdict = _guard(repo)
    assert code == 0, verdict
    assert _reasons(verdict, f"{APP}/.env") == [
        "allowed by policy (secrets.allow.expo-public): only EXPO_PUBLIC_* values, bundled into the app "
        "anyway [rule env-file]"]
    assert _reasons(verdict, f"{APP}/android/app/debug.keystore")[0].startswith(
        "allowed by policy (secrets.allow.android-debug): Android's well-known debug keystore")
    assert _reasons(verdict, f"{APP}/ios/.xcode.env")[0].startswith("allowed by policy (secrets.allow.xcode-env)")
    secrets_vote = next(v for v in verdict["votes"] if v["guard"] == "secrets")
    assert secrets_vote["vote"] == "approve" and len(secrets_vote["reasons"]) == 4
    # Every format shows the allowance, the quiet accepted summary included.
    text = expect(lanewarden("guard", "--repo", str(repo), "--worker", "mobile", "--base", "HEAD~1")).stdout
    assert "allowed by policy (secrets.allow.expo-public)" in text
    markdown = lanewarden("guard", "--repo", str(repo), "--worker", "mobile", "--base", "HEAD~1",
                          "--format", "markdown").stdout
    assert "allowed by policy (secrets.allow.android-debug)" in markdown
    github = lanewarden("guard", "--repo", str(repo), "--worker", "mobile", "--base", "HEAD~1",
                        "--format", "github").stdout
    assert f"::notice file={APP}/ios/.xcode.env" in github and "secrets.allow.xcode-env" in github


def test_the_same_files_without_an_allowance_are_rejected(make_repo: Callable[..., Path]) -> None:
    repo = _app(make_repo, POLICY)
    _add_public_files(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "public files")
    code, verdict = _guard(repo)
    assert code == 1
    assert _reasons(verdict, f"{APP}/.env")[0].startswith("secret: an environment file")
    assert _reasons(verdict, f"{APP}/.env")[0].endswith("[rule env-file]")
    assert _reasons(verdict, f"{APP}/android/app/debug.keystore")[0].endswith("[rule key-file]")
    github = lanewarden("guard", "--repo", str(repo), "--worker", "mobile", "--base", "HEAD~1",
                        "--format", "github").stdout
    assert f"::error file={APP}/.env" in github


def test_an_allowance_added_by_the_change_itself_does_not_count(make_repo: Callable[..., Path]) -> None:
    repo = _app(make_repo, POLICY)
    _add_public_files(repo)
    (repo / "lanewarden.yaml").write_text(POLICY + ALLOW, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "allow my own secrets")
    for who in ("mobile", "root"):
        result = lanewarden("guard", "--repo", str(repo), "--worker", who, "--base", "HEAD~1", "--format", "json")
        verdict = json.loads(result.stdout)
        assert result.exit_code == 1, verdict
        assert next(v for v in verdict["votes"] if v["guard"] == "secrets")["vote"] == "reject"
        assert not any("allowed by policy" in r for c in verdict["changes"] for r in c["reasons"])


def test_an_allowance_for_another_rule_does_not_cover_this_finding(make_repo: Callable[..., Path]) -> None:
    other = ALLOW.replace("rules: [env-file]\n      reason: \"only", "rules: [key-file]\n      reason: \"only")
    assert other != ALLOW
    repo = _app(make_repo, POLICY + other)
    (repo / APP / ".env").write_text("EXPO_PUBLIC_FRONTEND_PROXY_PORT=8080\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "env")
    code, verdict = _guard(repo)
    assert code == 1
    assert _reasons(verdict, f"{APP}/.env")[0].startswith("secret: ")
    assert any("near miss: secrets.allow.expo-public" in n and "rule env-file" in n for n in verdict["notes"])


def test_an_allowed_file_still_rejects_a_well_known_token_of_another_rule(make_repo: Callable[..., Path]) -> None:
    repo = _app(make_repo, POLICY + ALLOW)
    token = "AKIA" + "ABCDEFGHIJKLMNOP"
    (repo / APP / ".env").write_text(f"EXPO_PUBLIC_X=1\nAWS_KEY={token}\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "env with a key")
    code, verdict = _guard(repo)
    assert code == 1
    reasons = _reasons(verdict, f"{APP}/.env")
    assert any(r.startswith("allowed by policy (secrets.allow.expo-public)") for r in reasons)
    assert any(r.startswith("secret: a AWS access key id") and r.endswith("[rule aws-access-key-id]")
               for r in reasons)


def test_a_recorded_allowed_file_is_kept_in_clear_but_tokens_never_are(make_repo: Callable[..., Path]) -> None:
    # An allowance with no rules allows the token too; redaction still takes the token out.
    policy = POLICY + ALLOW.replace("rules: [env-file]\n      reason: \"only", "reason: \"only")
    repo = _app(make_repo, policy)
    token = "AKIA" + "QRSTUVWXYZ234567"
    (repo / APP / ".env").write_text("EXPO_PUBLIC_FRONTEND_PROXY_PORT=8080\n", encoding="utf-8")
    (repo / APP / "ios").mkdir()
    (repo / APP / "ios/.xcode.env").write_text("export NODE_BINARY=node\n", encoding="utf-8")
    git(repo, "add", "-A")
    expect(lanewarden("guard", "--repo", str(repo), "--worker", "mobile", "--staged", "--record"))
    change = _attachment(repo)
    assert "EXPO_PUBLIC_FRONTEND_PROXY_PORT=8080" in change and "NODE_BINARY" in change
    (repo / APP / ".env").write_text(f"EXPO_PUBLIC_FRONTEND_PROXY_PORT=8080\nK={token}\n", encoding="utf-8")
    git(repo, "add", "-A")
    expect(lanewarden("guard", "--repo", str(repo), "--worker", "mobile", "--staged", "--record"))
    assert token not in _attachment(repo)


def _attachment(repo: Path) -> str:
    """The change.diff of the latest ledger entry (each entry is one commit; its tree holds its attachments)."""
    out = []
    for line in git(repo, "ls-tree", "-r", "refs/lanewarden/ledger").splitlines():
        meta, _, name = line.partition("\t")
        if name.endswith("change.diff"):
            out.append(git(repo, "cat-file", "blob", meta.split()[2]))
    return "\n".join(out)


def test_every_rule_an_allowance_can_name_is_documented() -> None:
    from conftest import CHECKOUT
    from lanewarden.guards import secrets

    guide = (CHECKOUT / "docs" / "guard.md").read_text(encoding="utf-8")
    assert [rule for rule in sorted(secrets.RULES) if f"`{rule}`" not in guide] == []
