"""Import a GitHub or GitLab CODEOWNERS file as ordered ownership rules: the file itself.

The policy keeps CODEOWNERS' own semantics (``ownership:``, read by
``workers/codeowners.py``): the last matching line decides, per section. So
the import copies the file into the policy verbatim, maps each owner to a
worker, and the draft grows with the file, never with the square of its lines
(no carve-outs between lines are needed).

The two dialects differ, and each is read in its own way (``workers/codeowners.py``):
GitHub's one list, and GitLab's sections, optional sections, approval counts,
default owners, ``!path`` exclusions and owner syntax. A file is read as
GitLab's when it lies under ``.gitlab/`` (only GitLab reads that place) or
has a section header.

Lines that cannot be translated exactly are never approximated: in the copy
they are commented out (``#! skipped: ...``, so line numbers stay those of
the file) and listed with their line number and reason.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from lanewarden.workers.codeowners import SECTION, Issue, Parsed, read

SEARCH_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")
RESERVED = frozenset({"root"})
SKIP_MARK = "#! skipped: "

__all__ = ["SEARCH_PATHS", "Imported", "Issue", "detect", "import_codeowners", "name_workers"]


@dataclass
class Imported:
    parsed: Parsed
    source: str
    flavour: str  # "github" or "gitlab"
    detected: str  # why this flavour
    text: str  # the file as the policy keeps it: skipped lines commented out
    workers: dict[str, str] = field(default_factory=dict)  # owner (lower case) -> worker id

    @property
    def issues(self) -> list[Issue]:
        return self.parsed.issues

    @property
    def skipped(self) -> list[Issue]:
        return [i for i in self.parsed.issues if i.kind == "skipped"]

    @property
    def spelling(self) -> dict[str, str]:
        return self.parsed.spelling

    def lines_of(self, owner: str) -> list[int]:
        return [r.line or 0 for r in self.parsed.rules if owner in r.owners]


def detect(text: str, source: str) -> tuple[str, str]:
    """("github"|"gitlab", why): GitLab reads ``.gitlab/CODEOWNERS``, GitHub never does."""
    where = source.replace("\\", "/")
    if where.startswith(".gitlab/") or "/.gitlab/" in where:
        return "gitlab", f"{source} lies under .gitlab/, which only GitLab reads"
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if SECTION.match(stripped):
            return "gitlab", f"line {number} is a GitLab section header ({stripped})"
    return "github", "no GitLab section header, and not under .gitlab/"


def _clean(text: str) -> str:
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[:90]
    return out or "owner"


def _names(owner: str) -> tuple[str, str]:
    """(short, long) id candidates: '@org/team' -> team, org-team; 'a@x.io' -> a, a-x.io; '@@dev' -> dev."""
    if owner.startswith("@"):
        handle = owner.lstrip("@")
        org, _, team = handle.rpartition("/")
        return (_clean(team), _clean(handle.replace("/", "-"))) if org else (_clean(team), _clean(team))
    local, _, domain = owner.partition("@")
    return _clean(local), _clean(f"{local}-{domain}")


def name_workers(owners: list[str], taken: set[str]) -> dict[str, str]:
    """A valid, deterministic worker id per owner (short when unique, else the whole handle)."""
    owners = sorted(set(owners))
    shorts = Counter(_names(o)[0] for o in owners)
    out: dict[str, str] = {}
    for owner in owners:
        short, long = _names(owner)
        wanted = short if shorts[short] == 1 and short not in RESERVED else long
        candidate, n = wanted, 2
        while candidate in taken or candidate in RESERVED:
            candidate, n = f"{wanted}-{n}", n + 1
        taken.add(candidate)
        out[owner] = candidate
    return out


def import_codeowners(text: str, source: str) -> Imported:
    """Read in the file's dialect, comment out what is not an exact rule, give every owner a worker."""
    flavour, detected = detect(text, source)
    parsed = read(text, flavour)
    skipped = {i.line for i in parsed.issues if i.kind == "skipped"}
    lines = text.splitlines()
    kept = "\n".join(SKIP_MARK + line if n in skipped else line for n, line in enumerate(lines, start=1))
    owners = [o for r in parsed.rules for o in r.owners]
    owners += [o.lower() for s in parsed.sections.values() for o in s.default_owners]
    imported = Imported(parsed=parsed, source=source, flavour=flavour, detected=detected, text=kept + "\n")
    imported.workers = name_workers(owners, set(RESERVED))
    return imported
