"""The tool-call hook's decision: a runtime's hook document in, that runtime's answer out.

Pure: everything it needs from the repository (the trusted policy's index, the
checkout's root) is in :class:`Setup`, and the done gate, the one step that
reads git, is passed in. So every dialect and every path can be tested from a
table, and the command around it only loads the setup and prints.

A pre-filter, for cooperation: it denies an out-of-lane write before it
happens and tells the agent who owns the path and how to hand the work over.
What it cannot see (a script's writes, a build's output) the diff guard still
judges. Every doubt denies: unreadable input, an unknown runtime, no policy,
no worker, a path that cannot be resolved, a crash.
"""
from __future__ import annotations

import json
import os
import posixpath
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lanewarden.orchestrator.integrations import dialects
from lanewarden.orchestrator.integrations.dialects import Answer, Event, Kind, Runtime
from lanewarden.workers.layout import POLICY_FILE
from lanewarden.workers.ownership import OwnershipIndex, PathClass
from lanewarden.workers.pattern import compile_pattern

_OK = frozenset({PathClass.WRITABLE, PathClass.HANDOFF_REQUIRED})
# Claude/Codex Bash, Copilot bash, Gemini run_shell_command, Cursor Shell, Codex shell/exec_command, VS Code
# run_in_terminal.
_SHELL_TOOLS = frozenset({"bash", "shell", "run_shell_command", "exec_command", "local_shell", "terminal",
                          "run_in_terminal"})
# Where a shell tool says its command runs (Gemini dir_path, Codex workdir), relative to the call's cwd.
_SHELL_FOLDERS = ("dir_path", "directory", "workdir", "cwd")
PATCH_START = "*** Begin Patch"  # a Codex apply_patch envelope, whatever the tool is called
_FILE_TOOLS = frozenset({"write", "edit", "multiedit", "notebookedit", "write_file", "replace", "create",
                         "strreplace", "delete", "str_replace_editor", "str_replace_based_edit_tool", "tabwrite",
                         "edit_file", "editfiles", "create_file", "delete_file", "apply_edit"})
_WRITE_WORDS = ("write", "edit", "create", "replace", "patch", "delete", "remove", "move", "rename")
_PATH_KEYS = ("file_path", "path", "filePath", "notebook_path", "target_file", "file", "absolute_path")
MCP_PROPOSE = "propose_handoff (lanewarden MCP server)"


@dataclass(frozen=True)
class Setup:
    """What the hook knows before reading its input; ``problem`` set means it cannot decide (deny)."""

    runtime: Runtime | None = None  # --runtime from the installed config
    worker: str | None = None  # --worker, else LANEWARDEN_WORKER
    top: str | None = None  # the checkout's root, absolute
    index: OwnershipIndex | None = None  # the trusted policy (HEAD)
    problem: str | None = None
    aliases: tuple[str, ...] = field(default=(), compare=False)  # other spellings of ``top`` (symlinks)
    # Which of these repository paths git ignores (the diff guard never sees them, so neither does the
    # hook): build output, logs, caches. None: nothing is ignored. An error here denies.
    ignored: Callable[[list[str]], set[str]] | None = field(default=None, compare=False)


# The done gate: worker -> None when the work tree is in the lane, else what to tell the agent.
Gate = Callable[[str], "str | None"]


def decide(raw: bytes, setup: Setup, gate: Gate | None = None) -> Answer:
    """The answer to one hook call; never raises (an error is a deny in the runtime's words)."""
    hint = setup.runtime
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return dialects.unknown("lanewarden: the hook input is not valid JSON; the call is blocked", hint)
    try:
        event = dialects.event_of(doc, dialects.detect(doc, hint))
    except dialects.DialectError as exc:
        return dialects.unknown(f"lanewarden: {exc}; the call is blocked", hint)
    try:
        return _decide(event, setup, gate)
    except Exception as exc:  # a bug: fail closed in the runtime's own words
        return _fail(event, f"lanewarden: internal error ({type(exc).__name__}: {exc}); the call is blocked")


def _fail(event: Event, reason: str) -> Answer:
    if event.kind is Kind.DONE:
        # Exit 2 keeps Claude Code and Codex working; Copilot and Cursor read only the JSON.
        block = dialects.done_block(event, reason)
        return Answer(block.stdout, 0 if event.runtime in (Runtime.COPILOT, Runtime.CURSOR) else 2, reason)
    return dialects.deny(event, reason, failed=True)


