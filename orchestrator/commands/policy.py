"""``laneguard policy check|schema``."""
from __future__ import annotations

import json

import click

from orchestrator.options import format_option, open_repo, policy_from, repo_option, tracked_files
from workers.lint import lint
from workers.schema import Policy


@click.group("policy")
def command() -> None:
    """Validate, lint and describe the policy file (laneguard.yaml)."""


@command.command("check")
@repo_option
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), help="Check this file.")
@click.option("--rev", help="Check the policy committed in this revision.")
@click.option("--strict", is_flag=True, help="Treat lint warnings as errors (exit 2).")
@format_option("text", "json")
def check(repo: str | None, policy_file: str | None, rev: str | None, strict: bool, fmt: str) -> int:
    """Validate the policy, then lint it against the tracked files.

    Errors (exit 2) name FILE:LINE:COL and the key. Lint findings are
    warnings (exit 0) unless --strict: patterns matching no tracked file,
    workers whose writable sets overlap, deny patterns that remove nothing,
    read hints the worker can also write, a cwd outside the worker's allow.
    """
    git = open_repo(repo)
    loaded = policy_from(git, policy_file=policy_file, rev=rev)
    findings = lint(loaded, tracked_files(git, rev))
    policy = loaded.policy
    if fmt == "json":
        click.echo(json.dumps({
            "schema": "laneguard.policy-check/1", "source": loaded.source, "sha256": loaded.sha256,
            "valid": True, "workers": len(policy.workers), "contracts": len(policy.contracts),
            "e2e": len(policy.e2e),
            "findings": [{"kind": f.kind, "where": f.where, "message": f.message} for f in findings],
        }, indent=2))
    else:
        for finding in findings:
            click.echo(str(finding))
        click.echo(f"{loaded.source}: valid: {len(policy.workers)} workers, {len(policy.contracts)} contracts, "
                   f"{len(policy.e2e)} e2e suites; {len(findings)} warning{'s' if len(findings) != 1 else ''}")
    if findings and strict:
        click.echo("error: --strict: lint warnings count as errors", err=True)
        return 2
    return 0


@command.command("schema")
def schema() -> int:
    """Print the JSON Schema of the policy file (for editors and CI)."""
    doc = Policy.model_json_schema()
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           "$id": "https://laneguard.dev/schema/policy-1.json", "title": "laneguard policy", **doc}
    click.echo(json.dumps(doc, indent=2, sort_keys=False))
    return 0
