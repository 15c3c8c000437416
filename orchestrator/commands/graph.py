"""``lanewarden graph``: the service and contract graph of the policy."""
from __future__ import annotations

import json

import click

from lanewarden.orchestrator.options import format_option, open_repo, repo_option


@click.command("graph")
@repo_option
@click.option("--rev", default="HEAD", show_default=True, help="The revision whose policy is drawn.")
@format_option("text", "json", "mermaid", "dot")
def command(repo: str | None, rev: str, fmt: str) -> int:
    """Services, contracts (producers -> contract -> consumers), e2e suites
    (suite -> services it exercises) and depends_on edges (dependency -> dependent).
    """
    from lanewarden.orchestrator.reviews import graph
    from lanewarden.workers.loader import load_revision

    git = open_repo(repo)
    loaded = load_revision(git, git.resolve_commit(rev))
    g = graph.build(loaded.policy)
    if fmt == "json":
        click.echo(json.dumps(graph.as_json(g), indent=2))
    elif fmt == "mermaid":
        click.echo(graph.to_mermaid(g))
    elif fmt == "dot":
        click.echo(graph.to_dot(g))
    else:
        click.echo(graph.to_text(g))
    return 0
