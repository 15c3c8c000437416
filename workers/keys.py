"""Declaring policy keys, and everything derived from a declaration.

``workers/policy.py`` declares every key of the policy file once, as a field
of a frozen dataclass made with :func:`section` and :func:`key`: its kind
(``workers/kinds.py``), its default (none means required) and one line of
documentation. Nested maps are ``Section`` (one map, like ``budgets``) and
``Table`` (maps under ids, like ``workers``). From that one declaration come,
with no list of keys written anywhere else:

- :func:`strict`: the exact fast check the guard runs on every start (no pydantic);
- the pydantic models, error messages and JSON Schema (``workers/schema.py``);
- :func:`known`: the keys allowed at a place, for "did you mean" suggestions;
- :func:`visit`: every declared value of given kinds in a document, so the loader checks patterns,
  folders and worker references wherever the declaration puts them;
- :func:`pattern_keys`: which keys hold path patterns (ownership index, policy diff).

``tests/test_policy_keys.py`` walks the declaration to test all of it, so a new
key is covered the moment it is declared. Keep pydantic out of this module:
the guard's start-up depends on it.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from lanewarden.workers.kinds import Kind, Patterns, Section, Table, Unsure, is_id

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:  # typing has it from 3.11 only, and at run time it is only a marker for type checkers
    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda decorated: decorated

T = TypeVar("T")
Loc = tuple[Any, ...]
_META = "lanewarden.key"


# A plain class, not a dataclass: creating a dataclass costs a fraction of a millisecond per start.
class Key:
    """One declared key, as read back from its dataclass field."""

    __slots__ = ("default", "doc", "kind", "name", "nullable", "required")

    def __init__(self, name: str, kind: Kind, doc: str, default: Any) -> None:
        self.name = name
        self.kind = kind
        self.doc = doc
        self.default = default  # dataclasses.MISSING when required; a Table's is an empty dict
        self.required = default is dataclasses.MISSING
        self.nullable = default is None  # a key whose default is None also accepts an explicit null

    def __repr__(self) -> str:
        return f"Key({self.name!r}, {type(self.kind).__name__})"


def key(kind: Kind, doc: str, *, default: Any = dataclasses.MISSING,
        default_factory: Any = dataclasses.MISSING) -> Any:
    """Declare one policy key: what it holds, one line for people, and its default (none: required)."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata={_META: (kind, doc)})


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(key,))
def section(cls: type[T]) -> type[T]:
    """A map of the policy file: a frozen, keyword-only dataclass whose every field is a :func:`key`."""
    made: type[Any] = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
    for f in dataclasses.fields(made):
        if _META not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name}: declare policy keys with workers.keys.key()")
    return made


_KEYS: dict[type[Any], tuple[Key, ...]] = {}


def keys_of(cls: type[Any]) -> tuple[Key, ...]:
    """The declared keys of a map, in declaration order (the order docs and messages use)."""
    found = _KEYS.get(cls)
    if found is None:
        out = []
        for f in dataclasses.fields(cls):
            kind, doc = f.metadata[_META]
            default: Any = f.default
            if f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            out.append(Key(f.name, kind, doc, default))
        found = _KEYS[cls] = tuple(out)
    return found


def _check(k: Key) -> Callable[[Any], Any]:
    kind = k.kind
    fast = _builder(kind.cls) if isinstance(kind, Section) else _table(kind) if isinstance(kind, Table) else kind.fast
    if not k.nullable:
        return fast
    return lambda value: None if value is None else fast(value)


_BUILDERS: dict[type[Any], Callable[[Any], Any]] = {}


def _builder(cls: type[T]) -> Callable[[Any], T]:
    """The fast check of one map, compiled once: a dict of checks, no per-key interpretation."""
    found = _BUILDERS.get(cls)
    if found is not None:
        return found
    keys = keys_of(cls)
    checks = {k.name: _check(k) for k in keys}
    required = frozenset(k.name for k in keys if k.required)

    def build(value: Any) -> T:
        if type(value) is not dict or not value.keys() >= required:
            raise Unsure
        try:
            # Absent keys take the dataclass's own defaults: the declared ones.
            return cls(**{name: checks[name](item) for name, item in value.items()})
        except KeyError:  # a key the map does not declare (or not a string at all)
            raise Unsure from None

    _BUILDERS[cls] = build
    return build


