#!/usr/bin/env python3
"""Tool-call hook benchmark: `lanewarden tool-hook` deciding one write, the cost an agent pays per tool call.

Every write an agent makes waits for this hook, so what matters is the fixed
cost: interpreter, imports, one git process for HEAD and the policy, and the
decision. This compares (wall time, best of --repeat after one warm-up):

  floor        python -c "import click, yaml, pathspec"   (the hook's own third-party dependencies)
  in lane      lanewarden tool-hook --runtime claude --worker wallet-api   (a Write in the lane: no opinion)
  out of lane  the same for a Write to contracts/ (a deny naming the owner and the handoff)

each hook call a real subprocess with a Claude Code PreToolUse document on stdin,
in a fresh git copy of fixtures/wallet-platform. The three are timed round-robin,
so a busy machine slows all of them alike, and each ratio to the floor is printed
for the best and the median run (target <= 1.5). It then runs the hook under `python -X importtime` and
reports whether pydantic, networkx or GitPython get imported on this path.

A measuring tool, not a test: it never fails because something is slow, only
when the hook does not answer as expected (then the figures would mean nothing).
Standard library only; git, python and lanewarden run as subprocesses.
"""
from __future__ import annotations

import argparse
import json
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
DEFAULT_WORKDIR = HERE / ".work"  # git-ignored
IMPORT_FLOOR = "import click, yaml, pathspec"
WORKER = "wallet-api"
IN_LANE = "services/wallet-api/src/wallet_api/app.py"
OUT_OF_LANE = "contracts/wallet/openapi.yaml"
_IMPORT_LINE = re.compile(r"^import time:\s+\d+\s+\|\s+\d+\s+\|\s*(\S+)\s*$")


def env() -> dict[str, str]:
    # An installed hook runs from compiled modules; PYTHONDONTWRITEBYTECODE would make every
    # run recompile lanewarden's sources and time the compiler instead.
    return {k: v for k, v in git_env().items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(argv: Sequence[str], cwd: Path, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(list(argv), cwd=cwd, env=env(), input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr.decode(errors='replace')[-1500:]}")
    return proc


def make_repo(workdir: Path) -> Path:
    repo = workdir / "hook-wallet-platform"
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(FIXTURE, repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run(["git", "-c", "init.defaultBranch=main", "-c", "init.templateDir=", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "--no-verify", "-m", "fixture"], repo)
    return repo


def document(repo: Path, path: str) -> bytes:
    """A Claude Code PreToolUse input (https://code.claude.com/docs/en/hooks) for a Write of ``path``."""
    return json.dumps({"session_id": "bench", "transcript_path": "/dev/null", "cwd": str(repo),
                       "permission_mode": "default", "hook_event_name": "PreToolUse", "tool_name": "Write",
                       "tool_input": {"file_path": str(repo / path), "content": "x\n"},
                       "tool_use_id": "toolu_bench"}).encode()


def interleaved(commands: Sequence[tuple[Sequence[str], bytes | None]], cwd: Path,
                repeat: int) -> list[list[float]]:
    """Samples per command, taken round-robin so every command sees the same machine load.

    One untimed warm-up each first (pyc files, page cache).
    """
    for argv, data in commands:
        run(argv, cwd, data)
    samples: list[list[float]] = [[] for _ in commands]
    for _ in range(repeat):
        for i, (argv, data) in enumerate(commands):
            t0 = time.perf_counter()
            run(argv, cwd, data)
            samples[i].append(time.perf_counter() - t0)
    return samples


def heavy_imports(repo: Path, data: bytes) -> list[str]:
    code = ("from lanewarden.orchestrator.cli import main; import sys; "
            f"sys.argv=['lanewarden','tool-hook','--runtime','claude','--worker',{WORKER!r}]; main()")
    proc = run([sys.executable, "-X", "importtime", "-c", code], repo, data)
    hits = []
    for line in proc.stderr.decode(errors="replace").splitlines():
        m = _IMPORT_LINE.match(line)
        if m and m.group(1).split(".")[0] in ("pydantic", "networkx", "git", "gitdb", "mcp", "unidiff"):
            hits.append(line.strip())
    return hits


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--repeat", "-n", type=int, default=20, help="timed runs per command (best is kept)")
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = ap.parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    repo = make_repo(workdir)
    hook = [*lanewarden_argv(), "tool-hook", "--runtime", "claude", "--worker", WORKER]
    inside, outside = document(repo, IN_LANE), document(repo, OUT_OF_LANE)
    print(f"repo: {repo}\nlanewarden: {' '.join(hook[:-5])}\npython: {sys.executable}\n")

    # Sanity: no opinion on the in-lane write, a deny naming the owner on the other.
    if run(hook, repo, inside).stdout:
        raise SystemExit("expected no opinion (empty stdout) on the in-lane write")
    answer = json.loads(run(hook, repo, outside).stdout)["hookSpecificOutput"]
    if answer["permissionDecision"] != "deny" or "--to contracts" not in answer["permissionDecisionReason"]:
        raise SystemExit(f"expected a deny routed to contracts, got {answer}")

    print(f"timing: 1 warm-up each, then {args.repeat} rounds of the three, interleaved ...")
    f_s, i_s, o_s = interleaved([([sys.executable, "-c", IMPORT_FLOOR], None), (hook, inside), (hook, outside)],
                                repo, args.repeat)

    def median(samples: list[float]) -> float:
        return sorted(samples)[len(samples) // 2]

    def row(label: str, samples: list[float]) -> str:
        return f"  {label:<48} {min(samples):8.3f} s {median(samples):8.3f} s"

    print(f"\n  {'measurement':<48} {'best':>10} {'median':>10}")
    print(row(f"python -c '{IMPORT_FLOOR}'", f_s))
    print(row("tool-hook: Write in the lane (no opinion)", i_s))
    print(row("tool-hook: Write out of the lane (deny)", o_s))
    for label, samples in (("in lane", i_s), ("out of lane", o_s)):
        ratio = min(samples) / min(f_s)
        print(f"  {label} / floor = {ratio:.2f} best, {median(samples) / median(f_s):.2f} median   "
              f"(target <= 1.5 on the best: {'met' if ratio <= 1.5 else 'NOT met'})")
    hits = heavy_imports(repo, outside)
    print("\npydantic / networkx / GitPython / mcp imports on the hook's path: "
          + ("none" if not hits else f"{len(hits)} line(s)"))
    for line in hits:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
