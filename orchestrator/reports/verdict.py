"""Render a verdict as text, JSON, Markdown (pull-request comment) or GitHub annotations."""
from __future__ import annotations

import json
from dataclasses import replace
from json.encoder import encode_basestring_ascii as _quote  # the C function json.dumps uses for str

import click

from lanewarden.guards.acting import UNATTRIBUTED
from lanewarden.guards.secrets import ALLOWED, MARK
from lanewarden.guards.verdict import ChangeReport, Decision, Verdict

_NEXT = {
    Decision.ACCEPT: "nothing to do: every change stays in the worker's lane",
    Decision.REJECT: ("take the out-of-scope or protected changes out of this change set "
                      "(git restore / git rm --cached), and hand the needed work to its owner "
                      "with `lanewarden handoff propose --to OWNER --problem ...`"),
    Decision.REVISION: ("the change needs review before it lands: open the listed handoffs for their "
                        "targets, bring the change within budget, or fix the guard that abstained"),
}


def _short(rev: str | None) -> str:
    return rev[:12] if rev else "-"


def describe_source(v: Verdict) -> str:
    if v.mode == "range":
        return f"range {_short(v.base)}..{_short(v.head)}"
    if v.mode == "patch":
        return f"patch on {_short(v.base)}"
    return f"{'index' if v.mode == 'staged' else 'work tree'} against {_short(v.base)}"


_SEPARATORS = (",", ":")  # compact: the C encoder is several times faster than indent=2 on large ranges


def to_json(v: Verdict) -> str:
    """``json.dumps(v.as_json(), separators=(",", ":"))``, character for character.

    The per-path reports (one per changed path, 100,000 on a large range) are written
    by ``_changes`` without a dict each; every other member goes through ``json.dumps``.
    """
    members: list[str] = []
    for key, value in replace(v, changes=()).as_json().items():
        text = _changes(v.changes) if key == "changes" else json.dumps(value, separators=_SEPARATORS)
        members.append(f"{_quote(key)}:{text}")
    return "{" + ",".join(members) + "}"


# A report's members between "path" and "reasons", in as_json's order: ChangeReport fields 1 to 8.
_MIDDLE = ('"status":%s,"old_mode":%s,"new_mode":%s,"renamed_from":%s,"renamed_to":%s,'
           '"class":%s,"rule":%s,"route_to":%s')


def _changes(reports: tuple[ChangeReport, ...]) -> str:
    """The JSON array of ``[r.as_json() for r in reports]``, as json.dumps writes it.

    Strings go through json's own C string encoder. Most reports share their status, modes,
    class, rule and route with many others: that middle part is written once per distinct
    combination. ``tests/test_guard_shortcuts.py`` compares the result with ``json.dumps``.
    """
    middles: dict[tuple[str | None, ...], str] = {}
    out: list[str] = []
    append = out.append
    for r in reports:
        shared = r[1:9]
        middle = middles.get(shared)
        if middle is None:
            middle = middles[shared] = _MIDDLE % tuple("null" if x is None else _quote(x) for x in shared)
        reasons = "[" + ",".join(map(_quote, r.reasons)) + "]" if r.reasons else "[]"
        # Line counts are ints (bytes.count), which str() writes as json does.
        append(f'{{"path":{_quote(r.path)},{middle},"reasons":{reasons},"added_lines":{r.added_lines},'
               f'"deleted_lines":{r.deleted_lines}}}')
    return "[" + ",".join(out) + "]"


_COLOURS = {Decision.ACCEPT: "green", Decision.REJECT: "red", Decision.REVISION: "yellow"}


def _decision(v: Verdict, color: bool) -> str:
    word = v.decision.value.upper()
    return click.style(word, fg=_COLOURS[v.decision], bold=True) if color else word


def summary(v: Verdict, *, color: bool = False) -> str:
    """One line for an accepted change: hooks and CI stay quiet when all is well."""
    count = len(v.changes)
    used = f", override {', '.join(o[:12] for o in v.overrides)} used" if v.overrides else ""
    untrusted = ", UNTRUSTED policy (dry run)" if not v.policy.trusted else ""
    paths = f"{count} path{'s' if count != 1 else ''}"
    if v.worker == UNATTRIBUTED:
        return (f"lanewarden: {_decision(v, color)}: no worker acted; {paths} judged in their owners' lanes "
                f"({describe_source(v)}{used}{untrusted})")
    return f"lanewarden: {_decision(v, color)} for {v.worker}: {paths} in lane ({describe_source(v)}{used}{untrusted})"


def _policy_change(diff: dict[str, object]) -> str:
    """Who got wider, in one line (the whole diff is in the JSON verdict)."""
    wider = []
    for w in diff.get("workers", []) or []:  # type: ignore[attr-defined]
        if isinstance(w, dict) and (w.get("grew") or w.get("widened_by_text")):
            n = w.get("newly_writable", 0)
            wider.append(f"{w.get('worker')}" + (f" (+{n} tracked paths writable)" if n else ""))
    added = diff.get("workers_added") or []
    parts = ([f"wider: {', '.join(wider)}"] if wider else ["no worker got wider"])
    if added:
        parts.append(f"new workers: {', '.join(map(str, added))}")  # type: ignore[call-overload]
    return "; ".join(parts) + " (lanewarden policy diff for the whole picture)"


