"""git's ``-U0`` patch cut into one section per path, while git is still writing it.

A 100,000-path range makes a 40 MB patch that git takes about a second to write.
Cutting it (each section's path, its hunks, its line counts) is Python work per
path; done as the bytes arrive it overlaps git's own work instead of following it.
What comes out is exactly what cutting the finished patch gives (``cut_whole``):
the pieces between occurrences of ``"\\n" + HEAD``, found left to right as
``bytes.split`` finds them. Nothing here decides anything: ``changes.attach`` checks
the sections against the path list and fails closed.
"""
from __future__ import annotations

import os
import tempfile
import threading
from typing import NamedTuple

from lanewarden.workers.git import Git, fsdecode

HEAD = b"diff --git "
_SEP = b"\n" + HEAD
_POLL = 0.005  # seconds between looks at git's output while it is still writing
_new = tuple.__new__


class Section(NamedTuple):
    """One ``diff --git`` section, cut."""

    first: bytes  # its first line after "diff --git " (for messages)
    path: str  # the path header_path reads from it ("" when it could not: see error)
    body: bytes | None  # from the first "\n@@" on (hunk headers and lines); None: no hunk
    added: int  # lines starting with '+' in the body
    deleted: int  # lines starting with '-' in the body
    error: Exception | None = None  # header_path failed on this header; raised where it is met


class Cut(NamedTuple):
    """A whole patch, cut: its size, whether it starts as a patch must, and its sections."""

    size: int
    starts_with_head: bool
    sections: list[Section]


