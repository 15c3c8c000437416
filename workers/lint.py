"""``policy check`` lints: a valid policy that probably does not say what was meant.

Findings are warnings (exit 0) unless ``--strict``. All of them are computed
in one pass over the tracked files through the ownership index.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from lanewarden.workers.loader import LoadedPolicy
from lanewarden.workers.ownership import OwnershipIndex
from lanewarden.workers.trie import Rule


@dataclass(frozen=True)
class Finding:
    kind: str  # unmatched_pattern | overlap | tie | useless_deny | writable_read_hint | cwd_outside_allow
    where: str  # FILE:LINE:COL
    message: str

    def __str__(self) -> str:
        return f"{self.where}: warning[{self.kind}]: {self.message}"


def lint(loaded: LoadedPolicy, tracked: list[str]) -> list[Finding]:
    policy = loaded.policy
    index = OwnershipIndex(policy)
    matched: set[Rule] = set()
    overlaps: dict[tuple[str, ...], list[str]] = defaultdict(list)
    ties: dict[tuple[str, ...], list[str]] = defaultdict(list)
    denied_something: set[Rule] = set()
    writable_hints: dict[tuple[str, int], list[str]] = defaultdict(list)
    for path in tracked:
        rules = index.matching(path)
        matched.update(rules)
        hits = index.hits(path, rules)
        writers = []
        for wid, fields in hits.items():
            deny = fields.get("deny")
            if deny is not None and "allow" in fields:
                denied_something.add(deny)
            if index.standing_from(fields).allow is not None:
                writers.append(wid)
        if len(writers) > 1:
            overlaps[tuple(sorted(writers))].append(path)
            tie = index.explain(path).tie
            if tie:
                ties[tie].append(path)
        for rule in rules:
            if rule.field == "read_hints" and rule.worker in writers:
                writable_hints[(rule.worker, rule.index)].append(path)
    findings = [
        Finding("unmatched_pattern", loaded.where("workers", rule.worker, rule.field, rule.index),
                f"{rule} matches no tracked file (a typo, or a folder not created yet?)")
        for rule in index.rules if rule not in matched
    ]
    for rule in index.rules:
        if rule.field == "deny" and rule in matched and rule not in denied_something:
            findings.append(Finding("useless_deny", loaded.where("workers", rule.worker, "deny", rule.index),
                                    f"{rule} removes nothing from the worker's allow"))
    for workers, paths in sorted(overlaps.items()):
        findings.append(Finding("overlap", loaded.where("workers", workers[0]),
                                f"workers {', '.join(workers)} can all write {len(paths)} tracked file(s), "
                                f"e.g. {paths[0]!r}; the most specific pattern (else the latest "
                                "CODEOWNERS line) owns them"))
    for workers, paths in sorted(ties.items()):
        findings.append(Finding("tie", loaded.where("workers", workers[0]),
                                f"true ownership tie between {', '.join(workers)} on {len(paths)} file(s), "
                                f"e.g. {paths[0]!r}: equally specific patterns; make one more specific"))
    for (wid, i), paths in sorted(writable_hints.items()):
        findings.append(Finding("writable_read_hint", loaded.where("workers", wid, "read_hints", i),
                                f"read hint {policy.workers[wid].read_hints[i]!r} of {wid} covers "
                                f"{len(paths)} file(s) it can already write, e.g. {paths[0]!r}"))
    ruled = set(policy.ownership.owners.values()) if policy.ownership.parsed.rules else set()
    for wid, worker in policy.workers.items():
        if worker.cwd is None:
            continue
        cwd = tuple(worker.cwd.strip("/").split("/"))
        inside = any(rule.pattern.dirs[:len(cwd)] == cwd[:len(rule.pattern.dirs)]
                     for rule in index.rules if rule.worker == wid and rule.field == "allow")
        inside = inside or wid in ruled  # its lane comes from ordered ownership rules
        if not inside:
            findings.append(Finding("cwd_outside_allow", loaded.where("workers", wid, "cwd"),
                                    f"cwd {worker.cwd!r} of {wid} lies outside its allow patterns "
                                    "(cwd is only where it starts; the allowlist is the boundary)"))
    return findings
