"""Service packs: an ``AGENTS.md`` and an ``llm-context/contracts.md`` in each worker's ``cwd``.

The policy stays the authority; a pack only says it in words an agent reads
first: its lane, what to read, how to hand off, what to run. The contracts map
never copies a contract, it points at the contract folder and says which role
this service has and when the map goes stale. Existing files are never
touched: a pack is a starting point the team then owns.
"""
from __future__ import annotations

from dataclasses import dataclass

from lanewarden.workers.policy import Policy, Worker

# Build file -> the test command a newcomer would run first.
TEST_COMMANDS = (
    ("package.json", "npm test"), ("pyproject.toml", "python -m pytest -q"), ("setup.py", "python -m pytest -q"),
    ("go.mod", "go test ./..."), ("Cargo.toml", "cargo test"), ("pom.xml", "mvn -q test"),
    ("build.gradle", "gradle test"), ("build.gradle.kts", "gradle test"), ("Gemfile", "bundle exec rake test"),
    ("mix.exs", "mix test"), ("Makefile", "make test"),
)


@dataclass(frozen=True)
class PackFile:
    worker: str
    path: str  # repository-relative
    text: str


def _bullets(items: tuple[str, ...] | list[str], empty: str) -> list[str]:
    return [f"- `{item}`" for item in items] or [f"- {empty}"]


def agents_md(wid: str, worker: Worker, policy: Policy, files: set[str]) -> str:
    """The AGENTS.md of one worker."""
    cwd = worker.cwd or ""
    commands = [cmd for name, cmd in TEST_COMMANDS if f"{cwd}/{name}" in files]
    produces = sorted(c for c, v in policy.contracts.items() if wid in v.producers)
    consumes = sorted(c for c, v in policy.contracts.items() if wid in v.consumers)
    lines = [f"# {wid} worker", "",
             f"**What it is:** {worker.description or 'TODO: one line on what this service does and for whom.'}",
             "", "Written by `lanewarden init --packs` from `lanewarden.yaml`, which stays the authority: the diff",
             "guard checks every change against it. Edit this file freely; lanewarden never overwrites it.", "",
             "## Write scope", "", *_bullets(worker.allow, "nothing: this worker may not write (see lanewarden.yaml)")]
    lines += [f"- Never `{p}` (denied)." for p in worker.deny]
    lines += [f"- Only through a handoff: `{p}`." for p in worker.propose_only]
    lines += [f"- Writable, but root reviews it: `{p}`." for p in worker.handoff_required_on]
    lines += ["", "## Read hints", "", *_bullets(worker.read_hints, "none yet: add `read_hints` in lanewarden.yaml"),
              "- `llm-context/contracts.md` (how this service maps its contracts)", "", "## Contracts", ""]
    lines += [f"- produces `{c}`" for c in produces] + [f"- consumes `{c}`" for c in consumes]
    if not produces and not consumes:
        lines.append("- none declared: list this worker under `producers`/`consumers` in lanewarden.yaml")
    lines += ["", "## Handoffs", "", "Anything outside your write scope (another service, a contract, shared files)",
              "is a handoff to its owner, never an edit:", "", "```sh",
              'lanewarden handoff propose --problem "what must change and why" \\',
              '    --evidence "file:line that shows it" --patch change.diff',
              "```", "", "## Commands", "", "```sh"]
    lines += [f"cd {cwd} && {cmd}" for cmd in commands] or ["# TODO: how to build and test this service"]
    lines += [f"lanewarden guard --worker {wid} --worktree     # is my change inside my lane?",
              f"lanewarden explain --worker {wid} PATH         # may I write PATH?", "```", ""]
    return "\n".join(lines)


def contracts_md(wid: str, policy: Policy) -> str:
    """The llm-context/contracts.md of one worker: a map, never a copy."""
    lines = [f"# Contracts used by {wid}", "", "Map only; the contracts themselves live in the contract folder.",
             "Keep each `assumptions` line true, and update this map when the contract changes.", ""]
    mine = [(cid, c) for cid, c in sorted(policy.contracts.items()) if wid in c.producers or wid in c.consumers]
    for cid, contract in mine:
        role = "producer" if wid in contract.producers else "consumer"
        paths = ", ".join(f"`{p}`" for p in contract.paths)
        others = contract.consumers if role == "producer" else contract.producers
        lines += [f"## {cid}", f"- path: {paths}", f"- role: {role}"
                  + (f" ({'consumed by' if role == 'producer' else 'produced by'} {', '.join(others)})"
                     if others else ""),
                  "- assumptions: TODO: the operations, fields and invariants this service relies on",
                  f"- stale when: {paths} changes an operation, a message or a required field", ""]
    if not mine:
        lines += ["No contract in lanewarden.yaml names this worker as producer or consumer yet.",
                  "Add it under `contracts.<id>.producers` or `consumers`, then describe the role here:", "",
                  "## <contract id>", "- path: `contracts/<name>/...`", "- role: producer | consumer",
                  "- assumptions: what this service relies on", "- stale when: what change breaks the mapping", ""]
    return "\n".join(lines)


def plan(policy: Policy, files: set[str]) -> tuple[list[PackFile], list[tuple[str, str]]]:
    """Pack files for every worker with a ``cwd`` (existing ones included; the writer skips those),
    and (worker, reason) for workers that get none."""
    out: list[PackFile] = []
    skipped: list[tuple[str, str]] = []
    for wid, worker in policy.workers.items():
        if not worker.cwd:
            skipped.append((wid, "no cwd in lanewarden.yaml: there is no folder to put its pack in"))
            continue
        cwd = worker.cwd.strip("/")
        out.append(PackFile(wid, f"{cwd}/AGENTS.md", agents_md(wid, worker, policy, files)))
        out.append(PackFile(wid, f"{cwd}/llm-context/contracts.md", contracts_md(wid, policy)))
    return out, skipped
