"""Benchmark: `handoffs list` and `ledger verify` on large stores, time and peak memory, against git.

Builds, each with one `git fast-import` stream, a queue of `--handoffs`
handoffs (as bench_handoffs.py) and a valid ledger of `--entries` entries (each
about the size of a recorded guard decision), then times, alternating each
lanewarden command with its floor, the median of `--repeat` runs:

* `lanewarden handoffs list --format json` against git reading the same refs
  and blobs: `git for-each-ref --format='%(objectname):handoff.json' | git cat-file --batch`;
* `lanewarden ledger verify` against git reading the same entries:
  `git rev-list --first-parent --reverse refs/lanewarden/ledger | sed s/$/:entry.json/ | git cat-file --batch`
  (the `sed` written in Python here: the rev-list output becomes the cat-file input).

Peak memory is the child's own maximum resident set (`os.wait4`), not git's.
Prints; never fails on speed.

    python benchmarks/bench_streams.py [--handoffs 100000] [--entries 50000] [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_handoffs import PREFIX
from benchenv import git_env, lanewarden_argv

ENV = {**git_env(), "LANEWARDEN_ACTOR": "bench"}
LEDGER = "refs/lanewarden/ledger"


def build_ledger(repo: Path, n: int) -> None:
    """A valid chain (hashes computed as lanewarden does) written with one fast-import stream."""
    script = f"""
import hashlib, json, subprocess, sys
def canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
prev, chunks = "0" * 64, []
paths = [f"services/svc-{{k:04d}}/src/mod/file.py" for k in range(30)]
for seq in range({n}):
    body = {{"schema": "lanewarden.ledger/1", "seq": seq, "time": "2026-01-01T00:00:00+00:00",
            "kind": "genesis" if seq == 0 else "guard", "actor": "bench <bench@localhost>",
            "inputs": {{}} if seq == 0 else {{"worker": f"svc-{{seq % 200:04d}}", "paths": paths}},
            "outcome": {{}} if seq == 0 else {{"decision": "accept"}}, "prev": prev, "attachments": {{}}}}
    h = hashlib.sha256(canonical(body)).hexdigest()
    blob = canonical({{**body, "hash": h}}) + b"\\n"
    msg = b"ledger %d\\n" % seq
    parent = b"from :%d\\n" % (2 * seq) if seq else b""
    chunks.append(b"blob\\nmark :%d\\ndata %d\\n%s\\n" % (2 * seq + 1, len(blob), blob))
    chunks.append(b"commit {LEDGER}\\nmark :%d\\ncommitter bench <b@x> 1767225600 +0000\\ndata %d\\n%s%s"
                  b"M 100644 :%d entry.json\\n\\n" % (2 * seq + 2, len(msg), msg, parent, 2 * seq + 1))
    prev = h
sys.stdout.buffer.write(b"".join(chunks) + b"done\\n")
"""
    # Piped straight into fast-import: this process stays small, and so does what a child forked
    # from it reports as its peak (Linux carries the parent's peak into a child until it execs).
    maker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=repo, env=ENV, stdin=maker.stdout, check=True)
    if maker.wait() != 0:
        raise SystemExit("building the ledger failed")


def measured(argv: list[str], cwd: Path) -> tuple[float, int]:
    """Seconds and the process's own peak RSS in KB."""
    with tempfile.TemporaryFile() as err:  # a pipe nobody reads until the end could fill and stall the child
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    if proc.returncode != 0 or "warning" in text:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {text[:2000]}")
    return elapsed, usage.ru_maxrss


def git_out(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=repo, env=ENV, capture_output=True, check=True).stdout


def floor_list(repo: Path) -> float:
    t0 = time.perf_counter()
    names = git_out(repo, "for-each-ref", "--format=%(objectname):handoff.json", PREFIX)
    subprocess.run(["git", "cat-file", "--batch"], cwd=repo, env=ENV, input=names, stdout=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - t0


def floor_ledger(repo: Path) -> float:
    t0 = time.perf_counter()
    commits = git_out(repo, "rev-list", "--first-parent", "--reverse", LEDGER)
    names = commits.replace(b"\n", b":entry.json\n")
    subprocess.run(["git", "cat-file", "--batch"], cwd=repo, env=ENV, input=names, stdout=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description="handoffs list and ledger verify on large stores")
    ap.add_argument("--handoffs", type=int, default=100_000)
    ap.add_argument("--entries", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    lw = lanewarden_argv()
    with tempfile.TemporaryDirectory(prefix="lanewarden-bench-streams-") as tmp:
        repo = Path(tmp) / "repo"
        here = str(Path(__file__).resolve().parent)
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {here!r}); from pathlib import Path; "
                        f"from bench_handoffs import build; build(Path({str(repo)!r}), {args.handoffs})"], check=True)
        build_ledger(repo, args.entries)
        lists, list_floor, list_rss = [], [], []
        verifies, verify_floor, verify_rss = [], [], []
        for _ in range(args.repeat):
            list_floor.append(floor_list(repo))
            seconds, rss = measured([*lw, "handoffs", "list", "--format", "json"], repo)
            lists.append(seconds)
            list_rss.append(rss)
            verify_floor.append(floor_ledger(repo))
            seconds, rss = measured([*lw, "ledger", "verify"], repo)
            verifies.append(seconds)
            verify_rss.append(rss)
        load = os.getloadavg()
    med = statistics.median
    print(f"median of {args.repeat} alternated runs (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"{os.cpu_count()} cores)")
    print(f"  handoffs list --format json, {args.handoffs} handoffs: {med(lists):.2f} s, "
          f"git for-each-ref | cat-file --batch {med(list_floor):.2f} s, ratio {med(lists) / med(list_floor):.2f}, "
          f"peak RSS {max(list_rss) / 1024:.0f} MB ({max(list_rss) * 1024 / args.handoffs:.0f} bytes per handoff)")
    print(f"  ledger verify, {args.entries} entries: {med(verifies):.2f} s, "
          f"git rev-list | cat-file --batch {med(verify_floor):.2f} s, ratio {med(verifies) / med(verify_floor):.2f}, "
          f"peak RSS {max(verify_rss) / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