def _table(kind: Table) -> Callable[[Any], Any]:
    build, non_empty = _builder(kind.cls), kind.non_empty

    def table(value: Any) -> Any:
        if type(value) is not dict or (non_empty and not value):
            raise Unsure
        out = {}
        for name, item in value.items():
            if not is_id(name):
                raise Unsure
            out[name] = build(item)
        return out

    return table


def strict(cls: type[T]) -> Callable[[Any], T | None]:
    """The exact fast check of a whole document: its values when ``data`` has the plain shape, else None."""
    build = _builder(cls)

    def check(data: Any) -> T | None:
        try:
            return build(data)
        except (Unsure, TypeError):
            return None

    return check


Visitor = Callable[[Loc, Key, Any], None]
# One step of a walk: the key's name, the key, the kind its visitor is filed under (None: only
# pass through), the steps of the nested map (empty: none worth entering), and whether that is a table.
_Step = tuple[str, Key, "type[Kind] | None", tuple[Any, ...], bool]
_PLANS: dict[tuple[type[Any], tuple[type[Kind], ...]], tuple[_Step, ...]] = {}


def visit(cls: type[Any], data: Any, visitors: dict[type[Kind], Visitor]) -> None:
    """Call ``visitors[kind](loc, key, raw value)`` for every declared key of those kinds in ``data``.

    ``data`` may have any shape: only mappings are entered, so the loader can
    check patterns and references next to the type errors pydantic reports.
    """
    _visit(_plan(cls, tuple(visitors)), data, visitors, ())


def _visit(plan: tuple[_Step, ...], data: Any, visitors: dict[type[Kind], Visitor], loc: Loc) -> None:
    if not isinstance(data, dict):
        return
    for name, k, filed, nested, table in plan:
        if name not in data:
            continue
        value, here = data[name], (*loc, name)
        if filed is not None:
            visitors[filed](here, k, value)
        if not nested:
            continue
        if not table:
            _visit(nested, value, visitors, here)
        elif isinstance(value, dict):
            for item_id, item in value.items():
                _visit(nested, item, visitors, (*here, item_id))


def _plan(cls: type[Any], kinds: tuple[type[Kind], ...]) -> tuple[_Step, ...]:
    """The keys of ``cls`` worth looking at: those of ``kinds`` and the maps that hold some (computed once)."""
    found = _PLANS.get((cls, kinds))
    if found is None:
        steps: list[_Step] = []
        for k in keys_of(cls):
            filed = next((kind for kind in kinds if isinstance(k.kind, kind)), None)
            nested = _plan(k.kind.cls, kinds) if isinstance(k.kind, (Section, Table)) else ()
            if filed is not None or nested:
                steps.append((k.name, k, filed, nested, isinstance(k.kind, Table)))
        found = _PLANS[(cls, kinds)] = tuple(steps)
    return found


def known(cls: type[Any], loc: Loc) -> tuple[str, ...]:
    """The keys declared for the map at ``loc`` (a key path), or () when ``loc`` is no declared map."""
    current, parts = cls, list(loc)
    while parts:
        name = parts.pop(0)
        found = next((k for k in keys_of(current) if k.name == name), None)
        if found is None:
            return ()
        if isinstance(found.kind, Section):
            current = found.kind.cls
        elif isinstance(found.kind, Table) and parts:
            parts.pop(0)  # the item's id
            current = found.kind.cls
        else:
            return ()
    return tuple(k.name for k in keys_of(current))


def pattern_keys(cls: type[Any], *, decides: bool | None = None) -> tuple[str, ...]:
    """The keys of ``cls`` that hold path patterns (only those that decide, or do not, if asked)."""
    return tuple(k.name for k in keys_of(cls) if isinstance(k.kind, Patterns)
                 and (decides is None or k.kind.decides is decides))
