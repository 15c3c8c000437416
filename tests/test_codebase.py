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
    # Every git process must get the hardened environment and flags of workers/git.py.
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
