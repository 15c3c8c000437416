"""``lanewarden demo``: the whole idea on the embedded fixture monorepo, offline."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from lanewarden.guards.engine import GuardRequest, guard, policy_for
from lanewarden.guards.verdict import Mode
from lanewarden.handoffs.model import Action
from lanewarden.handoffs.proposals import VerdictQueue
from lanewarden.handoffs.queue import Queue
from lanewarden.orchestrator.reports.verdict import to_text
from lanewarden.orchestrator.runs import sandbox
from lanewarden.orchestrator.runs.dispatch import Task, dispatch
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git
from lanewarden.workers.lint import lint
from lanewarden.workers.loader import load_revision
from lanewarden.workers.ownership import OwnershipIndex

SCENARIO = "wallet-platform"
TELLING_PATHS = (
    ("a service file", "services/wallet-api/src/wallet_api/signing.py"),
    ("a contract", "contracts/kms/kms.proto"),
    ("an e2e suite", "e2e/signing-flow/test_signing_flow.py"),
    ("a file nobody owns", "tools/release.sh"),
)


def fixture_folder(name: str = SCENARIO) -> Path:
    """The scenario shipped in the wheel, or the source tree's ``fixtures/``."""
    try:
        import lanewarden.fixtures

        folder: Path = lanewarden.fixtures.scenario(name)
        return folder
    except (ImportError, FileNotFoundError):
        folder = Path(__file__).resolve().parents[2] / "fixtures" / name
        if not folder.is_dir():
            raise InputError(f"the fixture {name!r} is not installed",
                             hint="reinstall lanewarden (pip install .) from a complete checkout") from None
        return folder


