"""The review data as report documents: one builder per review, shared by every format."""
from __future__ import annotations

import networkx as nx

from lanewarden.guards.redaction import scrub
from lanewarden.guards.verdict import Decision, VoteValue
from lanewarden.orchestrator.reports.document import (
    Block,
    Cell,
    Details,
    Diagram,
    Document,
    Heading,
    Items,
    Para,
    Table,
    cell,
)
from lanewarden.orchestrator.reviews import graph as g
from lanewarden.orchestrator.reviews.final import FinalReview
from lanewarden.orchestrator.reviews.impact import ContractImpact, ImpactReview
from lanewarden.orchestrator.reviews.inputs import short
from lanewarden.orchestrator.reviews.matrix import FAIL, PASS, Matrix, Row
from lanewarden.orchestrator.reviews.plan import Plan

DECISION_TONE = {Decision.ACCEPT: "ok", Decision.REJECT: "bad", Decision.REVISION: "warn"}
_VOTE_TONE = {VoteValue.APPROVE: "ok", VoteValue.REJECT: "bad", VoteValue.ABSTAIN: "warn"}
_RISK_TONE = {"low": "ok", "medium": "warn", "high": "bad"}
_NEXT = {
    Decision.ACCEPT: "merge: every lane is clean, nothing is pending and every required suite passed",
    Decision.REJECT: "do not merge: fix the rejected lanes, the conflicts or the failing suites first",
    Decision.REVISION: "not yet: settle the open handoffs, update stale mappings and run the suites "
                       "that did not run",
}


