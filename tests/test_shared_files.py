"""Shared append-only files, in all four guard modes, and the guard in a blob-less partial clone.

The ``telemetry-shop`` fixture is shaped like public demo monorepos: every change
appends an entry to ``CHANGELOG.md`` (owned by root), which the policy lists
under ``shared.append_only``.
"""
from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import git, lanewarden

LOG = "CHANGELOG.md"
ENTRY = "* [checkout] retry payment once on UNAVAILABLE\n"
OWN = "services/checkout/cmd/main.go"


@pytest.fixture
def shop(make_repo: Callable[..., Path]) -> Path:
    return make_repo("telemetry-shop")


def _insert_entry(repo: Path) -> None:
    text = (repo / LOG).read_text()
    (repo / LOG).write_text(text.replace("## Unreleased\n\n", "## Unreleased\n\n* [checkout] faster quotes\n"))


def _append_at_end(repo: Path) -> None:
    with open(repo / LOG, "a", encoding="utf-8") as fh:
        fh.write("* [checkout] a late note\n")


def _edit_entry(repo: Path) -> None:
    (repo / LOG).write_text((repo / LOG).read_text().replace("retry payment once", "retry payment twice"))


def _delete_entry(repo: Path) -> None:
    (repo / LOG).write_text((repo / LOG).read_text().replace(ENTRY, ""))