def _decide(event: Event, setup: Setup, gate: Gate | None) -> Answer:
    if event.kind is Kind.OTHER:
        return dialects.no_opinion(event)
    if setup.problem is not None or setup.index is None or setup.top is None:
        return _fail(event, f"lanewarden: {setup.problem or 'no trusted policy'}; the call is blocked")
    worker = worker_for(event, setup)
    if worker is None:
        return _fail(event, "lanewarden: which worker is this? The hook was given no --worker, "
                            "LANEWARDEN_WORKER is not set and no policy worker lists this agent type; "
                            "the call is blocked")
    if event.kind is Kind.DONE:
        if gate is None:
            return _fail(event, "lanewarden: no done gate available; completion is blocked")
        message = gate(worker)
        return dialects.done_ok(event) if message is None else dialects.done_block(event, message)
    denied, refs, unreadable = _check(event, setup, worker)
    if not denied and not refs and not unreadable:
        return dialects.no_opinion(event)
    return dialects.deny(event, deny_text(worker, denied, refs, unreadable))


def worker_for(event: Event, setup: Setup) -> str | None:
    """The subagent's mapped worker, else --worker / LANEWARDEN_WORKER; None if unknown to the policy."""
    assert setup.index is not None
    workers = setup.index.policy.workers
    if event.agent_type:
        if event.agent_type in workers:
            return event.agent_type
        mapped = [wid for wid, w in workers.items() if event.agent_type in w.agents]
        if len(mapped) == 1:
            return mapped[0]
        if len(mapped) > 1:
            return None  # two lanes claim one agent type: no guess
    return setup.worker if setup.worker in workers else None


@dataclass(frozen=True)
class Denied:
    path: str  # repository-relative, or the path as given when outside the repository
    why: str
    owner: str | None  # who to hand it to (None: outside the repository)
    lane: bool = False  # denied by the lane alone (not protected, not outside): an ignored path passes


def _check(event: Event, setup: Setup, worker: str) -> tuple[list[Denied], list[str], list[str]]:
    """Out-of-lane writes, ref moves and writes whose target cannot be known."""
    assert setup.top is not None
    cwd = event.cwd or setup.top
    tool = event.tool.lower()
    args = event.args if isinstance(event.args, dict) else {}
    targets: list[str] = []
    refs: list[str] = []
    unreadable: list[str] = []
    text = _patch_text(args)
    if tool.startswith(("mcp__", "mcp:")):
        return [], [], []
    if text is not None:
        from lanewarden.orchestrator.integrations import apply_patch  # only patches need the parser

        try:
            targets = [t.path for t in apply_patch.touched(text)]
        except apply_patch.PatchError as exc:
            unreadable.append(f"apply_patch: {exc}")
    elif tool == "apply_patch":
        unreadable.append("apply_patch: the input holds no *** Begin Patch envelope")
    elif tool in _SHELL_TOOLS:
        from lanewarden.orchestrator.integrations import shell_writes  # only shell calls need the lexer

        command = _command_text(args.get("command"))
        folder = next((args[k] for k in _SHELL_FOLDERS if isinstance(args.get(k), str) and args[k]), None)
        if folder is not None:
            cwd = posixpath.normpath(posixpath.join(cwd, folder))
        if command is None:
            unreadable.append("a shell call without a command")
        else:
            try:
                found = shell_writes.analyse(command, cwd)
            except ValueError as exc:
                unreadable.append(f"the shell command cannot be read ({exc})")
            else:
                targets = [w for w, _ in found.writes]
                refs = found.refs
                unreadable += found.unresolved
    elif tool in _FILE_TOOLS or any(word in tool for word in _WRITE_WORDS):
        targets = _paths(args)
        if not targets:
            if tool in _FILE_TOOLS:
                unreadable.append(f"{event.tool} names no file")
            return [], [], unreadable
    denied = [d for d in (_judge(t, cwd, setup, worker) for t in dict.fromkeys(targets)) if d is not None]
    lane_only = [d.path for d in denied if d.lane]
    if lane_only and setup.ignored is not None:
        skip = setup.ignored(lane_only)
        denied = [d for d in denied if not (d.lane and d.path in skip)]
    return denied, refs, unreadable


