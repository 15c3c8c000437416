"""``lanewarden init [--from-codeowners [PATH]] [--packs] [--force]``: a reviewed policy in minutes.

Without options: discover services, contracts and e2e folders from the tracked
files and write a commented ``lanewarden.yaml`` draft. ``--from-codeowners``
imports a CODEOWNERS file instead. ``--packs`` writes an AGENTS.md and an
``llm-context/contracts.md`` for each worker that lacks them. An existing
policy is never replaced without ``--force``; existing pack files never are.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from lanewarden.orchestrator.adoption.codeowners import SEARCH_PATHS, Imported, import_codeowners
from lanewarden.orchestrator.adoption.discovery import Found, discover
from lanewarden.orchestrator.adoption.draft import validate
from lanewarden.orchestrator.adoption.history import append_only
from lanewarden.orchestrator.adoption.packs import plan
from lanewarden.orchestrator.adoption.proposal import from_codeowners, from_discovery
from lanewarden.orchestrator.options import format_option, open_repo, repo_option, tracked_files
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git
from lanewarden.workers.layout import POLICY_FILE
from lanewarden.workers.loader import load_file
from lanewarden.workers.policy import Policy

_MAX_READ = 1 << 20  # build manifests and specs are small; never slurp a large blob


def _reader(top: Path) -> Any:
    def read(path: str) -> bytes | None:
        try:
            with open(top / path, "rb") as fh:
                return fh.read(_MAX_READ)
        except OSError:
            return None
    return read


def _head_reader(git: Git, head: str) -> Any:
    def read(path: str) -> bytes | None:
        data = git.read_file_at(head, path)
        return data[:_MAX_READ] if data is not None else None
    return read


def _codeowners(top: Path, value: str) -> tuple[str, str]:
    """(text, label) of the CODEOWNERS file named by ``value`` ('' = GitHub's usual places)."""
    if value == "":
        found = next((top / p for p in SEARCH_PATHS if (top / p).is_file()), None)
        if found is None:
            raise InputError(f"no CODEOWNERS file in {top} ({', '.join(SEARCH_PATHS)})",
                             hint="pass its path: lanewarden init --from-codeowners PATH")
        path = found
    else:
        path = Path(value)
        if not path.is_absolute() and not path.exists():
            path = top / value
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{value or path}: cannot read the CODEOWNERS file: {exc.strerror}",
                         hint="pass the path of a CODEOWNERS file, e.g. .github/CODEOWNERS") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text ({exc.reason})",
                         hint="save the file as UTF-8 (GitHub reads it that way too)") from None
    try:
        label = str(path.resolve().relative_to(top.resolve()))
    except ValueError:
        label = str(path)
    return text, label


def _write_packs(top: Path, policy: Policy, files: list[str]) -> list[dict[str, str]]:
    pack_files, skipped = plan(policy, set(files))
    out = [{"worker": w, "path": "", "status": "skipped", "reason": r} for w, r in skipped]
    for pf in pack_files:
        target = top / pf.path
        if target.exists() or target.is_symlink():
            out.append({"worker": pf.worker, "path": pf.path, "status": "kept", "reason": "already exists"})
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(target, "x", encoding="utf-8") as fh:  # "x": never replace a file created meanwhile
                fh.write(pf.text)
        except FileExistsError:
            out.append({"worker": pf.worker, "path": pf.path, "status": "kept", "reason": "already exists"})
            continue
        out.append({"worker": pf.worker, "path": pf.path, "status": "created", "reason": ""})
    return out


def _summary(found: Found | None, imported: Imported | None, ids: dict[str, str]) -> dict[str, Any]:
    if imported is not None:
        return {"source": imported.source, "flavour": imported.flavour, "detected": imported.detected,
                "rules": len(imported.parsed.rules),
                "sections": [{"name": s.name, "line": s.line, "optional": s.optional, "approvals": s.approvals,
                              "default_owners": list(s.default_owners), "maps_to_lanes": not s.optional}
                             for s in imported.parsed.sections.values()],
                "workers": [{"id": wid, "owner": imported.spelling.get(owner, owner),
                             "lines": len(imported.lines_of(owner))}
                            for owner, wid in sorted(imported.workers.items(), key=lambda item: item[1])],
                "issues": [{"line": i.line, "kind": i.kind, "text": i.text, "reason": i.reason}
                           for i in imported.issues]}
    assert found is not None
    return {"services": [{"id": ids[s.folder], "folder": s.folder, "why": s.reasons} for s in found.services],
            "root_owns": found.groups, "config_only": found.config_only,
            "contracts": [{"folder": g.folder, "contracts": sorted(g.items)} for g in found.contracts],
            "e2e": [{"folder": f, "suites": s} for f, s in found.e2e.items()], "docs": found.docs,
            "workspaces": found.workspace_roots, "unowned": found.unowned, "notes": found.notes}


