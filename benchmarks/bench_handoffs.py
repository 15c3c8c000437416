"""Benchmark: `lanewarden handoffs list` on a queue of 10,000 handoffs.

Builds the queue with one `git fast-import` stream (a real queue: one ref and
one commit per handoff, `handoff.json` in its tree), then times the listing
against git's own floor, `git for-each-ref` over the same refs. Prints; never
fails on speed.

    python benchmarks/bench_handoffs.py [--count 10000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchenv import git_env, lanewarden_argv

ENV = git_env()
PREFIX = "refs/lanewarden/handoffs/"
TARGETS = ("kms-api", "contracts", "hd-manager", "root", "party-node-rs", "mpc-manager-rs", "wallet-api")
STATUSES = ("open", "accepted", "applied", "rejected", "superseded")


def content_id(source: str, target: str, paths: list[str], problem: str) -> str:
    """handoffs/model.py's handoff_id, restated: a record whose id its content does not derive is damaged."""
    canon = json.dumps({"source": source, "target": target, "paths": sorted(paths), "problem": problem.strip(),
                        "change": ""}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()[:20]


def record(i: int) -> dict[str, object]:
    target = TARGETS[i % len(TARGETS)]
    source = "wallet-api" if target != "wallet-api" else "kms-api"
    hid = content_id(source, target, [f"services/{target}/f{i}.py"], f"finding number {i} needs {target}")
    return {"schema": "lanewarden.handoff/1", "id": hid, "status": STATUSES[i % len(STATUSES)],
            "source_worker": source, "task": f"task {i}",
            "source_scope": {"allow": ["services/wallet-api/**"], "deny": []}, "target_worker": target,
            "routing_reason": f"owned by {target}", "problem": f"finding number {i} needs {target}",
            "evidence": {"paths": [f"services/{target}/f{i}.py"], "base": None, "head": None,
                         "diff_sha256": None, "notes": []},
            "proposed_change": None, "risk_if_ignored": "blocked", "suggested_validation":
                {"commands": [], "tests": [], "e2e": []}, "contracts": [], "e2e": [],
            "created_at": "2026-11-21T00:00:00+00:00", "created_by": "bench", "applied_commit": None,
            "history": [{"who": "bench", "when": "2026-11-21T00:00:00+00:00", "action": "create",
                         "reason": None, "commit": None}]}


def build(repo: Path, count: int) -> None:
    subprocess.run(["git", "init", "-q", str(repo)], env=ENV, check=True)
    chunks = []
    for i in range(count):
        rec = record(i)
        blob = (json.dumps(rec, indent=2) + "\n").encode()
        msg = f"handoff {rec['id']}: create by bench\n".encode()
        chunks.append(b"blob\nmark :%d\ndata %d\n%s\n" % (i + 1, len(blob), blob))
        chunks.append(b"commit %s%s\ncommitter bench <bench@localhost> 1767225600 +0000\ndata %d\n%s"
                      b"M 100644 :%d handoff.json\n\n" % (PREFIX.encode(), str(rec["id"]).encode(), len(msg), msg,
                                                          i + 1))
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=repo, env=ENV,
                   input=b"".join(chunks) + b"done\n", check=True)


def best(argv: list[str], cwd: Path, repeat: int) -> float:
    subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, check=True)  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description="lanewarden handoffs list on a large queue")
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    lanewarden = lanewarden_argv()
    with tempfile.TemporaryDirectory(prefix="lanewarden-bench-") as tmp:
        repo = Path(tmp) / "repo"
        t0 = time.perf_counter()
        build(repo, args.count)
        print(f"queue of {args.count} handoffs built in {time.perf_counter() - t0:.1f}s")
        floor = best(["git", "for-each-ref", PREFIX], repo, args.repeat)
        listing = best([*lanewarden, "handoffs", "list", "--format", "json"], repo, args.repeat)
        text = best([*lanewarden, "handoffs", "list", "--target", "kms-api"], repo, args.repeat)
        out = subprocess.run([*lanewarden, "handoffs", "list", "--format", "json"], cwd=repo, env=ENV,
                             capture_output=True, check=True).stdout
        assert len(json.loads(out)) == args.count
        print(f"  git for-each-ref (floor)                  {floor:7.3f} s")
        print(f"  lanewarden handoffs list --format json     {listing:7.3f} s   ({listing / floor:.0f}x the floor)")
        print(f"  lanewarden handoffs list --target kms-api  {text:7.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
