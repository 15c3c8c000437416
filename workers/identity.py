"""Who is acting and when: the identity written into queue commits, ledger entries and overrides.

An identity here is a claim, not a proof: whoever can set LANEWARDEN_ACTOR or
``user.name`` can claim any name. docs/ledger.md says how CI can supply
identities it has authenticated.
"""
from __future__ import annotations

import datetime
import getpass
import os

from lanewarden.workers.git import Git


def now() -> str:
    """UTC, to the second, ISO 8601: what every record stores."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def actor(git: Git) -> tuple[str, str]:
    """LANEWARDEN_ACTOR, else the user's git identity, else the OS user: (name, email)."""
    env = os.environ.get("LANEWARDEN_ACTOR")
    if env:
        return env, f"{env}@lanewarden"
    found = git.own_configs("user.name", "user.email")
    name, email = found.get("user.name"), found.get("user.email")
    if name:
        return name, email or f"{name}@localhost"
    user = getpass.getuser()
    return user, f"{user}@localhost"


def same_identity(a: str, b: str) -> bool:
    """Two claimed identities are the same person when they differ only in case or spacing."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()
