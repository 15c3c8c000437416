"""What a shell command line writes, read before it runs: a pre-filter, not a parser of bash.

The tool-call hook sees shell commands as text. This recognises the common
ways a command writes files (redirections ``>``/``>>``, ``tee``, ``sed -i``,
``mv``, ``cp``, ``rm``, ``touch``, ``mkdir``, ``git rm``/``git mv``...) and the
git commands that move refs (``git push``, ``git update-ref``, ``git branch
-f``, ``git reset``, ``git checkout -B``...), so the hook can deny an
out-of-lane write before it happens and say why. It cannot see what a script,
a build tool or an interpreter writes; the diff guard, which reads what git
really changed, stays the authority on what lands.

Relative paths are resolved against the command's folder, following literal
``cd DIR`` steps; a target that depends on a variable, a command substitution
or ``cd -`` cannot be resolved and is reported as such (the hook denies it).
"""
from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field

_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "\n", "(", ")", "|&", ";;"})
_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", "<>"})
_READ_REDIRECTS = frozenset({"<", "<<", "<<<", "<&", ">&"})
_WRAPPERS = frozenset({"sudo", "env", "command", "exec", "nohup", "time", "nice", "builtin", "stdbuf", "timeout"})
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh"})
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_DYNAMIC = re.compile(r"[$`]|^~")
# Paths that are devices, never files in a repository.
_DEVICES = re.compile(r"^/dev/(null|stdout|stderr|stdin|tty|zero|fd/\d+)$")
# Writers whose every non-option argument is written (created, deleted or changed).
_ALL_ARGS = frozenset({"rm", "rmdir", "unlink", "touch", "mkdir", "truncate", "chmod", "chown", "chgrp", "shred",
                       "tee"})
# Writers whose last argument (or -t DIR) is the destination.
_LAST_ARG = frozenset({"cp", "ln", "install", "rsync"})
# Options of the commands above that take a value (the value is not a path to write).
_VALUE_OPTIONS = {"truncate": {"-s", "--size", "-r", "--reference"}, "chown": set(), "chmod": set(),
                  "install": {"-m", "--mode", "-o", "--owner", "-g", "--group"}, "mkdir": {"-m", "--mode"},
                  "sed": {"-e", "-f", "--expression", "--file", "-l", "--line-length"}}
# git subcommands that move or delete refs, and the options that make them do so.
_GIT_REF_ALWAYS = frozenset({"push", "update-ref", "symbolic-ref", "replace"})
_GIT_REF_FLAGS = {
    "branch": {"-f", "--force", "-d", "-D", "--delete", "-m", "-M", "--move", "-c", "-C", "--copy"},
    "checkout": {"-B"},
    "switch": {"-C", "--force-create"},
    "tag": {"-f", "--force", "-d", "--delete"},
}


@dataclass
class Found:
    """What one command line writes: paths (repository or absolute), ref moves and what could not be read."""

    writes: list[tuple[str, str]] = field(default_factory=list)  # (path joined with its folder, command)
    refs: list[str] = field(default_factory=list)  # the git commands that move refs
    unresolved: list[str] = field(default_factory=list)  # writes whose target cannot be known


def _strip_heredocs(text: str) -> str:
    """Drop here-document bodies: they are data fed to a command, not commands."""
    lines = text.split("\n")
    out: list[str] = []
    waiting: list[str] = []
    for line in lines:
        if waiting:
            if line.strip() == waiting[0]:
                waiting.pop(0)
            continue
        out.append(line)
        waiting.extend(m.group(2) for m in _HEREDOC.finditer(line))
    return "\n".join(out)