def to_text(v: Verdict, *, verbose: bool = True, color: bool = False) -> str:
    """The verdict for people: one summary line when accepted (unless ``verbose``), else the whole table."""
    if not verbose and v.decision is Decision.ACCEPT:
        # Quiet, except for reviewed exceptions to the secrets guard: an allowance is never silent.
        allowed = [f"  ! {c.path}: {r}" for c in v.changes for r in c.reasons if r.startswith(ALLOWED)]
        return "\n".join([summary(v, color=color), *allowed])
    policy = (f"{_short(v.policy.rev)}:{v.policy.path}" if v.policy.trusted
              else f"{v.policy.path}  [UNTRUSTED: dry run]")
    lines = [f"lanewarden guard: worker {v.worker}, {describe_source(v)}, policy {policy}"]
    if v.changes:
        rows = [("PATH", "STATUS", "CLASS", "ROUTE", "RULE")]
        for c in v.changes:
            path = c.path + (f" (from {c.renamed_from})" if c.renamed_from else "") + (
                f" (to {c.renamed_to})" if c.renamed_to else "")
            rows.append((path, c.status, c.path_class, c.route_to or "-", c.rule))
        widths = [min(max(len(r[i]) for r in rows), 60) for i in range(4)]
        for r in rows:
            lines.append("  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
        for c in v.changes:
            for reason in c.reasons:
                lines.append(f"  ! {c.path}: {reason}")
    else:
        lines.append("(no changes)")
    lines.append("votes: " + "  ".join(f"{vote.guard}={vote.vote.value}" for vote in v.votes))
    for vote in v.votes:
        if vote.vote.value != "approve":
            lines.extend(f"  {vote.guard}: {reason}" for reason in vote.reasons)
    for h in v.handoffs:
        lines.append(f"handoff -> {h.target_worker} ({h.path_class}): {len(h.paths)} path(s): {h.reason}")
    lines.extend(f"note: {n}" for n in v.notes)
    if v.policy_diff is not None:
        lines.append(f"policy change: {_policy_change(v.policy_diff)}")
    lines.append(f"decision: {_decision(v, color)} (exit {v.exit_code})")
    lines.append(f"next: {_NEXT[v.decision]}")
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(v: Verdict) -> str:
    mark = {Decision.ACCEPT: "✅", Decision.REJECT: "⛔", Decision.REVISION: "⚠️"}[v.decision]
    out = [f"### {mark} lanewarden: {v.decision.value} for `{v.worker}`", "",
           f"{describe_source(v)} · policy `{_short(v.policy.rev) + ':' if v.policy.trusted else ''}{v.policy.path}`"
           + ("" if v.policy.trusted else " · **untrusted policy (dry run)**"), ""]
    if v.changes:
        out += ["| path | status | class | route | rule |", "|---|---|---|---|---|"]
        for c in v.changes:
            out.append(f"| `{_md_cell(c.path)}` | {c.status} | {c.path_class} | {c.route_to or '-'} | "
                       f"{_md_cell(c.rule)} |")
        out.append("")
        # Per-path findings that decide or explain the secrets vote (never content: paths and rules).
        for c in v.changes:
            out.extend(f"- `{_md_cell(c.path)}`: {_md_cell(r)}" for r in c.reasons
                       if r.startswith((MARK, ALLOWED)))
    if v.notes:
        out += ["", *(f"> {_md_cell(n)}" for n in v.notes)]
    out += ["", "<details><summary>votes and next steps</summary>", ""]
    for vote in v.votes:
        out.append(f"- **{vote.guard}**: {vote.vote.value}" + "".join(
            f"\n  - {_md_cell(r)}" for r in vote.reasons))
    for h in v.handoffs:
        out.append(f"- handoff to **{h.target_worker}** ({h.path_class}): "
                   + ", ".join(f"`{_md_cell(p)}`" for p in h.paths))
    out += ["", f"Next: {_NEXT[v.decision]}", "", "</details>"]
    return "\n".join(out)


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def to_github(v: Verdict) -> str:
    out = []
    for c in v.changes:
        if c.path_class in ("out_of_scope", "protected") or any(r.startswith(MARK) for r in c.reasons):
            level = "error"
        elif c.path_class in ("propose_only", "handoff_required"):
            level = "warning"
        elif any(r.startswith(ALLOWED) for r in c.reasons):
            level = "notice"  # a reviewed exception to the secrets guard: shown, never silent
        else:
            continue
        message = f"{c.path_class} for {v.worker} -> {c.route_to or 'root'}: {c.rule}"
        if c.reasons:
            message += "; " + "; ".join(c.reasons)
        out.append(f"::{level} file={_gh_escape(c.path, True)},title=lanewarden::{_gh_escape(message)}")
    out.extend(f"::notice title=lanewarden note::{_gh_escape(n)}" for n in v.notes)
    level = {Decision.ACCEPT: "notice", Decision.REJECT: "error", Decision.REVISION: "warning"}[v.decision]
    out.append(f"::{level} title=lanewarden::{_gh_escape(f'{v.decision.value} for {v.worker}: {_NEXT[v.decision]}')}")
    return "\n".join(out)


RENDERERS = {"text": to_text, "json": to_json, "markdown": to_markdown, "github": to_github}
