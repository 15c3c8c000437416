#!/usr/bin/env python3
"""CODEOWNERS import and routing benchmark on a file shaped like apache/nuttx's
(16,700 rules over 27,000 tracked files; early unanchored rules with five owners,
then tens of thousands of literal one-file lines), all ratios from one run.

What it measures (wall time, best of --repeat after one warm-up):

  (p) parse     pathspec GitIgnoreSpec.from_lines over the file's patterns (in process)
  (a) import    lanewarden init --from-codeowners CODEOWNERS --force  (whole CLI run)
  (e) explain   lanewarden explain PATH: one path, policy load included
  (b) routing   lanewarden explain --format json - < paths   (16,000 changed paths)
  (c) baseline  every path checked against every CODEOWNERS rule, last match wins
                (pathspec, the way a naive router would), on a sample, extrapolated

Targets: (a) <= 2 x (p); (e) <= 1 s; (c) / (b) >= 100. The draft's size is
printed (it must grow with the number of lines). Routing answers are checked
against the brute force on the sample, so a fast wrong answer exits non-zero.

The generators are shared with tests/test_codeowners.py. Standard library
only, except the baseline and (p), which need pathspec (lanewarden's own
dependency).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_WORKDIR = HERE / ".work"

GLOBALS = [  # (pattern, owner): what large real files start with
    ("*", "@org/platform-default"), ("*.md", "@org/docs"), ("/.github/", "@org/devops"),
    ("Dockerfile", "@org/devops"), ("/docs/*", "@org/docs"), ("/docs/", "@org/docs"),
]
AREAS = ("services", "libs", "apps", "tools", "infra")
SUBDIRS = ("src", "internal/storage", "internal/api", "deploy", "docs", "migrations", "vendor", "test/fixtures")
EXTS = ("py", "go", "ts", "md", "proto", "sql", "yaml", "sh")


def _owner(rng: random.Random, teams: int) -> str:
    roll = rng.random()
    if roll < 0.8:
        return f"@org/team-{rng.randrange(teams):03d}"
    if roll < 0.95:
        return f"@user{rng.randrange(200)}"
    return f"dev{rng.randrange(50)}@example.com"


def generate_codeowners(rules: int, seed: int = 8, teams: int = 300) -> tuple[str, list[str]]:
    """A CODEOWNERS of ``rules`` rules shaped like a large real one, and the component folders it names."""
    rng = random.Random(seed)
    lines = ["# CODEOWNERS (generated): defaults first, then areas, then late overrides.", ""]
    lines += [f"{p} {o}" for p, o in GLOBALS]
    components: list[str] = []
    count = len(GLOBALS)
    body_rules = int(rules * 0.93)
    while count < body_rules:
        area = AREAS[len(components) % len(AREAS)]
        comp = f"{area}/{area[:3]}-{len(components):04d}"
        components.append(comp)
        team = _owner(rng, teams)
        block = ["", f"# {comp}", f"/{comp}/ {team}"]
        for sub in rng.sample(SUBDIRS, rng.randrange(1, 5)):
            roll = rng.random()
            if sub == "vendor" and roll < 0.5:
                block.append(f"/{comp}/{sub}/")  # no owner: nobody reviews vendored code
            elif roll < 0.12:
                block.append(f"/{comp}/{sub}/*.{rng.choice(EXTS)} {_owner(rng, teams)}")
            elif roll < 0.18:
                block.append(f"/{comp}/**/{sub.split('/')[-1]}/ {_owner(rng, teams)}")
            else:
                block.append(f"/{comp}/{sub}/ {_owner(rng, teams)}")
        if rng.random() < 0.05:
            block.append(f"/{comp}/*.lock {team} {_owner(rng, teams)}")
        lines += block
        count += sum(1 for b in block if b and not b.startswith("#"))
        if count < body_rules * 0.25 <= count + len(block):
            lines.append("*.snap @org/qa")  # a repository-wide glob in the middle of the file
            count += 1
    lines += ["", "# late overrides: re-homed components and defaults taking folders back"]
    while count < rules:
        comp = rng.choice(components)
        roll = rng.random()
        if roll < 0.6:
            lines.append(f"/{comp}/ {_owner(rng, teams)}")
        elif roll < 0.9:
            lines.append(f"/{comp}/{rng.choice(SUBDIRS)}/ @org/platform-default")
        else:
            lines.append(f"/{comp}/{rng.choice(SUBDIRS)}/*.{rng.choice(EXTS)} {_owner(rng, teams)}")
        count += 1
    lines += ["", "# lines GitHub itself skips", "!/services/ser-0000/ @org/team-001",
              "/services/[Ss]rc/ @org/team-002", "\\#notes.md @org/docs"]
    return "\n".join(lines) + "\n", components


def generate_nuttx(rules: int = 16_700, files: int = 27_000, seed: int = 11) -> tuple[str, list[str]]:
    """A CODEOWNERS shaped like apache/nuttx's and the tracked files of its repository.

    Early unanchored rules with several owners (``AUTHORS``, ``*.md``), then one
    anchored literal line per file (``/arch/arm/src/chip7/f12.c @dev``); some
    folders are owned as a whole. The literal lines cover most tracked files.
    """
    rng = random.Random(seed)
    lines = ["# CODEOWNERS shaped like apache/nuttx (generated)",
             "AUTHORS @a1 @a2 @a3 @a4 @a5", ".pre-commit-config.yaml @a1 @a2 @a3 @a4 @a5",
             "*.md @docs", "Kconfig @a1 @a3", "/tools/ @a2", "Documentation/ @docs"]
    tracked: list[str] = ["AUTHORS", ".pre-commit-config.yaml", "README.md", "Kconfig"]
    tops = ("arch", "boards", "drivers", "fs", "net", "sched", "libs", "apps")
    n = 0
    while len(tracked) < files:
        top = tops[n % len(tops)]
        folder = f"{top}/g{n // 40 % 50:02d}/d{n:05d}"
        n += 1
        names = [f"f{i}.{rng.choice(('c', 'h', 'S'))}" for i in range(rng.randrange(4, 14))]
        names += ["Kconfig", "Make.defs"] if rng.random() < 0.5 else ["README.md"]
        tracked += [f"{folder}/{name}" for name in names]
        dev = f"@dev{rng.randrange(400)}"
        if rng.random() < 0.1:
            lines.append(f"/{folder}/ {dev}")
        else:
            lines += [f"/{folder}/{name} {dev}" for name in names if rng.random() < 0.75]
    tracked += [f"tools/t{i}.py" for i in range(50)] + [f"Documentation/p{i}.rst" for i in range(50)]
    lines = lines[:7] + lines[7:][: max(0, rules - 6)]
    lines += ["!/arch/ @x", "/boards/[ab]*/ @y"]  # GitHub skips both
    return "\n".join(lines) + "\n", tracked


def generate_paths(components: list[str], count: int, seed: int = 9) -> list[str]:
    """Changed paths spread over the components, the docs and the root."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        roll = rng.random()
        if roll < 0.9:
            comp = rng.choice(components)
            sub = rng.choice((*SUBDIRS, "", "pkg/a/b"))
            name = f"f{rng.randrange(40)}.{rng.choice(EXTS)}"
            out.add("/".join(p for p in (comp, sub, name) if p))
        elif roll < 0.95:
            out.add(f"docs/{rng.choice(['', 'guide/', 'api/v1/'])}page{rng.randrange(100)}.md")
        else:
            out.add(rng.choice(["README.md", "Makefile", ".github/workflows/ci.yml", "x.snap", "go.mod"]))
    return sorted(out)


