"""``lanewarden override request|approve|list``: dual-control exceptions to a lane."""
from __future__ import annotations

import datetime
import json

import click

from lanewarden.guards.override import Overrides, Scope, parse_ttl
from lanewarden.orchestrator.options import format_option, open_repo, repo_option
from lanewarden.workers.errors import InputError, unknown_worker_hint


@click.group("override")
def command() -> None:
    """Time-boxed exceptions to a worker's lane, in force only after two approvals.

    Approvals count from two distinct identities, neither the requester, given
    before the override expires. Identities are what LANEWARDEN_ACTOR or git's
    user.name claim: see docs/ledger.md for how CI can vouch for them.
    """


def _show(item: dict[str, object], state: str) -> str:
    paths = item["paths"] if isinstance(item["paths"], list) else []
    approvals = item["approvals"] if isinstance(item["approvals"], list) else []
    return (f"{str(item['id'])[:12]}  {item['worker']:<16} {state:<9} {len(approvals)} approval(s)  "
            f"expires {str(item['expires_at'])[:19]}  {item['scope']}  {', '.join(map(str, paths))}")


def _label(active: bool, why: str) -> str:
    if active:
        return "in force"
    for start, label in (("expired", "expired"), ("ignored", "IGNORED")):
        if why.startswith(start):
            return label
    return "pending"


@command.command("request")
@repo_option
@click.option("--worker", required=True, help="The worker whose lane gets the exception.")
@click.option("--paths", "paths", required=True, multiple=True,
              help="Path patterns it covers (repeat, or separate with spaces).")
@click.option("--reason", required=True, help="Why: what reviewers judge the request by.")
@click.option("--ttl", default="2h", show_default=True, help="How long it may be in force (e.g. 30m, 2h, 1d; max 7d).")
@click.option("--scope", "scope", type=click.Choice([s.value for s in Scope]), default=Scope.CHANGE.value,
              show_default=True, help="change: only the change with --diff-sha256; window: any change until expiry.")
@click.option("--diff-sha256", "diff_sha256", help="With --scope change: the diff_sha256 from the verdict.")
@format_option("text", "json")
def request(repo: str | None, worker: str, paths: tuple[str, ...], reason: str, ttl: str, scope: str,
            diff_sha256: str | None, fmt: str) -> int:
    """Ask for an override; it is not in force until two other people approve it."""
    from lanewarden.workers.loader import load_revision

    git = open_repo(repo)
    policy = load_revision(git, "HEAD").policy
    if worker not in policy.workers:
        raise InputError(f"unknown worker {worker!r} in HEAD:lanewarden.yaml",
                         hint=unknown_worker_hint(worker, policy.workers))
    patterns = [p for chunk in paths for p in chunk.split()]
    may_change_policy = worker == policy.root or worker in policy.gate.policy_owners
    stored = Overrides(git).request(worker, patterns, reason, parse_ttl(ttl), Scope(scope), diff_sha256,
                                    policy_route=may_change_policy)
    item = stored.override
    if fmt == "json":
        click.echo(json.dumps(item.as_json(), indent=2))
    else:
        click.echo(f"override {item.id} requested for {worker}: {', '.join(item.paths)} until {item.expires_at}")
        click.echo(f"it needs two approvals from other people: lanewarden override approve {item.id}")
    return 0


@command.command("approve")
@repo_option
@click.argument("override_id")
@format_option("text", "json")
def approve(repo: str | None, override_id: str, fmt: str) -> int:
    """Approve an override as the current identity (never your own request, never twice)."""
    git = open_repo(repo)
    stored = Overrides(git).approve(override_id)
    item = stored.override
    active, why = item.state(datetime.datetime.now(datetime.timezone.utc))
    if fmt == "json":
        click.echo(json.dumps({**item.as_json(), "in_force": active, "state": why}, indent=2))
    else:
        click.echo(f"override {item.id}: approved by {item.approvals[-1].who}; "
                   f"{'in force' if active else 'not in force yet'}: {why}")
    return 0


@command.command("list")
@repo_option
@click.option("--worker", help="Only overrides for this worker.")
@click.option("--all", "show_all", is_flag=True, help="Include expired ones.")
@format_option("text", "json")
def list_cmd(repo: str | None, worker: str | None, show_all: bool, fmt: str) -> int:
    """List overrides and whether each is in force now.

    Every record is checked again here, as the guard checks it: one that fails
    (edited, a too-long expiry, approvals the ledger does not back, ...) is
    listed as ignored with why, even without --all. A ref that holds no
    readable record is named, and the command exits 2.
    """
    at = datetime.datetime.now(datetime.timezone.utc)
    found, damaged = Overrides(open_repo(repo)).scan()
    rows = []
    for stored in found:
        item = stored.override
        active, why = stored.state(at)
        if (worker and item.worker != worker) or (not show_all and why.startswith("expired")):
            continue
        rows.append(({**item.as_json(), "problems": list(stored.problems)}, active, why))
    if fmt == "json":
        click.echo(json.dumps([{**data, "in_force": active, "state": why} for data, active, why in rows], indent=2))
    elif not rows:
        click.echo("no overrides")
    else:
        for data, active, why in rows:
            click.echo(_show(data, _label(active, why)))
            if why.startswith("ignored"):
                click.echo(f"    {why}")
    for bad in damaged:
        click.echo(f"error: skipped {bad.line()}", err=True)
        click.echo(f"  tip: {bad.hint}", err=True)
    if damaged:
        raise InputError(f"{len(damaged)} override ref(s) hold no readable record (named above); they grant "
                         "nothing", hint="remove each with `git update-ref -d <ref>` once inspected")
    return 0
