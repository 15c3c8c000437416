"""Who may write a path, who owns it, and which rule decided.

Every pattern is filed in a trie under its wildcard-free directory prefix
(``services/wallet-api/**`` under ``services/wallet-api``), so a path is
only tested against the patterns filed along its own directories: a policy of
thousands of workers costs a few pattern tests per path, not thousands.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import Enum
from typing import TYPE_CHECKING, Any

from lanewarden.workers.pattern import Pattern, compile_pattern
from lanewarden.workers.policy import DECIDING_FIELDS, PATTERN_FIELDS

if TYPE_CHECKING:
    from lanewarden.workers.policy import Policy


class PathClass(str, Enum):
    """How a path stands for one worker."""

    WRITABLE = "writable"
    PROPOSE_ONLY = "propose_only"
    HANDOFF_REQUIRED = "handoff_required"
    OUT_OF_SCOPE = "out_of_scope"
    PROTECTED = "protected"
    SHARED_APPEND = "shared_append"  # lines added to a shared append-only file: open to every worker


# Every pattern key of a worker, those that decide a class first; read_hints are indexed too
# (for lints and context packs), but never decide a class.
FIELDS = DECIDING_FIELDS + tuple(f for f in PATTERN_FIELDS if f not in DECIDING_FIELDS)


@dataclass(frozen=True)
class Rule:
    """One pattern of one worker's field, with its position for messages."""

    worker: str
    field: str
    index: int
    pattern: Pattern
    label: str = dataclass_field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Rendered once: verdicts quote the deciding rule for every path.
        object.__setattr__(self, "label", f"workers.{self.worker}.{self.field}[{self.index}] {self.pattern.text!r}")

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class Standing:
    """A path's class for one worker and the rule that decided it."""

    path_class: PathClass
    rule: str
    allow: Rule | None


@dataclass(frozen=True)
class Explanation:
    path: str
    writers: tuple[str, ...]
    owner: str
    rule: str
    tie: tuple[str, ...]
    standing: Standing | None
    worker: str | None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "writers": list(self.writers),
                               "owner": self.owner, "rule": self.rule}
        if self.tie:
            out["tie"] = list(self.tie)
        if self.standing is not None:
            out["worker"] = self.worker
            out["class"] = self.standing.path_class.value
            out["class_rule"] = self.standing.rule
        return out


class _Node:
    __slots__ = ("children", "rules")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.rules: list[Rule] = []


class OwnershipIndex:
    """The policy's patterns, indexed by literal directory prefix."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.root_worker = policy.root
        self._trie = _Node()
        self._folders: dict[str, tuple[_Node | None, list[Rule]]] = {}
        self.rules: list[Rule] = []
        for wid, worker in policy.workers.items():
            for fld in FIELDS:
                for i, text in enumerate(getattr(worker, fld)):
                    rule = Rule(wid, fld, i, compile_pattern(text))
                    self.rules.append(rule)
                    node = self._trie
                    for part in rule.pattern.dirs:
                        node = node.children.setdefault(part, _Node())
                    node.rules.append(rule)

    def folder(self, folder: str) -> tuple[_Node | None, list[Rule]]:
        """The trie node of ``folder`` (None when no pattern lives below it) and the rules on the way."""
        cached = self._folders.get(folder)
        if cached is None:
            node: _Node | None = self._trie
            rules = list(self._trie.rules)
            for part in folder.split("/") if folder else ():
                assert node is not None
                node = node.children.get(part)
                if node is None:
                    break
                rules.extend(node.rules)
            cached = self._folders[folder] = (node, rules)
        return cached

    def candidates(self, path: str) -> list[Rule]:
        """Rules whose directory prefix contains ``path`` (the only ones that can match)."""
        node = self._trie
        out = list(node.rules)
        for part in path.split("/"):
            child = node.children.get(part)
            if child is None:
                break
            node = child
            out.extend(node.rules)
        return out

    def matching(self, path: str, candidates: list[Rule] | None = None) -> list[Rule]:
        rules = self.candidates(path) if candidates is None else candidates
        return [rule for rule in rules if rule.pattern.matches(path)]

    def hits(self, path: str, matching: list[Rule] | None = None) -> dict[str, dict[str, Rule]]:
        """worker -> field -> the most specific matching rule."""
        found: dict[str, dict[str, Rule]] = {}
        for rule in self.matching(path) if matching is None else matching:
            fields = found.setdefault(rule.worker, {})
            best = fields.get(rule.field)
            if best is None or rule.pattern.specificity > best.pattern.specificity:
                fields[rule.field] = rule
        return found

    @staticmethod
    def standing_from(fields: dict[str, Rule]) -> Standing:
        allow, deny = fields.get("allow"), fields.get("deny")
        proposal, review = fields.get("propose_only"), fields.get("handoff_required_on")
        if allow is not None and deny is None and proposal is None:
            if review is not None:
                return Standing(PathClass.HANDOFF_REQUIRED, review.label, allow)
            return Standing(PathClass.WRITABLE, allow.label, allow)
        if proposal is not None:
            return Standing(PathClass.PROPOSE_ONLY, proposal.label, None)
        if deny is not None:
            return Standing(PathClass.OUT_OF_SCOPE, deny.label, None)
        return Standing(PathClass.OUT_OF_SCOPE, "no allow pattern matches", None)

    def standing(self, path: str, worker: str) -> Standing:
        return self.standing_from(self.hits(path).get(worker, {}))

    def explain(self, path: str, worker: str | None = None,
                hits: dict[str, dict[str, Rule]] | None = None) -> Explanation:
        if hits is None:
            hits = self.hits(path)
        writers: list[tuple[int, str, Rule]] = []
        for wid, fields in hits.items():
            st = self.standing_from(fields)
            if st.allow is not None:
                writers.append((st.allow.pattern.specificity, wid, st.allow))
        writers.sort(key=lambda w: (-w[0], w[1]))
        if writers:
            top = writers[0][0]
            tie = tuple(w[1] for w in writers if w[0] == top)
            owner, rule = writers[0][1], str(writers[0][2])
            if len(tie) < 2:
                tie = ()
        else:
            owner, rule, tie = self.root_worker, f"unowned: routes to root worker {self.root_worker!r}", ()
        standing = self.standing_from(hits.get(worker, {})) if worker is not None else None
        return Explanation(path=path, writers=tuple(sorted(w[1] for w in writers)), owner=owner,
                           rule=rule, tie=tie, standing=standing, worker=worker)

    def owner(self, path: str) -> str:
        return self.explain(path).owner

    def owner_from(self, hits: dict[str, dict[str, Rule]]) -> str:
        """The owner as :meth:`explain` decides it, without building an explanation."""
        best, best_spec = "", -1
        for wid, fields in hits.items():
            allow = fields.get("allow")
            if allow is None or "deny" in fields or "propose_only" in fields:
                continue
            spec = allow.pattern.specificity
            if spec > best_spec or (spec == best_spec and wid < best):
                best, best_spec = wid, spec
        return best or self.root_worker
