"""What a guard compares: a commit range, the index, the work tree, or a patch on a base.

A module of its own, re-exported by ``guards/verdict.py`` (the verdict's contract names the
mode): a guard request and the change sources need it first, and the verdict's dataclasses,
which they do not, are imported once git is already reading the change.
"""
from __future__ import annotations

from enum import Enum


class Mode(str, Enum):
    """What a guard compares: a commit range, the index, the work tree, or a patch on a base."""

    RANGE = "range"
    STAGED = "staged"
    WORKTREE = "worktree"
    PATCH = "patch"

    @classmethod
    def parse(cls, text: str) -> Mode:
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"unknown guard mode {text!r} (one of: {', '.join(m.value for m in cls)})") from None
