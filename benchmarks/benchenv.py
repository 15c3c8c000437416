"""The environment every benchmark runs git and lanewarden with.

No user or system git configuration (a ~/.gitconfig could turn on diff drivers,
colour, external diff tools or fsmonitor and distort the baseline), a pinned
identity and date so generated repositories are the same on every machine, and
the C locale.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

PINNED_DATE = "2026-01-01T00:00:00+00:00"


def git_env() -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE is dropped too: an installed lanewarden runs from compiled modules,
    # and recompiling every module on every start would be measured instead of lanewarden.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "lanewarden-bench",
        "GIT_AUTHOR_EMAIL": "bench@lanewarden.invalid",
        "GIT_COMMITTER_NAME": "lanewarden-bench",
        "GIT_COMMITTER_EMAIL": "bench@lanewarden.invalid",
        "GIT_AUTHOR_DATE": PINNED_DATE,
        "GIT_COMMITTER_DATE": PINNED_DATE,
        "LC_ALL": "C",
    })
    return env


def lanewarden_argv() -> list[str]:
    """How to start lanewarden, preferring the one installed next to this interpreter.

    The import floor is measured with sys.executable, so the lanewarden being
    compared must run on the same interpreter and site-packages; a lanewarden
    found first on PATH could belong to another environment.
    """
    sibling = Path(sys.executable).parent / "lanewarden"
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return [str(sibling)]
    found = shutil.which("lanewarden")
    if found:
        return [found]
    return [sys.executable, "-c", "from lanewarden.orchestrator.cli import main; main()"]