def materialise(dest: Path, scenario: str = SCENARIO) -> Git:
    """Copy the fixture into ``dest`` and commit it on ``main``."""
    if dest.exists() and any(dest.iterdir()):
        raise InputError(f"{dest} is not empty", hint="pass --dir with a new or empty folder")
    shutil.copytree(fixture_folder(scenario), dest, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    git = Git.init(dest)
    git.commit_all(f"{scenario}: initial import")
    return git


def _append(git: Git, path: str, text: str) -> None:
    assert git.top is not None
    with open(git.top / path, "a", encoding="utf-8") as fh:
        fh.write(text)


def _section(title: str) -> None:
    click.echo("")
    click.secho(f"== {title}", bold=True)


# JUnit XML as an e2e run writes it: one suite passes, one fails; wallet-lifecycle never ran.
_DEMO_RESULTS = {
    "signing-flow": '<testsuites><testsuite name="signing-flow" tests="1" failures="0" errors="0">'
                    '<testcase classname="signing_flow" name="test_threshold_signature_is_returned"/>'
                    '</testsuite></testsuites>\n',
    "key-rotation": '<testsuites><testsuite name="key-rotation" tests="1" failures="1" errors="0">'
                    '<testcase classname="key_rotation" name="test_rotation_increments_version">'
                    '<failure message="assert 1 == 2">key_version did not increase</failure></testcase>'
                    '</testsuite></testsuites>\n',
}


def _reviews(git: Git) -> bool:
    """Section 7: the root reviewer's desk after the dispatch; True when it decided as expected."""
    from lanewarden.orchestrator.reports import builders as pages
    from lanewarden.orchestrator.reports import document as report
    from lanewarden.orchestrator.reports import html
    from lanewarden.orchestrator.reviews import final, graph, impact, matrix
    from lanewarden.orchestrator.reviews.inputs import collect

    assert git.top is not None
    _section("7. review contracts: what the open handoffs would change, and who moves with it")
    subject = collect(git, base=None, head=None, handoffs=True)
    g = graph.build(subject.loaded.policy)
    contracts = impact.review(git, subject, g)
    click.echo(report.to_text(pages.impact_doc(contracts, g)))

    _section("8. review e2e: required suites and their results (e2e/results/*.xml, git-ignored)")
    results = git.top / "e2e" / "results"
    results.mkdir(parents=True, exist_ok=True)
    for suite, xml in _DEMO_RESULTS.items():
        (results / f"{suite}.xml").write_text(xml, encoding="utf-8")
    mx = matrix.build(subject.loaded.policy, g, contracts.affected_services, results_dir=results)
    click.echo(report.to_text(pages.matrix_doc(mx)))

    _section("9. review final: every lanewarden/* branch, conflicts, handoffs, contracts, e2e; one decision")
    verdict = final.review(git, results_dir=results)
    final.record_review(git, verdict)
    for vote in verdict.votes:
        click.echo(f"  {vote.vote.value:8} {vote.guard}" + (f": {vote.reasons[0]}" if vote.reasons else "")
                   + (f" (+{len(vote.reasons) - 1} more)" if len(vote.reasons) > 1 else ""))
    click.echo(f"final decision: {verdict.decision.value} (exit {verdict.exit_code})")
    page = git.common_dir / "lanewarden" / "final-review.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(html.to_html(pages.final_doc(verdict)), encoding="utf-8")
    click.echo(f"HTML report: {page}")
    statuses = {r.suite: r.result.status for r in mx.rows if r.required}
    return (statuses == {"signing-flow": "pass", "key-rotation": "fail", "wallet-lifecycle": "not-run"}
            and verdict.exit_code == 1)


def _ledger(git: Git) -> bool:
    """Section 10: the ledger verifies, a decision replays, and an edited entry is caught."""
    from lanewarden.guards.recorder import replay
    from lanewarden.workers.ledger import ENTRY_FILE, REF, Ledger, canonical

    _section("10. ledger: every decision, run, handoff step and review in a hash chain")
    ledger = Ledger(git)
    entries = ledger.entries()
    kinds: dict[str, int] = {}
    for entry in entries:
        kinds[entry.kind] = kinds.get(entry.kind, 0) + 1
    click.echo(f"{len(entries)} entries: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    report = ledger.verify()
    click.echo(f"lanewarden ledger verify: {'ok' if report.ok else 'NOT ok'}; head {str(report.head)[:16]} "
               "(publish it: lanewarden ledger head)")
    stray = next(e for e in entries if e.kind == "guard" and e.outcome.get("decision") == "reject")
    again = replay(git, stray.seq)
    click.echo(f"lanewarden ledger replay {stray.seq}: the rejected stray change "
               f"{'reproduces' if again.reproduced else 'does NOT reproduce'} ({again.replayed_decision})")
    # Tamper the way someone with write access could: rewrite the entry's commit and those after it.
    head = git.ref_value(REF)
    assert head is not None
    commits = ledger.commits()
    parent: str | None = None
    for commit in commits:
        blobs = {e.path: e.oid for e in git.ls_tree_entries(commit, recursive=False)}
        files: dict[str, bytes] = {}
        if commit == stray.commit:
            files[ENTRY_FILE] = canonical({**stray.body(), "hash": stray.hash,
                                           "outcome": {**stray.outcome, "decision": "accept"}}) + b"\n"
            blobs.pop(ENTRY_FILE)
        tree = git.make_tree(files, blobs)
        parent = git.commit_tree(tree, [parent] if parent else [], "edited\n", ("mallory", "m@example.com"))
    assert parent is not None
    assert git.update_ref(REF, parent, head)
    tampered = ledger.verify()
    for problem in tampered.problems:
        click.echo(f"after turning entry {stray.seq}'s reject into an accept: {problem.violation.value}: "
                   f"{problem.message}")
    assert git.update_ref(REF, head, parent)  # put the real chain back
    return report.ok and again.reproduced and [p.violation.value for p in tampered.problems] == ["HASH_MISMATCH"]


def _shop(dest: Path) -> bool:
    """Section 11: a monorepo shaped like public ones: a shared changelog, a vendored drifted proto."""
    from lanewarden.orchestrator.reports import builders as pages
    from lanewarden.orchestrator.reports import document as report
    from lanewarden.orchestrator.reviews import graph, impact
    from lanewarden.orchestrator.reviews.inputs import collect

    _section(f"11. a second monorepo shaped like public demos ({dest})")
    git = materialise(dest, "telemetry-shop")
    log = "CHANGELOG.md"
    assert git.top is not None
    text = (git.top / log).read_text(encoding="utf-8")
    (git.top / log).write_text(text.replace("## Unreleased\n\n", "## Unreleased\n\n* [checkout] faster quotes\n"),
                               encoding="utf-8")
    _append(git, "services/checkout/cmd/main.go", "// faster quotes\n")
    git.commit_all("checkout: faster quotes")
    added = guard(git, GuardRequest(mode=Mode.RANGE, worker="checkout", base="HEAD~1")).verdict
    click.echo(f"checkout adds a CHANGELOG.md entry (shared.append_only): {added.decision.value}; "
               f"{log} is {next(c.path_class for c in added.changes if c.path == log)}")
    (git.top / log).write_text(text.replace("retry payment once", "retry payment twice"), encoding="utf-8")
    git.commit_all("checkout: rewrites an old changelog entry")
    edited = guard(git, GuardRequest(mode=Mode.RANGE, worker="checkout", base="HEAD~1")).verdict
    entry = next(c for c in edited.changes if c.path == log)
    click.echo(f"checkout rewrites an existing entry: {edited.decision.value}; {log} is {entry.path_class}, "
               f"routed to {entry.route_to}")
    subject = collect(git, base="HEAD~1", head=None, handoffs=False)
    review = impact.review(git, subject, graph.build(subject.loaded.policy), infer=True)
    for copy in review.copies:
        state = "identical" if copy.identical else f"drifted, {copy.similarity:.0%} alike"
        click.echo(f"copy of contract {copy.contract}: {copy.path} ({state}); first lines of the drift:")
        click.echo("\n".join("    " + line for line in copy.diff.splitlines()[2:8]))
    click.echo(report.to_text(report.Document("consumers inferred from the tree (review contracts --infer)",
                                              tuple(pages.inferred_blocks(review)[1:]))))
    stale = [c.service for c in review.inferred or () if c.possibly_stale]
    return (added.exit_code == 0 and edited.exit_code == 1 and entry.route_to == "root"
            and any(not c.identical for c in review.copies) and stale == ["ad"])


@click.command("demo")
@click.option("--dir", "folder", type=click.Path(file_okay=False), default=None,
              help="Build the demo repository here (default: a new temporary folder, kept afterwards).")
def command(folder: str | None) -> int:
    """Build the fixture wallet-platform monorepo as a git repository and walk
    through lanewarden on it: policy check, explain, an in-lane change that is
    accepted, a stray change that is rejected and turned into handoffs for
    their owners, and the queue a root reviewer works from. No network needed.
    """
    dest = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="lanewarden-demo-"))
    git = materialise(dest)
    click.echo(f"lanewarden demo: a wallet platform monorepo committed in {dest}")

    _section("1. policy check: lanewarden.yaml is valid and says what it means")
    loaded = load_revision(git, "HEAD")
    tracked = git.ls_files_cached()
    findings = lint(loaded, tracked)
    policy = loaded.policy
    click.echo(f"{len(policy.workers)} workers ({', '.join(policy.workers)}), "
               f"{len(policy.contracts)} contracts, {len(policy.e2e)} e2e suites; "
               f"{len(findings)} lint warning(s)")
    for finding in findings:
        click.echo(f"  {finding}")

    _section("2. explain: who may write what (read wide, write narrow)")
    index = OwnershipIndex(policy)
    for label, path in TELLING_PATHS:
        exp = index.explain(path, "wallet-api")
        assert exp.standing is not None
        click.echo(f"{label:18} {path}\n{'':18} owner {exp.owner}; for wallet-api: "
                   f"{exp.standing.path_class.value}  ({exp.rule})")

    _section("3. guard: an in-lane change by wallet-api is accepted")
    base = git.resolve_commit("main")
    git.checkout("lanewarden/wallet-api/retry-signing", create_at=base)
    _append(git, "services/wallet-api/src/wallet_api/signing.py", "\n# retry transient KMS errors once\n")
    git.commit_all("wallet-api: retry transient KMS errors")
    ok = guard(git, GuardRequest(mode=Mode.RANGE, worker="wallet-api", base=base)).verdict
    click.echo(to_text(ok))

    _section("4. guard: a stray change (a contract and a sibling service) is rejected")
    git.checkout("lanewarden/wallet-api/stray", create_at=base)
    _append(git, "services/wallet-api/src/wallet_api/signing.py", "\n# sign with the new KMS key version\n")
    _append(git, "contracts/kms/kms.proto", "\n// wallet-api wants a key_version field on SignRequest\n")
    _append(git, "services/kms-api/src/kms_api/keys.py", "\n# wallet-api edited kms-api directly\n")
    git.commit_all("wallet-api: sign with key versions (touches kms-api and the contract)")
    request = GuardRequest(mode=Mode.RANGE, worker="wallet-api", base=base)
    sink = VerdictQueue(git, policy_for(git, request), "sign with key versions")
    stray = guard(git, request, record=True, task=sink.task, handoffs=sink, loaded=sink.loaded).verdict
    queued = sink.queued
    click.echo(to_text(stray))
    git.checkout("main")

    _section("5. handoffs: the stray parts become records for their owners, not silent edits")
    queue = Queue(git)
    for stored, _ in queued:
        h = stored.handoff
        click.echo(f"{h.id[:12]}  {h.source_worker} -> {h.target_worker}: {h.routing_reason}")
        click.echo(f"{'':14}risk if ignored: {h.risk_if_ignored}")
        if h.suggested_validation.e2e:
            click.echo(f"{'':14}validate with e2e: {', '.join(h.suggested_validation.e2e)}")
    contract = next((s.handoff for s, _ in queued if s.handoff.target_worker == "contracts"), None)
    if contract is not None:
        queue.transition(contract.id, Action.ACCEPT, reason="the contracts owner takes the key_version field")
        click.echo(f"root reviewer: lanewarden handoffs accept {contract.id[:12]}")
    click.echo("queue (refs/lanewarden/handoffs/*):")
    for stored in sorted(queue.all(), key=lambda s: s.handoff.target_worker):
        h = stored.handoff
        click.echo(f"  {h.id[:12]}  {h.status.value:9} {h.source_worker} -> {h.target_worker}  "
                   f"{', '.join(h.evidence.paths)}")

    _section("6. runs: two scripted agents dispatched in parallel, each confined to its own clone")
    confined = sandbox.probe() is None
    if not confined:
        click.echo(f"  no sandbox here ({sandbox.probe()}): the demo's own scripted agents run UNCONFINED")
    tasks = [
        Task(0, "hd-manager", "derive paths for account 1",
             ["sh", "-c", "printf '\\n// account 1 derivation\\n' >> internal/derive/derive.go"]),
        Task(1, "wallet-api", "sign with key versions",
             ["sh", "-c", "printf '\\n# key versions\\n' >> src/wallet_api/signing.py && "
                          "printf '\\n// key_version on SignRequest\\n' >> ../../contracts/kms/kms.proto && "
                          "printf '\\n# wallet-api needs key versions\\n' >> ../kms-api/src/kms_api/keys.py"]),
    ]
    dispatch(git.top, tasks, jobs=2, confined=confined)
    for t in tasks:
        r = t.result
        if r is None:
            click.echo(f"  {t.worker}: error: {t.error}")
            continue
        click.echo(f"  {t.worker:11} {r.outcome:8} commit {(r.commit or '-')[:12]} on {r.branch or '-'}; "
                   f"{len(r.handoffs)} handoff(s)")
    runs_ok = [t.result.outcome if t.result else "error" for t in tasks] == ["accepted", "split"]
    reviews_ok = _reviews(git)
    ledger_ok = _ledger(git)
    shop_ok = _shop(dest.parent / f"{dest.name}-telemetry-shop")

    _section("what happened")
    click.echo(f"in-lane change: {ok.decision.value} (exit {ok.exit_code}); "
               f"stray change: {stray.decision.value} (exit {stray.exit_code})")
    for draft in stray.handoffs:
        click.echo(f"  {', '.join(draft.paths)} -> {draft.target_worker} ({draft.path_class})")
    click.echo(f"{len(queued)} handoff(s) queued for their owners; one accepted by the root reviewer")
    click.echo(f"try it yourself: cd {dest} && lanewarden handoffs list && "
               "lanewarden explain --worker wallet-api contracts/kms/kms.proto")
    click.echo("dispatch: one agent stayed in its lane (accepted), one strayed (split: its own change "
               "committed, the rest handed off)")
    click.echo(f"ledger: every decision recorded and verified; an edited entry was caught "
               f"(lanewarden ledger verify --repo {dest})")
    expected = ok.exit_code == 0 and stray.exit_code == 1 and runs_ok and reviews_ok and ledger_ok and shop_ok
    return 0 if expected else 4
