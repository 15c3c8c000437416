"""Real repositories in temporary folders, built from ``fixtures/`` scenarios.

git is never mocked: tests create repositories with the real git binary, with
identity, default branch and templates pinned so a developer's own git
configuration cannot change the outcome.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

CHECKOUT = Path(__file__).resolve().parent.parent
FIXTURES = CHECKOUT / "fixtures"


def _checkout_on_path() -> Path:
    """Make ``import lanewarden`` mean this checkout, in-process and in every subprocess.

    The checkout's root is the package (see ``package-dir`` in pyproject.toml), so a
    folder holding one symlink named ``lanewarden`` puts it on ``sys.path`` ahead of any
    installed copy. ``bin/lanewarden`` beside it is the console script for subprocesses.
    """
    shim = Path(tempfile.mkdtemp(prefix="lanewarden-checkout-"))
    (shim / "lanewarden").symlink_to(CHECKOUT, target_is_directory=True)
    (shim / "bin").mkdir()
    script = shim / "bin" / "lanewarden"
    script.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m lanewarden \"$@\"\n")
    script.chmod(0o755)
    sys.path.insert(0, str(shim))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH")) if p)
    return shim


SHIM = _checkout_on_path()
BIN = SHIM / "bin"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    return env


def git(repo: Path, *args: str, input: bytes | None = None, check: bool = True) -> str:
    """Run git in ``repo`` as a test would by hand; returns stdout as text."""
    proc = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "init.templateDir=",
                           "-c", "commit.gpgSign=false", *args],
                          cwd=repo, env=git_env(), input=input, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode("utf-8", "surrogateescape")


def git_bytes(repo: Path, *args: str) -> bytes:
    """Plain git's raw stdout, for tests that feed git's own output to the parsers."""
    return git(repo, *args).encode("utf-8", "surrogateescape")


def commit_folder(src: Path, dest: Path, message: str = "initial") -> Path:
    """Copy ``src`` into a fresh repository at ``dest`` and commit it on ``main``."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                    dirs_exist_ok=True)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", message)
    return dest


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """``make_repo("wallet-platform")`` -> path of a committed repository of that scenario."""
    counter = iter(range(1000))

    def make(scenario: str = "wallet-platform", name: str | None = None) -> Path:
        dest = tmp_path / (name or f"repo{next(counter)}")
        return commit_folder(FIXTURES / scenario, dest)

    return make


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    """The wallet-platform fixture, committed."""
    return make_repo("wallet-platform")


@pytest.fixture(autouse=True)
def _isolate_git(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith(("GIT_", "LANEWARDEN_")):
            monkeypatch.delenv(key, raising=False)
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    return


def lanewarden(*args: str, input: str | bytes | None = None) -> Result:
    """Run the real CLI in-process (same error boundary and exit codes as the console script)."""
    from lanewarden.orchestrator.cli import cli

    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def expect(result: Result, code: int = 0) -> Result:
    """Assert an exit code and show both streams when it is wrong."""
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result

