"""Benchmark: `lanewarden handoffs sync` of a large queue against plain git moving the same refs.

Builds a queue of `--count` handoffs with one `git fast-import` stream (as
bench_handoffs.py does), then, alternating lanewarden and git on fresh
repositories each time (untimed set-up, which flushes the page cache with
`sync` so neither side pays for writing back the other's 10,000 refs, and
which side goes first alternates too), times:

* push: `lanewarden handoffs sync REMOTE` into an empty bare remote, against
  `git push REMOTE 'refs/lanewarden/handoffs/*:refs/lanewarden/handoffs/*'`;
* first fetch: `lanewarden handoffs sync REMOTE` in an empty repository, against
  `git fetch REMOTE 'refs/lanewarden/handoffs/*:refs/lanewarden/handoffs/*'`.

Reports the median of `--repeat` runs of each and the ratio, with the load
average. Prints; never fails on speed.

    python benchmarks/bench_sync.py [--count 10000] [--repeat 5] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_handoffs import PREFIX, build
from benchenv import git_env, lanewarden_argv

ENV = git_env()
SPEC = f"{PREFIX}*:{PREFIX}*"


def timed(argv: list[str], cwd: Path) -> float:
    # Each side writes 10,000 loose refs; without a flush first, the next command would pay for writing
    # back the previous one's files (the side timed second always lost about a second to it).
    os.sync()
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return elapsed


def fresh(path: Path, *, bare: bool) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["git", "init", "-q", *(["--bare"] if bare else []), str(path)], env=ENV, check=True)
    return path


def count_refs(repo: Path) -> int:
    out = subprocess.run(["git", "for-each-ref", PREFIX], cwd=repo, env=ENV, capture_output=True, check=True)
    return len(out.stdout.splitlines())


def main() -> int:
    ap = argparse.ArgumentParser(description="lanewarden handoffs sync against git push/fetch")
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workdir", default=None,
                    help="where the repositories go (default: the system's temporary folder); /dev/shm keeps "
                         "a slow or shared disk's latency out of both sides' figures")
    args = ap.parse_args()
    lw = lanewarden_argv()
    with tempfile.TemporaryDirectory(prefix="lanewarden-bench-sync-", dir=args.workdir) as tmp:
        work = Path(tmp)
        source = work / "source"
        build(source, args.count)
        # The fetch side reads from a remote holding the queue.
        remote_full = fresh(work / "full.git", bare=True)
        subprocess.run(["git", "push", "-q", str(remote_full), SPEC], cwd=source, env=ENV, check=True)
        push_git: list[float] = []
        push_lw: list[float] = []
        fetch_git: list[float] = []
        fetch_lw: list[float] = []
        for n in range(args.repeat):
            for side in (("git", "lw") if n % 2 == 0 else ("lw", "git")):  # neither always goes first
                remote = fresh(work / "empty.git", bare=True)
                if side == "git":
                    push_git.append(timed(["git", "push", "-q", str(remote), SPEC], source))
                else:
                    push_lw.append(timed([*lw, "handoffs", "sync", str(remote)], source))
                assert count_refs(remote) == args.count
            for side in (("git", "lw") if n % 2 == 0 else ("lw", "git")):
                clone = fresh(work / "clone", bare=False)
                if side == "git":
                    fetch_git.append(timed(["git", "fetch", "-q", "--no-tags", str(remote_full), SPEC], clone))
                else:
                    fetch_lw.append(timed([*lw, "handoffs", "sync", str(remote_full)], clone))
                assert count_refs(clone) == args.count
        load = os.getloadavg()
    med = statistics.median
    print(f"handoffs sync, {args.count} handoffs in {args.workdir or tempfile.gettempdir()}, "
          f"median of {args.repeat} alternated runs "
          f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cores)")
    print(f"  push into an empty remote: git push (one wildcard refspec) {med(push_git):7.2f} s, "
          f"lanewarden {med(push_lw):7.2f} s, ratio {med(push_lw) / med(push_git):.2f}")
    print(f"  first sync into an empty clone: git fetch {med(fetch_git):7.2f} s, "
          f"lanewarden {med(fetch_lw):7.2f} s, ratio {med(fetch_lw) / med(fetch_git):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
