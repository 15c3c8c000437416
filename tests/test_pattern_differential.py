"""Differential test: our pattern matcher against real ``git ls-files``.

The pattern language is *defined* as git's root-anchored glob pathspec, so
the only trustworthy oracle is git itself. We build one repository full of
realistic and hostile file names, generate a few hundred patterns from a
fixed seed (many derived from the real paths, so they actually hit files),
and require ``compile_pattern(p).matches(x)`` to agree with git for every
(pattern, path) pair.
"""
from __future__ import annotations

import importlib.metadata
import random
import re
from pathlib import Path

import pytest
import tomllib

import lanewarden.workers.pattern
from conftest import git
from lanewarden.workers.pattern import compile_pattern, problems

SEED = 20261121
MIN_PATHS = 300
MIN_PATTERNS = 150
MIN_PAIRS = 2_000
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

# Hand-picked paths that each probe one way a glob implementation can go wrong.
HOSTILE_PATHS: tuple[str, ...] = (
    # root-level files, including dotfiles and extensionless names
    "README.md", "readme.md", "Makefile", ".env", ".editorconfig", "setup.py",
    ".gitignore", ".gitattributes", "x", "a.c", "-rf.txt", "#hash.md", "~tilde",
    # dot-directories and dotfiles deeper down
    ".github/workflows/ci.yml", ".github/workflows/release.yaml", ".github/CODEOWNERS",
    "a/.env.example", "a/b/.hidden/deep.py", "services/.keep",
    # similar prefixes: a literal 'src' must not match 'src2' or 'src-old'
    "src/main.py", "src/util.c", "src/util.h", "src2/main.py", "src-old/main.py",
    "srcx", "src.txt", "src_/main.py",
    # realistic monorepo layout
    "services/wallet-api/src/x.py", "services/wallet-api/src/handlers/pay.py",
    "services/wallet-api/tests/test_x.py", "services/wallet-api/Dockerfile",
    "services/wallet/README.md", "services/wallet-api-v2/src/x.py",
    "contracts/kms/kms.proto", "contracts/kms/v1/kms.proto", "contracts/ledger.proto",
    # spaces and unicode
    "docs/café.md", "docs/cafe.md", "docs/naïve résumé.txt", "docs/with space/file one.md",
    "docs/日本語/説明.md", "docs/emoji-🚀.md", "docs/Ω/x.c", " lead/x.txt",
    # glob metacharacters that are literally part of names
    "src/[ab]", "src/a", "src/b", "src/c", "weird/a*b.txt", "weird/axxb.txt", "weird/ab.txt",
    "q/what?.md", "q/whatX.md", "q/what.md", "lit/[ab]/x.txt", "lit/a/x.txt", "lit/b/y.txt",
    "glob/*/x.txt", "glob/star/x.txt", "stars/**", "stars/plain", "br/x]y.txt", "br/[x.txt",
    "br/{a,b}.txt", "br/!bang.md", "br/^caret.md", "br/a-b.md", "br/a:b.md",
    "weird/back\\slash.txt", "weird/q?/[0-9]/f.txt", "weird/q1/5/f.txt",
    # odd but legal components
    "dots/.../x", "dots/..x/y", "dots/x../y", "dots/.x./z", "a/gitx/.gitkeep", "x.git/y",
    # deep paths
    "deep/1/2/3/4/5/6/7/8/9/leaf.py", "deep/1/2/3/leaf.py", "deep/leaf.py",
    "a/b/c/d/e.py", "a/x/c/d.py", "a/b/c/x.py", "a/b/b/c/y.py", "a/b", "ab/b",
    "node_modules/pkg/index.js", "pkg/node_modules/x/index.js",
)

TOP_DIRS = ("services", "contracts", "src", "src2", "src-old", "docs", "lib", "pkg",
            "tools", ".github", "infra", "a", "b", "ab", "deep", "vendor")
MID_DIRS = ("wallet-api", "wallet", "kms", "ledger", "auth", "x", "y", "build", "tests",
            "__pycache__", "v1", "v2", "internal", "src", "node_modules", ".cache",
            "with space", "ünïcode", "[ab]", "a*b", "q?", "1", "2", "10")
STEMS = ("main", "util", "index", "x", "test_x", "README", "kms", "schema", "config",
         ".env", "Makefile", "a", "ab", "b2", "résumé", "café", "file one", "a*b", "what?",
         "[0-9]", "v1.2", "_init", "__init__", "-dash", "Dockerfile")
EXTS = ("", ".py", ".c", ".h", ".md", ".proto", ".yml", ".yaml", ".json", ".txt", ".go",
        ".example", ".tar.gz", ".PY", ".cc")