def _patch_text(args: dict[str, Any]) -> str | None:
    for key in ("command", "input", "patch"):
        value = args.get(key)
        if isinstance(value, str) and value.lstrip().startswith(PATCH_START):
            return value
    return None


def _command_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        if len(value) >= 3 and posixpath.basename(value[0]) in ("bash", "sh", "zsh") and value[1] in ("-c", "-lc"):
            return str(value[2])
        return shlex.join(value)
    return None


def _paths(args: dict[str, Any]) -> list[str]:
    out = [args[k] for k in _PATH_KEYS if isinstance(args.get(k), str) and args[k]]
    files = args.get("files")
    if isinstance(files, list):
        out += [f for f in files if isinstance(f, str)]
    edits = args.get("edits")
    if isinstance(edits, list):
        out += [e.get("file_path") for e in edits if isinstance(e, dict) and isinstance(e.get("file_path"), str)]
    return out


def relative(path: str, cwd: str, setup: Setup) -> str | None:
    """``path`` relative to the checkout's root, or None when it lies outside the checkout."""
    assert setup.top is not None
    full = posixpath.normpath(path if path.startswith("/") else posixpath.join(cwd, path))
    for candidate in (full, os.path.realpath(full)):  # the one filesystem read: symlinks on the way
        for top in (setup.top, *setup.aliases):
            if candidate == top:
                return "."
            if candidate.startswith(top.rstrip("/") + "/"):
                return candidate[len(top.rstrip("/")) + 1:]
    return None


def _judge(path: str, cwd: str, setup: Setup, worker: str) -> Denied | None:
    assert setup.index is not None
    if path.startswith("~"):
        return Denied(path, "a home-folder path, outside the repository", None)
    rel = relative(path, cwd, setup)
    if rel is None:
        return Denied(path, "outside the repository: no lane covers it", None)
    index = setup.index
    root = index.root_worker
    parts = rel.split("/")
    if rel == ".":
        return Denied(rel, "the repository root itself", root)
    if rel in (POLICY_FILE, ".gitmodules") or any(p.lower() == ".git" for p in parts):
        return Denied(rel, "protected: the policy, submodule wiring and git's own files change only through "
                           "the root's review", root)
    standing = index.standing(rel, worker)
    if standing.path_class in _OK:
        return None
    if any(compile_pattern(p).matches(rel) for p in index.policy.shared.append_only):
        return None  # shared append-only: the diff guard checks that lines are only added
    why = {PathClass.PROPOSE_ONLY: "propose-only for you", PathClass.OUT_OF_SCOPE: "outside your lane"}.get(
        standing.path_class, standing.path_class.value)
    return Denied(rel, f"{why} ({standing.rule})", index.owner(rel), lane=True)


def deny_text(worker: str, denied: list[Denied], refs: list[str], unreadable: list[str]) -> str:
    """The reason the agent reads: what is refused, who owns it, and the exact handoff to make instead."""
    lines = [f"lanewarden: this call leaves the lane of worker {worker!r}."]
    for d in denied:
        owner = f"; owned by {d.owner}" if d.owner else ""
        lines.append(f"- {d.path}: {d.why}{owner}")
    for ref in refs:
        lines.append(f"- `{ref}` moves git refs: a worker commits on its own branch; publishing and moving "
                     "refs is the root's or `lanewarden run`'s job")
    for item in unreadable:
        lines.append(f"- {item}: lanewarden cannot tell where this writes; use a literal path inside your lane")
    owners: dict[str, list[str]] = {}
    for d in denied:
        if d.owner is not None:
            owners.setdefault(d.owner, []).append(d.path)
    if owners:
        lines.append("Do not write these paths yourself. Hand the work to their owner instead:")
        for owner, paths in owners.items():
            cmd = ["lanewarden", "handoff", "propose", "--worker", worker, "--to", owner,
                   "--problem", "WHAT MUST CHANGE AND WHY"]
            for p in paths:
                cmd += ["--path", p]
            lines.append("  " + shlex.join(cmd))
        lines.append(f"(or the MCP tool {MCP_PROPOSE}; add --patch FILE with the change you would have made).")
    lines.append("The diff guard rejects out-of-lane changes in any case.")
    return "\n".join(lines)


def worker_from_env(flag: str | None) -> str | None:
    return flag or os.environ.get("LANEWARDEN_WORKER") or None
