"""``lanewarden plan --base REV``: the workers, contracts and e2e suites a range affects."""
from __future__ import annotations

import json
from pathlib import Path

import click

from lanewarden.orchestrator.options import (
    dry_run_notice,
    format_option,
    open_repo,
    policy_file_option,
    repo_option,
    untrusted,
)


@click.command("plan")
@repo_option
@click.option("--base", required=True, help="The range is merge-base(BASE, HEAD)..HEAD; the policy comes from BASE.")
@click.option("--head", help="The head of the range (default HEAD).")
@policy_file_option
@format_option("text", "json", "markdown", "github-matrix")
def command(repo: str | None, base: str, head: str | None, policy_file: str | None, fmt: str) -> int:
    """Which workers, contracts and e2e suites a range affects.

    --format github-matrix prints {"include": [{"worker": ..., "cwd": ...}]}
    on one line, for a job matrix with one job per affected worker.
    """
    from lanewarden.orchestrator.reviews.plan import plan

    result = plan(open_repo(repo), base, head, Path(policy_file) if policy_file else None)
    if policy_file:
        dry_run_notice(policy_file)
    if fmt == "github-matrix":
        click.echo(result.github_matrix())
        return 0
    if fmt == "json":
        click.echo(json.dumps(untrusted(result.as_json(), policy_file), separators=(",", ":")))
        return 0
    # The report builders import every review (final, matrix): only the formats for people pay for them.
    from lanewarden.orchestrator.reports import builders as pages
    from lanewarden.orchestrator.reports import document as report

    if fmt == "markdown":
        click.echo(report.to_markdown(pages.plan_doc(result)).rstrip("\n"))
    else:
        click.echo(report.to_text(pages.plan_doc(result)))
    return 0