def _lanewarden() -> list[str]:
    from benchenv import lanewarden_argv
    return lanewarden_argv()


def _time(argv: list[str], repo: Path, stdin: bytes | None, repeat: int) -> tuple[float, bytes]:
    best, out = float("inf"), b""
    for i in range(repeat + 1):
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=repo, input=stdin, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv[:4])} ... failed ({proc.returncode}):\n{proc.stderr.decode()[-2000:]}")
        out = proc.stdout
        if i:  # the first run warms the page cache
            best = min(best, elapsed)
    return best, out


def brute_force(text: str, paths: list[str]) -> tuple[float, list[str]]:
    """Seconds to route ``paths`` by checking each against every pattern, and the owners found."""
    import pathspec
    from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

    carry = "(?:(?P<ps_d>/)|$)"
    rules = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#") or parts[0][0] in "!\\" or "[" in parts[0]:
            continue
        raw = parts[0]
        regex, _ = GitIgnoreSpecPattern.pattern_to_regex(raw)
        if raw.rstrip("/").rsplit("/", 1)[-1] == "*" and not raw.endswith("/") and regex.endswith(carry):
            regex = regex[: -len(carry)] + "$"  # GitHub: 'docs/*' owns direct files only
        rules.append((pathspec.PathSpec([pathspec.RegexPattern(regex)], backend="simple"), tuple(parts[1:])))
    start = time.perf_counter()
    owners = []
    for path in paths:
        found: tuple[str, ...] = ()
        for spec, who in rules:  # every pattern, last match wins
            if spec.match_file(path):
                found = who
        owners.append(",".join(sorted(o.lower() for o in found)))
    return time.perf_counter() - start, owners


