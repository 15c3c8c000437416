"""``lanewarden handoff propose``: how an agent hands off work it must not do itself."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from lanewarden.guards.engine import GuardRequest, policy_for
from lanewarden.guards.verdict import Mode
from lanewarden.handoffs.proposals import Proposal, propose
from lanewarden.orchestrator.commands.guard import resolve_worker
from lanewarden.orchestrator.options import format_option, open_repo, repo_option
from lanewarden.workers.errors import InputError


@click.group("handoff")
def command() -> None:
    """Hand off out-of-lane work to the worker that owns it."""


@command.command("propose")
@repo_option
@click.option("--problem", required=True, help="What must change outside your lane, and why.")
@click.option("--to", "target", help="The target worker (default: routed from the patch's or --path's owners).")
@click.option("--evidence", multiple=True, help="Evidence: a failing test, a log line, a file:line (repeatable).")
@click.option("--risk", help="What goes wrong if nobody acts.")
@click.option("--patch", "patch_file", help="The proposed change as a unified diff FILE (or - for stdin).")
@click.option("--path", "paths", multiple=True, help="A path the handoff is about (repeatable).")
@click.option("--validation", multiple=True, help="A command that validates the change (repeatable).")
@click.option("--worker", help="The source worker (default: LANEWARDEN_WORKER or the branch).")
@click.option("--task", help="The task you were on (default: LANEWARDEN_TASK).")
@click.option("--base", help="The revision the patch applies to (default: LANEWARDEN_BASE, else HEAD).")
@format_option("text", "json")
def propose_cmd(repo: str | None, problem: str, target: str | None, evidence: tuple[str, ...], risk: str | None,
                patch_file: str | None, paths: tuple[str, ...], validation: tuple[str, ...], worker: str | None,
                task: str | None, base: str | None, fmt: str) -> int:
    """Queue a handoff. Inside `lanewarden run`, worker, task and base come from the environment."""
    git = open_repo(repo)
    patch = None
    if patch_file is not None:
        try:
            patch = sys.stdin.buffer.read() if patch_file == "-" else Path(patch_file).read_bytes()
        except OSError as exc:
            raise InputError(f"{patch_file}: cannot read the patch: {exc.strerror}") from None
    loaded = policy_for(git, GuardRequest(mode=Mode.STAGED))
    results = propose(git, loaded, Proposal(
        source=resolve_worker(git, worker), problem=problem, target=target, patch=patch, paths=paths,
        evidence=evidence, risk=risk, task=task or os.environ.get("LANEWARDEN_TASK"),
        base=base or os.environ.get("LANEWARDEN_BASE"), validation=validation))
    if fmt == "json":
        click.echo(json.dumps([{"id": s.handoff.id, "created": created, "target_worker": s.handoff.target_worker,
                                "status": s.handoff.status.value} for s, created in results], indent=2))
    else:
        for stored, created in results:
            h = stored.handoff
            state = "queued" if created else f"already queued ({h.status.value})"
            click.echo(f"{h.id[:12]} {state}: {h.source_worker} -> {h.target_worker} ({h.routing_reason})")
    return 0