# Names used by hand-written patterns; ext list is what '**/*.ext' probes.
GLOB_EXTS = ("py", "c", "h", "md", "proto", "yml", "json", "txt", "go", "gz", "PY", "cc")
BRACKETS = ("[ab]", "[a-c]", "[0-9]", "[a-z]", "[A-Z]", "[xy]", "[s]", "[*?]", "[-a]",
            "[a-]", "[.]", "[_-]", "[a-zA-Z0-9]", "[é]", "[ü]", "[ ]")


def _random_path(rng: random.Random) -> str:
    depth = rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4, 5, 7))
    dirs = [rng.choice(TOP_DIRS)] if depth else []
    dirs += [rng.choice(MID_DIRS) for _ in range(depth - 1)]
    name = rng.choice(STEMS) + rng.choice(EXTS)
    return "/".join([*dirs, name])


def generate_paths(rng: random.Random) -> list[str]:
    paths = set(HOSTILE_PATHS)
    while len(paths) < 420:
        paths.add(_random_path(rng))
    # A path cannot be both a file and a directory: keep the deeper one.
    dirs = {p[:i] for p in paths for i, c in enumerate(p) if c == "/"}
    return sorted(p for p in paths if p not in dirs)


def _directories(paths: list[str]) -> list[str]:
    return sorted({p[:i] for p in paths for i, c in enumerate(p) if c == "/"})


def _derive(rng: random.Random, path: str) -> str:
    """A pattern built by wildcarding one or two spots of a real path."""
    parts = path.split("/")
    for _ in range(rng.choice((1, 1, 2))):
        kind = rng.randrange(8)
        i = rng.randrange(len(parts))
        part = parts[i]
        if kind == 0:
            parts[i] = "*"
        elif kind == 1 and part:
            k = rng.randrange(len(part))
            parts[i] = part[:k] + "?" + part[k + 1:]
        elif kind == 2 and len(parts) >= 3:
            a = rng.randrange(1, len(parts) - 1)
            b = rng.randrange(a, len(parts) - 1)
            parts[a:b + 1] = ["**"]
        elif kind == 3 and len(parts) >= 2:
            parts[: rng.randrange(1, len(parts))] = ["**"]
        elif kind == 4 and part:
            k = rng.randrange(len(part))
            c = part[k]
            bracket = f"[{c}{rng.choice('xyz019')}]" if c.isalnum() else rng.choice(BRACKETS)
            parts[i] = part[:k] + bracket + part[k + 1:]
        elif kind == 5 and part:
            parts[i] = part[: rng.randrange(len(part) + 1)] + "*"
        elif kind == 6 and part:
            parts[i] = "*" + part[rng.randrange(len(part) + 1):]
        elif kind == 7:
            # truncate to a directory, keeping or dropping the trailing '/'
            parts = parts[: max(1, i)]
            if rng.random() < 0.3:
                parts.append("**")
            elif rng.random() < 0.3:
                parts.append("")
        if "" in parts[:-1]:
            break
    return "/".join(parts)


def generate_patterns(rng: random.Random, paths: list[str]) -> list[str]:
    dirs = _directories(paths)
    names = sorted({p.rsplit("/", 1)[-1] for p in paths})
    candidates: list[str] = [
        "*", "**", "?", "??", "*/*", "*/**", "**/*", "*/*/*", "*.md", "*.py", ".*", "*.*",
        "src", "src/", "src/*", "src/**", "src*", "src*/*", "src?/**", "src-*/**",
        "src/[ab]", "src/[abc]", "lit/[ab]", "lit/[ab]/x.txt", "lit/[ab]/*", "lit/*/x.txt",
        "weird/a*b.txt", "q/what?.md", "glob/*/x.txt", "glob/*", "stars/**", "br/x]y.txt",
        "br/[[]x.txt", "br/{a,b}.txt", "br/!bang.md", "br/^caret.md", "br/a:b.md", "br/*",
        "weird/q?/[0-9]/f.txt", "docs/caf?.md", "docs/caf??.md", "docs/caf*.md",
        "docs/caf[é].md", "docs/caf[e].md", "docs/caf[a-é].md", "docs/?/x.c", "docs/??/x.c",
        "docs/emoji-?.md", "docs/emoji-????.md", "docs/日本語/??.md", "**/r?sum?*", "docs/日本語/*",
        "docs/*/*.md", "docs/with space/",
        "**/.env*", "**/.*", "**/.github/**", ".github/*/*.yml", "**/node_modules/**",
        "**/__pycache__/*", "a/**/b", "a/**/c/*.py", "a/*/c/*.py", "a/**/*", "a/b/**",
        "a/b", "a/b/", "a/*", "**/b", "**/b/*", "deep/**/leaf.py", "deep/*/leaf.py",
        "deep/?/**", "services/*/src/**", "services/wallet*/**", "services/wallet-api/",
        "contracts/**/*.proto", "contracts/*.proto", "**/kms.proto", "dots/.../x",
        "dots/*/*", "dots/?../y", "x.git/*", "**/*[0-9]*", "**/[A-Z]*", "**/*[-_]*",
        "[a-c]", "[a-c]/**", "[abc]*/*", "[.]*", "*[.]c", "**/*.[ch]", "**/*.[a-z][a-z]",
        "nonexistent", "nonexistent/**", "src/nonexistent.py", "srcx/", "ab",
    ]
    candidates += [f"**/*.{ext}" for ext in GLOB_EXTS]
    candidates += [f"{d}/*.{rng.choice(GLOB_EXTS)}" for d in rng.sample(dirs, 20)]
    for d in rng.sample(dirs, 40):
        candidates += [d, d + "/", d + "/*", d + "/**", d + "/*/**", d + "/**/*"]
    candidates += rng.sample(paths, 60)
    candidates += [f"**/{n}" for n in rng.sample(names, 30)]
    candidates += [f"{rng.choice(dirs)}/**/{rng.choice(names)}" for _ in range(20)]
    candidates += [_derive(rng, rng.choice(paths)) for _ in range(260)]
    patterns: list[str] = []
    seen: set[str] = set()
    for p in candidates:
        if p not in seen and not problems(p):
            seen.add(p)
            patterns.append(p)
    return patterns