def _names(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(items) or "-"


def impacted_nodes(review: ImpactReview, mx: Matrix | None) -> tuple[frozenset[str], frozenset[str]]:
    """Graph keys of the impacted part (contracts, services, required suites) and the changed ones."""
    nodes = {g.node(g.CONTRACT, c.contract) for c in review.contracts}
    nodes |= {g.node(g.SERVICE, s) for s in review.affected_services}
    if mx is not None:
        nodes |= {g.node(g.SUITE, r.suite) for r in mx.rows if r.required}
    changed = {g.node(g.CONTRACT, c.contract) for c in review.contracts}
    changed |= {g.node(g.SERVICE, s) for s in review.changed_services}
    return frozenset(nodes), frozenset(changed)


def _contract_details(c: ContractImpact) -> Details:
    blocks: list[Block] = [
        Table(("path", "change and its source"), tuple((cell(ch.path, code=True), cell(ch.describe()))
                                                       for ch in c.changes)),
        Para(f"producers: {_names(c.producers)} · direct consumers: {_names(c.consumers)} · transitive "
             f"dependents: {_names([f'{d} (via {v})' for d, v in c.dependents])}"),
        Para(f"risk {c.risk}:", _RISK_TONE[c.risk]), Items(c.risk_reasons)]
    if c.mappings:
        blocks.append(Table(("service", "mapping", "section", "role", "state", "stale when"), tuple(
            (cell(m.service), cell(m.file, code=True), cell(m.section), cell(m.role or "-"),
             cell("updated in this change", "ok") if m.updated else cell("STALE: not updated in this change", "bad"),
             cell(m.stale_when or "-")) for m in c.mappings)))
    if c.unmapped:
        blocks.append(Para(f"no llm-context mapping names it for: {_names(c.unmapped)}", "warn"))
    blocks.append(Items(tuple(f"e2e {v.suite}: {v.command or '(no command)'} (exercises {_names(v.services)})"
                              for v in c.validations) or ("no e2e suite exercises the services it reaches",)))
    return Details(f"{c.contract}: {c.risk} risk, {len(c.changes)} change(s), {len(c.stale)} stale mapping(s)",
                   tuple(blocks))


def _copies_blocks(review: ImpactReview) -> list[Block]:
    if not review.copies:
        return []
    rows = tuple((cell(c.path, code=True), cell(c.contract, code=True), cell(c.canonical, code=True),
                  cell("identical", "ok") if c.identical else cell(f"DRIFTED ({c.similarity:.0%} alike)", "bad"))
                 for c in review.copies)
    blocks: list[Block] = [Heading("contract copies inside services"),
                           Table(("copy", "contract", "canonical file", "state"), rows)]
    for c in review.copies:
        if c.diff:
            # Reports are shared widely: no well-known token goes into one in clear.
            blocks.append(Details(f"drift of {c.path}", (Para(scrub(c.diff), code=True),)))
    return blocks


def inferred_blocks(review: ImpactReview) -> list[Block]:
    if review.inferred is None:
        return []
    rows = tuple((cell(c.contract, code=True), cell(c.service),
                  cell(c.confidence, {"high": "ok", "medium": "", "low": "warn"}[c.confidence]),
                  cell("possibly stale", "warn") if c.possibly_stale else cell(""),
                  cell("yes" if c.declared else "NO: not in the policy", "" if c.declared else "warn"),
                  cell("; ".join(f"{e.kind}: {e.path} ({e.detail})" for e in c.evidence)))
                 for c in review.inferred)
    return [Heading("consumers inferred from the tree"),
            Table(("contract", "service", "confidence", "", "declared", "evidence"), rows)
            if rows else Para("no evidence of any consumer")]


def impact_blocks(review: ImpactReview) -> list[Block]:
    blocks: list[Block] = [Para(f"{'; '.join(review.sources)} · policy from {short(review.policy_rev)} · "
                                f"changed services: {_names(review.changed_services)}")]
    extra = _copies_blocks(review) + inferred_blocks(review)
    if not review.contracts:
        return [*blocks, Para("no contract changes or is proposed to change", "ok"), *extra]
    blocks.append(Table(
        ("contract", "risk", "changes", "producers", "direct consumers", "transitive dependents",
         "stale mappings", "required e2e"),
        tuple((cell(c.contract, code=True), cell(c.risk, _RISK_TONE[c.risk]),
               cell(f"{sum(1 for x in c.changes if not x.proposed)} changed, "
                    f"{sum(1 for x in c.changes if x.proposed)} proposed"),
               cell(_names(c.producers)), cell(_names(c.consumers)), cell(_names([d for d, _ in c.dependents])),
               cell(len(c.stale), "bad" if c.stale else "ok"), cell(_names([v.suite for v in c.validations])))
              for c in review.contracts)))
    blocks += [_contract_details(c) for c in review.contracts]
    blocks += [Para(n) for n in review.notes]
    return blocks + extra


def _status_cell(r: Row) -> Cell:
    s = r.result.status
    if not r.required:
        return cell(f"{s} (not required)")
    if s == PASS:
        return cell("pass", "ok")
    if s == FAIL:
        return cell("FAIL", "bad")
    return cell("NOT RUN: residual risk", "warn")


def matrix_blocks(mx: Matrix) -> list[Block]:
    rows = tuple((cell(r.suite, code=True), *(cell("required", "warn" if r.residual else "")
                                                 if s in r.required_for else cell("")
                                                 for s in mx.services),
                  _status_cell(r), cell(r.result.detail)) for r in mx.rows)
    blocks: list[Block] = [Table(("suite", *mx.services, "status", "detail"), rows)]
    if mx.failed:
        blocks.append(Para(f"failed: {_names([r.suite for r in mx.failed])}", "bad"))
    if mx.residual:
        blocks.append(Para(f"residual risk: {_names([r.suite for r in mx.residual])} did not run; "
                           "their result is unknown, not a pass", "warn"))
    if mx.uncovered:
        blocks.append(Para(f"no e2e suite exercises: {_names(list(mx.uncovered))}"))
    if not mx.failed and not mx.residual:
        blocks.append(Para("every required suite passed" if any(r.required for r in mx.rows)
                           else "no suite is required", "ok"))
    blocks.append(Details("results files and commands", (Table(
        ("suite", "command", "results", "tests", "failed", "skipped"),
        tuple((cell(r.suite), cell(r.command or "-", code=True), cell(r.result.source or "-", code=True),
               cell(r.result.tests), cell(r.result.failures), cell(r.result.skipped)) for r in mx.rows)),
        *(Para(n) for n in mx.notes))))
    return blocks


def impact_doc(review: ImpactReview, graph: nx.DiGraph) -> Document:
    nodes, changed = impacted_nodes(review, None)
    tone = "warn" if review.stale else "ok"
    return Document("lanewarden: contract impact", (*impact_blocks(review), Diagram(graph, nodes, changed)),
                    tone=tone)


def matrix_doc(mx: Matrix) -> Document:
    return Document("lanewarden: e2e matrix", (Para(f"exit {mx.exit_code}"), *matrix_blocks(mx)),
                    decision=mx.decision.value,
                    tone=DECISION_TONE[mx.decision])


def final_doc(fr: FinalReview) -> Document:
    d = fr.decision
    blocks: list[Block] = [
        Para(f"exit {fr.exit_code} · next: {_NEXT[d]}", DECISION_TONE[d]),
        Para(f"{fr.mode} against base {short(fr.base)} · policy from {short(fr.policy_rev)} "
             f"(sha256 {fr.policy_sha256[:12]})"),
        Table(("part", "vote", "reasons"), tuple((cell(v.guard), cell(v.vote.value, _VOTE_TONE[v.vote]),
                                                  cell("; ".join(v.reasons) or "-")) for v in fr.votes)),
        Heading("Lanes"),
        Table(("worker", "branch", "guard", "paths", "note"), tuple(
            (cell(lane.worker), cell(lane.branch or short(lane.head), code=True),
             cell(lane.decision.value, DECISION_TONE[lane.decision]), cell(len(lane.paths)),
             cell(lane.error or "")) for lane in fr.lanes)),
        Heading("Conflicts"),
        Table(("path", "workers", "branches"), tuple((cell(c.path, code=True), cell(_names(c.workers)),
                                                      cell(_names(c.branches))) for c in fr.conflicts))
        if fr.conflicts else Para("no path is changed by more than one worker", "ok"),
        Heading("Open handoffs"),
        Table(("id", "from -> to", "status", "problem"), tuple(
            (cell(h.id[:12], code=True), cell(f"{h.source_worker} -> {h.target_worker}"),
             cell(h.status.value, "warn"), cell(h.problem.splitlines()[0] if h.problem else "")) for h in fr.handoffs))
        if fr.handoffs else Para("no open handoffs", "ok"),
        Heading("Contract impact"), *impact_blocks(fr.impact)]
    if fr.graph is not None:
        nodes, changed = impacted_nodes(fr.impact, fr.matrix)
        blocks.append(Details("impacted part of the service and contract graph",
                              (Diagram(fr.graph, nodes, changed),), open=True))
    blocks += [Heading("E2E matrix"), *matrix_blocks(fr.matrix)]
    for lane in fr.lanes:
        if lane.verdict is not None and lane.verdict.changes:
            blocks.append(Details(f"lane {lane.worker}: {len(lane.verdict.changes)} path(s)", (Table(
                ("path", "status", "class", "route"),
                tuple((cell(c.path, code=True), cell(c.status),
                       cell(c.path_class, "" if c.path_class == "writable" else "warn"), cell(c.route_to or "-"))
                      for c in lane.verdict.changes)),)))
    if fr.notes:
        blocks.append(Items(fr.notes))
    return Document("lanewarden: final review", tuple(blocks), decision=d.value, tone=DECISION_TONE[d])


def plan_doc(p: Plan) -> Document:
    return Document("lanewarden: plan", (
        Para(f"range {short(p.base)}..{short(p.head)}: {p.paths} changed path(s)"),
        Heading("Workers"),
        Table(("worker", "cwd", "why"), tuple((cell(w.worker), cell(w.cwd or ".", code=True),
                                              cell("; ".join(w.reasons))) for w in p.workers))
        if p.workers else Para("no worker is affected"),
        Heading("Contracts"), Items(p.contracts or ("none",)),
        Heading("E2E suites"),
        Table(("suite", "command", "affected services"), tuple(
            (cell(s.suite), cell(s.command or "-", code=True), cell(_names(s.services))) for s in p.suites))
        if p.suites else Para("no suite is required")))
