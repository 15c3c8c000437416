"""``lanewarden review contracts|e2e|final``: the root reviewer's desk."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lanewarden.orchestrator.options import (
    dry_run_notice,
    format_option,
    open_repo,
    policy_file_option,
    repo_option,
    untrusted,
)
from lanewarden.orchestrator.reports.document import Document
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git

FORMATS = ("text", "json", "markdown", "html")


@click.group("review")
def command() -> None:
    """Contract impact, the e2e matrix and the final decision over workers' changes and handoffs."""


def _range_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--head", help="With --base: the head of the range (default HEAD).")(func)
    func = click.option("--base",
                        help="Review the range merge-base(BASE, HEAD)..HEAD; the policy comes from BASE.")(func)
    func = policy_file_option(func)
    return click.option("--handoffs/--no-handoffs", default=True, show_default=True,
                        help="Include the open and accepted handoffs' proposed changes.")(func)


def _dry(policy_file: str | None) -> Path | None:
    if policy_file is None:
        return None
    dry_run_notice(policy_file)
    return Path(policy_file)


def _results_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--timeout", type=click.IntRange(min=1), default=None,
                        help="With --run: stop a suite after this many seconds (it then fails); "
                             "default: the suite's timeout_s in the policy, else no limit.")(func)
    func = click.option("--run", "run_suites", is_flag=True,
                        help="Run the required suites' commands first and read the results they write.")(func)
    return click.option("--results", "results_dir", type=click.Path(file_okay=False), default=None,
                        help="A folder of JUnit XML files named <suite>.xml (default: each suite's `results`).")(func)


def _output_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--output", "output", type=click.Path(dir_okay=False), default=None,
                        help="Write the report to this file instead of standard output.")(func)


def _emit(fmt: str, data: dict[str, Any], doc: Callable[[], Document], output: str | None) -> None:
    if fmt == "json":
        # Compact, like the guard's JSON: a final review embeds every lane's paths (5,000 lines of
        # indentation each), and the C encoder writes compact JSON five times faster than indent=2.
        text = json.dumps(data, separators=(",", ":"))
    else:
        from lanewarden.orchestrator.reports import document as report
        from lanewarden.orchestrator.reports import html

        document = doc()
        text = {"text": report.to_text, "markdown": report.to_markdown, "html": html.to_html}[fmt](document)
    if output is None:
        click.echo(text.rstrip("\n"))
        return
    try:
        Path(output).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{output}: cannot write the report: {exc.strerror}") from None
    click.echo(f"report written to {output}")


def _echo_err(chunk: bytes) -> None:
    click.echo(chunk, err=True, nl=False)