def tokens(text: str) -> list[str]:
    """Shell words and operators; ValueError on unbalanced quotes."""
    lexer = shlex.shlex(_strip_heredocs(text), posix=True, punctuation_chars=";&|<>()\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = ""
    return list(lexer)


def _commands(words: list[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for word in words:
        if word in _SEPARATORS:
            out.append([])
        else:
            out[-1].append(word)
    return [c for c in out if c]


def analyse(text: str, cwd: str | None) -> Found:
    """Everything ``text`` writes, with relative paths joined to ``cwd`` (None: unknown folder)."""
    found = Found()
    _analyse(text, cwd, found, depth=0)
    return found


def _analyse(text: str, cwd: str | None, found: Found, depth: int) -> None:
    for command in _commands(tokens(text)):
        cwd = _one(command, cwd, found, depth)


def _write(found: Found, target: str, cwd: str | None, what: str) -> None:
    if _DEVICES.match(target):
        return
    if _DYNAMIC.search(target) or (cwd is None and not target.startswith("/")):
        found.unresolved.append(f"{what} {target}")
        return
    found.writes.append((target if target.startswith("/") else posixpath.join(cwd or "", target), what))


def _one(words: list[str], cwd: str | None, found: Found, depth: int) -> str | None:
    """Record one simple command's writes; returns the folder the next command runs in."""
    args: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _REDIRECTS or word in _READ_REDIRECTS:
            target = words[i + 1] if i + 1 < len(words) else ""
            if word in _REDIRECTS:
                if not target:
                    found.unresolved.append(f"{word} with no target")
                else:
                    _write(found, target, cwd, f"redirection {word}")
            if args and args[-1].isdigit():
                args.pop()  # '2>' is split as '2' '>': the number is a file descriptor
            i += 2
            continue
        args.append(word)
        i += 1
    while args and ("=" in args[0] and not args[0].startswith("=") and "/" not in args[0].split("=")[0]):
        args.pop(0)  # FOO=1 command
    while args and posixpath.basename(args[0]) in _WRAPPERS:
        args.pop(0)
        while args and (args[0].startswith("-") or "=" in args[0]):
            args.pop(0)
    if not args:
        return cwd
    name, rest = posixpath.basename(args[0]), args[1:]
    if name == "cd":
        return _cd(cwd, rest[0] if rest else None)
    if name in _SHELLS and "-c" in rest and depth < 3:
        script = rest[rest.index("-c") + 1] if rest.index("-c") + 1 < len(rest) else ""
        _analyse(script, cwd, found, depth + 1)
        return cwd
    if name in ("-lc", "-c"):
        return cwd
    operands = _operands(name, rest)
    if name in _ALL_ARGS:
        for target in operands:
            _write(found, target, cwd, name)
    elif name in _LAST_ARG or name == "mv":
        _copy_like(name, rest, operands, cwd, found)
    elif name == "sed" and any(a == "-i" or a.startswith(("-i", "--in-place")) for a in rest):
        scripted = any(a in ("-e", "-f", "--expression", "--file") or a.startswith(("--expression=", "--file="))
                       for a in rest)
        for target in operands[0 if scripted else 1:]:
            _write(found, target, cwd, "sed -i")
    elif name == "dd":
        for arg in rest:
            if arg.startswith("of="):
                _write(found, arg[3:], cwd, "dd")
    elif name == "git":
        cwd = _git(rest, cwd, found)
    return cwd


def _cd(cwd: str | None, folder: str | None) -> str | None:
    """The folder after ``cd folder``; None when it cannot be known (``cd``, ``cd -``, variables)."""
    if folder is None or folder == "-" or _DYNAMIC.search(folder):
        return None
    if folder.startswith("/"):
        return posixpath.normpath(folder)
    return posixpath.normpath(posixpath.join(cwd, folder)) if cwd is not None else None


def _operands(name: str, rest: list[str]) -> list[str]:
    """Non-option arguments (after ``--`` everything is an operand)."""
    out: list[str] = []
    takes_value = _VALUE_OPTIONS.get(name, set())
    skip = False
    options = True
    for arg in rest:
        if skip:
            skip = False
            continue
        if options and arg == "--":
            options = False
        elif options and arg.startswith("-") and arg != "-":
            skip = arg in takes_value or (name in ("cp", "mv", "ln", "install") and arg == "-t")
        else:
            out.append(arg)
    if name in ("chmod", "chown", "chgrp") and out:
        out = out[1:]  # the mode or owner
    return out


def _copy_like(name: str, rest: list[str], operands: list[str], cwd: str | None, found: Found) -> None:
    target_dir = next((rest[i + 1] for i, a in enumerate(rest[:-1]) if a == "-t"), None)
    target_dir = target_dir or next((a.split("=", 1)[1] for a in rest if a.startswith("--target-directory=")), None)
    sources = operands if target_dir else operands[:-1]
    dest = target_dir or (operands[-1] if operands else None)
    if dest is None:
        return
    _write(found, dest, cwd, name)
    for src in sources:
        # The destination may be a folder: the copy lands below it under the source's name.
        _write(found, posixpath.join(dest, posixpath.basename(src.rstrip("/")) or src), cwd, name)
        if name == "mv":
            _write(found, src, cwd, "mv (source)")


def _git(rest: list[str], cwd: str | None, found: Found) -> str | None:
    i = 0
    here = cwd
    while i < len(rest) and rest[i].startswith("-"):
        if rest[i] == "-C" and i + 1 < len(rest):
            here = _cd(here, rest[i + 1])
            i += 2
        elif rest[i] in ("-c", "--git-dir", "--work-tree", "--namespace"):
            i += 2
        else:
            i += 1
    if i >= len(rest):
        return cwd
    sub, args = rest[i], rest[i + 1:]
    flags = _GIT_REF_FLAGS.get(sub, set())
    if sub in _GIT_REF_ALWAYS or any(a in flags or a.split("=")[0] in flags for a in args):
        found.refs.append(" ".join(["git", sub, *args])[:120])
    elif sub == "reset" and any(a in ("--hard", "--soft", "--mixed", "--keep", "--merge") or not a.startswith("-")
                                for a in args) and "--" not in args[:1]:
        if not _only_paths(args):
            found.refs.append(" ".join(["git", sub, *args])[:120])
    elif sub in ("rm", "mv"):
        operands = [a for a in args if not a.startswith("-")]
        for target in operands:
            _write(found, target, here, f"git {sub}")
    return cwd


def _only_paths(args: list[str]) -> bool:
    """``git reset -- PATH...`` only unstages paths; it moves no ref."""
    return "--" in args and all(a.startswith("-") for a in args[:args.index("--")])