def _echo_text(report: dict[str, Any], err: bool) -> None:
    def say(line: str = "") -> None:
        click.echo(line, err=err)
    say(f"lanewarden init: {report['action']}")
    draft = report.get("draft") or {}
    for svc in draft.get("services", []):
        say(f"  service {svc['id']:<20} {svc['folder']}")
        for why in svc["why"]:
            say(f"      why: {why}")
    for group in draft.get("contracts", []):
        say(f"  contracts in {group['folder'] or '(repository root)'}/: {', '.join(group['contracts'])}")
    for suite in draft.get("e2e", []):
        say(f"  e2e folder {suite['folder']}/: suites {', '.join(suite['suites']) or '-'} (fill in e2e: services)")
    for folder, what in draft.get("workspaces", {}).items():
        say(f"  workspace {folder or '(root)'}: {what}")
    if draft.get("root_owns"):
        say("  root owns what no service claims (every such group of tracked files):")
        for group, count in draft["root_owns"].items():
            say(f"      {group:<40} {count} file(s)")
    for item in report.get("append_only", []):
        say(f"  shared append-only {item['path']}: {item['append_only']} of {item['commits']} commits only added lines")
    for note in draft.get("notes", []):
        say(f"  note: {note}")
    if "rules" in draft:
        dialect = "GitLab" if draft["flavour"] == "gitlab" else "GitHub"
        say(f"  read as {dialect} CODEOWNERS: {draft['detected']}")
        say(f"  {draft['rules']} CODEOWNERS rules -> {len(draft['workers'])} workers (plus root), "
            "kept as ordered rules under ownership:")
        for section in draft["sections"]:
            what = ("review-only metadata (optional section)" if section["optional"]
                    else "maps to lanes (write access and routing)")
            extra = f", {section['approvals']} approvals (review-only)" if section["approvals"] else ""
            say(f"  section [{section['name']}] line {section['line']}: {what}{extra}")
        for worker in draft["workers"]:
            say(f"  worker {worker['id']:<24} {worker['owner']}: {worker['lines']} line(s)")
        skipped = [i for i in draft["issues"] if i["kind"] == "skipped"]
        for issue in draft["issues"]:
            say(f"  line {issue['line']}: {issue['kind']}: {issue['text']}\n      {issue['reason']}")
        say(f"  {len(skipped)} line(s) not translated" + (": review them above" if skipped else ""))
    for pack in report.get("packs", []):
        say(f"  pack {pack['status']:<8} {pack['path'] or pack['worker']}"
            + (f" ({pack['reason']})" if pack["reason"] else ""))
    say(f"next: {report['next']}")


def _infer(git: Git, draft: Policy) -> tuple[dict[str, list[tuple[str, bool, str]]],
                                             dict[str, list[tuple[str, str]]]]:
    """(contract -> [(consumer, trusted, evidence)], contract -> [(producer, evidence)]) from the
    committed tree; nothing before the first commit. Every edge keeps its evidence and confidence."""
    from lanewarden.orchestrator.reviews.consumers import infer, producers
    from lanewarden.orchestrator.reviews.copies import find_copies, tree_files

    head = git.head_commit()
    if head is None or not draft.contracts:
        return {}, {}
    files = tree_files(git, head)
    out: dict[str, list[tuple[str, bool, str]]] = {}
    for c in infer(git, draft, files, find_copies(git, draft, files)):
        kinds = ", ".join(f"{e.kind} {e.path}" for e in c.evidence[:3])
        label = "possibly stale" if c.possibly_stale else f"{c.confidence} confidence"
        out.setdefault(c.contract, []).append((c.service, c.confidence != "low", f"{label}: {kinds}"))
    served: dict[str, list[tuple[str, str]]] = {}
    for p in producers(git, draft, files):
        served.setdefault(p.contract, []).append((p.service, "medium confidence: " + "; ".join(
            f"{e.path} {e.detail}" for e in p.evidence[:2])))
    return out, served


