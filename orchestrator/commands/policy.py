"""``lanewarden policy check|schema|diff``."""
from __future__ import annotations

import json

import click

from lanewarden.orchestrator.options import format_option, open_repo, policy_from, repo_option, tracked_files
from lanewarden.workers.git import Git
from lanewarden.workers.lint import Finding, lint
from lanewarden.workers.loader import LoadedPolicy
from lanewarden.workers.schema import Policy


@click.group("policy")
def command() -> None:
    """Validate, lint and describe the policy file (lanewarden.yaml)."""


@command.command("check")
@repo_option
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), help="Check this file.")
@click.option("--rev", help="Check the policy committed in this revision.")
@click.option("--strict", is_flag=True, help="Treat lint warnings as errors (exit 2).")
@format_option("text", "json")
def check(repo: str | None, policy_file: str | None, rev: str | None, strict: bool, fmt: str) -> int:
    """Validate the policy, then lint it against the tracked files.

    Errors (exit 2) name FILE:LINE:COL and the key. Lint findings are
    warnings (exit 0) unless --strict: patterns matching no tracked file,
    workers whose writable sets overlap, deny patterns that remove nothing,
    read hints the worker can also write, a cwd outside the worker's allow.
    """
    git = open_repo(repo)
    loaded = policy_from(git, policy_file=policy_file, rev=rev)
    findings = lint(loaded, tracked_files(git, rev)) + _copy_findings(git, loaded, rev)
    policy = loaded.policy
    if fmt == "json":
        click.echo(json.dumps({
            "schema": "lanewarden.policy-check/1", "source": loaded.source, "sha256": loaded.sha256,
            "valid": True, "workers": len(policy.workers), "contracts": len(policy.contracts),
            "e2e": len(policy.e2e),
            "findings": [{"kind": f.kind, "where": f.where, "message": f.message} for f in findings],
        }, indent=2))
    else:
        for finding in findings:
            click.echo(str(finding))
        click.echo(f"{loaded.source}: valid: {len(policy.workers)} workers, {len(policy.contracts)} contracts, "
                   f"{len(policy.e2e)} e2e suites; {len(findings)} warning{'s' if len(findings) != 1 else ''}")
    if findings and strict:
        click.echo("error: --strict: lint warnings count as errors", err=True)
        return 2
    return 0


def _copy_findings(git: Git, loaded: LoadedPolicy, rev: str | None) -> list[Finding]:
    """Copies of contracts inside services: a second source of truth that drifts."""
    from lanewarden.orchestrator.reviews.copies import find_copies, tree_files

    commit = rev or git.head_commit()
    if commit is None or not loaded.policy.contracts:
        return []
    out = []
    for copy in find_copies(git, loaded.policy, tree_files(git, commit)):
        state = "an identical copy" if copy.identical else f"a DRIFTED copy ({copy.similarity:.0%} alike)"
        out.append(Finding("contract_copy", loaded.where("contracts", copy.contract),
                           f"{copy.path} is {state} of contract {copy.contract!r} ({copy.canonical}): the "
                           "contract folder is the single source of truth; keep a mapping in the service's "
                           "llm-context/contracts.md instead (lanewarden review contracts shows the drift)"))
    return out


@command.command("schema")
def schema() -> int:
    """Print the JSON Schema of the policy file (for editors and CI)."""
    doc = Policy.model_json_schema()
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           "$id": "https://lanewarden.dev/schema/policy-1.json", "title": "lanewarden policy", **doc}
    click.echo(json.dumps(doc, indent=2, sort_keys=False))
    return 0


@command.command("diff")
@repo_option
@click.argument("old_rev")
@click.argument("new_rev")
@click.option("--record", is_flag=True, help="Also record the change in the ledger, with who made it.")
@format_option("text", "json")
def diff(repo: str | None, old_rev: str, new_rev: str, record: bool, fmt: str) -> int:
    """What changed between the policies of two revisions, and whose lane grew.

    Per worker: patterns added and removed in allow, deny, propose_only,
    read_hints and handoff_required_on; workers, contracts, suites and
    reviewers added, removed or changed; and which workers may now write
    tracked files (of NEW_REV) that they could not write before.
    """
    from lanewarden.workers.loader import load_revision
    from lanewarden.workers.policydiff import compare

    git = open_repo(repo)
    old, new = load_revision(git, old_rev), load_revision(git, new_rev)
    result = compare(old.policy, new.policy, tracked_files(git, new_rev), old_name=old.source,
                     new_name=new.source)
    if record:
        from lanewarden.workers.ledger import Kind, Ledger

        assert old.rev is not None and new.rev is not None
        authors = git.log_authors(old.rev, new.rev, "lanewarden.yaml")
        Ledger(git).append(Kind.POLICY, {"old": {"rev": old.rev, "sha256": old.sha256},
                                         "new": {"rev": new.rev, "sha256": new.sha256}, "changed_by": authors},
                           {"diff": result.as_json()})
    if fmt == "json":
        click.echo(json.dumps(result.as_json(), indent=2))
    else:
        click.echo(render_diff(result.as_json()))
    return 0


def render_diff(d: dict[str, object]) -> str:
    """The policy difference as text (also used for the guard's policy_diff)."""
    lines = [f"policy diff {d['old']} -> {d['new']}"]
    if d.get("error"):
        return f"policy change: {d['error']}"
    for key, label in (("workers_added", "workers added"), ("workers_removed", "workers removed")):
        if d.get(key):
            lines.append(f"{label}: {', '.join(map(str, d[key]))}")  # type: ignore[call-overload]
    if d.get("root"):
        lines.append(f"root worker: {d['root']}")
    for w in d.get("workers", []):  # type: ignore[attr-defined]
        head = f"worker {w['worker']}:"
        if w["grew"]:
            head += f" WIDENED: may now write {w['newly_writable']} tracked file(s) it could not before"
        elif w["widened_by_text"]:
            head += " widened on paper (no tracked file affected yet)"
        lines.append(head)
        for fld, pats in w["added"].items():
            lines.extend(f"  + {fld}: {p}" for p in pats)
        for fld, pats in w["removed"].items():
            lines.extend(f"  - {fld}: {p}" for p in pats)
        lines.extend(f"  ~ {s}" for s in w["settings"])
        lines.extend(f"    newly writable: {p}" for p in w["newly_writable_sample"][:10])
        if w["no_longer_writable"]:
            lines.append(f"    {w['no_longer_writable']} tracked file(s) no longer writable")
    for section in ("contracts", "e2e", "reviewers"):
        parts = d.get(section) or {}
        for kind, ids in parts.items():  # type: ignore[attr-defined]
            if ids:
                lines.append(f"{section} {kind}: {', '.join(ids)}")
    if len(lines) == 1:
        lines.append("no difference")
    return "\n".join(lines)
