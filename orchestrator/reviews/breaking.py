"""Breaking changes: does a contract change break the services that consume it?

Each changed contract file is classified ``breaking``, ``compatible`` or
``unknown``, with the reasons: protobuf by ``proto_compat`` (parsed with
proto-schema-parser), OpenAPI by ``openapi_compat`` (PyYAML). A file no engine
reads, or one that does not parse, is ``unknown``: never ``compatible`` by
default. A file added is compatible (it removes nothing); a file deleted is
breaking.

The old and new text come from git: a range or branch from its base and head;
a handoff's proposal from its patch applied on its base in a scratch index.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from lanewarden.orchestrator.reviews.inputs import ChangeRef, Subject
from lanewarden.workers.git import Git

_PROSE = (".md", ".txt", ".rst")


class Compat(str, Enum):
    BREAKING = "breaking"
    COMPATIBLE = "compatible"
    UNKNOWN = "unknown"


_ORDER = {Compat.COMPATIBLE: 0, Compat.UNKNOWN: 1, Compat.BREAKING: 2}


@dataclass(frozen=True)
class Finding:
    """One contract file's change and what it does to consumers."""

    path: str
    compat: Compat
    engine: str | None  # protobuf | openapi | None (no engine applies)
    reasons: tuple[str, ...]
    source: str = ""  # where the change comes from (ChangeRef.describe())

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "class": self.compat.value, "engine": self.engine,
                "reasons": list(self.reasons), "source": self.source}


def worst(findings: tuple[Finding, ...] | list[Finding]) -> Compat | None:
    return max((f.compat for f in findings), key=_ORDER.__getitem__, default=None)


def classify(path: str, old: bytes | None, new: bytes | None) -> Finding:
    """Classify one file's change from its old and new bytes (None: absent)."""
    if old is None and new is None:
        return Finding(path, Compat.UNKNOWN, None, ("the file could not be read on either side",))
    if new is None:
        return Finding(path, Compat.BREAKING, None, ("contract file deleted",))
    if old is None:
        return Finding(path, Compat.COMPATIBLE, None, ("new contract file: it removes nothing",))
    old_text, new_text = old.decode("utf-8", "replace"), new.decode("utf-8", "replace")
    engine: str | None = None
    try:
        if path.endswith(".proto"):
            from lanewarden.orchestrator.reviews import proto_compat

            engine, found = "protobuf", proto_compat.compare(old_text, new_text)
        elif path.endswith((".yaml", ".yml", ".json")):
            from lanewarden.orchestrator.reviews import openapi_compat

            if not (openapi_compat.is_openapi(old_text) and openapi_compat.is_openapi(new_text)):
                return Finding(path, Compat.UNKNOWN, None, ("no engine for this file: not an OpenAPI document",))
            engine, found = "openapi", openapi_compat.compare(old_text, new_text)
        elif path.endswith(_PROSE):
            return Finding(path, Compat.COMPATIBLE, None, ("documentation, not an interface",))
        else:
            return Finding(path, Compat.UNKNOWN, None, (f"no engine reads {path.rsplit('/', 1)[-1]}",))
    except ValueError as exc:
        return Finding(path, Compat.UNKNOWN, engine, (f"cannot judge: {exc}",))
    except ImportError as exc:  # an engine's package missing from this install
        return Finding(path, Compat.UNKNOWN, engine, (f"engine not installed: {exc.name}",))
    if not found:
        return Finding(path, Compat.COMPATIBLE, engine, ("no change to the interface (comments or layout only)",))
    classes = [Compat(c) for c, _ in found]
    verdict = max(classes, key=_ORDER.__getitem__)
    # The reasons that decided first, then the rest.
    ordered = [r for c, r in found if Compat(c) == verdict] + [r for c, r in found if Compat(c) != verdict]
    return Finding(path, verdict, engine, tuple(ordered))


def findings(git: Git, subject: Subject, changes: list[ChangeRef]) -> tuple[Finding, ...]:
    """Classify changes (of one contract or many), each against the revisions its source names.

    The old and new text of every change are read with one ``cat-file --batch``.
    """
    by_id = {h.id: h for h in subject.handoffs}
    proposed: dict[str, tuple[str | None, str | None]] = {}
    out: list[Finding | tuple[ChangeRef, str, str]] = []
    for change in changes:
        old_rev, new_rev = subject.base, subject.head
        if change.source == "branch":
            new_rev = git.ref_value(f"refs/heads/{change.ref}")
        elif change.source == "handoff":
            h = by_id.get(change.ref)
            if h is None or not h.proposed_change:
                out.append(Finding(change.path, Compat.UNKNOWN, None,
                                   ("proposed without a patch: nothing to judge yet",), change.describe()))
                continue
            if h.id not in proposed:
                base = h.evidence.base or subject.base or subject.mapping_rev
                tree = git.tree_with_patch(base, h.proposed_change.encode("utf-8", "surrogateescape")) \
                    if base else None
                proposed[h.id] = (base, tree)
            old_rev, new_rev = proposed[h.id]
            if new_rev is None:
                out.append(Finding(change.path, Compat.UNKNOWN, None,
                                   ("the proposed patch does not apply on its base",), change.describe()))
                continue
        if new_rev is None or old_rev is None:
            out.append(Finding(change.path, Compat.UNKNOWN, None, ("no revisions to compare",), change.describe()))
            continue
        out.append((change, old_rev, new_rev))
    pending = [item for item in out if isinstance(item, tuple)]
    texts = iter(git.read_paths([f"{rev}:{c.path}" for c, old, new in pending for rev in (old, new)]))
    judged: list[Finding] = []
    for item in out:
        if isinstance(item, Finding):
            judged.append(item)
            continue
        change = item[0]
        found = classify(change.path, next(texts), next(texts))
        judged.append(Finding(found.path, found.compat, found.engine, found.reasons, change.describe()))
    return tuple(judged)