@click.command("init")
@repo_option
@click.option("--from-codeowners", "codeowners", is_flag=False, flag_value="", default=None, metavar="[PATH]",
              help="Import a CODEOWNERS file (default: .github/CODEOWNERS, CODEOWNERS or docs/CODEOWNERS).")
@click.option("--packs", is_flag=True, help="Also write AGENTS.md and llm-context/contracts.md for each worker "
                                            "that lacks them (existing files are left alone).")
@click.option("--force", is_flag=True, help="Replace an existing policy file.")
@click.option("--output", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help=f"Write the draft here ('-' for stdout) instead of {POLICY_FILE} at the repository root.")
@click.option("--infer/--no-infer", default=True, show_default=True,
              help="Fill in each contract's consumers from the evidence in the committed tree "
                   "(generated code, build files, vendored copies); weak evidence stays a comment.")
@format_option("text", "json")
def command(repo: str | None, codeowners: str | None, packs: bool, force: bool, output: str | None,
            infer: bool, fmt: str) -> int:
    """Write a commented lanewarden.yaml draft for this repository and say what was found and why."""
    git: Git = open_repo(repo)
    if git.top is None:
        raise InputError("lanewarden init needs a checkout with a work tree, not a bare repository")
    top = git.top
    files = tracked_files(git, None)
    reader = _reader(top)
    head = git.head_commit()
    if not files and head is not None:
        # An empty index with a commit: a checkout that failed (or was never done). HEAD's tree
        # is what the repository tracks; read names and contents from it, not the work tree.
        files = tracked_files(git, head)
        if files:
            reader = _head_reader(git, head)
            click.echo(f"lanewarden init: the index is empty but HEAD tracks {len(files)} files (did the "
                       "checkout fail?); reading HEAD's tree", err=True)
    if not files:
        raise InputError(f"{top}: git tracks no files yet (the index is empty and "
                         + ("HEAD's tree is empty" if head is not None else "there is no commit") + ")",
                         hint="git add your code first (lanewarden reads the tracked files only)")
    to_stdout = output == "-"
    target = top / POLICY_FILE if output is None else Path(output)
    exists = not to_stdout and target.exists()
    if exists and not force and not packs:
        raise InputError(f"{target} already exists; lanewarden init never replaces a policy on its own",
                         hint="review it with `lanewarden policy check`, pass --force to replace it, "
                              "or --packs to add service packs for it")
    report: dict[str, Any] = {"schema": "lanewarden.init/1", "policy": str(target) if not to_stdout else "-"}
    policy: Policy
    if exists and not force:
        policy = load_file(target).policy
        report.update(action=f"kept the existing {target} (pass --force to replace it)", written=False)
    else:
        found: Found | None = None
        imported: Imported | None = None
        ids: dict[str, str] = {}
        dirs = {str(p) for f in files for p in Path(f).parents if str(p) != "."}
        if codeowners is not None:
            text, label = _codeowners(top, codeowners)
            imported = import_codeowners(text, label)
            draft = from_codeowners(imported, dirs)
        else:
            found = discover(files, reader)
            appended, note = append_only(git, set(files))
            if note:
                found.notes.append(note)
            draft, ids = from_discovery(found, appended=appended)
            inferred, serving = _infer(git, validate(draft, str(target))) if infer else ({}, {})
            if inferred or serving:
                draft, ids = from_discovery(found, inferred, appended, serving)
                report["inferred_consumers"] = inferred
                report["inferred_producers"] = serving
            report["append_only"] = [{"path": p, "commits": n, "append_only": a} for p, n, a in appended]
        policy = validate(draft, str(target))
        if to_stdout:
            sys.stdout.write(draft)
            sys.stdout.flush()
        else:
            try:  # "x" unless --force: a policy created meanwhile is never replaced
                with open(target, "w" if force else "x", encoding="utf-8") as fh:
                    fh.write(draft)
            except FileExistsError:
                raise InputError(f"{target} appeared while the draft was written; it was left alone",
                                 hint="run lanewarden init again (with --force to replace it)") from None
        report.update(action=f"wrote a draft to {report['policy']} ({len(policy.workers)} workers, "
                             f"{len(policy.contracts)} contracts)", written=True,
                      draft=_summary(found, imported, ids))
    if packs:
        report["packs"] = _write_packs(top, policy, files)
    report["next"] = ("review the draft, then `lanewarden policy check` and commit it" if report["written"]
                      else "`lanewarden policy check`")
    if fmt == "json":
        click.echo(json.dumps(report, indent=2), err=to_stdout)
    else:
        _echo_text(report, to_stdout)
    return 0
