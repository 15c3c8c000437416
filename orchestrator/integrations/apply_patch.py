"""The paths a Codex ``apply_patch`` envelope writes.

Codex hands its PreToolUse hook the raw envelope in ``tool_input.command``
(there is no ``file_path``)::

    *** Begin Patch
    *** Update File: services/api/app.py
    *** Move to: services/api/main.py
    @@
    -old
    +new
    *** Add File: docs/new.md
    +text
    *** Delete File: old.txt
    *** End Patch

A move writes both sides: the old path is deleted and the new one created, so
both must be in the lane. Anything that is not an envelope, or a file header
with no path, is an error: the hook denies what it cannot read.
"""
from __future__ import annotations

from dataclasses import dataclass

BEGIN = "*** Begin Patch"
END = "*** End Patch"
_HEADERS = {
    "*** Add File: ": "add",
    "*** Update File: ": "update",
    "*** Delete File: ": "delete",
    "*** Move to: ": "move to",
}


class PatchError(ValueError):
    """The text is not an apply_patch envelope lanewarden can read."""


@dataclass(frozen=True)
class Touch:
    path: str
    action: str  # add, update, delete, move from, move to


def looks_like_patch(text: str) -> bool:
    return text.lstrip().startswith(BEGIN)


def touched(text: str) -> list[Touch]:
    """Every path the envelope writes, in order; both sides of a move."""
    lines = text.strip().splitlines()
    if not lines or lines[0].strip() != BEGIN:
        raise PatchError(f"not an apply_patch envelope (it must start with {BEGIN!r})")
    if lines[-1].strip() != END:
        raise PatchError(f"the apply_patch envelope does not end with {END!r}")
    out: list[Touch] = []
    for line in lines[1:-1]:
        for prefix, action in _HEADERS.items():
            if line.startswith(prefix):
                path = line[len(prefix):].strip()
                if not path:
                    raise PatchError(f"{prefix.strip()} names no file")
                if action == "move to":
                    if not out or out[-1].action != "update":
                        raise PatchError("*** Move to: must follow an *** Update File: header")
                    out[-1] = Touch(out[-1].path, "move from")
                out.append(Touch(path, action))
                break
    if not out:
        raise PatchError("the apply_patch envelope names no file")
    return out
