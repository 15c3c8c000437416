"""What makes an override record count: its own rules, and what the ledger must hold.

A record counts for nothing when its id no longer derives from its content,
when it expires more than ``MAX_TTL`` after its request, or when an approval is
the requester's own, a second one by the same identity, or lies outside
request..expiry.

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

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lanewarden.workers.identity import parse_time, same_identity
from lanewarden.workers.ledger import Entry, Kind

if TYPE_CHECKING:
    from lanewarden.guards.override import Override

REQUEST = "request"
APPROVE = "approve"
MAX_TTL = datetime.timedelta(days=7)  # the documented limit (docs/ledger.md)


def record_problems(item: Override) -> list[str]:
    """What makes the record itself count for nothing, whatever the time (ledger aside)."""
    out = []
    if item.content_id() != item.id:
        out.append(f"its content derives id {item.content_id()}, not {item.id}: the record was edited")
    requested, expires = parse_time(item.requested_at), parse_time(item.expires_at)
    if expires <= requested:
        out.append(f"it expires {item.expires_at}, not after its request at {item.requested_at}")
    elif expires - requested > MAX_TTL:
        out.append(f"it expires {item.expires_at}, more than the limit of {MAX_TTL.days} days after its "
                   f"request at {item.requested_at}")
    for a in item.approvals:
        when = parse_time(a.when)
        if same_identity(a.who, item.requested_by):
            out.append(f"{a.who} approved their own request")
        elif when < requested:
            out.append(f"the approval by {a.who} at {a.when} is before the request at {item.requested_at}")
        elif when >= expires:
            out.append(f"the approval by {a.who} at {a.when} is after the expiry at {item.expires_at}")
    names = [a.who for a in item.approvals]
    if any(same_identity(x, y) for i, x in enumerate(names) for y in names[i + 1:]):
        out.append("the same identity approved twice")
    return out


def index(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    """Override id -> its ledger entries, oldest first; entries whose own hash fails are left out."""
    out: dict[str, list[Entry]] = {}
    for entry in entries:
        oid = entry.inputs.get("override")
        if entry.kind == Kind.OVERRIDE.value and isinstance(oid, str) and entry.holds():
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


def ledger_problems(item: Override, entries: list[Entry]) -> list[str]:
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
