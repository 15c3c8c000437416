"""``lanewarden ledger show|head|verify|replay``: the tamper-evident record of every decision."""
from __future__ import annotations

import json

import click

from lanewarden.orchestrator.options import format_option, open_repo, repo_option
from lanewarden.workers.ledger import Kind, Ledger


@click.group("ledger")
def command() -> None:
    """The audit ledger in refs/lanewarden/ledger: a hash chain of every decision."""


def _line(e: dict[str, object]) -> str:
    inputs = e["inputs"] if isinstance(e["inputs"], dict) else {}
    outcome = e["outcome"] if isinstance(e["outcome"], dict) else {}
    what = inputs.get("worker") or inputs.get("handoff") or inputs.get("override") or ""
    result = outcome.get("decision") or outcome.get("status") or outcome.get("state") or ""
    return f"{e['seq']:>5}  {str(e['time'])[:19]}  {e['kind']:<8} {str(what)[:24]:<24} {result!s:<10} {e['actor']}"


@command.command("show")
@repo_option
@click.argument("seq", type=int, required=False)
@click.option("--kind", type=click.Choice([k.value for k in Kind]), help="Only entries of this kind.")
@click.option("--worker", help="Only entries about this worker.")
@click.option("--since", type=int, help="Only entries from this sequence number on.")
@click.option("--last", type=int, help="Only the last N entries (after the other filters).")
@format_option("text", "json")
def show(repo: str | None, seq: int | None, kind: str | None, worker: str | None, since: int | None,
         last: int | None, fmt: str) -> int:
    """List ledger entries, or show entry SEQ in full."""
    ledger = Ledger(open_repo(repo))
    if seq is not None:
        entry = ledger.get(seq)
        click.echo(json.dumps(entry.as_json(), indent=2, ensure_ascii=False))
        return 0
    items = [e.as_json() for e in ledger.entries()
             if (kind is None or e.kind == kind) and (since is None or e.seq >= since)
             and (worker is None or worker in (e.inputs.get("worker"), e.inputs.get("source_worker"),
                                               e.inputs.get("target_worker")))]
    if last is not None:
        items = items[-last:] if last > 0 else []
    if fmt == "json":
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
    elif not items:
        click.echo("no ledger entries")
    else:
        click.echo(f"{'SEQ':>5}  {'TIME':<19}  {'KIND':<8} {'SUBJECT':<24} {'OUTCOME':<10} ACTOR")
        for item in items:
            click.echo(_line(item))
    return 0


@command.command("head")
@repo_option
@format_option("text", "json")
def head(repo: str | None, fmt: str) -> int:
    """Print the chain's head hash, to publish elsewhere (a CI log, a tag) and check with --anchor."""
    entry = Ledger(open_repo(repo)).head()
    if fmt == "json":
        click.echo(json.dumps({"seq": entry.seq if entry else None, "hash": entry.hash if entry else None}))
    elif entry is None:
        click.echo("the ledger is empty")
    else:
        click.echo(entry.hash)
    return 0


@command.command("verify")
@repo_option
@click.option("--anchor", help="A head hash published earlier: prove it is still in the chain.")
@format_option("text", "json")
def verify(repo: str | None, anchor: str | None, fmt: str) -> int:
    """Recompute every hash and link. Exit 1 on any HASH_MISMATCH, CHAIN_BREAK, HIDDEN_CHAIN or ANCHOR_MISSING."""
    report = Ledger(open_repo(repo)).verify(anchor)
    if fmt == "json":
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        for p in report.problems:
            where = f"entry {p.seq}" if p.seq is not None else "ledger"
            commit = f" [commit {p.commit[:12]}]" if p.commit else ""
            click.echo(f"{p.violation.value}: {where}: {p.message}{commit}")
        if report.ok:
            extra = f"; anchor {anchor[:16]} found" if anchor else ""
            click.echo(f"ledger ok: {report.entries} entries, head {(report.head or 'none')[:16]}{extra}")
        else:
            click.echo(f"ledger NOT ok: {len(report.problems)} problem(s) in {report.entries} entries", err=True)
    return 0 if report.ok else 1


@command.command("replay")
@repo_option
@click.argument("seq", type=int)
@format_option("text", "json")
def replay_cmd(repo: str | None, seq: int, fmt: str) -> int:
    """Recompute recorded decision SEQ from its recorded inputs: exit 0 if it reproduces, 1 if not."""
    from lanewarden.guards.recorder import replay

    result = replay(open_repo(repo), seq)
    if fmt == "json":
        click.echo(json.dumps(result.as_json(), indent=2))
        return result.exit_code
    if result.reproduced:
        click.echo(f"entry {seq} reproduces: {result.replayed_decision}")
    else:
        click.echo(f"entry {seq} does NOT reproduce (recorded {result.recorded_decision}, "
                   f"now {result.replayed_decision}):")
        for diff in result.differences:
            click.echo(f"  - {diff}")
    for note in result.notes:
        click.echo(f"note: {note}")
    return result.exit_code
