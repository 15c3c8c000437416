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
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lanewarden.workers.git import Git, fsdecode


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
    found: list[Found] = []
    damaged: list[Damaged] = []
    for item in stream(git, prefix, file, name):
        if isinstance(item, Found):
            found.append(item)
        else:
            damaged.append(item)
    return found, damaged


def stream(git: Git, prefix: str, file: str, name: re.Pattern[str]) -> Iterator[Found | Damaged]:
    """``scan`` one record at a time, in ref order, holding one record in memory.

    The ref list goes to a file (for-each-ref), the object names to ask for are
    written from it to a second file, and one ``cat-file --batch`` reading that
    file answers two questions per ref in order: the type of what the ref names
    (anything but a commit is damage) and ``<commit>:<file>``. With 100,000
    refs nothing grows with the queue but the files.
    """
    with tempfile.TemporaryDirectory(prefix="lanewarden-records-") as tmp:
        listing, names = Path(tmp) / "refs", Path(tmp) / "names"
        with listing.open("wb") as out:
            git.refs_to_file(prefix, out)
        if not listing.stat().st_size:
            return  # no record at all (the usual case for overrides): no cat-file to start
        suffix = b":" + file.encode() + b"\n"
        with listing.open("rb") as refs, names.open("wb") as ask:
            for line in refs:
                oid = line[:line.index(b" ")]
                ask.write(oid + b"\n" + oid + suffix)
        with listing.open("rb") as refs, names.open("rb") as ask:
            objects = git.cat_file_stream(ask)
            for line in refs:
                raw_oid, _, raw_ref = line.rstrip(b"\n").partition(b" ")
                ref, commit = fsdecode(raw_ref), raw_oid.decode()
                target, content = next(objects), next(objects)
                kind = target[1] if target is not None else None
                data = content[2] if content is not None and content[1] == "blob" else None
                yield _classify(prefix, file, name, ref, commit, kind, data)
            for _ in objects:  # nothing is left; reading to the end lets git exit and report
                pass


def _classify(prefix: str, file: str, name: re.Pattern[str], ref: str, oid: str, kind: str | None,
              data: bytes | None) -> Found | Damaged:
    short = ref[len(prefix):]
    if not name.fullmatch(short):
        return Damaged(ref, oid, f"{short!r} is not a name lanewarden writes here (a foreign ref)")
    if kind is None:
        return Damaged(ref, oid, f"points at {oid[:12]}, which is not in the repository")
    if kind != "commit":
        return Damaged(ref, oid, f"points at a {kind} ({oid[:12]}), not at a record commit")
    if data is None:
        return Damaged(ref, oid, f"its commit {oid[:12]} holds no {file}")
    return Found(ref, short, oid, data)


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
        item = _classify(prefix, file, name, ref, oid, types.get(oid), contents.get(ref))
        if isinstance(item, Found):
            found.append(item)
        else:
            damaged.append(item)
    return found, damaged
