"""Secret-like artifacts: key files by name, private keys and tokens in added lines.

A reject here is final: no class or override turns it into an accept. The one
exception is a reviewed one, ``secrets.allow`` in the **trusted** policy (never
the change under test, so a change cannot allow its own secret): a finding on a
path it covers, of a rule it names (none named: any rule), is shown as "allowed
by policy" and does not reject. Deletions are not flagged (removing a leaked key
is the fix, not the leak).
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lanewarden.guards.changes import Change, Status, added_lines
from lanewarden.guards.context import GuardContext
from lanewarden.guards.verdict import Vote, VoteValue

if TYPE_CHECKING:
    from lanewarden.workers.policy import SecretAllowance

NAME = "secrets"

_FILE_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".ppk", ".kdbx", ".p8",
                  ".der", ".crt", ".cer", ".asc", ".gpg", ".tfstate")
_FILE_NAMES = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".netrc", ".pgpass",
                         ".git-credentials", "credentials", ".htpasswd"})
_ENV_SAFE = frozenset({".env.example", ".env.sample", ".env.template", ".env.dist"})

# Well-known formats: each has a fixed prefix, so false positives are rare.
_TOKENS: tuple[tuple[str, str, str], ...] = (  # (rule name, what it is, pattern)
    ("private-key", "private key block", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    ("putty-key", "PuTTY private key", r"PuTTY-User-Key-File-\d"),
    ("aws-access-key-id", "AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("github-token", "GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    ("github-fine-grained-token", "GitHub fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{60,}\b"),
    ("gitlab-token", "GitLab token", r"\bglpat-[A-Za-z0-9_\-]{20,}\b"),
    ("slack-token", "Slack token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    ("google-api-key", "Google API key", r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    ("stripe-live-key", "Stripe live key", r"\b(?:sk|rk)_live_[0-9A-Za-z]{20,}\b"),
    ("npm-token", "npm token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("openai-key", "OpenAI key", r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}\b"),
    ("anthropic-key", "Anthropic key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}\b"),
    ("pypi-token", "PyPI token", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}\b"),
)
# The rules that judge a file by its name; the token rules above judge added lines.
ENV_FILE, CREDENTIALS_FILE, KEY_FILE = "env-file", "credentials-file", "key-file"
TOKEN_RULES = frozenset(t[0] for t in _TOKENS)
RULES = frozenset({ENV_FILE, CREDENTIALS_FILE, KEY_FILE}) | TOKEN_RULES
# Literal pieces at least one of which every pattern above contains: a hunk without any of
# them holds no token, so the token regex runs only on the changes suspects() picks out.
_MARKERS = (b"PRIVATE KEY", b"PuTTY-User-Key-File", b"AKIA", b"ASIA", b"ghp_", b"gho_", b"ghu_", b"ghs_",
            b"ghr_", b"github_pat_", b"glpat-", b"xox", b"AIza", b"_live_", b"npm_", b"sk-", b"pypi-")
_TOKEN_RE = re.compile("|".join(f"(?P<t{i}>{rx})" for i, (_, _, rx) in enumerate(_TOKENS)).encode())
# The markers as one pattern: one pass finds every place any of them occurs.
_MARKER_RE = re.compile(b"|".join(re.escape(m) for m in _MARKERS))


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: the rule that flagged it (a name ``secrets.allow.<id>.rules`` can list) and what it is."""

    rule: str
    what: str

    def __str__(self) -> str:
        return f"{self.what} [rule {self.rule}]"


def file_finding(path: str) -> Problem | None:
    name = path.rpartition("/")[2]
    lower = name.lower()
    if ".env" not in lower and not lower.endswith(_FILE_SUFFIXES) and lower not in _FILE_NAMES:
        return None
    if lower == ".env" or (lower.startswith(".env.") and lower not in _ENV_SAFE) or lower.endswith(".env"):
        return Problem(ENV_FILE, f"an environment file {name!r} (keep secrets out of git; commit a .env.example)")
    if lower in _FILE_NAMES:
        return Problem(CREDENTIALS_FILE, f"a credentials file {name!r}")
    if lower.endswith(_FILE_SUFFIXES):
        suffix = next(s for s in _FILE_SUFFIXES if lower.endswith(s))
        return Problem(KEY_FILE, f"a key/keystore/certificate file type {suffix!r}")
    return None


def file_problem(path: str) -> str | None:
    """Why a file is secret-like by its name alone (redaction's fallback), or None."""
    found = file_finding(path)
    return None if found is None else str(found)


def might_hold_token(data: bytes) -> bool:
    return any(marker in data for marker in _MARKERS)


def content_findings(lines: list[bytes]) -> list[Problem]:
    """One finding per token rule that matches the added lines (each rule can be allowed on its own)."""
    if not lines:
        return []
    text = b"\n".join(lines)
    if not might_hold_token(text):
        return []
    out: dict[str, Problem] = {}
    for match in _TOKEN_RE.finditer(text):
        rule = token_rule(match)
        out.setdefault(rule, Problem(rule, f"a {token_kind(match)} in an added line"))
    return list(out.values())


