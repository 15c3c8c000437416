#!/usr/bin/env python3
"""Start-up benchmark: `lanewarden guard --staged` on a one-file change, the pre-commit case.

A pre-commit hook runs on every commit, so what matters there is the fixed
cost: interpreter, imports, policy load and a handful of git processes.
This compares (wall time, best of --repeat after one warm-up):

  floor     python -c "import yaml, pathspec, pydantic, click"
  lanewarden lanewarden guard --staged --worker wallet-api

in a fresh git copy of fixtures/wallet-platform with one staged edit, and
prints the ratio (target <= 1.5). It then runs the same guard under
`python -X importtime` and reports whether networkx or GitPython (`git`,
`git.*`, `gitdb`) get imported on this path; the CLI promises they do not.

A measuring tool, not a test: it never fails because something is slow,
only when the guard itself does not behave (e.g. does not accept the edit).
Standard library only; git, python and lanewarden run as subprocesses.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchenv import git_env, lanewarden_argv

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "fixtures" / "wallet-platform"
DEFAULT_WORKDIR = HERE / ".work"  # git-ignored (see the top-level .gitignore)
IMPORT_FLOOR = "import yaml, pathspec, pydantic, click"
# `import pydantic` is lazy: BaseModel, the schema generator and the plugin
# scan (importlib.metadata over site-packages) load only when the first model
# class is defined. This second, informational floor pays for that once, to
# show how much of lanewarden's start-up is pydantic rather than lanewarden.
MODEL_FLOOR = IMPORT_FLOOR + "\nfrom pydantic import BaseModel\nclass M(BaseModel):\n    x: int"
WORKER = "wallet-api"
# Inside the worker's lane and outside api/ (handoff_required_on) and
# secrets/ (deny), so the expected verdict is a plain accept.
EDITED = "services/wallet-api/src/wallet_api/app.py"


def run(argv: Sequence[str], cwd: Path, ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(list(argv), cwd=cwd, env=git_env(), capture_output=True, check=False)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n"
                         f"{proc.stdout.decode(errors='replace')[-1500:]}"
                         f"{proc.stderr.decode(errors='replace')[-1500:]}")
    return proc


def make_repo(workdir: Path) -> Path:
    """A fresh commit of the fixture plus one staged edit.

    Rebuilt on every run (it takes well under a second) so a previous run's
    index or stray files can never change what is measured.
    """
    repo = workdir / "startup-wallet-platform"
    if repo.exists():
        shutil.rmtree(repo)
    # The fixture's own .gitignore keeps __pycache__ and build output out.
    shutil.copytree(FIXTURE, repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run(["git", "-c", "init.defaultBranch=main", "-c", "init.templateDir=", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "--no-verify", "-m", "fixture"], repo)
    with open(repo / EDITED, "a") as fh:
        fh.write("\n\ndef bench_added() -> int:\n    return 1\n")
    run(["git", "add", EDITED], repo)
    return repo


def best_of(argv: Sequence[str], cwd: Path, repeat: int, ok: Sequence[int]) -> tuple[float, list[float]]:
    """One untimed warm-up (pyc files, page cache), then the minimum of `repeat` runs."""
    run(argv, cwd, ok)
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run(argv, cwd, ok)
        samples.append(time.perf_counter() - t0)
    return min(samples), samples


# `import time: self | cumulative | name` -> the dotted name, without indentation.
_IMPORT_LINE = re.compile(r"^import time:\s+\d+\s+\|\s+\d+\s+\|\s*(\S+)\s*$")


def heavy_imports(repo: Path) -> tuple[list[str], float | None]:
    """Lines of `-X importtime` naming networkx or GitPython, plus total import time (s).

    The guard is run in-process via orchestrator.cli.main so importtime sees
    exactly the modules the console script would load.
    """
    code = ("from lanewarden.orchestrator.cli import main; import sys; "
            f"sys.argv=['lanewarden','guard','--staged','--worker',{WORKER!r},'--repo',{str(repo)!r}]; "
            "main()")
    proc = run([sys.executable, "-X", "importtime", "-c", code], repo, ok=(0,))
    hits: list[str] = []
    total_us = 0
    for line in proc.stderr.decode(errors="replace").splitlines():
        m = _IMPORT_LINE.match(line)
        if not m:
            continue
        name = m.group(1)
        top = name.split(".")[0]
        # Only top-level packages count; gitdb and smmap are GitPython's own dependencies.
        if top in ("networkx", "git", "gitdb", "smmap") or "networkx" in line:
            hits.append(line.strip())
        _, cumulative, column = line.split("|")
        if not column.startswith("  "):
            # Nesting adds two spaces per level, so one leading space marks a root
            # import; summing the roots' cumulative times avoids double counting.
            total_us += int(cumulative)
    return hits, (total_us / 1e6 if total_us else None)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--repeat", "-n", type=int, default=10, help="timed runs per command (best is kept)")
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                    help=f"where the scratch repository goes (default {DEFAULT_WORKDIR})")
    args = ap.parse_args(argv)

    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    repo = make_repo(workdir)
    lg = lanewarden_argv()
    print(f"repo: {repo} (fixtures/wallet-platform, one staged edit to {EDITED})")
    print(f"lanewarden: {' '.join(lg)}\npython: {sys.executable}\n")

    guard = [*lg, "guard", "--staged", "--worker", WORKER, "--repo", str(repo)]
    floor = [sys.executable, "-c", IMPORT_FLOOR]

    # Sanity: an in-lane one-file edit must be accepted, else we would be
    # timing an error path.
    check = run([*guard, "--format", "json"], repo, ok=(0, 1, 2, 3, 4))
    if check.returncode != 0:
        raise SystemExit(f"expected an accept (exit 0), got {check.returncode}:\n"
                         f"{check.stdout.decode(errors='replace')[:1500]}"
                         f"{check.stderr.decode(errors='replace')[:1500]}")

    print(f"timing: 1 warm-up + best of {args.repeat} each ...")
    f_best, f_s = best_of(floor, repo, args.repeat, ok=(0,))
    m_best, m_s = best_of([sys.executable, "-c", MODEL_FLOOR], repo, args.repeat, ok=(0,))
    g_best, g_s = best_of(guard, repo, args.repeat, ok=(0,))

    def row(label: str, best: float, samples: list[float]) -> str:
        spread = f"median {sorted(samples)[len(samples) // 2]:.3f}, max {max(samples):.3f}"
        return f"  {label:<52} {best:8.3f} s   ({spread})"

    print(f"\n  {'measurement':<52} {'best':>8}")
    print(row("python -c 'import yaml, pathspec, pydantic, click'", f_best, f_s))
    print(row("  same + one pydantic BaseModel subclass (info)", m_best, m_s))
    print(row(f"lanewarden guard --staged --worker {WORKER}", g_best, g_s))
    ratio = g_best / f_best
    print(f"\n  guard / floor = {ratio:.2f}   (target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'})")
    print(f"  guard / (floor + one pydantic model) = {g_best / m_best:.2f}   (information only)")

    hits, total = heavy_imports(repo)
    print("\nnetworkx / GitPython imports on the guard --staged path: "
          + ("none" if not hits else f"{len(hits)} line(s)"))
    for line in hits:
        print(f"  {line}")
    if total is not None:
        print(f"(total import time under -X importtime: {total:.3f} s; importtime adds overhead)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
