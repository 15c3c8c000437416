"""Codex CLI sandbox settings for one worker (``lanewarden export codex WORKER``).

Output is TOML for ``~/.codex/config.toml`` (or a ``--profile``):
``sandbox_mode = "workspace-write"`` with ``[sandbox_workspace_write]
writable_roots``. Codex can only open whole folders for writing, so each allow
pattern becomes the absolute folder named by its literal prefix
(``services/*/src/**`` -> ``services``), which may be wider than the pattern;
single files and deny/propose-only carve-outs cannot be expressed and are
listed in comments. Codex also lets a command write the folder it was started
in and the temporary folders: start it in the worker's ``cwd`` (``lanewarden
run`` does). This is defence in depth; the diff guard stays the authority.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lanewarden.workers.pattern import directory_prefix
from lanewarden.workers.policy import Worker


@dataclass(frozen=True)
class CodexExport:
    text: str
    roots: tuple[str, ...]
    notes: tuple[str, ...]


def toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes minus the ones TOML lacks (astral characters stay literal)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def hook_tables(command: str, mcp_args: list[str] | None = None) -> list[str]:
    """``[[hooks.PreToolUse]]`` and ``[[hooks.Stop]]`` running ``lanewarden tool-hook`` (Codex >= 0.124
    runs hooks by default), and the lanewarden MCP server when ``mcp_args`` is given."""
    out = ["", "# The tool-call hook denies out-of-lane writes (apply_patch and shell); Stop is the done gate.",
           "[[hooks.PreToolUse]]", 'matcher = "Bash|apply_patch|Edit|Write"', "[[hooks.PreToolUse.hooks]]",
           'type = "command"', f"command = {toml_string(command)}", "timeout = 30", "",
           "[[hooks.Stop]]", "[[hooks.Stop.hooks]]", 'type = "command"', f"command = {toml_string(command)}",
           "timeout = 120"]
    if mcp_args:
        out += ["", "[mcp_servers.lanewarden]", f"command = {toml_string(mcp_args[0])}",
                "args = [" + ", ".join(toml_string(a) for a in mcp_args[1:]) + "]"]
    return out


def export(worker_id: str, worker: Worker, root: Path, *, is_file: set[str] | None = None,
           policy_sha256: str = "", hook_command: str | None = None,
           mcp_args: list[str] | None = None) -> CodexExport:
    """The TOML text; ``root`` is the absolute checkout the agent works in, ``is_file`` the
    repository paths that are files (they cannot be writable roots)."""
    files = is_file or set()
    folders: list[str] = []
    notes: list[str] = []
    for pattern in worker.allow:
        literal = "/".join(directory_prefix(pattern))
        if literal in files:
            notes.append(f"{pattern!r} is a single file: Codex writable roots are folders (not opened)")
            continue
        if not literal:
            notes.append(f"{pattern!r} has no literal folder: it would open the whole repository (not opened)")
            continue
        if literal != pattern.rstrip("/").removesuffix("/**"):
            notes.append(f"{pattern!r} is opened as its literal folder {literal + '/'!r}")
        folders.append(literal)
    kept = [f for f in dict.fromkeys(folders) if not any(f.startswith(o + "/") for o in folders if o != f)]
    roots = tuple(str(root / f) for f in kept)
    for field, patterns in (("deny", worker.deny), ("propose_only", worker.propose_only)):
        for pattern in patterns:
            inside = "/".join(directory_prefix(pattern))
            if any(inside == k or inside.startswith(k + "/") or not inside for k in kept):
                notes.append(f"{field} {pattern!r} lies inside a writable root: Codex cannot carve it out "
                             "(the diff guard rejects or hands off such edits)")
    head = [f"# Codex CLI sandbox for lanewarden worker {worker_id!r}, exported from lanewarden.yaml"
            + (f" (sha256 {policy_sha256[:12]})" if policy_sha256 else "") + ".",
            "# Defence in depth only: `lanewarden guard` on the diff stays the authority on what lands.",
            "# Globs are narrowed to their literal directory; Codex may also write the folder it starts in",
            f"# (start it in {worker.cwd!r}) and the temporary folders." if worker.cwd else
            "# and the temporary folders."]
    head += [f"# note: {n}" for n in notes]
    body = ['sandbox_mode = "workspace-write"', "", "[sandbox_workspace_write]"]
    if roots:
        body += ["writable_roots = [", *[f"  {toml_string(r)}," for r in roots], "]"]
    else:
        body.append("writable_roots = []")
    if hook_command is not None:
        body += hook_tables(hook_command, mcp_args)
    return CodexExport("\n".join(head + body) + "\n", roots, tuple(notes))
