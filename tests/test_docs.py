"""The docs test: every command in docs/adoption.md runs, in order, in a real repository.

The guide's fenced ``sh`` blocks are split into commands (continuation lines
and here-documents kept whole) and run by one ``bash`` in a copy of the
fixture monorepo without its policy, plus a small ``.github/CODEOWNERS``: a
newcomer's repository. Shell state carries over between commands as it does
for a reader at a terminal. Each command must exit 0 unless its comment says
``# exit N``. A command may only be left out with a ``# not run by the docs
test: <why>`` comment, and the set of those is pinned below, so nothing is
skipped quietly. lanewarden runs as the real console script, next to this
interpreter.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, FIXTURES, git

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "adoption.md"
SKIP = "# not run by the docs test:"
EXPECTED_SKIPS = {"python3 -m venv", "cd path/to/your-monorepo", "lanewarden run wallet-api --task \"retry transient"}
_EXIT = re.compile(r"#\s*exit (\d+)\b")
CODEOWNERS = "* @acme/platform\n/services/wallet-api/ @acme/wallet\n/contracts/ @acme/api-council\n"


def commands(markdown: str) -> list[str]:
    """Commands of the ``sh`` blocks, in order."""
    out: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", markdown, re.M | re.S):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            command = lines[i]
            i += 1
            while command.endswith("\\") and i < len(lines):
                command += "\n" + lines[i]
                i += 1
            heredoc = re.search(r"<<'?(\w+)'?", command)
            if heredoc:
                while i < len(lines):
                    command += "\n" + lines[i]
                    i += 1
                    if lines[i - 1] == heredoc.group(1):
                        break
            if command.strip():
                out.append(command)
    return out


def lanewarden_bin() -> Path:
    return BIN  # the checkout's console script (see conftest)


def test_guide_commands_parse() -> None:
    cmds = commands(GUIDE.read_text(encoding="utf-8"))
    skipped = [c for c in cmds if SKIP in c]
    assert {s for s in EXPECTED_SKIPS if any(c.startswith(s) for c in skipped)} == EXPECTED_SKIPS
    assert len(skipped) == len(EXPECTED_SKIPS), skipped
    for c in skipped:
        assert c.split(SKIP, 1)[1].strip(), f"a skipped command must say why: {c}"
    assert any(c.startswith("cat > plan.yaml") and c.endswith("\nEOF") for c in cmds)


def test_every_command_in_the_guide_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "your-monorepo"
    shutil.copytree(FIXTURES / "wallet-platform", repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (repo / "lanewarden.yaml").unlink()
    (repo / ".github").mkdir()
    (repo / ".github" / "CODEOWNERS").write_text(CODEOWNERS, encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "our monorepo")
    monkeypatch.setenv("PATH", f"{lanewarden_bin()}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("LANEWARDEN_ACTOR", "newcomer")
    run = [c for c in commands(GUIDE.read_text(encoding="utf-8")) if SKIP not in c]
    rc_file = tmp_path / "rc"
    monkeypatch.setenv("DOCS_TEST_RC", str(rc_file))
    script = []
    for i, command in enumerate(run):
        script += [command, f'echo "@@rc {i} $?" >> "$DOCS_TEST_RC"']
    proc = subprocess.run(["bash", "-c", "\n".join(script) + "\n"], cwd=repo, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=600)
    codes = {int(i): int(c) for i, c in re.findall(r"@@rc (\d+) (\d+)", rc_file.read_text())}
    output = f"\nstdout:\n{proc.stdout[-6000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert len(codes) == len(run), f"the script stopped after {len(codes)} of {len(run)} commands{output}"
    for i, command in enumerate(run):
        expected = _EXIT.search(command.split("\n")[0])
        want = int(expected.group(1)) if expected else 0
        assert codes[i] == want, f"`{command}` exited {codes[i]}, the guide says {want}{output}"
    # What the guide promises happened.
    assert (repo / "lanewarden.yaml").is_file() and (repo / "lanewarden.codeowners.yaml").is_file()
    assert (repo / "contracts" / "AGENTS.md").is_file()
    assert '"Edit(/services/wallet-api/**)"' in (repo / ".claude" / "settings.local.json").read_text()
    assert 'sandbox_mode = "workspace-write"' in (repo / "codex-wallet-api.toml").read_text()
    branches = git(repo, "branch", "--list", "lanewarden/*")
    assert "lanewarden/contracts/handoff-" in branches
