"""What the ledger must hold for an override record to count.

An override record in ``refs/lanewarden/overrides/<id>`` is one commit that
anyone who can write the repository can forge: invented approvers, an expiry
in 2099. The ledger is a hash chain whose head can be published
(docs/ledger.md), so every request and every approval is also a ledger entry,
and a record counts only as far as the ledger backs it: its request entry
must carry the same worker, paths, scope, change, requester and expiry, and
each approval needs its own later entry by the same identity at the same
moment. Anything the ledger does not back is reported, never applied.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from lanewarden.workers.identity import same_identity
from lanewarden.workers.ledger import Entry, Kind

if TYPE_CHECKING:
    from lanewarden.guards.override import Override

REQUEST = "request"
APPROVE = "approve"


def index(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    """Override id -> its ledger entries, oldest first; entries whose own hash fails are left out."""
    out: dict[str, list[Entry]] = {}
    for entry in entries:
        oid = entry.inputs.get("override")
        if entry.kind == Kind.OVERRIDE.value and isinstance(oid, str) and entry.computed_hash() == entry.hash:
            out.setdefault(oid, []).append(entry)
    return out


def request_inputs(item: Override) -> dict[str, object]:
    """What the request's ledger entry records: everything that decides what the override grants."""
    return {"override": item.id, "action": REQUEST, "worker": item.worker, "paths": list(item.paths),
            "scope": item.scope.value, "diff_sha256": item.diff_sha256, "expires_at": item.expires_at,
            "requested_by": item.requested_by, "requested_at": item.requested_at}


def approve_inputs(item: Override, who: str, when: str) -> dict[str, object]:
    return {"override": item.id, "action": APPROVE, "worker": item.worker, "by": who, "at": when}


def _name(entry: Entry) -> str:
    """The identity an entry was written by (its actor is ``name <email>``)."""
    return entry.actor.rsplit(" <", 1)[0]


def problems(item: Override, entries: list[Entry]) -> list[str]:
    """Why the ledger does not back this record; empty when it does."""
    requests = [e for e in entries if e.inputs.get("action") == REQUEST]
    if not requests:
        return ["no ledger entry records its request (the record was written around lanewarden)"]
    request = requests[0]
    wanted = request_inputs(item)
    # Entries written before requested_by/requested_at were recorded fall back to the entry's actor.
    optional = ("requested_by", "requested_at")
    differ = {k for k, v in wanted.items() if k != "requested_by"
              and (request.inputs[k] != v if k in request.inputs else k not in optional)}
    if not same_identity(str(request.inputs.get("requested_by") or _name(request)), item.requested_by):
        differ.add("requested_by")
    if differ:
        return [f"its {', '.join(sorted(differ))} differ{'s' if len(differ) == 1 else ''} from "
                f"the request in ledger entry {request.seq}: the record was changed after the request"]
    unused = [e for e in entries if e.inputs.get("action") == APPROVE and e.seq > request.seq]
    out = []
    for approval in item.approvals:
        match = next((e for e in unused if same_identity(str(e.inputs.get("by") or _name(e)), approval.who)
                      and e.inputs.get("at", approval.when) == approval.when), None)
        if match is None:
            out.append(f"the approval by {approval.who} at {approval.when} is not in the ledger")
        else:
            unused.remove(match)
    return out