def _verdict(repo: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = lanewarden("guard", "--repo", str(repo), "--worker", "checkout", "--format", "json", *args)
    return result.exit_code, json.loads(result.stdout)


def _in_mode(repo: Path, mode: str, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    """Guard whatever is in the work tree, presented in the given mode."""
    if mode == "worktree":
        return _verdict(repo, "--worktree")
    git(repo, "add", "-A")
    if mode == "staged":
        return _verdict(repo, "--staged")
    if mode == "patch":
        patch = tmp_path / "change.patch"
        patch.write_bytes(git(repo, "diff", "--cached", "--binary", "--no-renames").encode("utf-8",
                                                                                            "surrogateescape"))
        git(repo, "reset", "-q", "--hard")
        return _verdict(repo, "--patch", str(patch))
    git(repo, "commit", "-qm", "change")
    return _verdict(repo, "--base", "HEAD~1")


def _entry(verdict: dict[str, Any], path: str = LOG) -> dict[str, Any]:
    return next(c for c in verdict["changes"] if c["path"] == path)


MODES = ["range", "staged", "worktree", "patch"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("edit", [_insert_entry, _append_at_end], ids=["insert", "append"])
def test_adding_lines_to_a_shared_file_is_open_to_every_worker(shop: Path, tmp_path: Path, mode: str,
                                                                edit: Callable[[Path], None]) -> None:
    edit(shop)
    with open(shop / OWN, "a", encoding="utf-8") as fh:
        fh.write("// in lane\n")
    code, verdict = _in_mode(shop, mode, tmp_path)
    assert code == 0, verdict["votes"]
    entry = _entry(verdict)
    assert entry["class"] == "shared_append" and entry["route_to"] is None
    assert any("1 line(s) added, none changed" in r for r in entry["reasons"])
    assert verdict["handoffs"] == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("edit", "words"), [(_edit_entry, "deletes or alters"), (_delete_entry, "deletes or alters")],
                         ids=["edit", "delete-line"])
def test_changing_an_existing_line_is_out_of_scope_and_routed(shop: Path, tmp_path: Path, mode: str,
                                                              edit: Callable[[Path], None], words: str) -> None:
    edit(shop)
    code, verdict = _in_mode(shop, mode, tmp_path)
    assert code == 1
    entry = _entry(verdict)
    assert entry["class"] == "out_of_scope" and entry["route_to"] == "root"
    assert any(words in r for r in entry["reasons"])
    assert [h["target_worker"] for h in verdict["handoffs"]] == ["root"]


def test_renaming_deleting_or_chmodding_the_shared_file_is_out_of_scope(shop: Path) -> None:
    git(shop, "mv", LOG, "CHANGES.md")
    git(shop, "commit", "-qm", "rename")
    code, verdict = _verdict(shop, "--base", "HEAD~1")
    assert code == 1 and _entry(verdict)["class"] == "out_of_scope"
    assert any("deletes the file" in r for r in _entry(verdict)["reasons"])
    git(shop, "reset", "-q", "--hard", "HEAD~1")

    git(shop, "rm", "-q", LOG)
    git(shop, "commit", "-qm", "delete")
    assert _verdict(shop, "--base", "HEAD~1")[0] == 1
    git(shop, "reset", "-q", "--hard", "HEAD~1")

    (shop / LOG).chmod((shop / LOG).stat().st_mode | stat.S_IXUSR)
    _append_at_end(shop)
    git(shop, "commit", "-qam", "chmod")
    code, verdict = _verdict(shop, "--base", "HEAD~1")
    assert code == 1 and any("changes its mode" in r for r in _entry(verdict)["reasons"])


def test_a_last_line_without_newline_cannot_be_extended_silently(shop: Path) -> None:
    (shop / LOG).write_text((shop / LOG).read_text().rstrip("\n"))
    git(shop, "commit", "-qam", "no final newline")  # (committed by root, say)
    _append_at_end(shop)  # alters the old last line: it gains its newline
    git(shop, "commit", "-qam", "append")
    assert _verdict(shop, "--base", "HEAD~1")[0] == 1


def test_the_owner_may_still_edit_the_shared_file(shop: Path) -> None:
    _edit_entry(shop)
    git(shop, "commit", "-qam", "root edits")
    result = lanewarden("guard", "--repo", str(shop), "--worker", "root", "--base", "HEAD~1", "--format", "json")
    assert result.exit_code == 0 and _entry(json.loads(result.stdout))["class"] == "writable"


def test_a_run_keeps_its_changelog_entry(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")
    script = "printf '* [checkout] from the agent\\n' >> ../../CHANGELOG.md && echo '// x' >> cmd/main.go"
    result = lanewarden("run", "checkout", "--repo", str(shop), "--", "sh", "-c", script)
    assert result.exit_code == 0, result.output
    branch = git(shop, "for-each-ref", "--format=%(refname)", "refs/heads/lanewarden/").split()[0]
    assert "from the agent" in git(shop, "show", f"{branch}:{LOG}")


def test_the_policy_rejects_bad_shared_patterns(shop: Path, tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text((shop / "lanewarden.yaml").read_text().replace('append_only: ["CHANGELOG.md"]',
                                                                    'append_only: ["../CHANGELOG.md"]\n  extra: 1'))
    result = lanewarden("policy", "check", "--policy", str(policy), "--repo", str(shop))
    assert result.exit_code == 2
    assert "shared.append_only[0]" in result.stderr and "shared.extra" in result.stderr


# -- partial clones -----------------------------------------------------------

def test_the_guard_in_a_blobless_partial_clone_fetches_only_the_changed_blobs(shop: Path, tmp_path: Path) -> None:
    git(shop, "config", "uploadpack.allowFilter", "true")
    base = git(shop, "rev-parse", "HEAD").strip()
    _insert_entry(shop)
    with open(shop / OWN, "a", encoding="utf-8") as fh:
        fh.write("// in lane\n")
    git(shop, "commit", "-qam", "change")
    head = git(shop, "rev-parse", "HEAD").strip()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--filter=blob:none", "--no-checkout", f"file://{shop}", str(clone))
    assert "blob" not in git(clone, "cat-file", "--batch-all-objects", "--batch-check")
    # Count what the guard asks the remote for: every 'want' line sent to upload-pack.
    wants = tmp_path / "wants.log"
    spy = tmp_path / "upload-pack.sh"
    spy.write_text(f"#!/bin/sh\ntee -a '{wants}' | git-upload-pack \"$@\"\n")
    spy.chmod(0o755)
    git(clone, "config", "remote.origin.uploadpack", str(spy))

    code, verdict = _verdict(clone, "--base", base, "--head", head)
    assert code == 0 and _entry(verdict)["class"] == "shared_append"
    asked = {line.split("want ", 1)[1][:40] for line in wants.read_bytes().decode("latin-1").split("0032")
             if line.startswith("want ")}
    raw = git(shop, "diff-tree", "-r", "--raw", "--no-renames", base, head).split()
    changed_blobs = {tok.rstrip(".") for i, tok in enumerate(raw) if i % 6 in (2, 3)}
    policy_blob = git(shop, "rev-parse", f"{base}:lanewarden.yaml").strip()
    assert asked == changed_blobs | {policy_blob}, (asked, changed_blobs)
    assert len(asked) == 5  # the trusted policy, and old and new of the two changed files
