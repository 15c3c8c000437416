"""The policy file's keys, declared once: the values the rest of lanewarden reads.

Every key of ``lanewarden.yaml`` (ARCHITECTURE section 3, a contract) is one
line below: its type, its kind (what it holds, how it is checked; see
``workers/kinds.py``), its default (none: required) and what it is for. Adding
a key is one line here, plus its use, a test of that use and its row in
docs/policy.md (``tests/test_policy_keys.py`` says so if it is missing).
Everything else is derived from these classes: the fast check the guard runs
(:data:`strict_policy`, no pydantic), the pydantic models behind error
messages and ``policy schema`` (``workers/schema.py``), the loader's pattern,
folder and reference checks and its "did you mean" suggestions, and the
pattern lists of the ownership index and the policy diff.
"""
from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from lanewarden.workers.keys import key, pattern_keys, section, strict
from lanewarden.workers.kinds import (
    Choice,
    Count,
    Flag,
    Folder,
    Patterns,
    Ref,
    RefMap,
    Refs,
    Section,
    Strings,
    Table,
    Text,
    Version,
)
from lanewarden.workers.layout import POLICY_FILE as POLICY_FILE  # re-exported

if TYPE_CHECKING:
    from lanewarden.workers.codeowners import Parsed

FLAVOURS = ("github", "gitlab")
UNATTRIBUTED = ("owners", "skip", "reject")

_DESCRIPTION = "What it is, in one line, for people and agents."


@section
class Budgets:
    """Limits for one worker's change and run; absent means unlimited."""

    max_files: int | None = key(Count(), "Most files one change may touch.", default=None)
    max_lines: int | None = key(Count(), "Most lines (added plus deleted) one change may touch.", default=None)
    timeout_s: int | None = key(Count(), "Seconds a worker run may take before it is stopped.", default=None)
    network: bool | None = key(Flag(), "false: the worker's runs get no network (their sandbox has none).",
                               default=None)


@section
class Worker:
    """One service's bounded lane."""

    description: str | None = key(Text(), _DESCRIPTION, default=None)
    cwd: str | None = key(Folder(), "Where the worker starts; never a boundary.", default=None)
    allow: tuple[str, ...] = key(Patterns(decides=True), "What the worker may write.", default=())
    deny: tuple[str, ...] = key(Patterns(decides=True), "Carve-outs from allow.", default=())
    read_hints: tuple[str, ...] = key(Patterns(), "What to read for context; never authorises a write.", default=())
    propose_only: tuple[str, ...] = key(
        Patterns(decides=True), "Paths the worker may only change through a handoff.", default=())
    handoff_required_on: tuple[str, ...] = key(
        Patterns(decides=True), "Writable paths whose change must also be reviewed by the root.", default=())
    budgets: Budgets = key(Section(Budgets), "Limits per change and run.", default=Budgets())
    high_risk: bool = key(
        Flag(), "Reviews rate changes reaching it high risk; its runs get a sparse checkout.", default=False)
    depends_on: tuple[str, ...] = key(
        Refs(), "Workers (services) this one calls at run time; routes reviews, never writes.", default=())
    actors: tuple[str, ...] = key(
        Strings(), "CI identities (GITHUB_ACTOR, GITLAB_USER_LOGIN: bot or service accounts) allowed to act as "
                   "this worker; the CI gate takes the worker from them, never from a branch name.", default=())
    agents: tuple[str, ...] = key(
        Strings(), "Subagent types (agent_type in Claude Code and Codex hooks) that work as this worker; the "
                   "tool-call hook maps them here.", default=())


@section
class Contract:
    """A shared API/schema/protocol with the services that produce and consume it."""

    description: str | None = key(Text(), _DESCRIPTION, default=None)
    paths: tuple[str, ...] = key(Patterns(non_empty=True), "The contract's files: its single source of truth.")
    producers: tuple[str, ...] = key(Refs(), "Workers that implement the contract.", default=())
    consumers: tuple[str, ...] = key(Refs(), "Workers that call or read it.", default=())


@section
class Suite:
    """An end-to-end suite and the services it exercises."""

    description: str | None = key(Text(), _DESCRIPTION, default=None)
    services: tuple[str, ...] = key(Refs(non_empty=True), "Workers (services) the suite exercises.")
    command: str | None = key(Text(), "How to run it (sh -c, at the top of the work tree).", default=None)
    results: str | None = key(Text(), "Where it writes JUnit XML, from the top of the work tree.", default=None)
    timeout_s: int | None = key(Count(), "Seconds `review --run` gives it before it fails; --timeout overrides.",
                                default=None)


