#!/usr/bin/env python3
"""Conflict benchmark: every pair of in-flight branches merged by git, as the final review does.

n branches need n(n-1)/2 merges. lanewarden feeds them all to one
``git merge-tree --write-tree --stdin`` process; the floor it is compared with
in the same run is one ``git merge-tree --write-tree`` process per pair (what a
script calling git for each pair pays). A quarter of the branches edit one
shared file at the same line, so their pairs really conflict.

Prints figures; never fails on speed (only on wrong answers).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchenv import git_env

ROOT = Path(__file__).resolve().parent.parent
ENV = git_env()


def git(repo: Path, *args: str, data: bytes | None = None, ok: tuple[int, ...] = (0,)) -> bytes:
    proc = subprocess.run(["git", *args], cwd=repo, env=ENV, input=data, capture_output=True, check=False)
    if proc.returncode not in ok:
        raise SystemExit(f"git {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def build(repo: Path, branches: int, files: int) -> list[str]:
    git(repo, "-c", "init.defaultBranch=main", "init", "-q", ".")
    for i in range(files):
        f = repo / "services" / f"svc-{i % 50:03d}" / f"file{i}.txt"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("".join(f"line {n}\n" for n in range(20)))
    (repo / "shared.txt").write_text("".join(f"shared {n}\n" for n in range(20)))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    heads = []
    for b in range(branches):
        git(repo, "checkout", "-q", "-b", f"lanewarden/w{b % 10}/t{b}", "main")
        target = repo / "shared.txt" if b % 4 == 0 else repo / "services" / f"svc-{b % 50:03d}" / f"file{b}.txt"
        lines = target.read_text().splitlines(keepends=True)
        lines[5] = f"branch {b}\n"
        target.write_text("".join(lines))
        git(repo, "commit", "-q", "-am", f"branch {b}")
        heads.append(git(repo, "rev-parse", "HEAD").decode().strip())
    git(repo, "checkout", "-q", "main")
    return heads


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--branches", type=int, nargs="+", default=[12, 24, 48])
    ap.add_argument("--files", type=int, default=2000)
    args = ap.parse_args()
    shim = Path(tempfile.mkdtemp(prefix="lanewarden-bench-"))
    (shim / "lanewarden").symlink_to(ROOT, target_is_directory=True)
    sys.path.insert(0, str(shim))
    os.environ.update({k: v for k, v in ENV.items() if k.startswith("GIT_")})
    from lanewarden.orchestrator.reviews.conflicts import Candidate, check
    from lanewarden.workers.git import Git

    print(f"{'branches':>8} {'pairs':>6} {'clashes':>7} {'lanewarden s':>12} {'per-pair git s':>14} {'ratio':>6}")
    for n in args.branches:
        with tempfile.TemporaryDirectory(prefix="bench-conflicts-") as tmp:
            repo = Path(tmp)
            heads = build(repo, n, args.files)
            g = Git.discover(repo)
            start = time.perf_counter()
            merges = check(g, [Candidate(f"b{i}", "branch", f"w{i % 10}", c) for i, c in enumerate(heads)])
            ours = time.perf_counter() - start
            start = time.perf_counter()
            floor_clashes = 0
            for a, b in combinations(heads, 2):
                proc = subprocess.run(["git", "merge-tree", "--write-tree", "--name-only", a, b], cwd=repo,
                                      env=ENV, capture_output=True, check=False)
                floor_clashes += proc.returncode == 1
            floor = time.perf_counter() - start
            expected = len(range(0, n, 4)) * (len(range(0, n, 4)) - 1) // 2
            if len(merges.clashes) != expected or floor_clashes != expected:
                raise SystemExit(f"wrong answer: {len(merges.clashes)} / {floor_clashes} clashes, expected {expected}")
            print(f"{n:>8} {merges.pairs:>6} {len(merges.clashes):>7} {ours:>12.3f} {floor:>14.3f} "
                  f"{floor / ours:>5.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
