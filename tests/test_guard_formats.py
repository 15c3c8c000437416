"""The verdict's four renderings: the JSON contract, text, a pull-request comment, GitHub annotations."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import git, lanewarden


def _stray(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "lanewarden/wallet-api/stray")
    for path, text in (("services/wallet-api/src/wallet_api/signing.py", "# own\n"),
                       ("contracts/kms/kms.proto", "// proposal, with a | pipe\n"),
                       ("services/kms-api/src/kms_api/keys.py", "# stray\n")):
        with open(repo / path, "a") as fh:
            fh.write(text)
    git(repo, "commit", "-qam", "stray")


def _guard(repo: Path, fmt: str) -> tuple[int, str]:
    result = lanewarden("guard", "--repo", str(repo), "--base", "main", "--format", fmt)
    return result.exit_code, result.stdout


def test_json_verdict_follows_the_contract(repo: Path) -> None:
    _stray(repo)
    code, out = _guard(repo, "json")
    v = json.loads(out)
    assert code == v["exit_code"] == 1
    assert set(v) >= {"schema", "decision", "exit_code", "worker", "mode", "base", "head", "policy",
                      "diff_sha256", "changes", "votes", "handoffs"}
    assert v["schema"] == "lanewarden.verdict/1" and v["worker"] == "wallet-api" and v["mode"] == "range"
    assert v["policy"]["source"] == "revision" and v["policy"]["trusted"] is True
    assert len(v["policy"]["sha256"]) == 64 and len(v["diff_sha256"]) == 64
    for change in v["changes"]:
        assert set(change) >= {"path", "status", "old_mode", "new_mode", "renamed_from", "renamed_to",
                               "class", "rule", "route_to", "reasons"}
    classes = {c["path"]: (c["class"], c["route_to"]) for c in v["changes"]}
    assert classes["contracts/kms/kms.proto"] == ("propose_only", "contracts")
    assert classes["services/kms-api/src/kms_api/keys.py"] == ("out_of_scope", "kms-api")
    assert {v_["guard"] for v_ in v["votes"]} == {"scope", "protected", "secrets", "budget"}
    # The same change always has the same digest: replay and overrides can bind to it.
    assert json.loads(_guard(repo, "json")[1])["diff_sha256"] == v["diff_sha256"]


def test_text_says_what_to_do_next(repo: Path) -> None:
    _stray(repo)
    code, out = _guard(repo, "text")
    assert code == 1
    assert "decision: REJECT (exit 1)" in out and "next:" in out
    assert "handoff -> kms-api" in out


def test_markdown_is_a_pull_request_comment(repo: Path) -> None:
    _stray(repo)
    code, out = _guard(repo, "markdown")
    assert code == 1
    assert out.startswith("### ") and "reject" in out
    assert "| `contracts/kms/kms.proto` | modified | propose_only | contracts |" in out
    assert "<details>" in out and "</details>" in out


def test_github_annotations_escape_their_values(repo: Path) -> None:
    _stray(repo)
    code, out = _guard(repo, "github")
    assert code == 1
    lines = out.splitlines()
    assert any(line.startswith("::error file=services/kms-api/src/kms_api/keys.py,title=lanewarden::")
               for line in lines)
    assert any(line.startswith("::warning file=contracts/kms/kms.proto,") for line in lines)
    assert lines[-1].startswith("::error title=lanewarden::reject for wallet-api")
    assert all("\n" not in line for line in lines)


def test_dry_run_policy_is_marked_untrusted(repo: Path, tmp_path: Path) -> None:
    policy = tmp_path / "wide.yaml"
    policy.write_text((repo / "lanewarden.yaml").read_text().replace(
        'allow: ["services/wallet-api/**"]', 'allow: ["services/**"]'))
    with open(repo / "services/kms-api/README.md", "a") as fh:
        fh.write("x\n")
    result = lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--worktree",
                       "--policy", str(policy), "--format", "json")
    v = json.loads(result.stdout)
    assert v["policy"]["trusted"] is False and v["policy"]["source"] == "file"
    assert any("dry run" in n for n in v["notes"])
    text = lanewarden("guard", "--repo", str(repo), "--worker", "wallet-api", "--worktree", "--policy", str(policy))
    assert "UNTRUSTED" in text.stdout