def token_pattern() -> re.Pattern[bytes]:
    """Every well-known token format in one pattern (redaction replaces each match)."""
    return _TOKEN_RE


def token_kind(match: re.Match[bytes]) -> str:
    return _TOKENS[int(match.lastgroup[1:])][1] if match.lastgroup else "secret"


def token_rule(match: re.Match[bytes]) -> str:
    return _TOKENS[int(match.lastgroup[1:])][0] if match.lastgroup else "secret"


def findings(change: Change, scan: bool = True) -> list[Problem]:
    """What is secret-like about one change: its file name, tokens in its added lines (or nothing).

    ``scan`` False skips the added lines (the caller already knows no token can be there).
    """
    if change.status == Status.DELETED or not change.writes_content:
        return []
    named = file_finding(change.path)
    if not (scan and any(might_hold_token(h) for h in change.hunks)):
        return [] if named is None else [named]
    return ([named] if named is not None else []) + content_findings(added_lines(change))


def suspects(changes: list[Change]) -> set[int]:
    """The positions in ``changes`` of those with a marker in one of their hunks.

    The same test as ``any(might_hold_token(h) for h in change.hunks)`` for every change, made in
    one pass over all hunks joined by newlines (most changes hold no marker at all, and headers
    are not scanned). No marker holds a newline, so no match spans two hunks; and a hunk holding
    a marker has a match that starts inside it (a match overlapping that marker from further
    left starts in the same hunk), so mapping match starts back to hunks finds every such change.
    """
    text = b"\n".join([h for change in changes for h in change.hunks])
    hits = [m.start() for m in _MARKER_RE.finditer(text)]
    if not hits:
        return set()
    starts: list[int] = []
    owners: list[int] = []
    at = 0
    for i, change in enumerate(changes):
        for h in change.hunks:
            starts.append(at)
            owners.append(i)
            at += len(h) + 1
    return {owners[bisect_right(starts, hit) - 1] for hit in hits}


def problems(change: Change, scan: bool = True) -> list[str]:
    return [str(p) for p in findings(change, scan)]


# The prefix of the per-path reason this guard leaves in the verdict; redaction finds flagged paths by it.
MARK = "secret: "
# The prefix of a finding a reviewed exception allows (``ALLOWED (secrets.allow.ID): REASON [rule R]``).
ALLOWED = "allowed by policy"
_ALLOWED_RULE = re.compile(r"\[rule ([a-z0-9-]+)\]$")


def allowed_rule(reason: str) -> str | None:
    """The rule a per-path "allowed by policy" reason waived, or None for any other reason."""
    if not reason.startswith(ALLOWED):
        return None
    match = _ALLOWED_RULE.search(reason)
    return match.group(1) if match else "unknown"


def allowance_for(path: str, problem: Problem,
                  allow: dict[str, SecretAllowance]) -> tuple[str | None, list[str]]:
    """(the id of the allowance that covers this finding or None, near misses: allowances for the path
    that name other rules)."""
    from lanewarden.workers.pattern import compile_pattern

    misses: list[str] = []
    for aid, item in sorted(allow.items()):
        if not any(compile_pattern(p).matches(path) for p in item.paths):
            continue
        if not item.rules or problem.rule in item.rules:
            return aid, misses
        misses.append(f"near miss: secrets.allow.{aid} covers {path!r} but only for rule(s) "
                      f"{', '.join(item.rules)}; this finding is rule {problem.rule} ({problem.what})")
    return None, misses


def vote(ctx: GuardContext) -> Vote:
    reasons: list[str] = []
    allowed: list[str] = []
    # Reviewed exceptions come from the trusted policy the guard was given, never from the change.
    allow = ctx.loaded.policy.secrets.allow
    # One pass over every hunk first: most changes hold no token-like text at all.
    scan = suspects(ctx.changes)
    for i, change in enumerate(ctx.changes):
        suspect = i in scan
        if not suspect and file_finding(change.path) is None:
            continue  # findings(change, False) has nothing else to find
        for problem in findings(change, suspect):
            aid, misses = allowance_for(change.path, problem, allow) if allow else (None, [])
            ctx.notes.extend(misses)
            if aid is not None:
                text = f"{ALLOWED} (secrets.allow.{aid}): {allow[aid].reason} [rule {problem.rule}]"
                ctx.flag(change.path, text)
                allowed.append(f"{change.path!r}: {text}")
                continue
            ctx.flag(change.path, f"{MARK}{problem}")
            reasons.append(f"{change.path!r}: {problem}")
    if reasons:
        return Vote(guard=NAME, vote=VoteValue.REJECT,
                    reasons=(*reasons, "remove the secret from the change; rotate it if it was ever pushed"))
    if allowed:
        return Vote(guard=NAME, vote=VoteValue.APPROVE,
                    reasons=(*allowed, "no other secret-like artifact found"))
    return Vote(guard=NAME, vote=VoteValue.APPROVE, reasons=("no secret-like artifact found",))
