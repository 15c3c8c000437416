"""The e2e matrix: suites (rows) by affected services (columns), and each suite's status.

A suite is **required** when it exercises an affected service. Its status comes
from JUnit XML: ``pass`` (at least one test ran, none failed or errored),
``fail`` (a failure or an error, or a command that exited non-zero) or
``not-run`` (no file, an unparsable file, or no test that actually ran: all
skipped counts as not run). A required suite that did not run is **residual
risk**: it is never shown, counted or decided as a pass.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import networkx as nx

from lanewarden.guards.verdict import EXIT_CODES, Decision
from lanewarden.orchestrator.reviews import graph as g
from lanewarden.orchestrator.runs import agent as process
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git
from lanewarden.workers.policy import Policy

SCHEMA = "lanewarden.e2e-matrix/1"
PASS, FAIL, NOT_RUN = "pass", "fail", "not-run"
STATUSES = (PASS, FAIL, NOT_RUN)


@dataclass(frozen=True)
class Result:
    """What a suite's results say."""

    status: str
    detail: str
    source: str | None = None  # the file read (or the log of a run)
    tests: int = 0
    failures: int = 0
    skipped: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, "source": self.source, "tests": self.tests,
                "failures": self.failures, "skipped": self.skipped}


@dataclass(frozen=True)
class Row:
    suite: str
    services: tuple[str, ...]  # every service the suite exercises
    required_for: tuple[str, ...]  # the affected services among them
    command: str | None
    result: Result

    @property
    def required(self) -> bool:
        return bool(self.required_for)

    @property
    def residual(self) -> bool:
        return self.required and self.result.status == NOT_RUN

    def as_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "services": list(self.services), "required": self.required,
                "required_for": list(self.required_for), "command": self.command,
                **self.result.as_json(), "residual_risk": self.residual}


@dataclass(frozen=True)
class Matrix:
    services: tuple[str, ...]  # the columns: affected services
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = field(default=())
    # Services some suite must exercise (owners of changed paths, consumers of changed contracts; not
    # the root lane). None: coverage is only reported, as before.
    must_cover: tuple[str, ...] | None = None

    def cell(self, row: Row, service: str) -> str:
        """``required`` when the suite exercises this affected service, else empty."""
        return "required" if service in row.required_for else ""

    @property
    def residual(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.residual)

    @property
    def failed(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.required and r.result.status == FAIL)

    @property
    def uncovered(self) -> tuple[str, ...]:
        """Affected services (those that must be covered, when known) no suite exercises."""
        covered = {s for r in self.rows for s in r.required_for}
        wanted = self.services if self.must_cover is None else self.must_cover
        return tuple(s for s in wanted if s not in covered)

    @property
    def decision(self) -> Decision:
        """A required suite failing rejects; one that did not run, or a changed service no suite
        covers, asks for revision (residual risk, as ``review contracts`` calls it high)."""
        if self.failed:
            return Decision.REJECT
        if self.residual or (self.must_cover is not None and self.uncovered):
            return Decision.REVISION
        return Decision.ACCEPT

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]

    def as_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "services": list(self.services),
                "cells": {r.suite: {s: self.cell(r, s) for s in self.services} for r in self.rows},
                "suites": [r.as_json() for r in self.rows],
                "residual_risk": [r.suite for r in self.residual], "failed": [r.suite for r in self.failed],
                "uncovered_services": list(self.uncovered), "notes": list(self.notes),
                "decision": self.decision.value, "exit_code": self.exit_code}


