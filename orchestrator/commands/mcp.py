"""``lanewarden mcp``: the MCP server for agents, over stdio (needs the ``mcp`` extra)."""
from __future__ import annotations

import click

from lanewarden.orchestrator.commands.guard import resolve_worker
from lanewarden.orchestrator.options import open_repo, repo_option
from lanewarden.workers.errors import InputError


@click.command("mcp")
@repo_option
@click.option("--worker", help="The worker the agent works as (else LANEWARDEN_WORKER, else the branch).")
def command(repo: str | None, worker: str | None) -> int:
    """Serve lanewarden's tools to an agent over stdio (Model Context Protocol).

    Tools: my_lane, who_owns, check_my_changes, propose_handoff, list_handoffs.
    Read-only except propose_handoff. The worker is fixed here, never by the agent.
    """
    try:
        from anyio import run as run_async  # the SDK's own event loop library

        from lanewarden.orchestrator.integrations.mcp_server import LaneDesk, build
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise InputError(f"the MCP server needs the mcp package ({exc})",
                         hint="pip install 'lanewarden[mcp]'") from None
    git = open_repo(repo)
    desk = LaneDesk(git, resolve_worker(git, worker))
    desk.my_lane()  # an unknown worker or a missing policy fails here, before the agent connects
    run_async(build(desk).run_stdio_async)
    return 0
