"""docs/recipes: the CI recipes validate against their published schemas, and the docs show them verbatim.

``check-jsonschema`` ships the GitHub workflow and GitLab CI schemas
(``--builtin-schema vendor.github-workflows`` / ``vendor.gitlab-ci``), so the check
needs no network.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DOCS = Path(__file__).resolve().parent.parent / "docs"
RECIPES = DOCS / "recipes"


def _checker() -> list[str]:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    if not Path(exe).exists():
        pytest.skip("check-jsonschema is not installed (pip install '.[test]')")
    return [exe]


@pytest.mark.parametrize(("name", "schema"), [("github-actions.yml", "vendor.github-workflows"),
                                               ("gitlab-ci.yml", "vendor.gitlab-ci")])
def test_recipe_validates_against_the_published_schema(name: str, schema: str) -> None:
    proc = subprocess.run([*_checker(), "--builtin-schema", schema, str(RECIPES / name)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_kubernetes_recipe_is_a_job_that_ends_in_collect_elsewhere() -> None:
    job = yaml.safe_load((RECIPES / "kubernetes-job.yaml").read_text())
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert "lanewarden run execute" in pod["containers"][0]["args"][0]


def test_every_recipe_runs_collect_on_a_trusted_job() -> None:
    for name in ("github-actions.yml", "gitlab-ci.yml"):
        text = (RECIPES / name).read_text()
        assert "lanewarden run prepare" in text and "lanewarden run execute" in text
        assert "lanewarden run collect" in text and "--prepared" in text


def test_the_docs_include_each_recipe_verbatim() -> None:
    doc = (DOCS / "distributed.md").read_text()
    included = dict(re.findall(r"<!-- recipe: (\S+) -->\n```yaml\n(.*?)```\n", doc, re.S))
    # The CI gate's own recipes (github-guard.yml, gitlab-guard.yml) are shown in docs/ci.md instead.
    assert set(included) == {p.name for p in RECIPES.iterdir() if not p.stem.endswith("-guard")}
    for name, body in included.items():
        assert body == (RECIPES / name).read_text(), f"docs/distributed.md shows an old copy of {name}"
