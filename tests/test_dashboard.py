"""``lanewarden serve`` in a real browser: Playwright drives Debian's chromium against a real server.

The server is the real command, started as a process on a free 127.0.0.1 port
over a real repository; handoffs come from the real CLI. Set
LANEWARDEN_SCREENSHOTS=docs/img to refresh the screenshots docs/reviews.md shows.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import BIN, CHECKOUT, expect, git, lanewarden
from lanewarden.orchestrator.runs.records import record_branch
from lanewarden.workers.git import Git

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")

WALLET_APP = "services/wallet-api/src/wallet_api/app.py"
KMS_KEYS = "services/kms-api/src/kms_api/keys.py"
KMS_PROTO = "contracts/kms/kms.proto"
SCREENSHOTS = os.environ.get("LANEWARDEN_SCREENSHOTS")  # read before the test fixtures clear LANEWARDEN_*


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _edit(repo: Path, path: str, old: str, new: str) -> None:
    f = repo / path
    f.write_text(f.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")


def _branch(repo: Path, name: str, path: str, old: str, new: str) -> None:
    git(repo, "checkout", "-q", "-b", name, "main")
    _edit(repo, path, old, new)
    git(repo, "commit", "-q", "-am", name)
    git(repo, "checkout", "-q", "main")
    # As a run would: lanes are attributed by lanewarden's records, never by a branch's name.
    record_branch(Git.discover(repo), name.split("/")[1], name, git(repo, "rev-parse", name).strip())


def _handoff(repo: Path, worker: str, path: str, old: str, new: str, problem: str) -> str:
    _edit(repo, path, old, new)
    patch = git(repo, "diff")
    git(repo, "checkout", "-q", "--", path)
    out = expect(lanewarden("handoff", "propose", "--repo", str(repo), "--worker", worker, "--problem", problem,
                            "--patch", "-", "--format", "json", input=patch)).stdout
    return str(json.loads(out)[0]["id"])


@pytest.fixture
def served(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str, str]]:
    """(repo, base URL, URL with token) of a running ``lanewarden serve``."""
    monkeypatch.setenv("LANEWARDEN_ACTOR", "reviewer-ann")
    _branch(repo, "lanewarden/wallet-api/retry", WALLET_APP, "import", "import  # retry\nimport")
    _branch(repo, "lanewarden/wallet-api/timeouts-for-every-call-to-the-key-management-service", WALLET_APP,
            "import", "import  # timeouts\nimport")
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "lanewarden"), "serve", "--repo", str(repo), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = ""
        for _ in range(5):
            line = proc.stdout.readline()
            if line.startswith("open: "):
                url = line.removeprefix("open: ").strip()
                break
        assert url.startswith(f"http://127.0.0.1:{port}/?token="), url
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):  # the URL is printed just before uvicorn binds
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield repo, base, url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _shot(page: object, name: str, tmp_path: Path) -> None:
    target = (CHECKOUT / SCREENSHOTS if SCREENSHOTS else tmp_path) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)  # type: ignore[attr-defined]


def test_dashboard_in_a_real_browser(served: tuple[Path, str, str], tmp_path: Path) -> None:
    repo, base, url = served
    to_kms = _handoff(repo, "wallet-api", KMS_KEYS, "import uuid", "import uuid  # idempotency keys",
                      "Sign needs an idempotency key so wallet-api can retry")
    _handoff(repo, "wallet-api", KMS_PROTO, "bytes digest = 2;", "bytes digest = 2; // sha-256",
             "document the digest")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # Refused without the token.
            refused = page.goto(base + "/")
            assert refused is not None and refused.status == 403
            assert "access token" in page.content()
            # The printed URL opens it; the token leaves the address bar for a cookie.
            page.goto(url)
            assert page.url == base + "/"
            assert page.locator("h1").inner_text() == "Lanes and in-flight branches"
            # The two wallet-api branches really conflict.
            conflict = page.locator("table.conflicts tr.bad")
            assert conflict.count() == 1 and WALLET_APP in conflict.inner_text()
            _shot(page, "desk-lanes.png", tmp_path)
            # The queue, filtered by target.
            page.click("text=handoffs")
            assert page.locator("table.queue tbody tr").count() == 2
            page.click("a[data-facet=target]:text-is('kms-api')")
            assert "target = kms-api" in page.locator("p.facts").inner_text()
            rows = page.locator("table.queue tbody tr")
            assert rows.count() == 1 and "wallet-api → kms-api" in rows.inner_text()
            _shot(page, "desk-queue.png", tmp_path)
            # Live: a new handoff appears without a reload.
            page.evaluate("window.__same_page = true")
            page.goto(base + "/handoffs")
            page.evaluate("window.__same_page = true")
            third = _handoff(repo, "hd-manager", KMS_KEYS, "import hashlib", "import hashlib  # hd", "hd needs it too")
            playwright.expect(page.locator("table.queue tbody tr")).to_have_count(3, timeout=15000)
            assert page.evaluate("window.__same_page") is True
            # One handoff: its diff and evidence; accept, then apply.
            page.click(f"a[href='/handoffs/{to_kms}']")
            assert page.locator("pre.diff span.add").first.inner_text().startswith("+import uuid")
            assert KMS_KEYS in page.locator("table.kv").nth(1).inner_text()
            _shot(page, "desk-handoff.png", tmp_path)
            page.click("#accept")
            assert page.locator("#status").inner_text() == "accepted"
            page.click("#apply")
            assert page.locator("#status").inner_text() == "applied"
            assert f"applied on lanewarden/kms-api/handoff-{to_kms[:12]}" in page.locator("#message").inner_text()
            assert git(repo, "rev-parse", "--verify", f"lanewarden/kms-api/handoff-{to_kms[:12]}").strip()
            # A rejection needs a reason and records it.
            page.goto(f"{base}/handoffs/{third}")
            page.fill("form[action$='/reject'] input[name=reason]", "kms-api already imports hashlib")
            page.click("#reject")
            assert page.locator("#status").inner_text() == "rejected", page.locator("main").inner_text()[:600]
            assert "kms-api already imports hashlib" in page.locator("table.history").inner_text()
            # The ledger shows it, under the reviewer's name, and verifies.
            page.click("text=ledger")
            assert page.locator("#verify").inner_text().startswith("verified:")
            rows = page.locator("table.timeline tbody tr")
            assert "action reject" in rows.nth(0).inner_text()
            applied = rows.nth(1).inner_text()
            assert "reviewer-ann" in applied and "action apply" in applied and to_kms in applied
            _shot(page, "desk-ledger.png", tmp_path)
            page.click("text=reviews")
            assert "Contract impact" in page.content()
            _shot(page, "desk-reviews.png", tmp_path)
            # Writes without the form's CSRF field, or from another origin, are refused.
            bare = page.request.post(f"{base}/handoffs/{to_kms}/reject", form={"reason": "x"})
            assert bare.status == 403
            forged = page.request.post(f"{base}/handoffs/{to_kms}/reject", form={"reason": "x", "csrf": "0" * 64},
                                       headers={"Origin": "http://evil.example"})
            assert forged.status == 403
        finally:
            browser.close()


def test_dashboard_checks_host_and_never_binds_beyond_loopback_by_default(repo: Path) -> None:
    from lanewarden.orchestrator.dashboard.access import Access

    a = Access("127.0.0.1", 9999)
    assert a.host_ok("127.0.0.1:9999") and a.host_ok("localhost:9999") and not a.host_ok("evil.example:9999")
    assert a.same_origin("http://localhost:9999", None) and not a.same_origin(None, None)
    assert not a.same_origin("http://127.0.0.1:9998", None)
    assert a.csrf != a.token and a.csrf_ok(a.csrf) and not a.csrf_ok("")
    result = lanewarden("serve", "--repo", str(repo), "--host", "0.0.0.0")
    assert result.exit_code == 2 and "--allow-remote" in result.stderr


def test_queue_of_ten_thousand_is_read_once_and_paginated(repo: Path) -> None:
    from lanewarden.handoffs.model import Handoff
    from lanewarden.handoffs.queue import PREFIX
    from lanewarden.orchestrator.dashboard import desk
    from lanewarden.workers.git import Git

    g = Git.discover(repo)
    # 10,000 real records (each id derived from its content, as the queue checks) in one fast-import.
    stream = []
    for i in range(10_000):
        h = Handoff(id="0" * 20, source_worker="wallet-api", target_worker="kms-api" if i % 2 else "contracts",
                    routing_reason="owner", problem=f"problem {i}", created_at="2026-01-01T00:00:00+00:00",
                    created_by="t", contracts=("kms-signing",))
        h = h.model_copy(update={"id": h.content_id()})
        body = h.to_json().encode()
        stream.append(b"commit %s\ncommitter t <t@t> 0 +0000\ndata 1\nh\nM 100644 inline handoff.json\n"
                      b"data %d\n%s\n" % ((PREFIX + h.id).encode(), len(body), body))
    git(repo, "fast-import", "--quiet", input=b"".join(stream))
    # One damaged ref among them: named and skipped, never shown as a handoff.
    git(repo, "update-ref", PREFIX + "f" * 20, git(repo, "rev-parse", "HEAD").strip())
    q = desk.queue_page(g, target="kms-api", status=None, contract="kms-signing", page=3)
    assert q.everything == 10_000 and q.total == 5_000 and len(q.items) == desk.PER_PAGE and q.pages == 100
    assert dict(q.facets["target"]) == {"kms-api": 5_000, "contracts": 5_000}
    assert [d.ref for d in q.damaged] == [PREFIX + "f" * 20]
