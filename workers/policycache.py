"""A cache of a policy's parsed plain data, so a big policy is not re-read from YAML on every guard.

What is cached is the data the YAML builder produced (plus where each value sat), never the
``Policy`` object: a hit still runs the same strict check that builds ``Policy`` from that data,
so a cache can only save the YAML compose, never change what a policy means.

Fail closed, in three ways:
- the file name holds the policy blob's sha256 and a hash of the loader's own sources, so a
  changed policy or a changed lanewarden never reads an old entry;
- the format is JSON (no code runs on load), and only data that survives a JSON round trip
  unchanged is written;
- the cache sits inside ``.git``, which an unconfined agent could write, so every entry carries an
  HMAC under a per-user key kept outside the repository (``$XDG_CACHE_HOME/lanewarden/key``, 0600).
  A file that is corrupt, foreign or tampered with is ignored, and the next load rewrites it.

An entry is the MAC, then the data as one JSON line, then the marks as another: only error
messages and lints read the marks (a third of a big policy's entry), so a hit parses them on
first use (:class:`Marks`), after the MAC over both lines has been checked.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

Loc = tuple[str | int, ...]
_FORMAT = 2


class Marks(Mapping[Loc, tuple[int, int]]):
    """Where each value sat (line, column), read from a verified entry's marks line on first use."""

    def __init__(self, line: bytes) -> None:
        self._line = line
        self._marks: dict[Loc, tuple[int, int]] | None = None

    def _read(self) -> dict[Loc, tuple[int, int]]:
        if self._marks is None:
            self._marks = {tuple(loc): (int(line), int(col)) for loc, line, col in json.loads(self._line)}
        return self._marks

    def __getitem__(self, loc: Loc) -> tuple[int, int]:
        return self._read()[loc]

    def __iter__(self) -> Iterator[Loc]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())


def _code_key() -> str:
    """A hash of every source of the ``workers`` package, where policy text becomes checked data.

    The whole package rather than a list of modules: a check added anywhere the loader reaches
    (pattern syntax, CODEOWNERS, kinds) must invalidate data that was cached without it.
    Computed once per process; reading the package's sources costs about a millisecond.
    """
    global _CODE_KEY
    if _CODE_KEY is None:
        h = hashlib.sha256(str(_FORMAT).encode())
        for source in sorted(Path(__file__).parent.glob("*.py")):
            h.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
        _CODE_KEY = h.hexdigest()[:32]
    return _CODE_KEY


_CODE_KEY: str | None = None


def _user_key() -> bytes | None:
    """The per-user HMAC key, created 0600 on first use; None when it cannot be had (no caching)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "lanewarden" / "key"
    try:
        data = path.read_bytes()
        return data if len(data) >= 32 else None
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mkstemp creates it 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(32))
            # link() never replaces: of two first users racing, both end up with the key that won.
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
        data = path.read_bytes()
        return data if len(data) >= 32 else None
    except OSError:
        return None


def _entry(cache_dir: Path, sha256: str) -> Path:
    return cache_dir / f"{sha256}-{_code_key()}.json"


def _mac(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def load(cache_dir: Path, sha256: str) -> tuple[Any, Mapping[Loc, tuple[int, int]]] | None:
    """The cached data and marks for this policy blob, or None (missing, corrupt, foreign, tampered)."""
    try:
        raw = _entry(cache_dir, sha256).read_bytes()
        key = _user_key()
        if key is None:
            return None
        mac, _, body = raw.partition(b"\n")
        if not hmac.compare_digest(mac.decode("ascii"), _mac(key, body)):
            return None
        head, _, marks = body.partition(b"\n")  # JSON never holds a raw newline
        doc = json.loads(head)
        if doc.get("sha256") != sha256 or doc.get("code") != _code_key():
            return None
        return doc["data"], Marks(marks)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def store(cache_dir: Path, sha256: str, data: Any, marks: Mapping[Loc, tuple[int, int]]) -> None:
    """Write an entry atomically (temp file + rename); silently skip anything that cannot round-trip."""
    key = _user_key()
    if key is None:
        return
    try:
        head = json.dumps({"sha256": sha256, "code": _code_key(), "data": data}, separators=(",", ":"),
                          allow_nan=False).encode()
        # Tuples would come back as lists and int keys as strings: such data is not cached.
        if json.loads(head)["data"] != data:
            return
        rows = json.dumps([[list(loc), line, col] for loc, (line, col) in marks.items()],
                          separators=(",", ":"), allow_nan=False).encode()
        body = head + b"\n" + rows
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_mac(key, body).encode("ascii") + b"\n" + body)
            os.replace(tmp, _entry(cache_dir, sha256))
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, ValueError, TypeError):
        return  # a cache that cannot be written is only slower
