#!/usr/bin/env python3
"""Ledger benchmark: what recording a decision costs, and how verify and replay scale.

Measured in one run, against floors measured in the same run:

* ``guard --staged`` with and without ``--record`` on a one-file change (the
  pre-commit case); the difference is the price of one ledger entry, shown in
  units of one ``git rev-parse`` process (the cheapest thing git can do);
* ``ledger verify`` on a chain of ``--entries`` entries, against the floor of
  reading the same entries with one ``git rev-list`` and one ``git cat-file
  --batch`` (verify cannot read less);
* ``ledger replay`` of a recorded range decision, against guarding that range.

Prints figures; never fails on speed.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchenv import git_env, lanewarden_argv

ROOT = Path(__file__).resolve().parent.parent
ENV = {**git_env(), "LANEWARDEN_ACTOR": "bench"}


def run(argv: Sequence[str], cwd: Path, ok: Sequence[int] = (0,), data: bytes | None = None) -> bytes:
    proc = subprocess.run(list(argv), cwd=cwd, env=ENV, input=data, capture_output=True, check=False)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def best(argv: Sequence[str], cwd: Path, repeat: int, ok: Sequence[int] = (0,)) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(argv, cwd, ok)
        samples.append(time.perf_counter() - start)
    return min(samples)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    lg = lanewarden_argv()
    with tempfile.TemporaryDirectory(prefix="lanewarden-bench-ledger-") as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(ROOT / "fixtures" / "wallet-platform", repo)
        run(["git", "init", "-q", "-b", "main"], repo)
        run(["git", "add", "-A"], repo)
        run(["git", "commit", "-qm", "init"], repo)
        target = repo / "services/wallet-api/src/wallet_api/signing.py"
        target.write_text(target.read_text() + "\n# bench\n")
        run(["git", "add", "-A"], repo)

        floor = best(["git", "rev-parse", "HEAD"], repo, args.repeat)
        plain = best([*lg, "guard", "--worker", "wallet-api", "--staged"], repo, args.repeat)
        recorded = best([*lg, "guard", "--worker", "wallet-api", "--staged", "--record"], repo, args.repeat)

        # A long chain, written in one process (the append path, without process start-up).
        script = ("import sys\nfrom workers.git import Git\nfrom workers.ledger import Kind, Ledger\n"
                  "ledger = Ledger(Git.discover(sys.argv[1]))\n"
                  "for i in range(int(sys.argv[2])):\n"
                  "    ledger.append(Kind.GUARD, {'worker': 'wallet-api', 'i': i}, {'decision': 'accept'})\n")
        start = time.perf_counter()
        run([sys.executable, "-c", script, str(repo), str(args.entries)], repo)
        appended = time.perf_counter() - start

        commits = run(["git", "rev-list", "--first-parent", "refs/lanewarden/ledger"], repo).decode().split()
        specs = "".join(f"{c}:entry.json\n" for c in commits).encode()
        start = time.perf_counter()
        for _ in range(args.repeat):
            run(["git", "rev-list", "--first-parent", "--reverse", "refs/lanewarden/ledger"], repo)
            run(["git", "cat-file", "--batch"], repo, data=specs)
        read_floor = (time.perf_counter() - start) / args.repeat
        verify = best([*lg, "ledger", "verify"], repo, args.repeat)

        run(["git", "commit", "-qm", "bench"], repo)
        guard_range = best([*lg, "guard", "--worker", "wallet-api", "--base", "HEAD~1"], repo, args.repeat)
        run([*lg, "guard", "--worker", "wallet-api", "--base", "HEAD~1", "--record"], repo)
        last = run([*lg, "ledger", "head", "--format", "json"], repo)
        seq = __import__("json").loads(last)["seq"]
        replay = best([*lg, "ledger", "replay", str(seq)], repo, args.repeat)

    entries = len(commits)
    print(f"lanewarden ledger benchmark (best of {args.repeat})")
    print(f"  git rev-parse (one git process)            {floor:.3f}s")
    print(f"  guard --staged                             {plain:.3f}s")
    print(f"  guard --staged --record                    {recorded:.3f}s   "
          f"+{recorded - plain:.3f}s = {(recorded - plain) / floor:.1f} git processes")
    print(f"  append {args.entries} entries in one process     {appended:.3f}s   "
          f"{appended / args.entries * 1000:.1f} ms/entry")
    print(f"  read {entries} entries: rev-list + cat-file   {read_floor:.3f}s   (floor)")
    print(f"  ledger verify ({entries} entries)             {verify:.3f}s   {verify / read_floor:.1f}x the floor")
    print(f"  guard --base HEAD~1                        {guard_range:.3f}s")
    print(f"  ledger replay of that decision             {replay:.3f}s   {replay / guard_range:.2f}x the guard")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