def pathspec_parse(text: str) -> float:
    """Seconds pathspec takes to parse the file's patterns (what any CODEOWNERS reader pays)."""
    import pathspec

    patterns = [ln.split()[0] for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    start = time.perf_counter()
    pathspec.GitIgnoreSpec.from_lines(patterns, backend="simple")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=int, default=16_700)
    ap.add_argument("--files", type=int, default=27_000)
    ap.add_argument("--paths", type=int, default=16_000)
    ap.add_argument("--sample", type=int, default=200, help="paths routed by the brute force (extrapolated)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from benchenv import git_env

    repo = args.workdir / f"codeowners-nuttx-r{args.rules}"
    shutil.rmtree(repo, ignore_errors=True)
    (repo / ".github").mkdir(parents=True)
    text, tracked = generate_nuttx(args.rules, args.files)
    for path in tracked:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text("x\n")
    (repo / ".github" / "CODEOWNERS").write_text(text)
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "codeowners"]):
        subprocess.run(["git", "-c", "init.defaultBranch=main", *cmd], cwd=repo, env=git_env(), check=True)
    rules = sum(1 for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))
    paths = sorted(random.Random(5).sample(tracked, min(args.paths, len(tracked))))
    lg = _lanewarden()
    t_parse = min(pathspec_parse(text) for _ in range(args.repeat))
    t_import, _ = _time([*lg, "init", "--from-codeowners", "--force", "--format", "json"], repo, None, args.repeat)
    draft = (repo / "lanewarden.yaml").read_bytes()
    draft_lines = draft.count(b"\n")
    t_one, _ = _time([*lg, "explain", paths[len(paths) // 2]], repo, None, args.repeat)
    t_route, out = _time([*lg, "explain", "--format", "json", "-"], repo, "\n".join(paths).encode(), args.repeat)
    routed = [json.loads(line) for line in out.splitlines()]
    if len(routed) != len(paths):
        raise SystemExit(f"explain routed {len(routed)} paths, expected {len(paths)}")
    sample = random.Random(3).sample(range(len(paths)), min(args.sample, len(paths)))
    t_sample, owners = brute_force(text, [paths[i] for i in sample])
    descriptions = {w["id"]: w["owner"].lower() for w in _workers(repo)}
    wrong = [paths[i] for i, want in zip(sample, owners, strict=False)
             if (want and descriptions.get(routed[i]["owner"], "") not in want.split(","))
             or (not want and routed[i]["owner"] != "root")]
    if wrong:
        raise SystemExit(f"lanewarden routed {len(wrong)} sampled paths differently from CODEOWNERS, e.g. {wrong[:3]}")
    t_brute = t_sample / len(sample) * len(paths)
    print(f"CODEOWNERS: {rules} rules, {len(text.encode())} bytes; {len(tracked)} tracked files; "
          f"draft: {len(draft)} bytes, {draft_lines} lines; {len(paths)} changed paths")
    print(f"(p) pathspec parses the patterns            {t_parse:8.2f} s")
    print(f"(a) import   lanewarden init --from-codeowners  {t_import:8.2f} s   (a)/(p) = {t_import / t_parse:.2f} "
          "(target <= 2)")
    print(f"(e) explain  one path, policy load included     {t_one:8.2f} s   (target <= 1 s)")
    print(f"(b) routing  lanewarden explain - ({len(paths)} paths) {t_route:8.2f} s")
    print(f"(c) baseline every path x every rule (pathspec)  {t_brute:8.1f} s "
          f"(extrapolated from {len(sample)} paths: {t_sample:.2f} s)")
    print(f"(c) / (b) = {t_brute / t_route:.0f}x   (target: >= 100x); sampled owners agree")
    return 0


def _workers(repo: Path) -> list[dict[str, str]]:
    """Worker id -> CODEOWNERS owner, read back from the draft's description lines."""
    text = (repo / "lanewarden.yaml").read_text()
    return [{"id": m.group(1).strip('"'), "owner": json.loads(m.group(2))}
            for m in re.finditer(r"^  (\S+):\n    description: (\".*\")$", text, re.M)]


if __name__ == "__main__":
    sys.exit(main())