def git_matches(repo: Path, pattern: str) -> set[str]:
    out = git(repo, "ls-files", "-z", "--", f":(glob){pattern}")
    return {p for p in out.split("\0") if p}


def test_matcher_agrees_with_git_ls_files(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    paths = generate_paths(rng)
    assert len(paths) >= MIN_PATHS

    repo = tmp_path / "repo"
    repo.mkdir()
    for rel in paths:
        f = repo / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        # .gitignore is one of our hostile names; keep it from ignoring anything.
        f.write_text("# nothing ignored\n" if f.name == ".gitignore" else rel + "\n",
                     encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "paths")
    tracked = sorted(git_matches(repo, "**"))
    # If git silently dropped or renamed a path, the comparison would be vacuous for it.
    assert tracked == paths

    patterns = generate_patterns(rng, paths)
    assert len(patterns) >= MIN_PATTERNS

    disagreements: list[tuple[str, str, bool, bool]] = []
    compared = 0
    hits = 0
    for pattern in patterns:
        expected = git_matches(repo, pattern)
        assert expected <= set(paths), (pattern, expected - set(paths))
        hits += bool(expected)
        compiled = compile_pattern(pattern)
        for path in paths:
            git_says = path in expected
            we_say = compiled.matches(path)
            compared += 1
            if git_says != we_say:
                disagreements.append((pattern, path, git_says, we_say))

    assert compared >= MIN_PAIRS
    # Patterns that match nothing test little; most should hit real files.
    assert hits >= len(patterns) * 3 // 4, f"only {hits}/{len(patterns)} patterns match anything"
    if disagreements:
        shown = "\n".join(f"  pattern={p!r} path={x!r} git={g} we={w}"
                          for p, x, g, w in disagreements[:30])
        pytest.fail(f"{len(disagreements)} of {compared} (pattern, path) pairs disagree "
                    f"with git ls-files; first 30:\n{shown}")


@pytest.mark.parametrize("pattern", [
    "!src/**",            # negation
    "/abs",               # leading '/'
    "x\\y",               # backslash
    "a/../b",             # '..' component
    "a/./b",              # '.' component
    "..",
    ".git/config",        # '.git' component
    "src/.GIT/x",
    "a//b",               # empty component
    "foo**/x",            # '**' not a whole component
    "a/**b",
    "**/**/x",            # repeated '**'
    "src/*/",             # trailing '/' after a wildcard
    "src/[ab",            # unclosed bracket
    "[!a]",               # negated brackets
    "[^a]",
    "[]",                 # empty bracket / starting with ']'
    "[]a]",
    "[[:alpha:]]",        # POSIX class
    "[a[b]",              # nested '['
    "a[/]b",              # '/' inside a bracket
    "[z-a]",              # reversed range
    " src",               # leading / trailing whitespace
    "src ",
    "",
])
def test_problems_rejects(pattern: str) -> None:
    assert problems(pattern) != []


def test_pathspec_pin_and_backend() -> None:
    # Verdicts of the differential test only hold for the pinned pathspec release.
    deps = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = [m.group(1) for d in deps if (m := re.fullmatch(r"pathspec==(\S+)", d.strip()))]
    assert len(pins) == 1, deps
    assert importlib.metadata.version("pathspec") == pins[0]
    assert lanewarden.workers.pattern.BACKEND == "simple"
