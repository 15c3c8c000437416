"""The CI recipes: files under docs/recipes/, shown verbatim in docs/ci.md, valid against the CI systems'
published schemas (check-jsonschema's vendored copies: no download), and their guard command runs."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import BIN, CHECKOUT, git

RECIPES = CHECKOUT / "docs" / "recipes"
CI_DOC = CHECKOUT / "docs" / "ci.md"
SCHEMAS = {"github-guard.yml": "vendor.github-workflows", "gitlab-guard.yml": "vendor.gitlab-ci"}


def _check_jsonschema() -> str:
    found = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    if not Path(found).exists():
        pytest.skip("check-jsonschema is not installed (pip install '.[test]')")
    return found


def test_every_recipe_is_shown_verbatim_in_the_docs() -> None:
    doc = CI_DOC.read_text(encoding="utf-8")
    shown = dict(re.findall(r"^<!-- recipe: docs/recipes/(\S+) -->\n```yaml\n(.*?)^```", doc, re.M | re.S))
    # docs/recipes also holds the distributed-run recipes (docs/distributed.md, tests/test_recipes.py).
    assert set(shown) == set(SCHEMAS) and set(SCHEMAS) <= {p.name for p in RECIPES.iterdir()}
    for name, text in shown.items():
        assert text == (RECIPES / name).read_text(encoding="utf-8"), f"docs/ci.md and docs/recipes/{name} differ"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_recipe_is_valid_against_the_published_schema(name: str) -> None:
    proc = subprocess.run([_check_jsonschema(), "--builtin-schema", SCHEMAS[name], str(RECIPES / name)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_catches_a_broken_recipe(tmp_path: Path) -> None:
    broken = tmp_path / "github-guard.yml"
    broken.write_text((RECIPES / "github-guard.yml").read_text().replace("runs-on:", "runs_on:"))
    proc = subprocess.run([_check_jsonschema(), "--builtin-schema", SCHEMAS["github-guard.yml"], str(broken)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0


def _guard_lines(name: str) -> list[str]:
    data = yaml.safe_load((RECIPES / name).read_text(encoding="utf-8"))
    if name.startswith("github"):
        script = "\n".join(str(s.get("run", "")) for s in data["jobs"]["guard"]["steps"])
    else:
        script = "\n".join(data["lanewarden"]["script"])
    return [line.strip() for line in script.splitlines() if line.strip().startswith("lanewarden guard")]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_recipes_pin_the_install_and_take_the_identity_from_ci(name: str) -> None:
    # What runs, comments left out (they say what is never used).
    text = "\n".join(line.split(" # ")[0] for line in (RECIPES / name).read_text(encoding="utf-8").splitlines()
                     if not line.strip().startswith("#"))
    assert '"lanewarden @ git+${LANEWARDEN_GIT}@${LANEWARDEN_REV}"' in text
    assert "LANEWARDEN_WORKER" not in text and "--worker" not in text and "HEAD_REF" not in text
    lines = _guard_lines(name)
    assert lines and all("--ci" in line for line in lines)


def _has_ci_flag() -> bool:
    proc = subprocess.run([str(BIN / "lanewarden"), "guard", "--help"], capture_output=True, text=True, check=False)
    return "--ci" in proc.stdout


def test_the_github_recipe_runs_and_writes_the_summary_on_a_reject(repo: Path, tmp_path: Path) -> None:
    """The recipe's own script, in a real repository, with GITHUB_ACTOR mapped through `actors`."""
    if not _has_ci_flag():
        pytest.skip("`lanewarden guard --ci` is not in this checkout yet (the lead's change on main)")
    policy = (repo / "lanewarden.yaml").read_text(encoding="utf-8")
    policy = policy.replace("    depends_on: [kms-api]          # calls kms-api to sign\n",
                            "    depends_on: [kms-api]          # calls kms-api to sign\n"
                            "    actors: [wallet-bot]\n", 1)
    assert "wallet-bot" in policy
    (repo / "lanewarden.yaml").write_text(policy, encoding="utf-8")
    git(repo, "commit", "-qam", "map the bot")
    base = git(repo, "rev-parse", "HEAD").strip()
    with open(repo / "services/kms-api/src/kms_api/audit.py", "a", encoding="utf-8") as fh:
        fh.write("# out of lane\n")
    git(repo, "commit", "-qam", "stray")
    head = git(repo, "rev-parse", "HEAD").strip()
    data = yaml.safe_load((RECIPES / "github-guard.yml").read_text(encoding="utf-8"))
    script = next(s["run"] for s in data["jobs"]["guard"]["steps"] if "lanewarden guard" in str(s.get("run")))
    summary = tmp_path / "summary.md"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "BASE": base, "HEAD": head,
           "GITHUB_ACTOR": "wallet-bot", "GITHUB_STEP_SUMMARY": str(summary),
           "LANEWARDEN_WORKER": "kms-api"}  # never used with --ci
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "::error file=services/kms-api/src/kms_api/audit.py" in proc.stdout
    assert "reject for `wallet-api`" in summary.read_text(encoding="utf-8")
