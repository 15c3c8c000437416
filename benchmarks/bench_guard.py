#!/usr/bin/env python3
"""Large-range benchmark: `lanewarden guard` on a 10,000-path change in a 50,000-file monorepo.

What it compares (wall time, best of --repeat after one warm-up):

  (a) baseline  git diff --raw -z --no-renames BASE HEAD, then
                git diff -U0 --no-renames BASE HEAD, one after the other:
                the paths, modes and added lines that any guard has to read.
  (b) floor     python -c "import yaml, pathspec, pydantic, click":
                the interpreter plus lanewarden's unavoidable imports.
  (c) lanewarden lanewarden guard --format json --worker svc-0001 --base BASE --head HEAD

and prints (c - b) / a (guard work net of start-up, against git reading the
change once; target <= 1.5) and c / (a + b).

This is a measuring tool, not a test: it never fails because something is slow.
It only exits non-zero when a command does not do what it is supposed to
(e.g. lanewarden's JSON does not parse or reports too few changes), because
then the figures would be meaningless.

Standard library only; git, python and lanewarden run as subprocesses.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchenv import git_env, lanewarden_argv

HERE = Path(__file__).resolve().parent
DEFAULT_WORKDIR = HERE / ".work"  # git-ignored (see the top-level .gitignore)

IMPORT_FLOOR = "import yaml, pathspec, pydantic, click"


def git(repo: Path, *args: str, capture: bool = False) -> str:
    """Run a setup git command (not timed); raise with git's stderr on failure."""
    proc = subprocess.run(["git", *args], cwd=repo, env=git_env(),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed:\n{proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode().strip() if capture else ""


# --------------------------------------------------------------------------
# Repository generation
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    files: int
    changed: int
    workers: int

    @property
    def key(self) -> str:
        # The cache key: a different size is a different repository.
        return f"repo-f{self.files}-c{self.changed}-w{self.workers}"


def service_id(i: int) -> str:
    return f"svc-{i:04d}"


_EXTS = ("py", "py", "py", "ts", "go", "md", "yaml")


def service_path(svc: int, k: int) -> str:
    """The k-th file of a service, nested three to four levels under src/.

    Derived from k alone so generation and the head-commit mutations agree
    on which paths exist without keeping a list on disk.
    """
    ext = _EXTS[k % len(_EXTS)]
    parts = [f"services/{service_id(svc)}/src", f"pkg{k % 4}", f"mod{(k // 4) % 6}"]
    if k % 3 == 0:
        parts.append(f"sub{(k // 24) % 3}")
    if svc % 10 == 3 and k % 17 == 0:
        # Some services keep secrets material that their policy denies.
        parts = [f"services/{service_id(svc)}/src", "secrets"]
    parts.append(f"file{k:05d}.{ext}")
    return "/".join(parts)


def content(path: str, n: int) -> str:
    """A few short lines; small files keep generation and diffs cheap but realistic."""
    return (f"# {path}\n"
            f"VALUE_{n} = {n}\n"
            f"def f_{n}(x):\n"
            f"    return x + {n}\n")


def policy_yaml(workers: int) -> str:
    """One worker per service, plus contracts and root.

    Variety matters for the matcher: most workers get the plain `**` lane,
    every fifth a propose_only on contracts, every tenth a deny carve-out,
    and every 20th (svc-0007, svc-0027, ...) a `**/*.py` glob instead.
    """
    lines = ["# lanewarden policy for the generated benchmark monorepo.",
             "version: 1", "root: root", "workers:"]
    for i in range(1, workers + 1):
        sid = service_id(i)
        lines.append(f"  {sid}:")
        lines.append(f"    cwd: services/{sid}")
        if i % 20 == 7:
            lines.append(f'    allow: ["services/{sid}/**/*.py", "services/{sid}/README.md"]')
        else:
            lines.append(f'    allow: ["services/{sid}/**"]')
        if i % 10 == 3:
            lines.append(f'    deny: ["services/{sid}/src/secrets/**"]')
        if i % 5 == 1:
            lines.append('    propose_only: ["contracts/**"]')
            lines.append(f'    read_hints: ["contracts/c{i % 50:02d}/**"]')
    lines += ["  contracts:", "    cwd: contracts", '    allow: ["contracts/**"]',
              "  root:", '    allow: ["docs/**", "README.md", "AGENTS.md"]', ""]
    return "\n".join(lines)


def base_paths(layout: Layout) -> dict[str, int]:
    """Every tracked path of the base commit mapped to a content seed."""
    contracts = layout.files // 50
    docs = layout.files // 100
    unowned = layout.files // 100
    per_service = max(1, (layout.files - contracts - docs - unowned) // layout.workers)
    paths: dict[str, int] = {}
    n = 0
    for svc in range(1, layout.workers + 1):
        paths[f"services/{service_id(svc)}/README.md"] = n
        n += 1
        for k in range(per_service - 1):
            paths[service_path(svc, k)] = n
            n += 1
    for k in range(contracts):
        paths[f"contracts/c{k % 50:02d}/v{k % 3}/schema{k:05d}.proto"] = n
        n += 1
    for k in range(docs):
        paths[f"docs/area{k % 10}/page{k:05d}.md"] = n
        n += 1
    # Unowned: nobody's allow matches these, so every worker is out of lane there.
    for k in range(unowned):
        top = ("tools", "infra", "scripts")[k % 3]
        paths[f"{top}/t{k % 7}/item{k:05d}.sh"] = n
        n += 1
    # Top up to the requested count (integer division rounds down).
    svc = 1
    k = per_service
    while len(paths) < layout.files:
        paths[service_path(svc, k)] = n
        n += 1
        svc = svc % layout.workers + 1
        if svc == 1:
            k += 1
    return paths


def write_files(repo: Path, files: dict[str, str]) -> None:
    made: set[Path] = set()
    for rel, text in files.items():
        p = repo / rel
        parent = p.parent
        if parent not in made:  # one mkdir per folder, not per file
            parent.mkdir(parents=True, exist_ok=True)
            made.add(parent)
        p.write_text(text)


def generate(repo: Path, layout: Layout) -> tuple[str, str]:
    """Create the repository; return (BASE, HEAD) commit ids."""
    t0 = time.perf_counter()
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    git(repo, "-c", "init.defaultBranch=main", "-c", "init.templateDir=", "init", "-q")

    paths = base_paths(layout)
    files = {p: content(p, n) for p, n in paths.items()}
    files["lanewarden.yaml"] = policy_yaml(layout.workers)
    files["README.md"] = "# bench monorepo\n"
    write_files(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "base: generated monorepo")
    base = git(repo, "rev-parse", "HEAD", capture=True)
    print(f"  base commit {base[:12]}: {len(files)} files written in {time.perf_counter() - t0:.1f}s")

    # The head branch: a deterministic sample spread across every service.
    git(repo, "checkout", "-q", "-b", "bench-head")
    rng = random.Random(20261121)
    candidates = [p for p in paths if not p.endswith("README.md")]
    n_delete = layout.changed // 10
    n_add = layout.changed // 5
    n_modify = layout.changed - n_delete - n_add
    chosen = rng.sample(candidates, n_modify + n_delete)
    modify, delete = chosen[:n_modify], chosen[n_modify:]
    for rel in modify:
        # Appending keeps -U0 hunks small; 2-6 added lines per file.
        extra = "".join(f"added_{i} = {i}\n" for i in range(2 + len(rel) % 5))
        with open(repo / rel, "a") as fh:
            fh.write(extra)
    for rel in delete:
        (repo / rel).unlink()
    added: dict[str, str] = {}
    for j in range(n_add):
        where = j % 20
        if where == 0:
            rel = f"contracts/c{j % 50:02d}/v9/new{j:05d}.proto"
        elif where == 1:
            rel = f"docs/new/page{j:05d}.md"
        elif where == 2:
            rel = f"tools/new/item{j:05d}.sh"
        else:
            svc = 1 + (j * 7) % layout.workers
            rel = f"services/{service_id(svc)}/src/new/n{j % 4}/added{j:05d}.py"
        added[rel] = content(rel, 10_000_000 + j)
    write_files(repo, added)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "head: a large change across many services")
    head = git(repo, "rev-parse", "HEAD", capture=True)
    # Packed objects, like any clone; loose objects would make every diff
    # pay an open()+inflate per blob and misrepresent both sides.
    git(repo, "repack", "-a", "-d", "-q")
    git(repo, "prune-packed")
    print(f"  head commit {head[:12]}: {n_modify} modified, {n_add} added, {n_delete} deleted; "
          f"generation took {time.perf_counter() - t0:.1f}s")
    return base, head


def prepare(workdir: Path, layout: Layout) -> tuple[Path, str, str]:
    """Reuse a cached repository when its metadata matches; else generate it."""
    repo = workdir / layout.key
    meta_file = workdir / f"{layout.key}.json"  # outside the repo: never committed
    if meta_file.is_file() and (repo / ".git").is_dir():
        meta = json.loads(meta_file.read_text())
        proc = subprocess.run(["git", "cat-file", "-e", f"{meta['head']}^{{commit}}"],
                              cwd=repo, env=git_env(), capture_output=True, check=False)
        if proc.returncode == 0:
            print(f"  reusing {repo} (delete it to regenerate)")
            return repo, meta["base"], meta["head"]
    print(f"  generating {repo} ...")
    workdir.mkdir(parents=True, exist_ok=True)
    base, head = generate(repo, layout)
    meta_file.write_text(json.dumps({"base": base, "head": head, "layout": layout.__dict__}))
    return repo, base, head


# --------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------

Runner = Callable[[], None]


def run(argv: Sequence[str], cwd: Path, ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[bytes]:
    # Output is captured (not discarded) on every side: lanewarden has to read
    # all of git's output, so the baseline must too.
    proc = subprocess.run(list(argv), cwd=cwd, env=git_env(), capture_output=True, check=False)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n"
                         f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return proc


def best_of(fn: Runner, repeat: int) -> tuple[float, list[float]]:
    """One untimed warm-up (page cache, pyc files), then the best of `repeat`.

    The minimum is the least noisy estimate of what the code costs; the
    other samples are returned so the spread can be printed.
    """
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return min(samples), samples


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--files", type=int, default=50_000, help="tracked files in the base commit")
    ap.add_argument("--changed", type=int, default=10_000, help="paths the head commit touches")
    ap.add_argument("--workers", type=int, default=200, help="services, one worker each")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per command (best is kept)")
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                    help=f"where the generated repository is cached (default {DEFAULT_WORKDIR})")
    ap.add_argument("--worker", default="svc-0001", help="the worker whose lane is guarded")
    args = ap.parse_args(argv)
    if args.workers < 1 or args.changed < 1 or args.files < args.workers * 4:
        ap.error("need --workers >= 1, --changed >= 1 and at least 4 files per worker")

    layout = Layout(args.files, args.changed, args.workers)
    repo, base, head = prepare(args.workdir.resolve(), layout)
    tracked = run(["git", "ls-tree", "-r", "-z", "--name-only", base], repo).stdout.count(b"\0")
    lg = lanewarden_argv()
    print(f"repo: {repo}\n  base {base[:12]}  head {head[:12]}  tracked files at base: {tracked}")
    print(f"lanewarden: {' '.join(lg)}\npython: {sys.executable}\n")

    git_raw = ["git", "diff", "--raw", "-z", "--no-renames", base, head]
    git_patch = ["git", "diff", "-U0", "--no-renames", base, head]
    floor = [sys.executable, "-c", IMPORT_FLOOR]
    guard = [*lg, "guard", "--repo", str(repo), "--format", "json",
             "--worker", args.worker, "--base", base, "--head", head]

    # Sanity first, so a broken setup does not produce plausible-looking numbers.
    raw_out = run(git_raw, repo).stdout
    git_paths = raw_out.count(b"\0:") + (1 if raw_out.startswith(b":") else 0)
    proc = run(guard, repo, ok=(0, 1))  # 1 = reject: most paths are outside svc-0001's lane
    try:
        verdict = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"lanewarden did not print JSON ({exc}):\n{proc.stdout[:500]!r}") from None
    n_changes = len(verdict.get("changes", []))
    print(f"git reports {git_paths} changed paths; lanewarden reports {n_changes} changes, "
          f"decision {verdict.get('decision')!r} (exit {proc.returncode})")
    if n_changes < min(args.changed, 10_000) or n_changes != git_paths:
        raise SystemExit(f"lanewarden reported {n_changes} changes, expected {git_paths}")

    def baseline() -> None:
        run(git_raw, repo)
        run(git_patch, repo)

    print(f"timing: 1 warm-up + best of {args.repeat} each ...")
    a, a_s = best_of(baseline, args.repeat)
    def import_floor() -> None:
        run(floor, repo)

    def lanewarden_guard() -> None:
        run(guard, repo, ok=(0, 1))

    empty = [*lg, "guard", "--repo", str(repo), "--format", "json",
             "--worker", args.worker, "--base", base, "--head", base]

    def lanewarden_startup() -> None:
        run(empty, repo, ok=(0,))

    b, b_s = best_of(import_floor, args.repeat)
    c, c_s = best_of(lanewarden_guard, args.repeat)
    d, d_s = best_of(lanewarden_startup, args.repeat)

    def row(label: str, best: float, samples: list[float]) -> str:
        spread = ", ".join(f"{s:.3f}" for s in samples)
        return f"  {label:<46} {best:8.3f} s   [{spread}]"

    print(f"\n  {'measurement':<46} {'best':>8}     samples")
    print(row("(a) git diff --raw -z, then git diff -U0", a, a_s))
    print(row("(b) python -c 'import yaml, pathspec, ...'", b, b_s))
    print(row("(c) lanewarden guard --format json (range)", c, c_s))
    print(row("(d) lanewarden guard on an empty range (start-up)", d, d_s))
    own = (c - d) / a
    net = (c - b) / a
    total = c / (a + b)
    # lanewarden's own start-up (d): interpreter, imports, the 200-worker policy, git
    # processes; what is left, c - d, is the cost of the change itself.
    print(f"\n  (c - d) / a   = {own:.2f}   the change's cost over lanewarden's own start-up vs git reading "
          f"it once (target <= 1.5: {'met' if own <= 1.5 else 'NOT met'})")
    print(f"  (c - b) / a   = {net:.2f}   the same over the bare import floor (stricter)")
    print(f"  c / (a + b)   = {total:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
