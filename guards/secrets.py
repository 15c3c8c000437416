"""Secret-like artifacts: key files by name, private keys and tokens in added lines.

A reject here is final: no class, policy or override turns it into an accept.
Deletions are not flagged (removing a leaked key is the fix, not the leak).
"""
from __future__ import annotations

import re

from lanewarden.guards.changes import Change, Status, added_lines
from lanewarden.guards.context import GuardContext
from lanewarden.guards.verdict import Vote, VoteValue

NAME = "secrets"

_FILE_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".ppk", ".kdbx", ".p8",
                  ".der", ".crt", ".cer", ".asc", ".gpg", ".tfstate")
_FILE_NAMES = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".netrc", ".pgpass",
                         ".git-credentials", "credentials", ".htpasswd"})
_ENV_SAFE = frozenset({".env.example", ".env.sample", ".env.template", ".env.dist"})

# Well-known formats: each has a fixed prefix, so false positives are rare.
_TOKENS: tuple[tuple[str, str], ...] = (
    ("private key block", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    ("PuTTY private key", r"PuTTY-User-Key-File-\d"),
    ("AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    ("GitHub fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{60,}\b"),
    ("GitLab token", r"\bglpat-[A-Za-z0-9_\-]{20,}\b"),
    ("Slack token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    ("Google API key", r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    ("Stripe live key", r"\b(?:sk|rk)_live_[0-9A-Za-z]{20,}\b"),
    ("npm token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("OpenAI key", r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}\b"),
    ("Anthropic key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}\b"),
    ("PyPI token", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}\b"),
)
# Literal pieces at least one of which every pattern above contains: one fast
# substring pass over the whole patch decides whether the regex must run at all.
_MARKERS = (b"PRIVATE KEY", b"PuTTY-User-Key-File", b"AKIA", b"ASIA", b"ghp_", b"gho_", b"ghu_", b"ghs_",
            b"ghr_", b"github_pat_", b"glpat-", b"xox", b"AIza", b"_live_", b"npm_", b"sk-", b"pypi-")
_TOKEN_RE = re.compile("|".join(f"(?P<t{i}>{rx})" for i, (_, rx) in enumerate(_TOKENS)).encode())


def file_problem(path: str) -> str | None:
    name = path.rpartition("/")[2]
    lower = name.lower()
    if ".env" not in lower and not lower.endswith(_FILE_SUFFIXES) and lower not in _FILE_NAMES:
        return None
    if lower == ".env" or (lower.startswith(".env.") and lower not in _ENV_SAFE) or lower.endswith(".env"):
        return f"an environment file {name!r} (keep secrets out of git; commit a .env.example)"
    if lower in _FILE_NAMES:
        return f"a credentials file {name!r}"
    if lower.endswith(_FILE_SUFFIXES):
        suffix = next(s for s in _FILE_SUFFIXES if lower.endswith(s))
        return f"a key/keystore/certificate file type {suffix!r}"
    return None


def might_hold_token(data: bytes) -> bool:
    return any(marker in data for marker in _MARKERS)


def content_problem(lines: list[bytes]) -> str | None:
    if not lines:
        return None
    text = b"\n".join(lines)
    if not might_hold_token(text):
        return None
    match = _TOKEN_RE.search(text)
    if match is None:
        return None
    return f"a {token_kind(match)} in an added line"


def token_pattern() -> re.Pattern[bytes]:
    """Every well-known token format in one pattern (redaction replaces each match)."""
    return _TOKEN_RE


def token_kind(match: re.Match[bytes]) -> str:
    return _TOKENS[int(match.lastgroup[1:])][0] if match.lastgroup else "secret"


def problems(change: Change, scan: bool = True) -> list[str]:
    """What is secret-like about one change: its file name, a token in its added lines (or nothing).

    ``scan`` False skips the added lines (the caller already knows no token can be there).
    """
    if change.status == Status.DELETED or not change.writes_content:
        return []
    lines = added_lines(change) if scan and any(might_hold_token(h) for h in change.hunks) else []
    return [p for p in (file_problem(change.path), content_problem(lines)) if p is not None]


# The prefix of the per-path reason this guard leaves in the verdict; redaction finds flagged paths by it.
MARK = "secret: "


def vote(ctx: GuardContext) -> Vote:
    reasons: list[str] = []
    # One pass over the whole patch first: most changes hold no token-like text at all.
    # (A change set built without git's patch still carries its hunks: scan those.)
    scan = might_hold_token(ctx.changeset.patch or b"".join(h for c in ctx.changes for h in c.hunks))
    for change in ctx.changes:
        for problem in problems(change, scan):
            ctx.flag(change.path, f"{MARK}{problem}")
            reasons.append(f"{change.path!r}: {problem}")
    if reasons:
        return Vote(guard=NAME, vote=VoteValue.REJECT,
                    reasons=(*reasons, "remove the secret from the change; rotate it if it was ever pushed"))
    return Vote(guard=NAME, vote=VoteValue.APPROVE, reasons=("no secret-like artifact found",))
