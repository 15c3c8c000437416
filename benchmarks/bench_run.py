#!/usr/bin/env python3
"""Worker-run benchmark: `lanewarden run` on a large repository against the floor git and bwrap set.

A run's fixed cost is making its checkout: a disposable clone of the base and a
sandbox. This compares (wall time, best of --repeat after one warm-up):

  floor      git clone --shared --no-checkout REPO DEST; git -C DEST checkout -B b BASE;
             bwrap --unshare-pid --die-with-parent --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp -- true
  run        lanewarden run svc-0001 -- sh -c 'echo x >> f'      (accepted: one line in its own lane)
  floor+rm   the floor, then removing the clone (a run removes its clone when it ends)
  worktree   git worktree add --no-checkout -b b DEST BASE; git -C DEST checkout b
             (the floor of the worktree-based runs before issue 14)
  old run    with --old REV: the same `lanewarden run` of lanewarden at REV (checked out from this
             repository's history into a temporary folder with `git archive`)

in a generated repository of --files files, and prints run / floor (target <= 1.5).

A measuring tool, not a test: it never fails because something is slow,
only when a run does not behave (is not accepted). Standard library only.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchenv import git_env, lanewarden_argv

HERE = Path(__file__).resolve().parent
DEFAULT_WORKDIR = HERE / ".work"  # git-ignored
WORKER = "svc-0001"
BWRAP_TRUE = ["bwrap", "--unshare-pid", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev",
              "--proc", "/proc", "--tmpfs", "/tmp", "--", "true"]


def run(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(list(argv), cwd=cwd, env=env or git_env(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n"
                         f"{proc.stdout.decode(errors='replace')[-1500:]}{proc.stderr.decode(errors='replace')[-1500:]}")
    return proc


def make_repo(workdir: Path, files: int) -> Path:
    """``files`` small files over 20 services, each service a worker; reused between runs."""
    repo = workdir / f"run-{files}"
    ready = repo / ".git" / "bench-ready"
    if ready.is_file():
        return repo
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    services = 20
    for i in range(files):
        svc = i % services + 1
        path = repo / "services" / f"svc-{svc:04d}" / f"pkg{i % 7}" / f"mod{i % 13}" / f"file{i}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"line one of {i}\nline two\n")
    workers = "".join(f"  svc-{s:04d}:\n    cwd: services/svc-{s:04d}\n    allow: [\"services/svc-{s:04d}/**\"]\n"
                      for s in range(1, services + 1))
    (repo / "lanewarden.yaml").write_text(f"version: 1\nroot: root\nworkers:\n{workers}  root:\n"
                                          "    allow: [\"docs/**\"]\n")
    (repo / "services" / "svc-0001" / "f").write_text("start\n")
    run(["git", "-c", "init.defaultBranch=main", "-c", "init.templateDir=", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    # No automatic gc in the background: it would run during the measurements.
    run(["git", "-c", "gc.auto=0", "commit", "-q", "--no-verify", "-m", "base"], repo)
    run(["git", "config", "gc.auto", "0"], repo)
    run(["git", "gc", "-q"], repo)  # packed, as in any clone
    ready.write_text("generated\n")
    return repo


def best_of(step: Callable[[], None], repeat: int, tidy: Callable[[], None]) -> tuple[float, list[float]]:
    step()
    tidy()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        samples.append(time.perf_counter() - started)
        tidy()
    return min(samples), samples


def old_lanewarden(rev: str, into: Path) -> list[str]:
    """lanewarden at ``rev`` of this checkout, importable as ``lanewarden`` from ``into``."""
    pkg = into / "lanewarden"
    pkg.mkdir(parents=True)
    archive = into / "old.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "archive", "--format=tar", rev], cwd=HERE.parent, stdout=fh, check=True,
                       env=git_env())
    with tarfile.open(archive) as tar:
        tar.extractall(pkg, filter="data")
    return [sys.executable, "-m", "lanewarden"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    ap.add_argument("--old", help="also time `lanewarden run` of lanewarden at this revision (e.g. e44f57f)")
    args = ap.parse_args()
    if shutil.which("bwrap") is None:
        raise SystemExit("bwrap is not installed (apt-get install bubblewrap): a confined run needs it")
    args.workdir.mkdir(parents=True, exist_ok=True)
    repo = make_repo(args.workdir.resolve(), args.files)
    scratch = Path(tempfile.mkdtemp(prefix="bench-run-", dir=args.workdir))
    dest = scratch / "clone"

    def floor() -> None:
        run(["git", "-c", "init.templateDir=", "clone", "--shared", "--no-checkout", "-q", str(repo), str(dest)],
            scratch)
        run(["git", "checkout", "-q", "-B", "b", "HEAD"], dest)
        run(BWRAP_TRUE, scratch)

    def tidy_floor() -> None:
        shutil.rmtree(dest, ignore_errors=True)

    def worktree() -> None:
        run(["git", "worktree", "add", "-q", "--no-checkout", "-b", "bench-wt", str(dest), "HEAD"], repo)
        run(["git", "checkout", "-q", "bench-wt"], dest)

    def tidy_worktree() -> None:
        run(["git", "worktree", "remove", "--force", str(dest)], repo)
        run(["git", "branch", "-q", "-D", "bench-wt"], repo)

    def lanewarden_run(argv: list[str], env: dict[str, str]) -> Callable[[], None]:
        def step() -> None:
            out = run([*argv, "run", WORKER, "--repo", str(repo), "--format", "json", "--",
                       "sh", "-c", "echo x >> f"], repo, env)
            data = json.loads(out.stdout)
            if data["outcome"] != "accepted" or data["changed_files"] != 1:
                raise SystemExit(f"the run was not accepted with one change: {data}")
        return step

    def tidy_runs() -> None:
        shutil.rmtree(repo / ".git" / "lanewarden" / "runs", ignore_errors=True)
        for line in run(["git", "for-each-ref", "--format=%(refname)", "refs/heads/lanewarden/"],
                        repo).stdout.decode().split():
            run(["git", "update-ref", "-d", line], repo)

    env = {**git_env(), "LANEWARDEN_ACTOR": "bench"}
    results: dict[str, tuple[float, list[float]]] = {}
    results["floor"] = best_of(floor, args.repeat, tidy_floor)

    def floor_and_remove() -> None:
        floor()
        tidy_floor()

    # A run also removes its clone when it ends; this floor pays for that too.
    results["floor+rm"] = best_of(floor_and_remove, args.repeat, lambda: None)
    results["run"] = best_of(lanewarden_run(lanewarden_argv(), env), args.repeat, tidy_runs)
    results["worktree"] = best_of(worktree, args.repeat, tidy_worktree)
    if args.old:
        old_env = {**env, "PYTHONPATH": str(scratch / "old")}
        results["old run"] = best_of(lanewarden_run(old_lanewarden(args.old, scratch / "old"), old_env),
                                     args.repeat, tidy_runs)
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"repository: {args.files} files ({repo}), {os.cpu_count()} cores, best of {args.repeat}")
    for name, (best, samples) in results.items():
        print(f"  {name:9} {best:7.3f} s   ({', '.join(f'{s:.3f}' for s in samples)})")
    ratio = results["run"][0] / results["floor"][0]
    print(f"run / floor (clone + checkout + bwrap true): {ratio:.2f}x (target <= 1.5)")
    print(f"run / floor+rm (the same, plus removing the clone): {results['run'][0] / results['floor+rm'][0]:.2f}x")
    print(f"worktree floor / clone floor: {results['worktree'][0] / results['floor'][0]:.2f}x")
    if "old run" in results:
        print(f"old (worktree) run / floor: {results['old run'][0] / results['floor'][0]:.2f}x; "
              f"new run / old run: {results['run'][0] / results['old run'][0]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
