"""The one error boundary: exceptions in, exit codes out (ARCHITECTURE section 4).

User errors print one ``error:`` line (plus a ``tip:`` when there is one) and
exit 2; a bug prints one line naming a log file that holds the traceback and
versions, and exits 4. Ctrl-C exits 130; a reader gone from the output pipe, 141
(never 0: the answer was not delivered). Nothing below this module prints.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from lanewarden.workers.errors import LanewardenError, PolicyError

EXIT_INTERNAL = 4
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE


def _log_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "lanewarden"


def write_crash_log(exc: BaseException) -> Path:
    # Imported here: only a crash needs them, and every hook run would pay for them.
    import datetime
    import platform
    import tempfile
    import traceback

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    text = (f"lanewarden crash {stamp}\nargv: {sys.argv!r}\npython: {sys.version}\n"
            f"platform: {platform.platform()}\nversions: {_versions()}\n\n"
            + "".join(traceback.format_exception(exc)))
    text = _clean(text)
    for folder in (_log_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"lanewarden-crash-{stamp}.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    raise RuntimeError("cannot write a crash log")  # pragma: no cover


def _clean(text: str) -> str:
    """No well-known token in clear in a log or on stderr (a traceback can quote a patch or an argument)."""
    try:
        from lanewarden.guards.redaction import scrub

        return scrub(text)
    except Exception:  # the crash may be in that very import: drop the suspect lines instead
        return "\n".join(line for line in text.splitlines() if "AKIA" not in line and "PRIVATE KEY" not in line)


def _versions() -> str:
    from importlib import metadata

    out = []
    for dist in ("lanewarden", "pathspec", "pydantic", "pyyaml", "click"):
        try:
            out.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            out.append(f"{dist}=?")
    return " ".join(out)


def _annotate(exc: LanewardenError) -> None:
    """The error as GitHub workflow commands on stdout, where Actions reads them."""
    def escape(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    problems = [str(p) for p in exc.problems] if isinstance(exc, PolicyError) else [exc.message]
    hint = f" (tip: {exc.hint})" if exc.hint else ""
    for text in problems:
        click.echo(f"::error title=lanewarden::{escape(text + hint)}")


def report(exc: LanewardenError, fmt: str | None = None) -> None:
    if fmt == "github":
        _annotate(exc)
    if isinstance(exc, PolicyError):
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        count = len(exc.problems)
        click.echo(f"error: the policy has {count} problem{'s' if count != 1 else ''}", err=True)
    else:
        click.echo(f"error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"tip: {exc.hint}", err=True)


def invoke(ctx: click.Context, call: Callable[[], Any]) -> NoReturn:
    """Run a command inside the boundary and exit with its code.

    Lives in the group's ``invoke`` so the console script and click's test
    runner map errors to exit codes the same way.
    """
    try:
        rv = call()
    except click.exceptions.Exit:
        raise
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        ctx.exit(EXIT_USAGE)
    except LanewardenError as exc:
        if exc.exit_code == EXIT_INTERNAL:
            _crash(ctx, exc)
        report(exc, ctx.meta.get("lanewarden.format"))
        ctx.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (| head): nothing left to say, and the command's answer was
        # never delivered, so it is not a success (a hook must not read it as an accept).
        # 141 is what a shell reports for a process ended by SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        ctx.exit(EXIT_BROKEN_PIPE)
    except Exception as exc:
        _crash(ctx, exc)
    ctx.exit(rv if isinstance(rv, int) else 0)


def _crash(ctx: click.Context, exc: BaseException) -> NoReturn:
    try:
        path: Path | str = write_crash_log(exc)
    except Exception:
        path = "(no log: could not write one)"
    click.echo(_clean(f"lanewarden: internal error ({type(exc).__name__}: {exc}); "
                      f"this is a bug, traceback in {path}"), err=True)
    ctx.exit(EXIT_INTERNAL)
