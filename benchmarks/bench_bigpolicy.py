#!/usr/bin/env python3
"""Big-policy benchmark: 2,000 workers / 20,000 patterns, `guard --staged` on one file and `explain PATH`.

Compares (median of --repeat alternated runs after one warm-up) against the
import floor `python -c "import yaml, pathspec, pydantic, click"`, with the
policy cache cold (`.git/lanewarden/cache` emptied before each run) and warm.
Target: both commands within 3x the floor with a warm cache.

A measuring tool, not a test. Standard library only; git and lanewarden run as
subprocesses (PYTHONPATH decides which lanewarden, as in the other benchmarks).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchenv import git_env, lanewarden_argv

HERE = Path(__file__).resolve().parent
DEFAULT_WORKDIR = HERE / ".work"
FLOOR = "import yaml, pathspec, pydantic, click"


def run(argv: Sequence[str], cwd: Path, ok: Sequence[int] = (0,)) -> None:
    proc = subprocess.run(list(argv), cwd=cwd, env=git_env(), capture_output=True, check=False)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-1500:]!r}{proc.stderr[-1500:]!r}")


def policy_yaml(workers: int) -> str:
    """Ten patterns per worker: 4 allow, 2 deny, 2 handoff_required_on, 2 read_hints."""
    lines = ["version: 1", "root: root", "workers:"]
    for i in range(1, workers + 1):
        s = f"services/s{i:04d}"
        lines += [f"  w{i:04d}:", f"    cwd: {s}",
                  f'    allow: ["{s}/src/**", "{s}/tests/**", "{s}/*.md", "{s}/**/*.py"]',
                  f'    deny: ["{s}/secrets/**", "{s}/**/*.pem"]',
                  f'    handoff_required_on: ["{s}/api/**", "{s}/proto/**"]',
                  f'    read_hints: ["contracts/c{i % 50:02d}/**", "docs/s{i:04d}/**"]']
    lines += ["  root:", '    allow: ["docs/**", "README.md"]', ""]
    return "\n".join(lines)


def make_repo(workdir: Path, workers: int) -> Path:
    repo = workdir / f"bigpolicy-w{workers}"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    for i in range(1, workers + 1):
        d = repo / "services" / f"s{i:04d}" / "src"
        d.mkdir(parents=True)
        (d / "app.py").write_text(f"VALUE = {i}\n")
    (repo / "README.md").write_text("bench\n")
    (repo / "lanewarden.yaml").write_text(policy_yaml(workers))
    run(["git", "-c", "init.defaultBranch=main", "-c", "init.templateDir=", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "--no-verify", "-m", "big policy"], repo)
    run(["git", "gc", "-q"], repo)
    with open(repo / "services/s0001/src/app.py", "a") as fh:
        fh.write("ADDED = 1\n")
    run(["git", "add", "services/s0001/src/app.py"], repo)
    return repo


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--workers", type=int, default=2000)
    ap.add_argument("--repeat", "-n", type=int, default=5)
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = ap.parse_args(argv)
    repo = make_repo(args.workdir.resolve(), args.workers)
    cache = repo / ".git" / "lanewarden" / "cache"
    lg = lanewarden_argv()
    cmds = {
        "floor": [sys.executable, "-c", FLOOR],
        "guard --staged (cold cache)": [*lg, "guard", "--staged", "--worker", "w0001", "--repo", str(repo)],
        "guard --staged (warm cache)": [*lg, "guard", "--staged", "--worker", "w0001", "--repo", str(repo)],
        "explain PATH (cold cache)": [*lg, "explain", "--repo", str(repo), "services/s0001/src/app.py"],
        "explain PATH (warm cache)": [*lg, "explain", "--repo", str(repo), "services/s0001/src/app.py"],
    }
    print(f"repo: {repo} ({args.workers} workers, {args.workers * 10} patterns); lanewarden: {' '.join(lg)}")
    samples: dict[str, list[float]] = {k: [] for k in cmds}
    load = os.getloadavg()
    for cmd in cmds.values():  # warm-up: pyc files, page cache, and a first cache entry
        run(cmd, repo)
    for _ in range(args.repeat):
        for name, cmd in cmds.items():  # alternated, so load drifts hit every command alike
            if "cold" in name:
                shutil.rmtree(cache, ignore_errors=True)
            t0 = time.perf_counter()
            run(cmd, repo)
            samples[name].append(time.perf_counter() - t0)
    floor = statistics.median(samples["floor"])
    print(f"  load average before / after: {load[0]:.2f} / {os.getloadavg()[0]:.2f}")
    for name, s in samples.items():
        med = statistics.median(s)
        print(f"  {name:<32} median {med:6.3f} s  min {min(s):6.3f}  ({med / floor:4.2f}x floor)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
