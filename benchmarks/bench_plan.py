#!/usr/bin/env python3
"""Plan and final-review benchmark on a real git tree: cost in proportion to the change.

Builds (once, cached in benchmarks/.work/) a repository of --files tracked files in
--services services and --contracts contract folders, with a policy naming every
service and contract, then a range that changes --changed service files and a few
contracts. Each figure is the median of --repeat alternated runs of the real CLI:

  git      `git diff-tree -r --raw -z --no-renames BASE HEAD`: git reading the change
  guard    `lanewarden guard --worker W --base BASE --head HEAD --format json`
  plan     `lanewarden plan --base BASE --head HEAD --format json`
  final    `lanewarden review final --base BASE --head HEAD --worker W --format json`

and prints plan/guard, final/guard and plan/git. Run it at two --files sizes to see
whether plan grows with the repository or with the change (issue: it should not grow).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import git_env, lanewarden_argv

WORK = Path(__file__).resolve().parent / ".work"


def _git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", *args], cwd=repo, env=git_env(), input=data, capture_output=True,
                          check=True).stdout


def _policy(services: int, contracts: int) -> str:
    lines = ["version: 1", "root: root", "workers:"]
    for s in range(services):
        lines += [f"  svc-{s:04d}:", f"    allow: [\"services/svc-{s:04d}/**\"]",
                  "    propose_only: [\"contracts/**\"]"]
    lines += ["  contracts:", "    allow: [\"contracts/**\"]", "  root:", "    allow: [\"e2e/**\", \"*\"]",
              "contracts:"]
    for c in range(contracts):
        lines += [f"  api-{c:03d}:", f"    paths: [\"contracts/api-{c:03d}/**\"]",
                  f"    producers: [svc-{c % services:04d}]",
                  f"    consumers: [svc-{(c * 7 + 1) % services:04d}, svc-{(c * 13 + 2) % services:04d}]"]
    return "\n".join(lines) + "\n"


def build(files: int, services: int, contracts: int, changed: int) -> tuple[Path, str, str]:
    repo = WORK / f"plan-{files}-{services}-{contracts}-{changed}"
    if (repo / ".git" / "bench-ready").exists():
        base, head = (repo / ".git" / "bench-ready").read_text().split()
        return repo, base, head
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    per = max(1, (files - contracts) // services)
    stream = [b"commit refs/heads/main\ncommitter b <b@x> 1700000000 +0000\ndata 4\nbase\n"]

    def add(path: str, body: str) -> None:
        data = body.encode()
        stream.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))

    add("lanewarden.yaml", _policy(services, contracts))
    for s in range(services):
        for f in range(per):
            add(f"services/svc-{s:04d}/src/m{f}.py", f"x = {f}\n")
    for c in range(contracts):
        add(f"contracts/api-{c:03d}/schema.json", "{}\n")
    stream.append(b"commit refs/heads/main\ncommitter b <b@x> 1700000001 +0000\ndata 4\nhead\n")
    worker_files = [f"services/svc-0000/src/m{f}.py" for f in range(per)]
    for k in range(changed):
        path = worker_files[k] if k < len(worker_files) else f"services/svc-0000/src/new{k}.py"
        add(path, f"x = {k} + 1\n")
    for c in range(5):
        add(f"contracts/api-{c:03d}/schema.json", "{\"v\": 2}\n")
    stream.append(b"done\n")
    _git(repo, "fast-import", "--quiet", "--done", data=b"".join(stream))
    _git(repo, "gc", "-q")  # packed, as every real clone is
    base = _git(repo, "rev-parse", "main~1").decode().strip()
    head = _git(repo, "rev-parse", "main").decode().strip()
    (repo / ".git" / "bench-ready").write_text(f"{base} {head}\n")
    return repo, base, head


def _time(argv: list[str], repo: Path, ok: tuple[int, ...]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=repo, env=git_env(), capture_output=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv[:4])}... exited {proc.returncode}: {proc.stderr.decode()[-400:]}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--services", type=int, default=500)
    ap.add_argument("--contracts", type=int, default=500)
    ap.add_argument("--changed", type=int, default=5_000, help="service files the range changes")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    repo, base, head = build(args.files, args.services, args.contracts, args.changed)
    lw = lanewarden_argv()
    runs = {
        "git": (["git", "diff-tree", "-r", "--raw", "-z", "--no-renames", base, head], (0,)),
        "guard": ([*lw, "guard", "--worker", "svc-0000", "--base", base, "--head", head, "--format", "json"],
                  (0, 1, 3)),
        "plan": ([*lw, "plan", "--base", base, "--head", head, "--format", "json"], (0,)),
        "final": ([*lw, "review", "final", "--base", base, "--head", head, "--worker", "svc-0000",
                   "--format", "json"], (0, 1, 3)),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for argv, ok in runs.values():  # warm-up: page cache, pyc files
        _time(argv, repo, ok)
    for _ in range(args.repeat):  # alternated, so drift hits every figure alike
        for name, (argv, ok) in runs.items():
            times[name].append(_time(argv, repo, ok))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"repository: {args.files} files, {args.services} services, {args.contracts} contracts; "
          f"range changes {args.changed + 5} paths (5 contracts); median of {args.repeat}")
    for name in runs:
        print(f"  {name:6} {med[name]:7.3f} s")
    print(f"plan / guard  {med['plan'] / med['guard']:.2f}x   (goal <= 3x)")
    print(f"final / guard {med['final'] / med['guard']:.2f}x   (goal <= 3x)")
    print(f"plan / git    {med['plan'] / med['git']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
