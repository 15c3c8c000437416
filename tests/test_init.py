"""``lanewarden init``: discovery on three generated monorepo layouts, never overwriting, packs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import git, lanewarden

LAYOUTS: dict[str, dict[str, str]] = {
    "npm-workspaces": {
        "package.json": json.dumps({"private": True, "workspaces": ["packages/*", "apps/web"]}),
        "packages/ui/package.json": '{"name": "ui"}', "packages/ui/src/button.tsx": "export {}\n",
        "packages/api-client/package.json": '{"name": "api-client"}', "packages/api-client/index.ts": "\n",
        "apps/web/package.json": '{"name": "web"}', "apps/web/src/index.ts": "\n",
        "apps/web/Dockerfile": "FROM node\n",  # belongs to apps/web, not a second service
        "schemas/user.schema.json": '{"$schema": "https://json-schema.org/draft/2020-12/schema"}',
        "e2e/login/login.spec.ts": "\n", "docs/README.md": "# docs\n", "README.md": "# shop\n",
        ".gitignore": "node_modules/\n",
    },
    "go-rust": {
        "go.work": "go 1.22\n\nuse (\n\t./svc/auth\n\t./svc/billing\n)\n",
        "svc/auth/go.mod": "module auth\n", "svc/auth/main.go": "package main\n",
        "svc/billing/go.mod": "module billing\n", "svc/billing/main.go": "package main\n",
        "Cargo.toml": '[workspace]\nmembers = ["crates/*"]\n',
        "crates/core/Cargo.toml": '[package]\nname = "core"\n', "crates/core/src/lib.rs": "\n",
        "crates/cli/Cargo.toml": '[package]\nname = "cli"\n', "crates/cli/src/main.rs": "\n",
        "api/graphql/schema.graphql": "type Query { me: User }\n",
        "tools/gen/Dockerfile": "FROM golang\n", "integration-tests/smoke/run.sh": "#!/bin/sh\n",
        "Makefile": "all:\n",
    },
    "python-protos": {
        "services/orders/pyproject.toml": "[project]\nname = 'orders'\n", "services/orders/orders/app.py": "\n",
        "services/orders/api/openapi.yaml": "openapi: 3.1.0\n",  # inside a service: left to it
        "services/payments/setup.py": "\n", "services/payments/Dockerfile": "FROM python\n",
        "services/payments/payments/core.py": "\n",
        "protos/orders/v1/orders.proto": 'syntax = "proto3";\n',
        "protos/payments/payments.proto": 'syntax = "proto3";\n',
        "specs/events.yaml": "asyncapi: 2.6.0\n", "e2e/checkout/test_checkout.py": "\n",
        "scripts/release.sh": "#!/bin/sh\n", "README.md": "# shop\n",
    },
}


def make_layout(tmp_path: Path, name: str) -> Path:
    repo = tmp_path / name
    for path, text in LAYOUTS[name].items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text, encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "layout")
    return repo


def init(repo: Path, *args: str, code: int = 0) -> dict[str, Any]:
    result = lanewarden("init", "--repo", str(repo), "--format", "json", *args)
    assert result.exit_code == code, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout) if code == 0 else {}
    return data


def policy_of(repo: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((repo / "lanewarden.yaml").read_text())
    return data


def assert_checks(repo: Path) -> None:
    result = lanewarden("policy", "check", "--repo", str(repo), "--strict")
    assert result.exit_code == 0, result.stdout + result.stderr


def test_npm_workspaces(tmp_path: Path) -> None:
    repo = make_layout(tmp_path, "npm-workspaces")
    (repo / "node_modules" / "left-pad").mkdir(parents=True)
    (repo / "node_modules" / "left-pad" / "package.json").write_text("{}")  # ignored: never a service
    (repo / "scratch").mkdir()
    (repo / "scratch" / "package.json").write_text("{}")  # untracked: never a service
    report = init(repo)
    services = {s["id"]: s["folder"] for s in report["draft"]["services"]}
    assert services == {"ui": "packages/ui", "api-client": "packages/api-client", "web": "apps/web"}
    why = {s["id"]: " | ".join(s["why"]) for s in report["draft"]["services"]}
    assert "'packages/*' of the npm workspaces in package.json" in why["ui"]
    assert "apps/web/Dockerfile (Dockerfile)" in why["web"]
    policy = policy_of(repo)
    assert policy["workers"]["ui"] == {"cwd": "packages/ui", "allow": ["packages/ui/**"],
                                       "read_hints": ["schemas/**"], "propose_only": ["schemas/**"]}
    assert policy["workers"]["contracts"]["allow"] == ["schemas/**"]
    assert policy["contracts"]["user"]["paths"] == ["schemas/user.schema.json"]
    assert policy["workers"]["root"]["allow"] == ["e2e/**", "docs/**", "*"]
    assert_checks(repo)


def test_go_and_rust_mix(tmp_path: Path) -> None:
    repo = make_layout(tmp_path, "go-rust")
    report = init(repo)
    services = {s["id"]: s["folder"] for s in report["draft"]["services"]}
    assert services == {"auth": "svc/auth", "billing": "svc/billing", "core": "crates/core", "cli": "crates/cli",
                        "gen": "tools/gen"}
    assert report["draft"]["workspaces"] == {"": "Cargo.toml (Cargo workspace); go.work (go.work)"}
    policy = policy_of(repo)
    assert policy["contracts"]["graphql"]["paths"] == ["api/graphql/**"]
    assert policy["workers"]["root"]["allow"] == ["integration-tests/**", "*"]
    assert report["draft"]["e2e"] == [{"folder": "integration-tests", "suites": ["smoke"]}]
    assert_checks(repo)


def test_python_services_with_protos(tmp_path: Path) -> None:
    repo = make_layout(tmp_path, "python-protos")
    report = init(repo)
    services = {s["id"]: s["folder"] for s in report["draft"]["services"]}
    assert services == {"orders": "services/orders", "payments": "services/payments"}
    draft = report["draft"]
    assert {g["folder"]: g["contracts"] for g in draft["contracts"]} == {
        "protos": ["orders", "payments"], "specs": ["events"]}
    assert draft["unowned"] == ["scripts"]
    assert any("inside services/orders" in n for n in draft["notes"])
    policy = policy_of(repo)
    assert policy["contracts"]["orders"]["paths"] == ["protos/orders/**"]
    assert policy["contracts"]["payments"]["paths"] == ["protos/payments/**"]
    assert policy["workers"]["contracts"]["allow"] == ["protos/**", "specs/**"]
    text = (repo / "lanewarden.yaml").read_text()
    assert "# found services/payments/Dockerfile (Dockerfile)" in text  # the draft says why
    assert "# e2e:" in text and "#   checkout:" in text
    assert_checks(repo)


def test_never_overwrites_without_force(tmp_path: Path) -> None:
    repo = make_layout(tmp_path, "python-protos")
    (repo / "lanewarden.yaml").write_text("# mine\n")
    result = lanewarden("init", "--repo", str(repo))
    assert result.exit_code == 2 and "already exists" in result.stderr and "--force" in result.stderr
    assert (repo / "lanewarden.yaml").read_text() == "# mine\n"
    init(repo, "--force")
    assert "workers:" in (repo / "lanewarden.yaml").read_text()


def test_output_to_stdout_keeps_the_report_on_stderr(tmp_path: Path) -> None:
    repo = make_layout(tmp_path, "go-rust")
    result = lanewarden("init", "--repo", str(repo), "--output", "-")
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)["root"] == "root"
    assert "service auth" in result.stderr and not (repo / "lanewarden.yaml").exists()


def test_packs_are_written_only_where_missing(repo: Path) -> None:
    kept = (repo / "services/wallet-api/AGENTS.md").read_text()
    (repo / "services/kms-api/llm-context/contracts.md").unlink()
    report = init(repo, "--packs")
    assert not report["written"]  # the committed policy is kept: packs only
    status = {p["path"]: p["status"] for p in report["packs"]}
    assert status["services/wallet-api/AGENTS.md"] == "kept"
    assert status["services/kms-api/llm-context/contracts.md"] == "created"
    assert status["contracts/AGENTS.md"] == "created"
    assert (repo / "services/wallet-api/AGENTS.md").read_text() == kept
    created = (repo / "services/kms-api/llm-context/contracts.md").read_text()
    assert "## kms-signing\n- path: `contracts/kms/**`\n- role: producer (consumed by wallet-api, mpc-manager-rs)" \
        in created and "## mpc-session" in created and "stale when" in created
    agents = (repo / "contracts/AGENTS.md").read_text()
    assert "- `contracts/**`" in agents and "lanewarden handoff propose" in agents
    assert "lanewarden guard --worker contracts --worktree" in agents
    again = init(repo, "--packs")
    assert {p["status"] for p in again["packs"]} <= {"kept", "skipped"}


def test_packs_on_a_fresh_draft_name_the_test_command(tmp_path: Path) -> None:
    repo = make_layout(tmp_path, "python-protos")
    init(repo, "--packs")
    agents = (repo / "services/orders/AGENTS.md").read_text()
    assert "cd services/orders && python -m pytest -q" in agents
    assert "- `services/orders/**`" in agents and "- Only through a handoff: `protos/**`." in agents


@pytest.mark.parametrize("setup", ["empty", "bare"])
def test_clear_errors_without_files_or_work_tree(tmp_path: Path, setup: str) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", *(["--bare"] if setup == "bare" else []))
    result = lanewarden("init", "--repo", str(repo))
    assert result.exit_code == 2 and ("tracks no files" in result.stderr or "work tree" in result.stderr)


def test_init_infers_consumers_and_leaves_weak_evidence_as_a_comment(make_repo: Any) -> None:
    shop = make_repo("telemetry-shop")
    git(shop, "rm", "-q", "lanewarden.yaml")
    git(shop, "commit", "-qm", "start over without a policy")
    result = lanewarden("init", "--repo", str(shop), "--format", "json")
    assert result.exit_code == 0, result.output
    draft_text = (shop / "lanewarden.yaml").read_text()
    draft = yaml.safe_load(draft_text)
    [contract] = draft["contracts"].values()
    assert contract["consumers"] == ["checkout", "recommendation", "shipping"]
    assert "# consumer ad: possibly stale: generator-script tools/gen-protos.sh (not added: check it)" in draft_text
    report = json.loads(result.stdout)
    assert {svc for svc, _, _ in report["inferred_consumers"]["demo"]} == {"checkout", "recommendation",
                                                                           "shipping", "ad"}
    assert lanewarden("policy", "check", "--repo", str(shop)).exit_code == 0
    (shop / "lanewarden.yaml").unlink()
    plain = lanewarden("init", "--repo", str(shop), "--no-infer")
    assert plain.exit_code == 0
    assert yaml.safe_load((shop / "lanewarden.yaml").read_text())["contracts"]["demo"]["consumers"] == []
