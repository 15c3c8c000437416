"""The policy file's schema as pydantic models (ARCHITECTURE section 3, a contract).

Frozen and strict: unknown keys are errors, strings are never coerced from
numbers or booleans (YAML's ``no`` would otherwise become a pattern "False").
These models decide what a valid policy is, explain what is wrong with an
invalid one, and give ``policy schema``; :func:`to_policy` turns a validated
document into the import-light values of ``workers/policy.py``.
Cross-references and pattern syntax are checked by the loader, which knows
where each value sits in the file.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from lanewarden.workers import policy as values

WORKER_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

Id = Annotated[StrictStr, Field(pattern=WORKER_ID, max_length=100)]
Patterns = tuple[StrictStr, ...]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budgets(_Model):
    """Limits for one worker's change and run; absent means unlimited."""

    max_files: Annotated[StrictInt, Field(ge=1)] | None = None
    max_lines: Annotated[StrictInt, Field(ge=1)] | None = None
    timeout_s: Annotated[StrictInt, Field(ge=1)] | None = None
    network: StrictBool | None = None  # false: runs of this worker get no network


class Worker(_Model):
    """One service's bounded lane."""

    description: StrictStr | None = None
    cwd: StrictStr | None = Field(default=None, description="Where the worker starts; never a boundary.")
    allow: Patterns = Field(default=(), description="What the worker may write.")
    deny: Patterns = Field(default=(), description="Carve-outs from allow.")
    read_hints: Patterns = Field(default=(), description="What to read for context; never authorises a write.")
    propose_only: Patterns = Field(default=(), description="Paths the worker may only change through a handoff.")
    handoff_required_on: Patterns = Field(
        default=(), description="Writable paths whose change must also be reviewed by the root.")
    budgets: Budgets = Budgets()
    high_risk: StrictBool = False
    depends_on: tuple[Id, ...] = Field(
        default=(), description="Workers (services) this one calls at run time; routes reviews, never writes.")
    agents: tuple[Id, ...] = Field(
        default=(), description="Subagent types (agent_type in Claude Code and Codex hooks) that work as this "
                                "worker; the tool-call hook maps them here.")


class Contract(_Model):
    """A shared API/schema/protocol with the services that produce and consume it."""

    description: StrictStr | None = None
    paths: Annotated[Patterns, Field(min_length=1)]
    producers: tuple[Id, ...] = ()
    consumers: tuple[Id, ...] = ()


class Suite(_Model):
    """An end-to-end suite and the services it exercises."""

    description: StrictStr | None = None
    services: Annotated[tuple[Id, ...], Field(min_length=1)]
    command: StrictStr | None = None
    results: StrictStr | None = None


class Shared(_Model):
    """Files every worker shares on fixed terms."""

    append_only: Patterns = Field(
        default=(), description="Files any worker may add lines to (a changelog); any other change is out of "
                                "scope and goes to the owner.")


class Reviewer(_Model):
    """An external reviewer: a command that reads the verdict JSON on stdin and answers JSON."""

    description: StrictStr | None = None
    command: Annotated[tuple[StrictStr, ...], Field(min_length=1)] = Field(
        description="argv of the reviewer (no shell); it gets the verdict JSON on stdin and prints "
                    '{"vote": "approve|reject|abstain", "reasons": [...]}.')
    timeout_s: Annotated[StrictInt, Field(ge=1)] = 30
    workers: tuple[Id, ...] = Field(default=(), description="Only for these workers (default: all).")


class Ownership(_Model):
    """Ordered ownership rules: a CODEOWNERS text kept as written (last match wins, per GitLab section)."""

    source: StrictStr | None = Field(default=None, description="Where the rules came from (e.g. .github/CODEOWNERS).")
    flavour: Literal["github", "gitlab"] = Field(default="github", description="How the rules are read.")
    owners: dict[Annotated[StrictStr, Field(min_length=1)], Id] = Field(
        default={}, description="Each CODEOWNERS owner as written (compared without case) -> a worker id.")
    rules: StrictStr = Field(default="", description="The CODEOWNERS lines, verbatim (a YAML block scalar '|').")


class Policy(_Model):
    """The whole policy file."""

    version: Literal[1]
    root: Id
    workers: Annotated[dict[Id, Worker], Field(min_length=1)]
    contracts: dict[Id, Contract] = {}
    e2e: dict[Id, Suite] = {}
    reviewers: dict[Id, Reviewer] = {}
    shared: Shared = Shared()
    ownership: Ownership = Ownership()

    @field_validator("version", mode="before")
    @classmethod
    def _exact_version(cls, value: object) -> object:
        # True == 1.0 == 1 in Python; the file must say the integer 1.
        if type(value) is not int:
            raise ValueError("Input should be 1 (the integer)")
        return value


def to_policy(model: Policy) -> values.Policy:
    """The validated document as the values the rest of lanewarden reads."""
    def worker(w: Worker) -> values.Worker:
        return values.Worker(description=w.description, cwd=w.cwd, allow=w.allow, deny=w.deny,
                             read_hints=w.read_hints, propose_only=w.propose_only,
                             handoff_required_on=w.handoff_required_on,
                             budgets=values.Budgets(w.budgets.max_files, w.budgets.max_lines, w.budgets.timeout_s,
                                                            w.budgets.network),
                             high_risk=w.high_risk, depends_on=w.depends_on, agents=w.agents)

    return values.Policy(
        version=model.version, root=model.root, workers={k: worker(w) for k, w in model.workers.items()},
        contracts={k: values.Contract(paths=c.paths, description=c.description, producers=c.producers,
                                      consumers=c.consumers) for k, c in model.contracts.items()},
        e2e={k: values.Suite(services=s.services, description=s.description, command=s.command,
                             results=s.results) for k, s in model.e2e.items()},
        reviewers={k: values.Reviewer(command=r.command, timeout_s=r.timeout_s, description=r.description,
                                      workers=r.workers) for k, r in model.reviewers.items()},
        shared=values.Shared(append_only=model.shared.append_only),
        ownership=values.Ownership(source=model.ownership.source, flavour=model.ownership.flavour,
                                   owners=dict(model.ownership.owners), rules=model.ownership.rules))
