#!/usr/bin/env python3
"""Start-up benchmark: `lanewarden guard --staged` on a one-file change, the pre-commit case.

A pre-commit hook runs on every commit, so what matters there is the fixed
cost: interpreter, imports, policy load and a handful of git processes.
This compares (wall time, alternated runs after one warm-up each, best and median):

  floor     python -c "import yaml, pathspec, pydantic, click"
  lanewarden lanewarden guard --staged --worker W

in one of two repositories, with one staged edit the guard must accept:

* default: a fresh git copy of fixtures/wallet-platform (worker wallet-api);
* `--files N`: the generated monorepo of bench_guard.py with N files (generated
  once and cached in the work folder, as bench_guard.py does), cloned with
  `--shared --no-checkout`, its index written by `git read-tree HEAD` (as a
  checkout writes it, cache-tree included; no work tree is needed to guard
  the index) and `services/svc-0001/README.md` edited and staged (worker
  svc-0001). At 200,000 files the index is 22 MB: what the guard pays for
  reading it is what this mode measures.

It prints `guard / floor` (target <= 1.5) and then runs the same guard under
`python -X importtime` and reports whether networkx or GitPython (`git`,
`git.*`, `gitdb`) get imported on this path; the CLI promises they do not.

A measuring tool, not a test: it never fails because something is slow,
only when the guard itself does not behave (e.g. does not accept the edit).
Standard library only; git, python and lanewarden run as subprocesses.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
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
BIG_WORKER = "svc-0001"  # --files: allow services/svc-0001/** in bench_guard.py's policy
BIG_EDITED = "services/svc-0001/README.md"


def run(argv: Sequence[str], cwd: Path, ok: Sequence[int] = (0,),
        input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(list(argv), cwd=cwd, env=git_env(), input=input, capture_output=True, check=False)
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


def alternated(commands: dict[str, list[str]], cwd: Path, repeat: int) -> dict[str, list[float]]:
    """One untimed warm-up each (pyc files, page cache), then `repeat` rounds of every command in turn,
    so a machine shared with other work slows them alike."""
    for argv in commands.values():
        run(argv, cwd)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, argv in commands.items():
            t0 = time.perf_counter()
            run(argv, cwd)
            samples[name].append(time.perf_counter() - t0)
    return samples


def make_big_repo(workdir: Path, files: int) -> Path:
    """A copy of bench_guard.py's N-file monorepo whose index holds one staged edit (no work tree)."""
    from bench_guard import Layout, prepare

    source, _, _ = prepare(workdir, Layout(files=files, changed=10_000, workers=200))
    repo = workdir / f"startup-f{files}"
    if repo.exists():
        shutil.rmtree(repo)
    run(["git", "clone", "-q", "--shared", "--no-checkout", str(source), str(repo)], workdir)
    run(["git", "read-tree", "HEAD"], repo)
    old = run(["git", "cat-file", "blob", f"HEAD:{BIG_EDITED}"], repo).stdout
    blob = run(["git", "hash-object", "-w", "--stdin"], repo, input=old + b"one more line\n").stdout
    run(["git", "update-index", "--cacheinfo", f"100644,{blob.decode().strip()},{BIG_EDITED}"], repo)
    return repo


# `import time: self | cumulative | name` -> the dotted name, without indentation.
_IMPORT_LINE = re.compile(r"^import time:\s+\d+\s+\|\s+\d+\s+\|\s*(\S+)\s*$")


def heavy_imports(repo: Path, worker: str) -> tuple[list[str], float | None]:
    """Lines of `-X importtime` naming networkx or GitPython, plus total import time (s).

    The guard is run in-process via orchestrator.cli.main so importtime sees
    exactly the modules the console script would load.
    """
    code = ("from lanewarden.orchestrator.cli import main; import sys; "
            f"sys.argv=['lanewarden','guard','--staged','--worker',{worker!r},'--repo',{str(repo)!r}]; "
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
    ap.add_argument("--repeat", "-n", type=int, default=10, help="timed rounds (each command once per round)")
    ap.add_argument("--files", type=int, default=0,
                    help="guard a staged edit in bench_guard.py's N-file monorepo instead of the fixture")
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                    help=f"where the scratch repository goes (default {DEFAULT_WORKDIR})")
    args = ap.parse_args(argv)

    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if args.files:
        repo, worker, edited = make_big_repo(workdir, args.files), BIG_WORKER, BIG_EDITED
        index = repo / ".git" / "index"
        print(f"repo: {repo} ({args.files:,}-file monorepo, a {index.stat().st_size / 1e6:.0f} MB index, "
              f"one staged edit to {edited})")
    else:
        repo, worker, edited = make_repo(workdir), WORKER, EDITED
        print(f"repo: {repo} (fixtures/wallet-platform, one staged edit to {edited})")
    lg = lanewarden_argv()
    print(f"lanewarden: {' '.join(lg)}\npython: {sys.executable}\n")

    guard = [*lg, "guard", "--staged", "--worker", worker, "--repo", str(repo)]
    floor = [sys.executable, "-c", IMPORT_FLOOR]

    # Sanity: an in-lane one-file edit must be accepted, else we would be
    # timing an error path.
    check = run([*guard, "--format", "json"], repo, ok=(0, 1, 2, 3, 4))
    if check.returncode != 0 or json.loads(check.stdout)["changes"][0]["path"] != edited:
        raise SystemExit(f"expected an accept of {edited} (exit 0), got {check.returncode}:\n"
                         f"{check.stdout.decode(errors='replace')[:1500]}"
                         f"{check.stderr.decode(errors='replace')[:1500]}")

    print(f"timing: 1 warm-up each, then {args.repeat} alternated rounds ...")
    load = os.getloadavg()
    samples = alternated({"floor": floor, "model": [sys.executable, "-c", MODEL_FLOOR], "guard": guard},
                         repo, args.repeat)

    def row(label: str, values: list[float]) -> str:
        return f"  {label:<52} {min(values):8.3f} s {statistics.median(values):8.3f} s   (max {max(values):.3f})"

    print(f"\n  {'measurement':<52} {'best':>10} {'median':>10}")
    print(row("python -c 'import yaml, pathspec, pydantic, click'", samples["floor"]))
    print(row("  same + one pydantic BaseModel subclass (info)", samples["model"]))
    print(row(f"lanewarden guard --staged --worker {worker}", samples["guard"]))
    median = statistics.median(samples["guard"]) / statistics.median(samples["floor"])
    best = min(samples["guard"]) / min(samples["floor"])
    print(f"\n  guard / floor = {median:.2f} (medians), {best:.2f} (best)   "
          f"(target <= 1.5: {'met' if median <= 1.5 else 'NOT met'} by the medians)")
    model = statistics.median(samples["guard"]) / statistics.median(samples["model"])
    print(f"  guard / (floor + one pydantic model) = {model:.2f}   (information only)")
    print(f"  load average before / after: {load[0]:.2f} / {os.getloadavg()[0]:.2f}")

    hits, total = heavy_imports(repo, worker)
    print("\nnetworkx / GitPython imports on the guard --staged path: "
          + ("none" if not hits else f"{len(hits)} line(s)"))
    for line in hits:
        print(f"  {line}")
    if total is not None:
        print(f"(total import time under -X importtime: {total:.3f} s; importtime adds overhead)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
