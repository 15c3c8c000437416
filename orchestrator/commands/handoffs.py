"""``lanewarden handoffs list|show|accept|reject|apply|export|sync``: the reviewer's queue."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lanewarden.handoffs.apply import apply as apply_handoff
from lanewarden.handoffs.model import Action, Handoff, Status
from lanewarden.handoffs.queue import Damaged, Queue, Stored
from lanewarden.handoffs.sync import sync as sync_queue
from lanewarden.orchestrator.options import format_option, open_repo, repo_option
from lanewarden.orchestrator.reports.verdict import to_text
from lanewarden.workers.errors import InputError

SORTS: dict[str, Callable[[Handoff], Any]] = {
    "created": lambda h: (h.created_at, h.id), "target": lambda h: (h.target_worker, h.created_at),
    "source": lambda h: (h.source_worker, h.created_at), "status": lambda h: (h.status.value, h.created_at),
    "id": lambda h: h.id}


@click.group("handoffs")
def command() -> None:
    """Read and work through the handoff queue (refs/lanewarden/handoffs/*)."""


def _summary(h: Handoff) -> dict[str, object]:
    data = h.as_json()
    data.pop("proposed_change", None)
    data["has_patch"] = bool(h.proposed_change)
    return data


@command.command("list")
@repo_option
@click.option("--target", help="Only handoffs to this worker.")
@click.option("--source", help="Only handoffs from this worker.")
@click.option("--status", type=click.Choice([s.value for s in Status]), help="Only this status.")
@click.option("--contract", help="Only handoffs touching this contract.")
@click.option("--sort", type=click.Choice(sorted(SORTS)), default="created", show_default=True)
@format_option("text", "json")
def list_cmd(repo: str | None, target: str | None, source: str | None, status: str | None,
             contract: str | None, sort: str, fmt: str) -> int:
    """List handoffs (newest state of each); damaged or altered records are named on stderr."""
    # Streamed: each record is read, filtered and reduced to its output row before the next
    # is read, so memory holds the rows printed, not every record of the queue.
    key = SORTS[sort]
    rows: list[tuple[Any, str | tuple[str, ...]]] = []
    for item in Queue(open_repo(repo)).stream():
        if isinstance(item, Damaged):
            _warn([item])
            continue
        h = item.handoff
        if ((target is not None and h.target_worker != target) or (source is not None and h.source_worker != source)
                or (status is not None and h.status.value != status)
                or (contract is not None and contract not in h.contracts)):
            continue
        rows.append((key(h), h.summary_json() if fmt == "json" else (
            h.id[:12], h.status.value, f"{h.source_worker} -> {h.target_worker}", ",".join(h.contracts) or "-",
            h.problem.splitlines()[0][:70])))
    rows.sort(key=lambda r: r[0])
    if fmt == "json":
        # One compact JSON document built by pydantic-core: fast on queues of tens of thousands.
        # Written row by row: joining first would hold a second copy of the whole listing.
        out = sys.stdout
        out.write("[")
        for i, row in enumerate(rows):
            out.write((",\n" if i else "") + str(row[1]))
        out.write("]\n")
        return 0
    if not rows:
        click.echo("no handoffs")
        return 0
    table = [("ID", "STATUS", "FROM -> TO", "CONTRACTS", "PROBLEM"), *(tuple(r[1]) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for r in table:
        click.echo("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
    click.echo(f"{len(rows)} handoff(s)")
    return 0


def _warn(damaged: list[Damaged]) -> None:
    """Damaged refs are named on stderr, never dropped without a word: the rest stays usable."""
    for bad in damaged:
        click.echo(f"warning: skipped {bad.line()}", err=True)
        click.echo(f"  tip: {bad.hint}", err=True)


def _show_patch(patch: str) -> None:
    colour = sys.stdout.isatty()
    for line in patch.splitlines():
        if colour and line.startswith("+") and not line.startswith("+++"):
            click.secho(line, fg="green")
        elif colour and line.startswith("-") and not line.startswith("---"):
            click.secho(line, fg="red")
        elif colour and line.startswith(("diff --git", "@@")):
            click.secho(line, fg="cyan")
        else:
            click.echo(line)


@command.command("show")
@click.argument("handoff_id")
@repo_option
@format_option("text", "json", "yaml")
def show(handoff_id: str, repo: str | None, fmt: str) -> int:
    """Show one handoff (ids may be abbreviated) and its proposed patch."""
    stored = Queue(open_repo(repo)).get(handoff_id)
    h = stored.handoff
    if fmt == "json":
        click.echo(h.to_json().rstrip())
        return 0
    if fmt == "yaml":
        click.echo(h.to_yaml().rstrip())
        return 0
    body = _summary(h)
    body.pop("history")
    for key, value in body.items():
        if value in (None, (), [], {}, ""):
            continue
        click.echo(f"{key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    click.echo("history:")
    for t in h.history:
        click.echo(f"  {t.when} {t.who}: {t.action.value}" + (f" ({t.reason})" if t.reason else "")
                   + (f" commit {t.commit[:12]}" if t.commit else "")
                   + (f" patch sha256 {t.patch_sha256[:16]}" if t.patch_sha256 else ""))
    if h.proposed_change:
        click.echo("proposed change:")
        _show_patch(h.proposed_change)
    return 0


def _transition(repo: str | None, handoff_id: str, action: Action, reason: str | None) -> Stored:
    stored = Queue(open_repo(repo)).transition(handoff_id, action, reason=reason)
    click.echo(f"{stored.handoff.id[:12]}: {stored.handoff.status.value}")
    return stored


def _transition_command(name: str, action: Action, doc: str, reason_help: str, required: bool) -> None:
    """accept, reject, supersede and reopen differ only in the action and whether a reason is required."""

    @click.argument("handoff_id")
    @repo_option
    @click.option("--reason", required=required, help=reason_help)
    def run(handoff_id: str, repo: str | None, reason: str | None) -> int:
        _transition(repo, handoff_id, action, reason)
        return 0

    run.__doc__ = doc
    command.command(name)(run)


_transition_command("accept", Action.ACCEPT, "Accept an open handoff: its target will make (or apply) the change.",
                    "Why (kept in the history).", required=False)
_transition_command("reject", Action.REJECT, "Reject a handoff, with a reason.",
                    "Why it is rejected (kept in the history).", required=True)
_transition_command("supersede", Action.SUPERSEDE, "Mark a handoff superseded by other work.",
                    "What replaces it.", required=True)
_transition_command("reopen", Action.REOPEN, "Reopen a rejected or superseded handoff.",
                    "Why it is open again.", required=True)


@command.command("apply")
@click.argument("handoff_id")
@repo_option
@click.option("--branch", help="Branch to create (default lanewarden/<target>/handoff-<id>).")
@click.option("--base", help="Apply on this revision (default HEAD).")
def apply_cmd(handoff_id: str, repo: str | None, branch: str | None, base: str | None) -> int:
    """Apply an accepted handoff's patch on a new branch of its target worker.

    The patch is guarded against the target's lane first; anything but an
    accept leaves no branch and no state change.
    """
    git = open_repo(repo)
    result = apply_handoff(git, Queue(git), handoff_id, branch=branch, base=base)
    if result.commit is None:
        click.echo(to_text(result.verdict))
        click.echo("error: the target's guard did not accept the patch; nothing applied", err=True)
        return result.verdict.exit_code
    click.echo(f"applied on {result.branch} as {result.commit[:12]}; handoff {handoff_id} is applied")
    return 0


@command.command("export")
@click.argument("folder", type=click.Path(file_okay=False))
@repo_option
def export(folder: str, repo: str | None) -> int:
    """Write one YAML file per handoff into FOLDER (for CI artifacts)."""
    dest = Path(folder)
    dest.mkdir(parents=True, exist_ok=True)
    items, damaged = Queue(open_repo(repo)).scan()
    _warn(damaged)
    for stored in items:
        (dest / f"{stored.handoff.id}.yaml").write_text(stored.handoff.to_yaml(), encoding="utf-8")
    click.echo(f"exported {len(items)} handoff(s) to {dest}")
    return 0


@command.command("sync")
@click.argument("remote", default="origin")
@repo_option
def sync(remote: str, repo: str | None) -> int:
    """Fetch and push the queue, overrides and ledger with REMOTE; conflicts are reported, never overwritten."""
    report = sync_queue(open_repo(repo), remote)
    click.echo(f"fetched {len(report.fetched)}, pushed {len(report.pushed)}, unchanged {report.unchanged}, "
               f"conflicts {len(report.conflicts)}")
    for line in report.notes:
        click.echo(f"note: {line}")
    for line in report.conflicts:
        click.echo(f"conflict: {line}", err=True)
    if report.conflicts:
        raise InputError(f"{len(report.conflicts)} record(s) changed on both sides",
                         hint="compare with `git log refs/lanewarden/handoffs/<id> "
                              f"{report.mirror}handoffs/<id>`, then transition one side again")
    return 0
