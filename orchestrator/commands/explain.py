"""``lanewarden explain PATH... | -``."""
from __future__ import annotations

import json
import os
import sys

import click

from lanewarden.orchestrator.options import format_option, open_repo, policy_from, repo_option
from lanewarden.workers.errors import InputError, unknown_worker_hint
from lanewarden.workers.git import Git
from lanewarden.workers.ownership import OwnershipIndex


def _normalise(git: Git, raw: str) -> str:
    """Accept repository-relative paths, './x', or paths relative to the current folder."""
    path = raw
    if git.top is not None and (os.path.isabs(path) or path.startswith(("./", "../"))):
        absolute = os.path.normpath(os.path.join(os.getcwd(), path))
        rel = os.path.relpath(absolute, git.top)
        if rel.startswith(".."):
            raise InputError(f"{raw!r} lies outside the repository {git.top}")
        path = rel
    return path.strip("/") if path not in ("", "/") else path


@click.command("explain")
@click.argument("paths", nargs=-1, required=True)
@repo_option
@click.option("--worker", help="Also give each path's class for this worker.")
@click.option("--rev", help="Use the policy committed in this revision.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), help="Use this policy file.")
@format_option("text", "json")
def command(paths: tuple[str, ...], repo: str | None, worker: str | None, rev: str | None,
            policy_file: str | None, fmt: str) -> int:
    """For each PATH (or '-' for newline-separated paths on stdin): the workers
    that may write it, its owner and the deciding rule; with --worker, its
    class for that worker (writable, propose_only, handoff_required,
    out_of_scope). JSON output is one object per line.
    """
    git = open_repo(repo)
    loaded = policy_from(git, policy_file=policy_file, rev=rev)
    if worker is not None and worker not in loaded.policy.workers:
        raise InputError(f"unknown worker {worker!r}",
                         hint=unknown_worker_hint(worker, loaded.policy.workers, loaded.source))
    items = [line for line in sys.stdin.read().splitlines() if line] if paths == ("-",) else list(paths)
    index = OwnershipIndex(loaded.policy)
    out = sys.stdout
    rows = []
    for raw in items:
        exp = index.explain(_normalise(git, raw), worker)
        if fmt == "json":
            out.write(json.dumps(exp.as_json()) + "\n")
        else:
            rows.append(exp)
    if fmt == "text":
        for exp in rows:
            writers = ",".join(exp.writers) or "-"
            line = f"{exp.path}\n  owner: {exp.owner}   writers: {writers}\n  rule:  {exp.rule}"
            if exp.tie:
                line += f"\n  tie:   {', '.join(exp.tie)} (equally specific; see policy check)"
            for item in exp.codeowners:  # every section's deciding line: lanes and review-only metadata
                section = f"[{item['section']}] " if item["section"] else ""
                owners = " ".join(item["owners"]) or ("(excluded)" if item.get("excluded") else "(no owners)")
                what = "lane" if item["lane"] else "review only" if item.get("optional") else "no lane"
                approvals = f", {item['approvals']} approvals" if item.get("approvals") else ""
                line += f"\n  codeowners {section}line {item['line']} {item['pattern']!r}: {owners} ({what}{approvals})"
            if exp.standing is not None:
                line += f"\n  {worker}: {exp.standing.path_class.value} ({exp.standing.rule})"
            click.echo(line)
    out.flush()
    return 0
