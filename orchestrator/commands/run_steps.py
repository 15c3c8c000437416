"""``lanewarden run``: one local run (``run WORKER -- CMD``, commands/run.py) or its three portable steps.

``run prepare WORKER --task T --out DIR`` on the orchestrator, ``run execute
DIR -- CMD`` on any node, ``run collect DIR [--prepared DIR]`` back on the
orchestrator (docs/distributed.md). A first argument that is not one of the
three steps is a worker: the local run, exactly as before.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lanewarden.orchestrator.commands import run as local_run
from lanewarden.orchestrator.options import format_option, open_repo, repo_option

STEPS = ("prepare", "execute", "collect")


class _RunGroup(click.Group):
    """Subcommands for the three steps; anything else is ``run WORKER -- CMD``."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                             list[str]]:
        if args and args[0] in STEPS:
            return super().resolve_command(ctx, args)
        return "", local_run.command, args  # usage then reads `lanewarden run [OPTIONS] WORKER COMMAND...`

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # The local run's options may come first (`run --repo R W -- CMD`); keep them for it.
        if args and args[0] not in STEPS and args[0] not in ("-h", "--help"):
            ctx._protected_args, ctx.args = list(args[:1]), list(args[1:])
            return []
        return super().parse_args(ctx, args)


@click.group("run", cls=_RunGroup, context_settings={"ignore_unknown_options": True})
def command() -> None:
    """Run an agent as WORKER in a confined clone, guarded: `lanewarden run WORKER
    [OPTIONS] -- COMMAND` (its options: `lanewarden run WORKER --help`); or in
    three steps that may happen on different machines: `run prepare`, `run
    execute`, `run collect` (docs/distributed.md)."""


@command.command("prepare")
@click.argument("worker")
@repo_option
@click.option("--task", help="What the agent is asked to do.")
@click.option("--base", help="Start from this revision (default HEAD); its policy is the one enforced.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="The folder to write.")
@click.option("--no-network", "no_network", is_flag=True, help="Give the agent no network.")
@click.option("--no-bundle", "no_bundle", is_flag=True,
              help="Leave the base out; the node fetches the commit itself (run execute --from REMOTE).")
@format_option("text", "json")
def prepare_cmd(worker: str, repo: str | None, task: str | None, base: str | None, out: str, no_network: bool,
                no_bundle: bool, fmt: str) -> int:
    """Write a portable run of WORKER into --out: a bundle of the pinned base, the
    context pack and the parameters, hashed into manifest.json."""
    from lanewarden.orchestrator.runs.portable import prepare

    done = prepare(open_repo(repo), worker, Path(out), task=task, base=base, network=not no_network,
                   bundle=not no_bundle)
    if fmt == "json":
        click.echo(json.dumps(done, indent=2))
    else:
        click.echo(f"prepared run {done['run_id']} of {worker} at {done['base'][:12]} in {done['out']}")
        click.echo(f"  manifest sha256 {done['manifest_sha256']}")
    return 0


@command.command("execute", context_settings={"ignore_unknown_options": True})
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--unconfined", is_flag=True, help="Run the agent without a sandbox: it can write anything you can.")
@click.option("--no-network", "no_network", is_flag=True, help="Give the agent no network.")
@click.option("--from", "source", metavar="REMOTE",
              help="Fetch the base commit from REMOTE (a run prepared with --no-bundle).")
@format_option("text", "json")
def execute_cmd(folder: str, command: tuple[str, ...], unconfined: bool, no_network: bool, source: str | None,
                fmt: str) -> int:
    """Execute the prepared run in FOLDER on this machine (needs no repository):
    the agent runs confined in a fresh clone; its work lands in FOLDER/result/."""
    from lanewarden.orchestrator.runs.node import execute

    def echo(chunk: bytes) -> None:
        if fmt == "text":
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()

    if unconfined:
        click.echo("lanewarden run execute: UNCONFINED: the agent runs without a sandbox", err=True)
    result = execute(Path(folder), list(command), confined=not unconfined, network=not no_network, source=source,
                     echo=echo)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"\nexecuted run {result['run_id']}: agent exit {result['exit_code']}"
                   f"{' (timed out)' if result['timed_out'] else ''}; result in {Path(folder) / 'result'}")
        if result["error"]:
            click.echo(f"  error: {result['error']}")
    # The node does not judge: collect decides. A result was written, so this step succeeded.
    return 0


@command.command("collect")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@repo_option
@click.option("--prepared", type=click.Path(file_okay=False, exists=True),
              help="The run's folder as the trusted prepare job wrote it (when prepare ran elsewhere).")
@format_option("text", "json")
def collect_cmd(folder: str, repo: str | None, prepared: str | None, fmt: str) -> int:
    """Judge the run returned in FOLDER with this repository's trusted policy and land
    it (exit 0 accepted, 3 split, 1 rejected: a node that lied, crashed or returned nothing)."""
    from lanewarden.orchestrator.runs.intake import collect_run

    result = collect_run(open_repo(repo), Path(folder), prepared=Path(prepared) if prepared else None)
    local_run.echo_result(result, fmt)
    return result.exit_code
