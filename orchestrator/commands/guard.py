"""``lanewarden guard``: the diff guard on a range, the index, the work tree or a patch."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lanewarden.guards.engine import GuardRequest, guard
from lanewarden.guards.mode import Mode
from lanewarden.orchestrator.options import format_option, open_repo, repo_option, use_color, verbose_option
from lanewarden.workers.errors import InputError
from lanewarden.workers.git import Git

if TYPE_CHECKING:
    from lanewarden.guards.verdict import Verdict

BRANCH_PREFIX = "lanewarden/"


def local_worker(git: Git, explicit: str | None, head: str | None = None) -> str | None:
    """On a person's machine: --worker, else LANEWARDEN_WORKER, else a branch named lanewarden/<worker>/...

    A hint for local use only: the CI gate takes identities from the CI system (``--ci``),
    never from a branch name or a variable the branch can set. None: no worker is acting.
    """
    if explicit:
        return explicit
    env = os.environ.get("LANEWARDEN_WORKER")
    if env:
        return env
    for branch in (head, git.current_branch()):
        if branch:
            name = branch.removeprefix("refs/heads/")
            if name.startswith(BRANCH_PREFIX) and name.count("/") >= 2:
                return name.split("/")[1]
    return None


def resolve_worker(git: Git, explicit: str | None, head: str | None = None) -> str:
    """The worker, where one is required (an agent proposing a handoff, the MCP server)."""
    found = local_worker(git, explicit, head)
    if found is None:
        raise InputError("which worker is this? none was given",
                         hint="pass --worker ID, set LANEWARDEN_WORKER, or work on a branch "
                              "named lanewarden/<worker>/<topic>")
    return found


CI_ACTORS = ("GITHUB_ACTOR", "GITLAB_USER_LOGIN")  # set by the CI system, not by the change under test


def ci_actor() -> str:
    for name in CI_ACTORS:
        value = os.environ.get(name)
        if value:
            return value
    raise InputError(f"--ci: none of {', '.join(CI_ACTORS)} is set, so the CI identity is unknown",
                     hint="run the gate in GitHub Actions or GitLab CI, or pass --actor NAME from the CI "
                          "system's own variable")


def _render(verdict: Verdict, fmt: str, verbose: bool) -> str:
    # Imported once the verdict exists: the renderers need the guards' modules, which the engine
    # loads while git reads the change (an import at the top would load them before git starts).
    from lanewarden.orchestrator.reports.verdict import RENDERERS, to_text

    if fmt == "text":
        return to_text(verdict, verbose=verbose, color=use_color())
    return RENDERERS[fmt](verdict)


def _emit(verdict: Verdict, fmt: str, verbose: bool) -> None:
    # JSON holds no raw escape character (json writes control characters as \u escapes), so
    # click's stripping of ANSI codes when stdout is not a terminal, a regular expression over
    # the whole text (32 MB at 100,000 paths), could not change it: skip it for JSON.
    click.echo(_render(verdict, fmt, verbose), color=True if fmt == "json" else None)


@click.command("guard")
@repo_option
@click.option("--worker", help="The worker whose lane is checked (else LANEWARDEN_WORKER, else the branch; "
                                "with none, the policy's gate.unattributed rule judges the change).")
@click.option("--actor", help="A CI identity: the worker is the one whose `actors` name it in the trusted policy.")
@click.option("--ci", "from_ci", is_flag=True,
              help="Take the identity from the CI system (GITHUB_ACTOR, GITLAB_USER_LOGIN); never from a branch "
                   "name or LANEWARDEN_WORKER.")
@click.option("--base", help="Range mode: guard merge-base(BASE, HEAD)..HEAD. Patch mode: apply on BASE.")
@click.option("--head", help="Range mode: the head revision (default HEAD).")
@click.option("--staged", is_flag=True, help="Guard the index against HEAD (what would be committed).")
@click.option("--worktree", is_flag=True, help="Guard the work tree, untracked files included, against HEAD.")
@click.option("--patch", "patch_file", help="Guard a patch FILE (or - for stdin) applied on --base (default HEAD).")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False),
              help="Dry run with this policy file instead of the trusted revision (marks the verdict untrusted).")
@click.option("--index-file", type=click.Path(dir_okay=False), hidden=True,
              help="Staged mode: the index a git hook was given.")
@click.option("--record-handoffs", is_flag=True,
              help="Queue the out-of-lane parts as handoffs to their owners, each with its own patch.")
@click.option("--task", help="With --record-handoffs: the task the worker was on.")
@click.option("--record", is_flag=True,
              help="Record the decision in the ledger (refs/lanewarden/ledger) so it can be verified and replayed.")
@format_option("text", "json", "markdown", "github")
@verbose_option
def command(repo: str | None, worker: str | None, base: str | None, head: str | None, staged: bool,
            worktree: bool, patch_file: str | None, policy_file: str | None, index_file: str | None,
            record_handoffs: bool, task: str | None, record: bool, fmt: str, verbose: bool, actor: str | None,
            from_ci: bool) -> int:
    """Check what git really changed against the worker's lane.

    The policy comes from the trusted revision: the base in range and patch
    modes, HEAD in staged and work-tree modes. Exit 0 accept, 1 reject,
    3 revision required, 2 usage or input error.
    """
    modes = [mode for mode, on in ((Mode.STAGED, staged), (Mode.WORKTREE, worktree),
                                   (Mode.PATCH, patch_file is not None)) if on]
    if len(modes) > 1:
        raise InputError(f"pick one mode, not {' and '.join('--' + m.value for m in modes)}")
    if not modes and base is None:
        raise InputError("no change set to guard",
                         hint="pass --base REV [--head REV], --staged, --worktree or --patch FILE")
    mode = modes[0] if modes else Mode.RANGE
    if base is not None and mode in (Mode.STAGED, Mode.WORKTREE):
        raise InputError(f"--base does not go with --{mode.value}: that mode compares against HEAD")
    patch: bytes | None = None
    if patch_file is not None:
        try:
            patch = sys.stdin.buffer.read() if patch_file == "-" else Path(patch_file).read_bytes()
        except OSError as exc:
            raise InputError(f"{patch_file}: cannot read the patch: {exc.strerror}") from None
    git = open_repo(repo)
    if from_ci:
        if worker is not None or actor is not None:
            raise InputError("--ci takes the identity from the CI system: leave --worker and --actor out",
                             hint="map CI identities to workers with workers.<id>.actors in the policy")
        actor = ci_actor()
    acting = worker if actor is not None else local_worker(git, worker, head)
    request = GuardRequest(mode=mode, worker=acting, actor=actor, base=base, head=head,
                           patch=patch, policy_file=Path(policy_file) if policy_file else None,
                           index_file=Path(index_file) if index_file else None)
    if (record or record_handoffs) and policy_file is not None:
        raise InputError("--record and --record-handoffs need the trusted policy, not --policy "
                         "(a dry run is not a decision: nothing is recorded or queued)")
    task = task or os.environ.get("LANEWARDEN_TASK")
    if not record_handoffs:
        verdict = guard(git, request, record=record, task=task).verdict
        _emit(verdict, fmt, verbose)
        return verdict.exit_code
    from lanewarden.guards.engine import policy_for
    from lanewarden.handoffs.proposals import VerdictQueue

    loaded = policy_for(git, request)
    sink = VerdictQueue(git, loaded, task)
    verdict = guard(git, request, record=record, task=task, handoffs=sink, loaded=loaded).verdict
    _emit(verdict, fmt, verbose)
    for stored, created in sink.queued:
        h = stored.handoff
        state = "queued" if created else f"already queued ({h.status.value})"
        click.echo(f"handoff {h.id[:12]} {state}: -> {h.target_worker}", err=fmt in ("json", "github"))
    return verdict.exit_code