@section
class Shared:
    """Files every worker shares on fixed terms."""

    append_only: tuple[str, ...] = key(
        Patterns(), "Files any worker may add lines to (a changelog); any other change is out of scope and goes "
                    "to the owner.", default=())


@section
class Reviewer:
    """An external reviewer: a command that reads the verdict JSON on stdin and answers JSON."""

    description: str | None = key(Text(), _DESCRIPTION, default=None)
    command: tuple[str, ...] = key(
        Strings(non_empty=True), "argv of the reviewer (no shell); it gets the verdict JSON on stdin and prints "
                                 '{"vote": ..., "reasons": [...]} with a vote of approve, reject or abstain.')
    timeout_s: int = key(Count(), "Seconds before the reviewer counts as an abstention.", default=30)
    workers: tuple[str, ...] = key(Refs(), "Only for these workers (default: all).", default=())


@section
class Gate:
    """How the gate treats who is acting: changes with no worker, and changes to the policy itself."""

    unattributed: str = key(
        Choice(*UNATTRIBUTED), "A change with no worker (a person's commit): owners judges each path in its "
        "owner's lane; skip lets it through with a notice; reject blocks it.", default="owners")
    policy_owners: tuple[str, ...] = key(
        Refs(), "Workers besides root who may change the policy file (always with two approvals).", default=())


@section
class SecretAllowance:
    """A reviewed exception to the secrets guard: files that are public by design."""

    paths: tuple[str, ...] = key(Patterns(non_empty=True), "The files it covers.")
    rules: tuple[str, ...] = key(
        Strings(), "Only findings of these secrets rules (their names as the verdict shows them); "
                   "empty: any rule.", default=())
    reason: str = key(Text(), "Why these files may hold what the rule flags (shown in every verdict).")


@section
class Secrets:
    """The secrets guard's reviewed exceptions, from the trusted policy only."""

    allow: dict[str, SecretAllowance] = key(
        Table(SecretAllowance), "Reviewed exceptions, by id.", default_factory=dict)


@section
class Ownership:
    """Ordered ownership rules: a CODEOWNERS text kept as written, with its owners mapped to workers.

    ``rules`` is the CODEOWNERS file verbatim (a YAML block scalar: one rule per
    line, line numbers as in CODEOWNERS, a policy that grows with the file);
    ``owners`` maps each owner as written (compared without case) to a worker.
    """

    source: str | None = key(Text(), "Where the rules came from (e.g. .github/CODEOWNERS).", default=None)
    flavour: str = key(Choice(*FLAVOURS), "How the rules are read: github or gitlab.", default="github")
    owners: dict[str, str] = key(
        RefMap(), "Each CODEOWNERS owner as written (compared without case) -> a worker id.",
        default_factory=dict)
    rules: str = key(Text(), "The CODEOWNERS lines, verbatim (a YAML literal block scalar).", default="")

    @cached_property
    def parsed(self) -> Parsed:
        from lanewarden.workers.codeowners import read

        return read(self.rules, self.flavour)

    def worker_of(self, owner: str) -> str | None:
        """The worker an owner (as compared: lower case) maps to."""
        return self._owner_map.get(owner.lower())

    @cached_property
    def _owner_map(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.owners.items()}


@section
class Policy:
    """The whole policy file."""

    version: int = key(Version(), "The version of this file format: always 1.")
    root: str = key(Ref(), "Receives unowned paths, contract reviews and policy changes.")
    workers: dict[str, Worker] = key(Table(Worker, non_empty=True), "The lanes, by worker id.")
    contracts: dict[str, Contract] = key(Table(Contract), "Shared APIs and schemas, by id.", default_factory=dict)
    e2e: dict[str, Suite] = key(Table(Suite), "End-to-end suites, by id.", default_factory=dict)
    reviewers: dict[str, Reviewer] = key(Table(Reviewer), "External reviewers, by id.", default_factory=dict)
    shared: Shared = key(Section(Shared), "Files every worker shares.", default=Shared())
    ownership: Ownership = key(Section(Ownership), "Ordered ownership rules imported from CODEOWNERS.",
                               default=Ownership())
    gate: Gate = key(Section(Gate), "Who is acting: changes with no worker, and policy changes.", default=Gate())
    secrets: Secrets = key(Section(Secrets), "Reviewed exceptions to the secrets guard.", default=Secrets())


# Derived from the declaration above; never list keys by hand.
strict_policy = strict(Policy)
"""The policy when a document has exactly the plain shape the schema accepts; else None (pydantic decides)."""
PATTERN_FIELDS = pattern_keys(Worker)
"""A worker's pattern keys, in declaration order."""
DECIDING_FIELDS = pattern_keys(Worker, decides=True)
"""A worker's pattern keys that decide a path's class (all but read hints)."""
