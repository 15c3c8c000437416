#!/usr/bin/env python3
"""Dashboard benchmark: pages of a queue of --handoffs handoffs, through the real server.

Starts ``lanewarden serve`` on a free 127.0.0.1 port over a generated
repository whose queue holds --handoffs refs (distinct records, two targets,
two contracts), then times GET /handoffs (first page, a filtered page, a late
page) and one handoff, against the floor of reading the same refs with one
``git for-each-ref`` and one ``git cat-file --batch`` (the queue cannot read less).

Prints figures; never fails on speed (only when a page is wrong).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchenv import git_env, lanewarden_argv

ENV = {**git_env(), "LANEWARDEN_ACTOR": "bench"}


def git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    proc = subprocess.run(["git", *args], cwd=repo, env=ENV, input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def build(repo: Path, n: int) -> None:
    git(repo, "-c", "init.defaultBranch=main", "init", "-q", ".")
    (repo / "lanewarden.yaml").write_text(
        "version: 1\nroot: root\nworkers:\n  a: {allow: ['a/**']}\n  b: {allow: ['b/**']}\n"
        "  root: {allow: ['docs/**']}\n"
        "contracts:\n  c1: {paths: ['a/c1/**'], producers: [a], consumers: [b]}\n"
        "  c2: {paths: ['b/c2/**'], producers: [b], consumers: [a]}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    # One fast-import stream: n blobs, n commits, n refs; each id derived from its record, as the queue checks.
    from lanewarden.handoffs.model import handoff_id

    out = []
    for i in range(n):
        target = "a" if i % 2 else "b"
        hid = handoff_id("root", target, (), f"problem {i}", None)
        record = {"schema": "lanewarden.handoff/1", "id": hid, "status": "open", "source_worker": "root",
                  "target_worker": target, "routing_reason": "owner", "problem": f"problem {i}",
                  "contracts": ["c1" if i % 2 else "c2"], "created_at": f"2026-01-01T00:{i // 60 % 60:02d}:"
                  f"{i % 60:02d}+00:00", "created_by": "bench",
                  "proposed_change": None}
        body = json.dumps(record).encode()
        out.append(b"commit refs/lanewarden/handoffs/%s\ncommitter b <b@b> 0 +0000\ndata 1\nh\n" % hid.encode())
        out.append(b"M 100644 inline handoff.json\ndata %d\n%s\n" % (len(body), body))
    git(repo, "fast-import", "--quiet", data=b"".join(out))


def get(url: str, cookie: str) -> tuple[float, str]:
    req = urllib.request.Request(url, headers={"Cookie": cookie})
    start = time.perf_counter()
    with urllib.request.urlopen(req) as r:  # our own server on 127.0.0.1
        body = r.read().decode()
    return time.perf_counter() - start, body


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--handoffs", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    shim = Path(tempfile.mkdtemp(prefix="lanewarden-bench-"))  # import this checkout as lanewarden
    (shim / "lanewarden").symlink_to(Path(__file__).resolve().parent.parent, target_is_directory=True)
    sys.path.insert(0, str(shim))
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        repo = Path(tmp)
        build(repo, args.handoffs)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        path = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH")) if p)
        proc = subprocess.Popen([*lanewarden_argv(), "serve", "--repo", str(repo), "--port", str(port)],
                                env={**ENV, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path},
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            line = ""
            while not line.startswith("open: "):
                line = proc.stdout.readline()
            token = line.split("token=")[1].strip()
            cookie = f"lanewarden_desk={token}"
            base = f"http://127.0.0.1:{port}"
            from lanewarden.handoffs.model import handoff_id
            for _ in range(100):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.1)
            start = time.perf_counter()
            refs = git(repo, "for-each-ref", "--format=%(objectname):handoff.json", "refs/lanewarden/handoffs/")
            git(repo, "cat-file", "--batch", data=refs)
            floor = time.perf_counter() - start
            print(f"{args.handoffs} handoffs; floor (for-each-ref + cat-file --batch): {floor:.3f} s")
            for name, path, expect in (("first page", "/handoffs", f"of {args.handoffs} handoff"),
                                       ("filtered by target and contract", "/handoffs?target=a&contract=c1",
                                        f"{args.handoffs // 2} of {args.handoffs}"),
                                       ("page 90", "/handoffs?page=90", "page 90 of"),
                                       ("one handoff", f"/handoffs/{handoff_id('root', 'a', (), 'problem 5', None)}",
                                        "problem 5")):
                samples = []
                for _ in range(args.repeat):
                    seconds, body = get(base + path, cookie)
                    if expect not in body:
                        raise SystemExit(f"{path}: {expect!r} not in the page")
                    samples.append(seconds)
                print(f"  {name:34} {min(samples):.3f} s (best of {args.repeat})")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
