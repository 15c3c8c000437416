"""Who may write a path, who owns it, and which rule decided.

Every pattern is filed in a trie under its wildcard-free directory prefix
(``services/wallet-api/**`` under ``services/wallet-api``, ``workers/trie.py``),
so a path is only tested against the patterns filed along its own directories:
a policy of thousands of workers costs a few pattern tests per path, not
thousands. A path in a worker's lane is checked once more case- and
Unicode-folded (``workers/folding.py``), through the same trie seen folded.

Ordered ownership rules (``ownership:``, CODEOWNERS) are decided by their own
index (``workers/ruleindex.py``) and join the answer as the field ``owns``:
the owners of the deciding rule of each required section may write the path
as if ``allow`` matched it. ``deny`` and ``propose_only`` still win over it
(a rule never widens past a worker's own carve-outs), and an ``allow``
writer is the owner before any rule's owner (explicit lanes first).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from lanewarden.workers.folding import FoldedNode, fold, folds
from lanewarden.workers.trie import FIELDS, OWNS, Node, Pending, Rule, rules_along

if TYPE_CHECKING:
    from lanewarden.workers.policy import Policy
    from lanewarden.workers.ruleindex import Decided, OrderedIndex


class PathClass(str, Enum):
    """How a path stands for one worker."""

    WRITABLE = "writable"
    PROPOSE_ONLY = "propose_only"
    HANDOFF_REQUIRED = "handoff_required"
    OUT_OF_SCOPE = "out_of_scope"
    PROTECTED = "protected"
    SHARED_APPEND = "shared_append"  # lines added to a shared append-only file: open to every worker


_IN_LANE = (PathClass.WRITABLE, PathClass.HANDOFF_REQUIRED)


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
    codeowners: tuple[dict[str, Any], ...] = ()  # each section's deciding rule, review metadata included

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "writers": list(self.writers),
                               "owner": self.owner, "rule": self.rule}
        if self.tie:
            out["tie"] = list(self.tie)
        if self.codeowners:
            out["codeowners"] = list(self.codeowners)
        if self.standing is not None:
            out["worker"] = self.worker
            out["class"] = self.standing.path_class.value
            out["class_rule"] = self.standing.rule
        return out


class OwnershipIndex:
    """The policy's patterns, indexed by literal directory prefix."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.root_worker = policy.root
        self._folders: dict[str, tuple[Node | None, list[Rule]]] = {}
        self._folded: FoldedNode | None = None
        self._patterns_fold: bool | None = None
        self._rules: list[Rule] | None = None
        self._entries: list[Pending] = [(tuple(text.rstrip("/").split("/")), text, wid, fld, i)
                                        for wid, worker in policy.workers.items() for fld in FIELDS
                                        for i, text in enumerate(getattr(worker, fld))]
        self._trie = Node(pending=self._entries)  # expanded as paths enter it; the list stays whole
        # Ordered rules are imported only by policies that hold some: the guard's start-up stays lean.
        self.ordered: OrderedIndex | None = None
        if policy.ownership.rules.strip() and policy.ownership.parsed.rules:
            from lanewarden.workers.ruleindex import OrderedIndex

            self.ordered = OrderedIndex(policy.ownership)
        self._owns: dict[tuple[int, str], list[Rule]] = {}

    @property
    def rules(self) -> list[Rule]:
        """Every rule in the policy's order (compiles them all: for lint and explain -, not the guard)."""
        if self._rules is None:
            order = {(r.worker, r.field, r.index): r for r in self._trie.every_rule()}
            self._rules = [order[(wid, fld, i)] for wid, worker in self.policy.workers.items()
                           for fld in FIELDS for i in range(len(getattr(worker, fld)))]
        return self._rules

    def _label(self, decided: Decided) -> str:
        rule = decided.rule.rule
        where = f"{self.policy.ownership.source or 'CODEOWNERS'}:{rule.line}" if rule.line else "CODEOWNERS"
        section = f" [{decided.section}]" if decided.section else ""
        return f"ownership {where}{section} {rule.pattern!r}"

    def owns(self, path: str) -> list[Rule]:
        """One ``owns`` hit per owner of each required section's deciding rule (last match wins)."""
        if self.ordered is None:
            return []
        out: list[Rule] = []
        for decided in self.ordered.decide(path):
            if decided.excluded or self.ordered.optional(decided.section):
                continue
            compiled = decided.rule
            key = (compiled.position, decided.section)
            hits = self._owns.get(key)
            if hits is None:
                label = self._label(decided)
                workers = dict.fromkeys(w for w in map(self.policy.ownership.worker_of, compiled.rule.owners) if w)
                hits = self._owns[key] = [
                    Rule(owner, OWNS, compiled.position, compiled.shown, note=label, rank=-i)
                    for i, owner in enumerate(workers)]
            out.extend(hits)
        return out

    def codeowners(self, path: str) -> tuple[dict[str, Any], ...]:
        """Every section's answer for ``path``, for people: what maps to lanes and what is review-only."""
        if self.ordered is None:
            return ()
        out = []
        for decided in self.ordered.decide(path):
            rule = decided.rule.rule
            meta = self.ordered.sections.get(decided.section)
            owners = [] if decided.excluded else [self.policy.ownership.parsed.spelling.get(o, o) for o in rule.owners]
            item: dict[str, Any] = {"section": decided.section or None, "line": rule.line, "pattern": rule.pattern,
                                    "owners": owners,
                                    "workers": [self.policy.ownership.worker_of(o) for o in rule.owners]
                                    if not decided.excluded else []}
            if decided.excluded:
                item["excluded"] = True
            if meta is not None:
                item["optional"] = meta.optional
                if meta.approvals:
                    item["approvals"] = meta.approvals
            item["lane"] = not decided.excluded and not (meta is not None and meta.optional) and bool(rule.owners)
            out.append(item)
        return tuple(out)

    def folder(self, folder: str) -> tuple[Node | None, list[Rule]]:
        """The trie node of ``folder`` (None when no pattern lives below it) and the rules on the way."""
        cached = self._folders.get(folder)
        if cached is None:
            node: Node | None = self._trie
            rules = list(self._trie.rules)
            for part in folder.split("/") if folder else ():
                assert node is not None
                node = node.child(part)
                if node is None:
                    break
                rules.extend(node.rules)
            cached = self._folders[folder] = (node, rules)
        return cached

    def candidates(self, path: str) -> list[Rule]:
        """Rules whose directory prefix contains ``path`` (the only ones that can match)."""
        return rules_along(self._trie, path)

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
        if self.ordered is not None:
            for rule in self.owns(path):
                fields = found.setdefault(rule.worker, {})
                best = fields.get(OWNS)
                if best is None or rule.index > best.index:
                    fields[OWNS] = rule  # several sections: the one decided by the later line
        return found

    @staticmethod
    def standing_from(fields: dict[str, Rule]) -> Standing:
        allow, deny = fields.get("allow") or fields.get(OWNS), fields.get("deny")
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
        ruled: list[tuple[int, int, str, Rule]] = []
        for wid, fields in hits.items():
            st = self.standing_from(fields)
            if st.allow is not None and st.allow.field == OWNS:
                ruled.append((st.allow.index, st.allow.rank, wid, st.allow))
            elif st.allow is not None:
                writers.append((st.allow.pattern.specificity, wid, st.allow))
        writers.sort(key=lambda w: (-w[0], w[1]))
        everyone = tuple(sorted([w[1] for w in writers] + [r[2] for r in ruled]))
        codeowners = self.codeowners(path)
        if not writers and ruled:
            # No explicit lane: the latest deciding line routes, to its first-listed owner.
            best = max(ruled)
            standing = self.standing_from(hits.get(worker, {})) if worker is not None else None
            return Explanation(path=path, writers=everyone, owner=best[2], rule=best[3].label, tie=(),
                               standing=standing, worker=worker, codeowners=codeowners)
        if writers:
            top = writers[0][0]
            tie = tuple(w[1] for w in writers if w[0] == top)
            owner, rule = writers[0][1], str(writers[0][2])
            if len(tie) < 2:
                tie = ()
        else:
            owner, rule, tie = self.root_worker, f"unowned: routes to root worker {self.root_worker!r}", ()
            said = [c for c in codeowners if not c["lane"]]
            if said and not any(c["lane"] for c in codeowners):
                last = said[-1]
                why = ("excluded by" if last.get("excluded") else "optional section:" if last.get("optional")
                       else "no owners on")
                rule = (f"unowned ({why} {self.policy.ownership.source or 'CODEOWNERS'}:{last['line']} "
                        f"{last['pattern']!r}): routes to root worker {self.root_worker!r}")
        standing = self.standing_from(hits.get(worker, {})) if worker is not None else None
        if worker is not None and standing is not None and standing.path_class in _IN_LANE:
            collided = self.collision(path, worker)  # what the guard will say about a folded collision
            if collided is not None:
                standing = collided[0]
        return Explanation(path=path, writers=everyone, owner=owner,
                           rule=rule, tie=tie, standing=standing, worker=worker, codeowners=codeowners)

    # -- case and Unicode folding (workers/folding.py) -------------------------------

    @property
    def patterns_fold(self) -> bool:
        """Whether any pattern changes when folded (then even an all-lowercase path needs the check)."""
        if self._patterns_fold is None:
            self._patterns_fold = folds(entry[1] for entry in self._entries)
        return self._patterns_fold

    def needs_fold_check(self, path: str) -> bool:
        """Cheap test first: an all-lowercase ASCII path against unfolding patterns cannot collide."""
        return self.patterns_fold or not path.isascii() or path.lower() != path

    def _folded_trie(self) -> FoldedNode:
        if self._folded is None:
            workers = {wid: i for i, wid in enumerate(self.policy.workers)}
            fields = {f: i for i, f in enumerate(FIELDS)}
            self._folded = FoldedNode([self._trie], lambda r: (workers[r.worker], fields[r.field], r.index))
        return self._folded

    def collision(self, path: str, worker: str) -> tuple[Standing, str] | None:
        """When ``path`` is in ``worker``'s lane but its fold is not: the standing that rejects it
        (out of scope, naming the rule it collides with) and who owns the folded path."""
        if not self.needs_fold_check(path):
            return None
        folded = fold(path)
        candidates = self._folded_trie().candidates(folded)
        # The same ordered rules (CODEOWNERS) decide the folded path, as they would on such a checkout.
        hits = self.hits(folded, [rule for rule in candidates if rule.pattern.matches(folded)])
        own = self.standing_from(hits.get(worker, {}))
        owner = self.owner_from(hits)
        if own.path_class not in _IN_LANE:
            return Standing(PathClass.OUT_OF_SCOPE, f"collides with {own.rule} when case/Unicode-folded",
                            None), owner
        if owner != worker and owner != self.owner_from(self.hits(path)):
            lane = hits[owner]["allow"].label
            return Standing(PathClass.OUT_OF_SCOPE,
                            f"collides with {owner}'s lane {lane} when case/Unicode-folded", None), owner
        return None

    def owner(self, path: str) -> str:
        return self.explain(path).owner

    def owners(self, paths: Iterable[str]) -> dict[str, str]:
        """path -> ``owner_from(hits(path))`` for many paths.

        A literal or ``dir/**`` pattern met on the way down to a folder matches every
        file in it alike, so it is matched once per folder; only wildcard patterns and
        patterns naming the file itself are matched file by file. (Which of two equally
        specific allow rules of one worker is kept does not change the owner.)
        """
        out: dict[str, str] = {}
        folders: dict[str, tuple[Node | None, list[Rule], list[Rule]]] = {}
        for path in paths:
            if self.ordered is not None:  # ordered rules (CODEOWNERS) decide file by file
                out[path] = self.owner_from(self.hits(path))
                continue
            folder, _, name = path.rpartition("/")
            known = folders.get(folder)
            if known is None:
                node, candidates = self.folder(folder)
                fixed = [r for r in candidates if not r.pattern.glob and r.pattern.matches(path)]
                known = folders[folder] = (node, fixed, [r for r in candidates if r.pattern.glob])
            node, fixed, globs = known
            extra = node.child(name) if node is not None else None
            per_file = globs + extra.rules if extra is not None else globs
            out[path] = self.owner_from(self.hits(path, fixed + [r for r in per_file if r.pattern.matches(path)]))
        return out

    def owner_from(self, hits: dict[str, dict[str, Rule]]) -> str:
        """The owner as :meth:`explain` decides it, without building an explanation."""
        best, best_spec = "", -1
        ruled: tuple[int, int, str] | None = None
        for wid, fields in hits.items():
            if "deny" in fields or "propose_only" in fields:
                continue
            allow = fields.get("allow")
            if allow is None:
                owns = fields.get(OWNS)
                if owns is not None and (ruled is None or (owns.index, owns.rank, wid) > ruled):
                    ruled = (owns.index, owns.rank, wid)
                continue
            spec = allow.pattern.specificity
            if spec > best_spec or (spec == best_spec and wid < best):
                best, best_spec = wid, spec
        if not best and ruled is not None:
            return ruled[2]
        return best or self.root_worker