def _unquote(token: bytes) -> bytes:
    """Undo git's C-style quoting of a path in a patch header."""
    if not token.startswith(b'"'):
        return token
    body = token[1:-1]
    out = bytearray()
    i = 0
    simple = {ord("n"): 10, ord("t"): 9, ord('"'): 34, ord("\\"): 92, ord("a"): 7, ord("b"): 8,
              ord("f"): 12, ord("r"): 13, ord("v"): 11}
    while i < len(body):
        c = body[i]
        if c == 92 and i + 1 < len(body):
            nxt = body[i + 1]
            if 48 <= nxt <= 55:
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
            out.append(simple.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def header_path(line: bytes) -> str:
    rest = line[len(HEAD):]
    if rest.startswith(b'"'):
        # Both sides are the same path with --no-renames; take the first quoted token.
        end = 1
        while end < len(rest):
            if rest[end] == 92:
                end += 2
                continue
            if rest[end] == 34:
                break
            end += 1
        token = _unquote(rest[:end + 1])
    else:
        half = (len(rest) - 1) // 2  # "a/P b/P"
        token = rest[:half]
    return fsdecode(token[2:])


def cut(data: bytes | bytearray, view: memoryview, start: int, end: int) -> Section:
    """One section from ``data[start:end]``, the text after its ``diff --git `` (as split leaves it).

    Works on offsets into the whole buffer: only the first line and the hunks are copied.
    """
    nl = data.find(b"\n", start, end)
    first = view[start:end if nl < 0 else nl].tobytes()
    error: Exception | None = None
    if first.startswith(b'"'):
        try:
            path = header_path(HEAD + first)
        except Exception as exc:  # a malformed quoted name: attach raises it in its turn
            path, error = "", exc
    else:
        # header_path for "a/P b/P", inlined (fsdecode's own decoding, without the call).
        path = first[2:(len(first) - 1) // 2].decode("utf-8", "surrogateescape")
    # Sections are made with tuple.__new__: in C, without the named tuple's Python-level __new__.
    at = data.find(b"\n@@", nl, end) if nl >= 0 else -1
    if at < 0:
        return _new(Section, (first, path, None, 0, 0, error))  # mode change, empty file, submodule
    # In a hunk every line starts with '+', '-', ' ', '\\' or '@@': counts are exact.
    body = view[at:end].tobytes()
    return _new(Section, (first, path, body, body.count(b"\n+"), body.count(b"\n-"), error))


def cut_whole(patch: bytes) -> Cut:
    """A finished patch, cut (what PendingPatch gives for the same bytes): the pieces
    ``patch[len(HEAD):].split(b"\\n" + HEAD)`` would give, each cut in place."""
    if not patch.startswith(HEAD):
        return Cut(len(patch), False, [])
    sections: list[Section] = []
    with memoryview(patch) as view:
        start = len(HEAD)
        while (at := patch.find(_SEP, start)) >= 0:
            sections.append(cut(patch, view, start, at))
            start = at + len(_SEP)
        sections.append(cut(patch, view, start, len(patch)))
    return Cut(len(patch), True, sections)


class Cutter:
    """Cuts a patch fed in pieces of any size: ``finish`` gives what ``cut_whole`` gives for the whole."""

    def __init__(self) -> None:
        self._buf = bytearray()  # fed, not yet cut: starts at a section's start once the head is known
        self._size = 0
        self._search = 0  # no separator starts in _buf before this
        self._head: bytes | None = None  # the patch's first len(HEAD) bytes, once fed
        self._sections: list[Section] = []

    def feed(self, data: bytes) -> None:
        self._size += len(data)
        self._buf += data
        if self._head is None:
            if len(self._buf) < len(HEAD):
                return
            self._head = bytes(self._buf[:len(HEAD)])
            del self._buf[:len(HEAD)]
        if self._head != HEAD:
            self._buf.clear()  # not a patch: attach refuses it, nothing to cut
            return
        self._cut(final=False)

    def finish(self) -> Cut:
        if self._head != HEAD:  # also when fewer than len(HEAD) bytes came at all
            return Cut(self._size, False, [])
        self._cut(final=True)
        return Cut(self._size, True, self._sections)

    def _cut(self, *, final: bool) -> None:
        buf, start = self._buf, 0
        with memoryview(buf) as view:
            while (at := buf.find(_SEP, self._search)) >= 0:
                self._sections.append(cut(buf, view, start, at))
                start = self._search = at + len(_SEP)
            if final:
                self._sections.append(cut(buf, view, start, len(buf)))
                return
        del buf[:start]
        # Every separator starting before the last len(_SEP) - 1 bytes was found above.
        self._search = max(0, len(buf) - len(_SEP) + 1)


class PendingPatch:
    """The ``-U0`` patch: git writes it into a file in one thread, another cuts it as it grows."""

    def __init__(self, git: Git, base_tree: str, head_tree: str, env: dict[str, str] | None) -> None:
        self._file = tempfile.TemporaryFile(prefix="lanewarden-patch-")  # noqa: SIM115 (closed by the cutter thread)
        self._written = threading.Event()  # git has exited (whatever its status)
        self._error: BaseException | None = None
        self._cut: Cut | None = None
        self._cut_error: BaseException | None = None
        self._git = threading.Thread(target=self._diff, args=(git, base_tree, head_tree, env), daemon=True)
        self._cutter = threading.Thread(target=self._follow, daemon=True)
        self._git.start()
        self._cutter.start()

    def _diff(self, git: Git, base_tree: str, head_tree: str, env: dict[str, str] | None) -> None:
        try:
            git.diff_zero_context_to_file(base_tree, head_tree, self._file, env=env)
        except BaseException as exc:  # re-raised in the caller's thread
            self._error = exc
        finally:
            self._written.set()

    def _follow(self) -> None:
        try:
            self._cut = self._cut_as_written()
        except BaseException as exc:  # re-raised in the caller's thread
            self._cut_error = exc
        finally:
            self._written.wait()  # git holds its own descriptor; ours goes once it is done
            self._file.close()

    def _cut_as_written(self) -> Cut:
        fd, size, cutter = self._file.fileno(), 0, Cutter()
        while True:
            finished = self._written.is_set()  # checked before reading: then the file is complete
            while data := os.pread(fd, 1 << 20, size):
                size += len(data)
                cutter.feed(data)
            if finished:
                return cutter.finish()
            self._written.wait(_POLL)

    def wait(self) -> Cut:
        self._git.join()
        self._cutter.join()
        if self._error is not None:
            raise self._error
        if self._cut_error is not None:
            raise self._cut_error
        assert self._cut is not None
        return self._cut
