#!/usr/bin/env python3
"""Dispatch benchmark: --runs scripted runs on a local Ray cluster against ``dispatch --jobs N`` on this machine.

Each run is a short edit in its own lane plus a sleep standing in for an agent
(``--sleep``, default 2 s). Measured (wall time, one sample each: a dispatch of
32 runs is long enough that one sample is stable to a few per cent):

  local      lanewarden dispatch PLAN --jobs N                 (prepare, execute, collect in one process)
  ray        lanewarden dispatch PLAN --engine ray --jobs N    (a local Ray cluster of N worker CPUs,
             started by the command: its start-up is part of the figure, and is reported alone too)
  ray init   python -c 'ray.init(num_cpus=N, include_dashboard=False); ray.shutdown()'
  steps      per run, in this process: prepare, execute (--unconfined floor and confined), collect
  collect    collecting K returned runs one after the other, for each K in --collect (how its cost grows)

The repository has one worker per run (svc-0001..), so no two runs share a lane
and both engines can use all N slots. A measuring tool, not a test: it fails only
when a run does not end accepted. lanewarden is this checkout (a shim on PYTHONPATH).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchenv import git_env

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent


def shim(into: Path) -> dict[str, str]:
    """An environment whose ``import lanewarden`` is this checkout (as tests/conftest.py does)."""
    (into / "lanewarden").symlink_to(CHECKOUT, target_is_directory=True)
    env = git_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(into), env.get("PYTHONPATH")) if p)
    env["LANEWARDEN_ACTOR"] = "bench"
    return env


def sh(argv: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> str:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout.decode()[-2000:]}"
                         f"{proc.stderr.decode()[-2000:]}")
    return proc.stdout.decode()


def make_repo(folder: Path, workers: int, env: dict[str, str]) -> Path:
    repo = folder / "repo"
    for i in range(1, workers + 1):
        svc = repo / "services" / f"svc-{i:04d}"
        svc.mkdir(parents=True)
        (svc / "f.txt").write_text("start\n")
    lanes = "".join(f"  svc-{i:04d}:\n    cwd: services/svc-{i:04d}\n    allow: [\"services/svc-{i:04d}/**\"]\n"
                    for i in range(1, workers + 1))
    (repo / "lanewarden.yaml").write_text(f"version: 1\nroot: root\nworkers:\n{lanes}  root:\n"
                                          "    allow: [\"docs/**\"]\n")
    for argv in (["git", "-c", "init.defaultBranch=main", "-c", "init.templateDir=", "init", "-q"],
                 ["git", "add", "-A"], ["git", "-c", "gc.auto=0", "commit", "-q", "--no-verify", "-m", "base"],
                 ["git", "config", "gc.auto", "0"]):
        sh(argv, repo, env)
    return repo


def plan(folder: Path, runs: int, sleep: float) -> Path:
    tasks = [{"worker": f"svc-{i:04d}", "task": f"bench {i}",
              "command": ["sh", "-c", f"echo edit >> f.txt && sleep {sleep}"]} for i in range(1, runs + 1)]
    path = folder / "plan.json"  # JSON is YAML
    path.write_text(json.dumps({"tasks": tasks}))
    return path


def timed_dispatch(repo: Path, plan_file: Path, jobs: int, env: dict[str, str], *extra: str) -> float:
    started = time.perf_counter()
    out = sh([sys.executable, "-m", "lanewarden", "dispatch", str(plan_file), "--repo", str(repo), "--jobs",
              str(jobs), *extra], repo, env)
    wall = time.perf_counter() - started
    if "worst outcome: exit 0" not in out:
        raise SystemExit(f"not every run was accepted:\n{out[-3000:]}")
    return wall


def steps(repo: Path, runs: int, sizes: list[int], env: dict[str, str], folder: Path) -> dict[str, object]:
    """Per-run prepare / execute / collect, in a child process (the shim is on its path)."""
    code = f"""
import json, sys, time
from pathlib import Path
from lanewarden.workers.git import Git
from lanewarden.orchestrator.runs import portable, node
from lanewarden.orchestrator.runs.intake import collect_run
git = Git.discover({str(repo)!r})
out = {{"prepare": [], "execute_unconfined": [], "execute_confined": [], "collect": {{}}}}
folders = []
for i in range({runs}):
    f = Path({str(folder)!r}) / f"p{{i}}"
    t = time.perf_counter()
    portable.prepare(git, f"svc-{{i + 1:04d}}", f, task="steps")
    out["prepare"].append(time.perf_counter() - t)
    t = time.perf_counter()
    node.execute(f, ["sh", "-c", "echo edit >> f.txt"], confined=(i % 2 == 1))
    out["execute_confined" if i % 2 else "execute_unconfined"].append(time.perf_counter() - t)
    folders.append(f)
start = 0
for k in {sizes!r}:
    batch = folders[start:start + k]
    start += k
    if len(batch) < k:
        break
    t = time.perf_counter()
    for f in batch:
        r = collect_run(git, f)
        assert r.outcome == "accepted", r.reasons
    out["collect"][k] = time.perf_counter() - t
print(json.dumps(out))
"""
    return json.loads(sh([sys.executable, "-c", code], repo, env))  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=32)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--sleep", type=float, default=2.0)
    ap.add_argument("--collect", default="8,16,32", help="batch sizes for the collect series")
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    sizes = [int(k) for k in args.collect.split(",")]
    with tempfile.TemporaryDirectory(prefix="lanewarden-bench-dispatch-") as tmp:
        folder = Path(tmp)
        (folder / "shim").mkdir()
        env = shim(folder / "shim")
        need = max(args.runs, sum(sizes))
        repo = make_repo(folder, need, env)
        plan_file = plan(folder, args.runs, args.sleep)
        print(f"{args.runs} runs, {args.jobs} at a time, agent = one edit + sleep {args.sleep}s; "
              f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}")
        local = timed_dispatch(repo, plan_file, args.jobs, env)
        ideal = args.runs / args.jobs * args.sleep
        print(f"local dispatch --jobs {args.jobs}: {local:6.1f}s wall (sleep alone, perfectly parallel: {ideal:.1f}s)")
        if not args.skip_ray:
            init_code = (f"import time, ray; t = time.perf_counter(); ray.init(num_cpus={args.jobs}, "
                         "include_dashboard=False, logging_level='ERROR'); print(time.perf_counter() - t); "
                         "ray.shutdown()")
            init = float(sh([sys.executable, "-c", init_code], folder, env).split()[-1])
            remote = timed_dispatch(repo, plan_file, args.jobs, env, "--engine", "ray")
            print(f"ray dispatch --jobs {args.jobs}:   {remote:6.1f}s wall (ray.init alone {init:.1f}s); "
                  f"ray / local = {remote / local:.2f}")
        per = steps(repo, need, sizes, env, folder / "steps")
        mean = {k: sum(v) / len(v) for k, v in per.items() if isinstance(v, list) and v}
        print(f"per run: prepare {mean['prepare'] * 1000:.0f} ms, execute {mean['execute_unconfined'] * 1000:.0f} ms "
              f"unconfined / {mean['execute_confined'] * 1000:.0f} ms confined (agent: one echo)")
        for k, secs in per["collect"].items():  # type: ignore[union-attr]
            print(f"collect {k:>3} returned runs: {secs:6.2f}s ({secs / int(k) * 1000:.0f} ms per run)")
        shutil.rmtree(folder / "steps", ignore_errors=True)


if __name__ == "__main__":
    main()
