"""External reviewers: optional commands that read the verdict and vote.

This is where an LLM (or any other) reviewer plugs in without the system
depending on it. A reviewer gets the verdict JSON of the deterministic guards
on stdin and answers ``{"vote": "approve|reject|abstain", "reasons": [...]}``
on stdout within its timeout. Anything else (a crash, a timeout, a non-zero
exit, garbage, a reviewer whose own files are in the change) counts as
``abstain``: it can add a veto or ask for revision, never turn a decision
into ``accept`` on its own.
"""
from __future__ import annotations

import json
import os
import posixpath
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from lanewarden.guards.verdict import Vote, VoteValue
from lanewarden.workers.policy import Reviewer

PREFIX = "reviewer:"
_MAX_ANSWER = 1 << 20
_VOTES = {v.value: v for v in VoteValue}


def applies(reviewer: Reviewer, worker: str) -> bool:
    return not reviewer.workers or worker in reviewer.workers


def own_files_changed(reviewer: Reviewer, changed: Sequence[str]) -> str | None:
    """A changed path the reviewer's command names (its script, its config): it would judge itself."""
    touched = set(changed)
    for arg in reviewer.command:
        if arg.startswith("-") or "\0" in arg or os.path.isabs(arg):
            continue
        norm = posixpath.normpath(arg.replace("\\", "/"))
        if norm in touched or any(p.startswith(norm + "/") for p in touched if norm != "."):
            return norm
    return None


def review(name: str, reviewer: Reviewer, verdict_json: dict[str, object], cwd: Path,
           changed: Sequence[str]) -> Vote:
    guard = PREFIX + name
    own = own_files_changed(reviewer, changed)
    if own is not None:
        return Vote(guard, VoteValue.ABSTAIN, (f"the reviewer's own file {own} is part of the change under test",))
    payload = json.dumps(verdict_json, ensure_ascii=False).encode("utf-8", "surrogateescape")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        # A session of its own, so a timeout kills the reviewer and everything it started.
        proc = subprocess.Popen(list(reviewer.command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=cwd, env=env, start_new_session=True)
    except OSError as exc:
        return Vote(guard, VoteValue.ABSTAIN, (f"reviewer could not start: {exc.strerror or exc}",))
    try:
        out, err = proc.communicate(payload, timeout=reviewer.timeout_s)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return Vote(guard, VoteValue.ABSTAIN, (f"reviewer timed out after {reviewer.timeout_s}s",))
    if proc.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return Vote(guard, VoteValue.ABSTAIN, (f"reviewer exited with {proc.returncode}: {tail[0][:200]}",))
    return parse_answer(guard, out)


def parse_answer(guard: str, out: bytes) -> Vote:
    if len(out) > _MAX_ANSWER:
        return Vote(guard, VoteValue.ABSTAIN, ("reviewer answer is too long (over 1 MiB)",))
    try:
        answer = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return Vote(guard, VoteValue.ABSTAIN, (f"reviewer answered garbage: {out[:80]!r}",))
    if not isinstance(answer, dict) or answer.get("vote") not in _VOTES:
        return Vote(guard, VoteValue.ABSTAIN,
                    ('reviewer answer has no "vote" of approve, reject or abstain',))
    reasons = answer.get("reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        return Vote(guard, VoteValue.ABSTAIN, ('reviewer "reasons" must be a list of strings',))
    return Vote(guard, _VOTES[answer["vote"]], tuple(r[:500] for r in reasons[:20]))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.wait()
