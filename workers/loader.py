"""Load a policy and report every problem as ``FILE:LINE:COL: key.path: message``.

PyYAML keeps the last of duplicate keys and forgets where values came from,
so we compose the node tree ourselves, build plain data from it while noting
each value's position, let pydantic validate, and walk each error location
back through the positions. All problems are collected; none stops the others.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanewarden.workers import keys, kinds, pattern, policycache
from lanewarden.workers.errors import InputError, PolicyError, PolicyProblem
from lanewarden.workers.git import Git
from lanewarden.workers.layout import POLICY_FILE
from lanewarden.workers.policy import FLAVOURS, Policy, strict_policy

Loc = tuple[str | int, ...]
if TYPE_CHECKING:
    import yaml

_QUOTE_HINT = ("quote every pattern in YAML, e.g. allow: [\"services/api/**\"]: "
               "unquoted '*' starts an alias, '!' a tag and '#' a comment")


@dataclass
class _Marks:
    """Where each value (and each mapping key) sits in the file."""

    value: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    key: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def at(self, loc: Loc, *, prefer_key: bool = False) -> tuple[int, int]:
        """Position of the deepest part of ``loc`` that exists in the file."""
        parts = list(loc)
        while True:
            here = tuple(parts)
            if prefer_key and here in self.key:
                return self.key[here]
            if here in self.value:
                return self.value[here]
            if not parts:
                return (1, 1)
            parts.pop()


@dataclass(frozen=True)
class LoadedPolicy:
    """A valid policy with where it came from (for verdicts and errors)."""

    policy: Policy
    source: str  # "FILE" or "REV:lanewarden.yaml"
    origin: str  # "file" or "revision"
    rev: str | None
    sha256: str
    text: bytes
    marks: Mapping[Loc, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)

    def where(self, *loc: str | int) -> str:
        """``FILE:LINE:COL`` of a key path, for findings about a valid policy."""
        parts = list(loc)
        while parts and tuple(parts) not in self.marks:
            parts.pop()
        line, col = self.marks.get(tuple(parts), (1, 1))
        return f"{self.source}:{line}:{col}"


def _key_text(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


# YAML aliases can make a short file expand into billions of values ("billion laughs"); the
# guard parses the policy of a change under test, so the expansion is capped.
# Without aliases every value takes at least two bytes of text, so a cap that grows with the
# text never stops an honest policy (16,000 imported CODEOWNERS rules) and still stops an expansion.
MAX_VALUES = 200_000


def value_cap(text_size: int) -> int:
    return max(MAX_VALUES, text_size)


class _TooLarge(Exception):
    pass


class _Builder:
    def __init__(self, source: str, cap: int = MAX_VALUES) -> None:
        self.source = source
        self.cap = cap
        self.marks = _Marks()
        self.problems: list[PolicyProblem] = []
        # PyYAML is imported only to read a policy text: a cached policy (workers/policycache.py)
        # needs none of it, and it is the largest import of the guard's start.
        import yaml

        self._yaml = yaml
        self._constructor = yaml.SafeLoader("")
        self._values = 0

    def problem(self, pos: tuple[int, int], loc: Loc, message: str) -> None:
        found = PolicyProblem(self.source, pos[0], pos[1], _key_text(loc), message)
        if not any(str(p) == str(found) for p in self.problems):
            self.problems.append(found)

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self._values += 1
        if self._values > self.cap:
            raise _TooLarge
        pos = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.marks.value[loc] = pos
        if isinstance(node, self._yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build_scalar(key_node, loc)
                kpos = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    self.problem(kpos, loc, "mapping keys must be plain strings")
                    continue
                child = (*loc, key if isinstance(key, str) else str(key))
                if key in out:
                    first = self.marks.key.get(child, kpos)
                    self.problem(kpos, child, f"duplicate key {key!r} (first defined on line {first[0]}); "
                                              "YAML would silently keep only the last one")
                    continue
                self.marks.key[child] = kpos
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, self._yaml.SequenceNode):
            return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        return self.build_scalar(node, loc)

    def build_scalar(self, node: yaml.Node, loc: Loc) -> Any:
        if not isinstance(node, self._yaml.ScalarNode):
            return self.build(node, loc)
        if node.tag.startswith("!") and not node.tag.startswith("!!"):
            pos = (node.start_mark.line + 1, node.start_mark.column + 1)
            self.problem(pos, loc, f"YAML read {node.tag}{' ' + node.value if node.value else ''} "
                                   f"as a tag; {_QUOTE_HINT}")
            return f"{node.tag} {node.value}".strip()
        try:
            return self._constructor.construct_object(node, deep=True)
        except self._yaml.YAMLError as exc:
            pos = (node.start_mark.line + 1, node.start_mark.column + 1)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self.problem(pos, loc, f"cannot read this value: {problem}")
            return node.value


def parse(text: bytes, source: str) -> Policy:
    """Validate policy text; raise PolicyError listing every problem."""
    return _parse(text, source)[0]


def _parse(text: bytes, source: str, cache_dir: Path | None = None,
           sha256: str | None = None) -> tuple[Policy, Mapping[Loc, tuple[int, int]]]:
    if cache_dir is not None and sha256 is not None:
        hit = policycache.load(cache_dir, sha256)
        # The same strict check as a miss builds the Policy: the cache saves only the YAML read.
        policy = strict_policy(hit[0]) if hit is not None else None
        if hit is not None and policy is not None:
            return policy, hit[1]
    builder = _Builder(source, value_cap(len(text)))
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = PolicyProblem(source, 1, 1, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        raise PolicyError([problem]) from None
    yaml = builder._yaml
    try:
        # libyaml's composer keeps line and column marks and is many times faster.
        node = yaml.compose(decoded, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (exc.problem or str(exc)).strip()
        hint = ""
        bad_line = decoded.splitlines()[line - 1] if 0 < line <= len(decoded.splitlines()) else ""
        if any(c in bad_line for c in "*!&") or "alias" in what or "tag" in what:
            hint = f"; {_QUOTE_HINT}"
        raise PolicyError([PolicyProblem(source, line, col, "", f"YAML syntax error: {what}{hint}")]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([PolicyProblem(source, 1, 1, "", f"YAML error: {exc}")]) from None
    if node is None:
        raise PolicyError([PolicyProblem(source, 1, 1, "", "the policy file is empty; start from `lanewarden init`")])
    try:
        data = builder.build(node, ())
    except (_TooLarge, RecursionError):
        if "*" in decoded and "&" in decoded:
            why = f"the policy expands to more than {builder.cap} values through YAML aliases; a policy needs none"
        else:
            why = (f"the policy holds more than {builder.cap} values; keep CODEOWNERS rules in ownership.rules "
                   "(one text block) rather than one entry per pattern")
        raise PolicyError([PolicyProblem(source, 1, 1, "", why)]) from None
    if not isinstance(data, dict):
        builder.problem((1, 1), (), "the policy must be a mapping with version, root and workers")
        raise PolicyError(builder.problems)
    _check_values(data, builder)
    # The exact fast check first (derived from the declaration, no pydantic model); pydantic decides
    # and explains whenever the document is not of the plain shape, or has problems.
    policy = strict = strict_policy(data) if not builder.problems else None
    if policy is None:
        policy = _validate(data, builder)
    if builder.problems:
        raise PolicyError(builder.problems)
    assert policy is not None
    if cache_dir is not None and sha256 is not None and strict is not None:
        # Only data the strict check accepts is cached: a hit then never needs pydantic.
        policycache.store(cache_dir, sha256, data, builder.marks.value)
    return policy, builder.marks.value


def _validate(data: dict[str, Any], builder: _Builder) -> Policy | None:
    """Full validation with the pydantic schema; every error becomes a located problem."""
    from pydantic import ValidationError

    from lanewarden.workers.schema import Policy as Schema
    from lanewarden.workers.schema import to_policy

    try:
        return to_policy(Schema.model_validate(data))
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
            kind = err["type"]
            if kind == "missing":
                pos = builder.marks.at(loc[:-1], prefer_key=True)
                builder.problem(pos, loc, "required key is missing")
            elif kind == "extra_forbidden":
                pos = builder.marks.at(loc, prefer_key=True)
                builder.problem(pos, loc, f"unknown key {loc[-1]!r}{_suggest(loc, data)}")
            else:
                pos = builder.marks.at(_real_loc(loc, builder.marks))
                msg = err["msg"].replace("valid tuple", "list")
                if isinstance(err.get("input"), bool) and "string" in msg:
                    msg += " (YAML reads yes/no/on/off/true/false as booleans: quote it)"
                builder.problem(pos, _real_loc(loc, builder.marks), msg)
    return None


def _real_loc(loc: Loc, marks: _Marks) -> Loc:
    """Drop location parts pydantic adds that are not in the file (union tags, '[key]')."""
    out: list[str | int] = []
    for part in loc:
        candidate = (*out, part)
        if candidate in marks.value or candidate in marks.key:
            out.append(part)
    return tuple(out)


def _suggest(loc: Loc, data: Any) -> str:
    known = keys.known(Policy, loc[:-1])
    if not known:
        return ""
    import difflib  # only a broken policy needs suggestions: kept off the guard's start-up

    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"


def _check_values(data: dict[str, Any], b: _Builder) -> None:
    """Patterns, folders and worker references wherever the declaration puts them, on the raw data,
    so they show next to the type errors pydantic reports for the rest."""
    workers = data.get("workers")
    ids = set(workers) if isinstance(workers, dict) else set()
    # Policies repeat patterns (every worker's `propose_only: ["contracts/**"]`): check each text once.
    seen: dict[str, list[str]] = {}

    def patterns(loc: Loc, k: keys.Key, value: Any) -> None:
        if not isinstance(value, list):
            return
        for i, text in enumerate(value):
            if not isinstance(text, str):
                continue  # pydantic reports the type
            found = seen.get(text)
            if found is None:
                found = seen[text] = pattern.problems(text)
            for reason in found:
                b.problem(b.marks.at((*loc, i)), (*loc, i), f"pattern {text!r}: {reason}")

    def folder(loc: Loc, k: keys.Key, value: Any) -> None:
        if not isinstance(value, str):
            return
        bad = pattern.problems(value) + ([f"{k.name} is a folder, not a pattern"] if pattern.has_wildcard(value)
                                         else [])
        for reason in bad:
            b.problem(b.marks.at(loc), loc, reason)

    def ref(loc: Loc, k: keys.Key, value: Any) -> None:
        if isinstance(value, str) and ids and value not in ids:
            b.problem(b.marks.at(loc), loc,
                      f"{k.name} worker {value!r} is not defined under workers "
                      f"(add a worker {value!r}, or name one of: {', '.join(sorted(map(str, ids)))})")

    def refs(loc: Loc, k: keys.Key, value: Any) -> None:
        if not isinstance(value, list) or not ids:
            return
        for i, wid in enumerate(value):
            if isinstance(wid, str) and wid not in ids:
                at: Loc = (*loc, i)
                b.problem(b.marks.at(at), at, f"unknown worker {wid!r}{_close(wid, ids)}")

    def ref_map(loc: Loc, k: keys.Key, value: Any) -> None:
        if not isinstance(value, dict) or not ids:
            return
        for name, wid in value.items():
            if isinstance(wid, str) and wid not in ids:
                at: Loc = (*loc, str(name))
                b.problem(b.marks.at(at), at, f"unknown worker {wid!r}{_close(wid, ids)} "
                                              f"(each name under {k.name} maps to a worker id)")

    # Only kinds that need more than a type check: paths and worker references.
    keys.visit(Policy, data, {kinds.Patterns: patterns, kinds.Folder: folder, kinds.Ref: ref, kinds.Refs: refs,
                              kinds.RefMap: ref_map})
    _check_ownership(data.get("ownership"), b)


def _check_ownership(ownership: Any, b: _Builder) -> None:
    """Every line of the CODEOWNERS text must be an exact rule (or a comment), every owner mapped."""
    if not isinstance(ownership, dict) or not isinstance(ownership.get("rules"), str):
        return
    from lanewarden.workers.codeowners import read

    flavour = ownership.get("flavour", "github")
    parsed = read(ownership["rules"], flavour if flavour in FLAVOURS else "github")
    owners = ownership.get("owners")
    mapped = {str(k).lower() for k in owners} if isinstance(owners, dict) else set()
    loc: Loc = ("ownership", "rules")
    # A block scalar ('|') starts on the line after its indicator: CODEOWNERS line n is n lines below.
    top = b.marks.at(loc)[0]
    source = ownership.get("source") or "CODEOWNERS"
    for issue in parsed.issues:
        if issue.kind == "skipped":
            b.problem((top + issue.line, 1), loc, f"{source} line {issue.line} {issue.text!r}: {issue.reason}; "
                                                  "fix it, or comment it out with '#'")
    for rule in parsed.rules:
        for owner in rule.owners:
            if owner not in mapped:
                b.problem((top + (rule.line or 0), 1), loc,
                          f"{source} line {rule.line}: owner {parsed.spelling.get(owner, owner)!r} is not mapped to "
                          "a worker: add it under ownership.owners")
                mapped.add(owner)  # once per owner


def _close(word: str, known: set[Any]) -> str:
    import difflib

    close = difflib.get_close_matches(word, sorted(map(str, known)), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def policy_cache_dir(git: Git) -> Path:
    """Where parsed policies are cached (shared by a repository's worktrees)."""
    return git.common_dir / "lanewarden" / "cache"


def load_file(path: Path, *, cache_dir: Path | None = None) -> LoadedPolicy:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: policy file not found",
                         hint="create one with `lanewarden init`, or pass --policy FILE") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the policy file: {exc.strerror}") from None
    return _loaded(text, str(path), "file", None, cache_dir=cache_dir)


def load_revision(git: Git, rev: str, *, path: str = POLICY_FILE) -> LoadedPolicy:
    """The policy as committed in ``rev``: the trusted source for guards."""
    commit = git.resolve_commit(rev)
    text = git.read_file_at(commit, path)
    if text is None:
        raise InputError(f"{rev}:{path} does not exist: the revision has no committed policy",
                         hint=f"commit {path} first (lanewarden init writes a draft), "
                              "or pass --policy FILE for a dry run")
    return _loaded(text, f"{rev}:{path}", "revision", commit,
                   cache_dir=policy_cache_dir(git))


def _loaded(text: bytes, source: str, origin: str, rev: str | None, *,
            cache_dir: Path | None = None) -> LoadedPolicy:
    sha256 = hashlib.sha256(text).hexdigest()
    policy, marks = _parse(text, source, cache_dir, sha256)
    return LoadedPolicy(policy=policy, source=source, origin=origin, rev=rev,
                        sha256=sha256, text=text, marks=marks)
