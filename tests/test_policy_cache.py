"""The policy cache: keyed by the policy blob and the code, HMAC-checked, never trusted when damaged."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import git, lanewarden
from lanewarden.workers import loader, policycache
from lanewarden.workers.git import Git


@pytest.fixture(autouse=True)
def _own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def _entries(repo: Path) -> list[Path]:
    cache = repo / ".git" / "lanewarden" / "cache"
    return sorted(cache.glob("*.json")) if cache.is_dir() else []


def _stray(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "lanewarden/wallet-api/stray")
    for path in ("services/wallet-api/src/wallet_api/signing.py", "contracts/kms/kms.proto",
                 "services/kms-api/src/kms_api/keys.py"):
        with open(repo / path, "a") as fh:
            fh.write("# edit\n")
    git(repo, "commit", "-qam", "stray")


def _verdict(repo: Path, *extra: str) -> dict[str, object]:
    out = lanewarden("guard", "--repo", str(repo), "--format", "json", *extra).output
    doc = json.loads(out)
    assert isinstance(doc, dict)
    doc.pop("decided_at", None)
    return doc


def test_verdicts_with_and_without_the_cache_are_identical(repo: Path) -> None:
    _stray(repo)
    ranges = [("--base", "main"), ("--base", "main", "--worker", "wallet-api"),
              ("--base", "HEAD~1", "--worker", "kms-api")]
    cold = []
    for args in ranges:
        for entry in _entries(repo):
            entry.unlink()
        cold.append(_verdict(repo, *args))
    assert _entries(repo), "a load from a revision writes an entry"
    warm = [_verdict(repo, *args) for args in ranges]
    assert [json.dumps(v, sort_keys=True) for v in cold] == [json.dumps(v, sort_keys=True) for v in warm]


def test_a_hit_gives_the_same_policy(repo: Path) -> None:
    g = Git.discover(repo)
    first = loader.load_revision(g, "HEAD")
    [entry] = _entries(repo)
    second = loader.load_revision(g, "HEAD")
    assert second.policy == first.policy and second.marks == first.marks
    assert _entries(repo) == [entry]


def test_a_changed_policy_blob_uses_another_entry(repo: Path) -> None:
    g = Git.discover(repo)
    loader.load_revision(g, "HEAD")
    [old] = _entries(repo)
    with open(repo / "lanewarden.yaml", "a") as fh:
        fh.write("# a new blob\n")
    git(repo, "commit", "-qam", "policy edit")
    loaded = loader.load_revision(g, "HEAD")
    assert loaded.sha256 not in old.name
    assert any(loaded.sha256 in e.name for e in _entries(repo))


def test_a_code_change_misses(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = Git.discover(repo)
    first = loader.load_revision(g, "HEAD")
    monkeypatch.setattr(policycache, "_code_key", lambda: "another-lanewarden")
    assert policycache.load(repo / ".git" / "lanewarden" / "cache", first.sha256) is None
    loader.load_revision(g, "HEAD")
    assert any(e.name.endswith("-another-lanewarden.json") for e in _entries(repo))


def test_a_tampered_entry_is_ignored_and_rebuilt(repo: Path) -> None:
    g = Git.discover(repo)
    first = loader.load_revision(g, "HEAD")
    [entry] = _entries(repo)
    mac, _, body = entry.read_bytes().partition(b"\n")
    head, _, marks = body.partition(b"\n")
    doc = json.loads(head)
    # An agent widens its own lane in the cached data but cannot sign it.
    doc["data"]["workers"]["wallet-api"]["allow"] = ["**"]
    entry.write_bytes(mac + b"\n" + json.dumps(doc).encode() + b"\n" + marks)
    assert policycache.load(entry.parent, first.sha256) is None
    again = loader.load_revision(g, "HEAD")
    assert again.policy == first.policy
    assert policycache.load(entry.parent, first.sha256) is not None


def test_the_marks_line_is_signed_too_and_read_on_first_use(repo: Path) -> None:
    g = Git.discover(repo)
    first = loader.load_revision(g, "HEAD")
    hit = loader.load_revision(g, "HEAD")
    assert isinstance(hit.marks, policycache.Marks)
    assert hit.where("workers", "wallet-api", "allow", 0) == first.where("workers", "wallet-api", "allow", 0)
    [entry] = _entries(repo)
    mac, _, body = entry.read_bytes().partition(b"\n")
    head, _, marks = body.partition(b"\n")
    # Marks that point an error message elsewhere are as unsigned as widened data.
    entry.write_bytes(mac + b"\n" + head + b"\n" + marks.replace(b",", b", ", 1))
    assert policycache.load(entry.parent, first.sha256) is None


@pytest.mark.parametrize("damage", [b"", b"not json at all", b"\x00\xff" * 10])
def test_a_corrupt_entry_is_ignored_and_rebuilt(repo: Path, damage: bytes) -> None:
    g = Git.discover(repo)
    first = loader.load_revision(g, "HEAD")
    [entry] = _entries(repo)
    entry.write_bytes(damage)
    assert policycache.load(entry.parent, first.sha256) is None
    assert loader.load_revision(g, "HEAD").policy == first.policy
    assert policycache.load(entry.parent, first.sha256) is not None


def test_an_entry_signed_by_another_user_is_ignored(repo: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    g = Git.discover(repo)
    first = loader.load_revision(g, "HEAD")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "someone-else"))
    assert policycache.load(repo / ".git" / "lanewarden" / "cache", first.sha256) is None


def test_the_key_is_private(repo: Path, tmp_path: Path) -> None:
    loader.load_revision(Git.discover(repo), "HEAD")
    key = tmp_path / "xdg" / "lanewarden" / "key"
    assert key.stat().st_mode & 0o077 == 0

