"""The HTML report in a real headless browser: it renders offline, and says what the review decided.

Needs Debian's chromium (`.ci/run` installs it); without a browser the test
skips and says how to get one.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_reviews import KMS_PROTO, WALLET_APP, branch, junit

from conftest import git, lanewarden

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("chromium not installed: apt-get install chromium to run the HTML report test")


def browse(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"  # a fresh profile per run
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "HOME": str(tmp_path)})


def test_html_report_renders_in_headless_chromium(repo: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    binary = chromium()
    monkeypatch.setenv("LANEWARDEN_ACTOR", "tester")
    branch(repo, "lanewarden/wallet-api/key-version", [WALLET_APP, KMS_PROTO])
    results = tmp_path / "results"
    junit(results, "signing-flow", passing=True)
    junit(results, "key-rotation", passing=False)  # wallet-lifecycle: not run
    page = tmp_path / "review.html"
    result = lanewarden("review", "final", "--repo", str(repo), "--results", str(results), "--format", "html",
                       "--output", str(page))
    assert result.exit_code == 1, result.stdout + result.stderr
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "<svg" in html

    shot = tmp_path / "review.png"
    proc = browse(binary, tmp_path, "--window-size=1280,2000", f"--screenshot={shot}", page.as_uri())
    assert shot.is_file(), proc.stderr[-2000:]
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000  # a real picture, not a blank page

    proc = browse(binary, tmp_path, "--dump-dom", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "decision: REJECT" in dom
    for suite in ("signing-flow", "key-rotation", "wallet-lifecycle"):
        assert suite in dom
    assert "NOT RUN: residual risk" in dom and "residual risk: wallet-lifecycle did not run" in dom
    assert "lane wallet-api (lanewarden/wallet-api/key-version)" in dom
    assert "contract: kms-signing" in dom  # the graph picture, as SVG text
    assert git(repo, "status", "--porcelain") == ""
