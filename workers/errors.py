"""The one error hierarchy of lanewarden.

Every layer raises these; only the CLI boundary turns them into exit codes
(ARCHITECTURE section 4): 2 for usage, policy and input errors, 4 for bugs.
Third-party exceptions are translated into these where they enter.
"""
from __future__ import annotations


class LanewardenError(Exception):
    """Base class. ``hint`` says what to do next and is printed as a TIP line."""

    exit_code = 4

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(LanewardenError):
    """Bad usage or input: a wrong flag, a missing revision, an unreadable file."""

    exit_code = 2


class RevisionError(InputError):
    """A revision that does not name a commit, or a range git cannot resolve exactly."""


class GitError(InputError):
    """git refused a command. Carries the command and git's own words."""

    def __init__(self, message: str, *, args: tuple[str, ...] = (), stderr: str = "",
                 hint: str | None = None) -> None:
        detail = f"{message}: {stderr.strip()}" if stderr.strip() else message
        super().__init__(detail, hint=hint)
        self.git_args = args
        self.stderr = stderr


class NotARepositoryError(InputError):
    """The folder is not inside a git repository."""


class PolicyError(InputError):
    """A policy file with one or more problems; each names file, line, column and key."""

    def __init__(self, problems: list[PolicyProblem], *, hint: str | None = None) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, p.key, p.message))
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(lines, hint=hint)


class PolicyProblem:
    """One problem in a policy file, rendered ``FILE:LINE:COL: key.path: message``."""

    __slots__ = ("column", "key", "line", "message", "source")

    def __init__(self, source: str, line: int, column: int, key: str, message: str) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.key = key
        self.message = message

    def __str__(self) -> str:
        key = self.key or "(document)"
        return f"{self.source}:{self.line}:{self.column}: {key}: {self.message}"

    def __repr__(self) -> str:
        return f"PolicyProblem({str(self)!r})"


def unknown_worker_hint(worker: str, known: object, where: str = "") -> str:
    """A hint for an unknown worker id: the closest ids, then a few more, never hundreds."""
    import difflib

    names = sorted(str(k) for k in known)  # type: ignore[attr-defined]
    close = difflib.get_close_matches(worker, names, n=3)
    shown = close + [n for n in names if n not in close][:max(0, 10 - len(close))]
    more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    lead = f"did you mean {close[0]!r}? " if close else ""
    return f"{lead}workers{' in ' + where if where else ''}: {', '.join(shown)}{more}"