def _results_dir(value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_dir():
        raise InputError(f"--results {value}: no such folder")
    return path


@command.command("contracts")
@repo_option
@_range_options
@click.option("--infer", is_flag=True,
              help="Also list the consumers evident in the tree (generated code, build files, copies, "
                   "generator scripts, ignore entries), each with its evidence and confidence.")
@format_option(*FORMATS)
@_output_option
def contracts(repo: str | None, base: str | None, head: str | None, handoffs: bool, policy_file: str | None,
              infer: bool, fmt: str, output: str | None) -> int:
    """For every contract that changes or is proposed to change: who moves with it and what is at risk.

    Exit 0, or 3 when a service's llm-context/contracts.md names a changed
    contract and is not updated in the same change (stale mapping).
    """
    from lanewarden.orchestrator.reviews import graph, impact
    from lanewarden.orchestrator.reviews.inputs import collect

    git = open_repo(repo)
    subject = collect(git, base=base, head=head, handoffs=handoffs, policy_file=_dry(policy_file))
    g = graph.build(subject.loaded.policy)
    result = impact.review(git, subject, g, infer=infer)
    def doc() -> Document:  # the builders load only for a format people read
        from lanewarden.orchestrator.reports import builders

        return builders.impact_doc(result, g)

    _emit(fmt, untrusted(result.as_json(), policy_file), doc, output)
    return result.exit_code


def _matrix(git: Git, base: str | None, head: str | None, handoffs: bool, results_dir: str | None,
            run_suites: bool, timeout: int | None, policy_file: str | None = None) -> tuple[Any, Any]:
    from lanewarden.orchestrator.reviews import graph, impact, matrix
    from lanewarden.orchestrator.reviews.inputs import collect

    folder = _results_dir(results_dir)
    subject = collect(git, base=base, head=head, handoffs=handoffs, policy_file=_dry(policy_file))
    policy = subject.loaded.policy
    g = graph.build(policy)
    review = impact.review(git, subject, g)
    if timeout is not None and not run_suites:
        raise InputError("--timeout goes with --run")
    runner = matrix.runner_for(git, policy, run=run_suites, results_dir=folder, timeout=timeout, echo=_echo_err)
    return review, matrix.build(policy, g, review.affected_services, results_dir=folder, top=git.top, run=runner,
                                must_cover=review.must_cover)


@command.command("e2e")
@repo_option
@_range_options
@_results_options
@format_option(*FORMATS)
@_output_option
def e2e(repo: str | None, base: str | None, head: str | None, handoffs: bool, policy_file: str | None,
        results_dir: str | None, run_suites: bool, timeout: int | None, fmt: str, output: str | None) -> int:
    """The e2e suites (rows) by affected services (columns): which are required, and their status.

    Status comes from JUnit XML (--results DIR, else each suite's `results`
    path): pass, fail or not-run. A required suite that did not run is residual
    risk. Exit 0 when every required suite passed, 1 when one failed, 3 when
    one did not run.
    """

    review, mx = _matrix(open_repo(repo), base, head, handoffs, results_dir, run_suites, timeout, policy_file)
    data = untrusted({"sources": list(review.sources), **mx.as_json()}, policy_file)
    def doc() -> Document:  # the builders load only for a format people read
        from lanewarden.orchestrator.reports import builders

        return builders.matrix_doc(mx)

    _emit(fmt, data, doc, output)
    code: int = mx.exit_code
    return code


@command.command("final")
@repo_option
@click.option("--base", help="The branch the workers started from (default HEAD); the policy comes from it.")
@click.option("--head", help="Review one range merge-base(BASE, HEAD)..HEAD instead of the worker branches.")
@click.option("--worker",
              help="With --head: the worker whose lane the range is (else from a lanewarden/<worker>/... name; "
                   "neither: an integration review, each commit in the lane its run record or owners give it).")
@_results_options
@policy_file_option
@format_option(*FORMATS)
@_output_option
def final(repo: str | None, base: str | None, head: str | None, worker: str | None, results_dir: str | None,
          run_suites: bool, timeout: int | None, policy_file: str | None, fmt: str, output: str | None) -> int:
    """Every worker branch (lanewarden/*) guarded, their conflicts, open handoffs, contract impact,
    the e2e matrix, and one decision by veto consensus.

    Exit 0 accept, 1 reject (a lane rejected, a merge conflict, a failing suite),
    3 revision (open handoffs, a stale mapping, residual risk, an abstention).
    """
    from lanewarden.orchestrator.reviews import final as final_review

    if timeout is not None and not run_suites:
        raise InputError("--timeout goes with --run")
    git = open_repo(repo)
    result = final_review.review(git, base=base, head=head, worker=worker,
                                 results_dir=_results_dir(results_dir), run=run_suites, timeout=timeout,
                                 echo=_echo_err, policy_file=_dry(policy_file))
    if policy_file is None:  # a dry run is not a decision: the ledger records trusted reviews only
        final_review.record_review(git, result)
    def doc() -> Document:  # the builders load only for a format people read
        from lanewarden.orchestrator.reports import builders

        return builders.final_doc(result)

    _emit(fmt, untrusted(result.as_json(), policy_file), doc, output)
    return result.exit_code