def read_junit(path: Path) -> Result:
    """The status a JUnit XML file gives; anything unreadable is ``not-run``, never ``pass``."""
    where = str(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        return Result(NOT_RUN, "no results file", where)
    except (OSError, ET.ParseError) as exc:
        return Result(NOT_RUN, f"unreadable results ({type(exc).__name__}: {exc}): treated as not run", where)
    if root.tag not in ("testsuites", "testsuite"):
        return Result(NOT_RUN, f"not JUnit XML (root element <{root.tag}>): treated as not run", where)
    tests = failures = skipped = 0
    for case in root.iter("testcase"):
        tests += 1
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            failures += 1
        elif "skipped" in tags:
            skipped += 1
    # A suite element can declare failures without listing the cases; believe the worse.
    declared = 0
    for suite in root.iter("testsuite"):
        for attr in ("failures", "errors"):
            try:
                declared += int(suite.get(attr, "0") or "0")
            except ValueError:
                return Result(NOT_RUN, f"unreadable {attr}={suite.get(attr)!r}: treated as not run", where)
    failures = max(failures, declared)
    ran = tests - skipped
    if failures:
        return Result(FAIL, f"{failures} of {tests} test(s) failed or errored", where, tests, failures, skipped)
    if ran <= 0:
        why = "every test was skipped" if tests else "no test cases"
        return Result(NOT_RUN, f"{why}: treated as not run", where, tests, 0, skipped)
    return Result(PASS, f"{ran} test(s) passed" + (f", {skipped} skipped" if skipped else ""), where,
                  tests, 0, skipped)


def results_path(policy: Policy, suite: str, results_dir: Path | None, top: Path | None) -> Path | None:
    """``DIR/<suite>.xml`` (or ``DIR/<basename of the suite's results>``), else the suite's ``results``."""
    configured = policy.e2e[suite].results
    if results_dir is not None:
        first = results_dir / f"{suite}.xml"
        if not first.exists() and configured:
            named = results_dir / Path(configured).name
            if named.exists():
                return named
        return first
    if configured and top is not None:
        return top / configured
    return None


def status_of(policy: Policy, suite: str, results_dir: Path | None, top: Path | None) -> Result:
    path = results_path(policy, suite, results_dir, top)
    if path is None:
        return Result(NOT_RUN, "no results path in the policy and no --results DIR")
    return read_junit(path)


Runner = Callable[[str, str], Result]  # (suite, command) -> its result


def build(policy: Policy, graph: nx.DiGraph, services: tuple[str, ...], *, results_dir: Path | None = None,
          top: Path | None = None, run: Runner | None = None, must_cover: tuple[str, ...] | None = None) -> Matrix:
    """The matrix for ``services``; with ``run``, required suites are run first and their runs decide."""
    touched = g.suites_of(graph, services)
    rows = []
    notes: list[str] = []
    for sid in sorted(policy.e2e):
        suite = policy.e2e[sid]
        required_for = tuple(s for s in services if s in touched.get(sid, ()))
        if run is not None and required_for:
            if suite.command:
                result = run(sid, suite.command)
            else:
                result = replace(status_of(policy, sid, results_dir, top),
                                 detail="no command in the policy; results read as they are")
        else:
            result = status_of(policy, sid, results_dir, top)
        rows.append(Row(sid, suite.services, required_for, suite.command, result))
    if results_dir is None and run is None:
        notes.append("results read from each suite's `results` path in the work tree; "
                     "a file from an earlier run counts as it is (use --run for fresh results)")
    return Matrix(services=services, rows=tuple(rows), notes=tuple(notes), must_cover=must_cover)


def combine(exit_code: int | None, parsed: Result, log: str) -> Result:
    """A suite's status after ``--run``: the command's exit code and its JUnit results together."""
    if exit_code is None:
        return Result(FAIL, "timed out: the command was stopped", log)
    if exit_code != 0:
        return Result(FAIL, f"the command exited {exit_code}; results: {parsed.detail}", log,
                      parsed.tests, parsed.failures, parsed.skipped)
    return replace(parsed, detail=f"exit 0; {parsed.detail}")


def runner_for(git: Git, policy: Policy, *, run: bool, results_dir: Path | None, timeout: int | None,
               echo: Callable[[bytes], None]) -> Runner | None:
    """The suite runner for ``--run`` (logs under .git/lanewarden/e2e), or None without it."""
    if not run:
        return None
    if git.top is None:
        raise InputError("--run needs a work tree to run the suites in")
    return runner(policy, git.top, git.common_dir / "lanewarden" / "e2e", results_dir=results_dir,
                  timeout=timeout, echo=echo)


def runner(policy: Policy, top: Path, log_dir: Path, *, results_dir: Path | None = None,
           timeout: int | None = None, echo: Callable[[bytes], None] = lambda b: None) -> Runner:
    """Run a suite's command (``sh -c``) at the top of the work tree and read what it wrote.

    A results file left by an earlier run is removed first, so a suite that
    writes nothing this time is ``not-run``, not an old pass.
    """
    def run(suite: str, command: str) -> Result:
        path = results_path(policy, suite, results_dir, top)
        if path is not None and path.is_file():
            path.unlink()
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"{suite}.log"
        log.write_bytes(b"")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env["LANEWARDEN_E2E_SUITE"] = suite
        try:
            code = process.run_agent(["sh", "-c", command], cwd=top, env=env, log=log, echo=echo,
                                     timeout=policy.e2e[suite].timeout_s if timeout is None else timeout)
        except OSError as exc:
            return Result(FAIL, f"cannot start the command: {exc.strerror}", str(log))
        if path is None:
            parsed = Result(PASS if code == 0 else FAIL, "no JUnit results configured: the exit code decides",
                            str(log))
            return combine(code, parsed, str(log)) if code != 0 else parsed
        return combine(code, read_junit(path), str(path))

    return run
