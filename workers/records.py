"""Reading records kept in refs (handoffs, overrides): what is there, and what is damaged.

Anyone who can write the repository can write a ref under ``refs/lanewarden/``:
one that points at a blob, at an object that does not exist, at a commit
without the record file, or under a name lanewarden never writes. None of
these may crash a command or vanish from a listing without a word: each comes
back as a ``Damaged`` entry that names the ref, says what is wrong and how to
look at it or remove it. The caller decides what parses as a record.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lanewarden.workers.git import Git


@dataclass(frozen=True)
class Found:
    ref: str
    name: str  # the ref without its prefix: the record's id
    commit: str
    data: bytes


@dataclass(frozen=True)
class Damaged:
    ref: str
    oid: str
    problem: str

    @property
    def hint(self) -> str:
        return (f"inspect it with `git cat-file -t {self.oid}` and `git log {self.ref}`; "
                f"remove it with `git update-ref -d {self.ref}`")

    def line(self) -> str:
        return f"{self.ref}: {self.problem}"

    def as_json(self) -> dict[str, str]:
        return {"ref": self.ref, "oid": self.oid, "problem": self.problem, "hint": self.hint}


def scan(git: Git, prefix: str, file: str, name: re.Pattern[str]) -> tuple[list[Found], list[Damaged]]:
    """Every ref under ``prefix``: ``Found`` with the bytes of ``file``, or ``Damaged`` with the reason."""
    refs = git.refs(prefix)
    return read(git, prefix, file, name, sorted(refs.items()))


def read(git: Git, prefix: str, file: str, name: re.Pattern[str],
         refs: Sequence[tuple[str, str]]) -> tuple[list[Found], list[Damaged]]:
    """``read`` for given ``(ref, oid)`` pairs; one ``cat-file`` for the types and one for the files."""
    types = git.object_types([oid for _, oid in refs])
    commits = [(ref, oid) for ref, oid in refs if types.get(oid) == "commit"]
    blobs = git.read_paths([f"{oid}:{file}" for _, oid in commits])
    contents = {ref: data for (ref, _), data in zip(commits, blobs, strict=False)}
    found: list[Found] = []
    damaged: list[Damaged] = []
    for ref, oid in refs:
        short = ref[len(prefix):]
        kind = types.get(oid)
        if not name.fullmatch(short):
            damaged.append(Damaged(ref, oid, f"{short!r} is not a name lanewarden writes here "
                                             "(a foreign ref)"))
        elif kind is None:
            damaged.append(Damaged(ref, oid, f"points at {oid[:12]}, which is not in the repository"))
        elif kind != "commit":
            damaged.append(Damaged(ref, oid, f"points at a {kind} ({oid[:12]}), not at a record commit"))
        elif contents.get(ref) is None:
            damaged.append(Damaged(ref, oid, f"its commit {oid[:12]} holds no {file}"))
        else:
            data = contents[ref]
            assert data is not None
            found.append(Found(ref, short, oid, data))
    return found, damaged
