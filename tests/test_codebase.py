"""Rules of the codebase itself: layering, one git module, types."""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHIM

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["workers", "guards", "handoffs", "orchestrator"]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def test_layers_import_downwards_only() -> None:
    rank = {name: i for i, name in enumerate(LAYERS)}
    wrong = []
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            for line, module in _imports(path):
                top = module.split(".")[0]
                if top in rank and rank[top] > rank[layer]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_only_the_git_module_starts_processes() -> None:
    # Every git process must get the hardened environment and flags of workers/git.py
    # (workers/gitops.py builds argv but starts nothing).
    # workers/git.py runs git; orchestrator/runs/agent.py runs agents and guards/reviewer.py the
    # policy's external reviewers (neither ever runs git).
    allowed = {ROOT / "workers" / "git.py", ROOT / "orchestrator" / "runs" / "agent.py",
               ROOT / "guards" / "reviewer.py"}
    offenders = []
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            if path in allowed:
                continue
            for line, module in _imports(path):
                if module in ("subprocess", "git") or module.startswith("git."):
                    offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not offenders, "\n".join(offenders)


# Git access: workers/git.py starts git; it and its mixins (gitops, gitobjects, githistory, gitwork) build
# the argv of every operation.
# Nothing else may hand git a command line, so -z, --end-of-options and --literal-pathspecs
# are decided once (docs/guard.md, "Hardening").
GIT_ACCESS = {ROOT / "workers" / name
              for name in ("git.py", "gitops.py", "gitobjects.py", "githistory.py", "gitwork.py")}
RAW_ARGV = frozenset({"run", "run_rc", "run_to_file", "_run", "_run_rc", "_run_to_file", "argv", "_argv"})
NOT_GIT = {("subprocess", "run"), ("sys", "argv")}  # agents and reviewers (see above), the CLI's own argv


def raw_argv_uses(source: str) -> list[tuple[int, str]]:
    """(line, name) of every use of a raw-argv runner: calls, bound methods, getattr by name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in RAW_ARGV:
            receiver = node.value.id if isinstance(node.value, ast.Name) else ""
            if (receiver, node.attr) not in NOT_GIT:
                found.append((node.lineno, node.attr))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and node.args[1].value in RAW_ARGV):
            found.append((node.lineno, str(node.args[1].value)))
    return sorted(found)


def test_the_raw_argv_check_sees_every_spelling() -> None:
    source = ("git.run(['log'])\nself.git._run_rc(['x'])\nfn = wt.run_to_file\ngetattr(git, '_run')(['y'])\n"
              "g.argv(['z'])\nsubprocess.run(['agent'])\nprint(sys.argv)\ngit.ls_files_cached()\n")
    assert raw_argv_uses(source) == [(1, "run"), (2, "_run_rc"), (3, "run_to_file"), (4, "_run"), (5, "argv")]


def _our_python() -> list[Path]:
    """The checkout's own Python files: no virtual environment, build output or fixture data."""
    skip = {".venv", "venv", "build", "dist", "fixtures", "node_modules", ".git"}
    return [p for p in ROOT.rglob("*.py")
            if not skip.intersection(p.relative_to(ROOT).parts) and not p.relative_to(ROOT).parts[0].startswith(".")]


def test_only_git_access_builds_git_argv() -> None:
    # The whole checkout, tests and benchmarks included; the fixture monorepos are data.
    offenders = []
    for path in _our_python():
        if path in GIT_ACCESS:
            continue
        for line, name in raw_argv_uses(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(ROOT)}:{line} uses {name}: add a typed method to "
                             "workers/gitops.py instead")
    assert not offenders, "\n".join(offenders)


def test_nothing_imports_gitpython() -> None:
    # GitPython is not a dependency (docs/guard.md, "Why not GitPython"); benchmarks and tests included.
    offenders = []
    for path in _our_python():
        if "fixtures" in path.relative_to(ROOT).parts:
            continue
        for line, module in _imports(path):
            if module == "git" or module.startswith("git."):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not offenders, "\n".join(offenders)
    assert "gitpython" not in (ROOT / "pyproject.toml").read_text(encoding="utf-8").lower(), \
        "GitPython stays out of the dependencies: see docs/guard.md, 'Why not GitPython'"


def test_every_module_defers_annotations() -> None:
    missing = [str(p.relative_to(ROOT)) for layer in LAYERS for p in (ROOT / layer).rglob("*.py")
               if p.stat().st_size and "from __future__ import annotations" not in p.read_text(encoding="utf-8")
               and p.name != "__init__.py"]
    assert not missing


@pytest.mark.skipif(shutil.which("mypy") is None and not (Path(sys.executable).parent / "mypy").exists(),
                    reason="mypy is not installed (pip install '.[test]')")
def test_mypy_strict_is_clean() -> None:
    # The checkout is the `lanewarden` package only through the shim folder conftest puts on sys.path.
    env = {**os.environ, "MYPYPATH": str(SHIM)}
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff is not installed (pip install '.[test]')")
def test_ruff_is_clean() -> None:
    # The rule set and why each rule family is on: [tool.ruff] in pyproject.toml.
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_closed_sets_are_enums_and_every_mapping_covers_them() -> None:
    from lanewarden.guards.engine import GuardRequest
    from lanewarden.guards.verdict import EXIT_CODES, Decision, Mode
    from lanewarden.workers.errors import InputError

    assert set(EXIT_CODES) == set(Decision)
    assert sorted(set(EXIT_CODES.values())) == [0, 1, 3]  # the exit-code contract of ARCHITECTURE.md
    for mode in Mode:  # a request is the one place a mode is checked
        kwargs = {"base": "HEAD"} if mode is Mode.RANGE else {}
        assert GuardRequest(mode=mode.value, **kwargs).mode is mode  # type: ignore[arg-type]
    with pytest.raises(InputError, match="unknown guard mode 'tree'"):
        GuardRequest(mode="tree")  # type: ignore[arg-type]


def test_every_package_of_the_checkout_is_installed() -> None:
    # The tests import the checkout itself, so a subpackage missing from pyproject.toml would pass
    # here and be absent from every real install.
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"lanewarden", "lanewarden.fixtures"} | {
        "lanewarden." + ".".join(p.parent.relative_to(ROOT).parts)
        for layer in LAYERS for p in (ROOT / layer).rglob("__init__.py")}
    assert declared == found
