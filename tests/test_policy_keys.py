"""The policy's one declaration (``workers/policy.py``) and everything derived from it.

Every test here walks the declaration rather than naming keys, so a key added
there is covered at once: it gets a sample value in a complete document (the
fast check and pydantic must agree on it), typo suggestions where it lives,
pattern and reference checks if its kind asks for them, a JSON Schema entry
with its documentation, and a row in docs/policy.md that must match.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import random
from typing import Any

import pytest
import test_policy_model as agreement
import yaml

from conftest import CHECKOUT, lanewarden
from lanewarden.workers import keys, kinds
from lanewarden.workers.errors import PolicyError
from lanewarden.workers.keys import Key, keys_of
from lanewarden.workers.kinds import Kind
from lanewarden.workers.loader import parse
from lanewarden.workers.policy import DECIDING_FIELDS, PATTERN_FIELDS, Policy, Worker, strict_policy
from lanewarden.workers.policydiff import PolicyDiff
from lanewarden.workers.trie import FIELDS

WORKER = "a"
# One valid sample per kind; a new kind must add one (test_every_kind_has_a_sample says so).
SAMPLES: dict[type[Kind], Any] = {
    kinds.Text: "some text", kinds.Folder: "services/a", kinds.Flag: True, kinds.Count: 3, kinds.Version: 1,
    kinds.Ref: WORKER, kinds.Strings: ["tool", "--flag"], kinds.Patterns: ["services/a/**"], kinds.Refs: [WORKER],
    kinds.Choice: "github", kinds.RefMap: {"@org/team-a": WORKER},
}
# How docs/policy.md's key table names each kind.
LABELS: dict[type[Kind], str] = {
    kinds.Text: "text", kinds.Folder: "folder", kinds.Flag: "true/false", kinds.Count: "number >= 1",
    kinds.Version: "`1`", kinds.Ref: "worker id", kinds.Strings: "strings", kinds.Patterns: "patterns",
    kinds.Refs: "worker ids", kinds.Section: "map", kinds.Table: "map of ids to maps",
    kinds.Choice: "one word of a closed set", kinds.RefMap: "map of names to worker ids",
}


def _full(cls: type[Any]) -> dict[str, Any]:
    """A document with every declared key set to a sample value, nested maps included."""
    out: dict[str, Any] = {}
    for k in keys_of(cls):
        if isinstance(k.kind, kinds.Section):
            out[k.name] = _full(k.kind.cls)
        elif isinstance(k.kind, kinds.Table):
            out[k.name] = {WORKER: _full(k.kind.cls)}
        elif isinstance(k.kind, kinds.Choice):
            out[k.name] = k.kind.choices[-1]  # the last: never the default, so it must be read
        else:
            out[k.name] = copy.deepcopy(SAMPLES[type(k.kind)])
    return out


FULL = _full(Policy)
# ownership.rules is CODEOWNERS text the loader reads line by line: a real rule with a mapped owner.
FULL["ownership"]["rules"] = "/services/a/ @org/team-a\n"


def _maps(cls: type[Any], loc: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], type[Any]]]:
    """Every map of the declaration with its place in FULL (tables at their one item)."""
    out = [(loc, cls)]
    for k in keys_of(cls):
        if isinstance(k.kind, kinds.Section):
            out += _maps(k.kind.cls, (*loc, k.name))
        elif isinstance(k.kind, kinds.Table):
            out += _maps(k.kind.cls, (*loc, k.name, WORKER))
    return out


MAPS = _maps(Policy)
ALL_KEYS = [(loc, k) for loc, cls in MAPS for k in keys_of(cls)]


def _at(doc: dict[str, Any], loc: tuple[str, ...]) -> dict[str, Any]:
    for part in loc:
        doc = doc[part]
    return doc


def _problems(doc: dict[str, Any]) -> list[str]:
    try:
        parse(yaml.safe_dump(doc, sort_keys=False).encode("utf-8"), "p.yaml")
    except PolicyError as exc:
        return [f"{p.key}: {p.message}" for p in exc.problems]
    return []


def _kinds() -> set[type[Kind]]:
    found: set[type[Kind]] = set()
    todo = [Kind]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return found


def test_every_kind_has_a_sample_and_a_label() -> None:
    nested = {kinds.Section, kinds.Table}
    assert _kinds() - nested <= set(SAMPLES), "add a sample value for the new kind to SAMPLES"
    assert _kinds() <= set(LABELS), "add the new kind's name in docs/policy.md to LABELS"


def test_the_complete_document_takes_the_fast_path_and_matches_pydantic() -> None:
    assert _problems(FULL) == []
    fast = strict_policy(FULL)
    assert fast is not None
    assert fast == agreement._schema(FULL)


def test_an_empty_lane_gets_the_declared_defaults_on_both_paths() -> None:
    doc = {"version": 1, "root": WORKER, "workers": {WORKER: {}}}
    fast = strict_policy(doc)
    assert fast is not None and fast == agreement._schema(doc)
    assert fast.workers[WORKER] == Worker()


@pytest.mark.parametrize("seed", range(2))
def test_fuzzed_complete_documents_agree(seed: int) -> None:
    # Mutations of a document that holds every declared key: a new key is fuzzed from the start.
    rng = random.Random(20261202 + seed)
    for _ in range(500):
        doc: Any = FULL
        for _ in range(rng.randint(1, 3)):
            doc = agreement._mutate(rng, doc)
        agreement._agree(doc)


@pytest.mark.parametrize(("loc", "k"), [pytest.param(loc, k, id=".".join((*loc, k.name))) for loc, k in ALL_KEYS])
def test_a_misspelt_key_is_reported_with_the_declared_one(loc: tuple[str, ...], k: Key) -> None:
    doc = copy.deepcopy(FULL)
    place = _at(doc, loc)
    place[k.name + k.name[-1]] = place.pop(k.name)
    wanted = f"unknown key {k.name + k.name[-1]!r}; did you mean {k.name!r}?"
    assert any(wanted in p for p in _problems(doc)), _problems(doc)


@pytest.mark.parametrize(("loc", "k"), [pytest.param(loc, k, id=".".join((*loc, k.name))) for loc, k in ALL_KEYS
                                        if isinstance(k.kind, (kinds.Patterns, kinds.Folder))])
def test_paths_are_checked_wherever_the_declaration_puts_them(loc: tuple[str, ...], k: Key) -> None:
    doc = copy.deepcopy(FULL)
    bad = "services/../x"
    _at(doc, loc)[k.name] = bad if isinstance(k.kind, kinds.Folder) else [bad]
    where = ".".join((*loc, k.name)) + ("" if isinstance(k.kind, kinds.Folder) else "[0]")
    assert any(p.startswith(f"{where}: ") and "'..'" in p for p in _problems(doc)), _problems(doc)


@pytest.mark.parametrize(("loc", "k"), [pytest.param(loc, k, id=".".join((*loc, k.name))) for loc, k in ALL_KEYS
                                        if isinstance(k.kind, (kinds.Ref, kinds.Refs))])
def test_worker_references_are_checked_wherever_the_declaration_puts_them(loc: tuple[str, ...], k: Key) -> None:
    doc = copy.deepcopy(FULL)
    _at(doc, loc)[k.name] = "b" if isinstance(k.kind, kinds.Ref) else [WORKER, "b"]
    where = ".".join((*loc, k.name)) + ("" if isinstance(k.kind, kinds.Ref) else "[1]")
    assert any(p.startswith(f"{where}: ") and "'b'" in p and "worker" in p for p in _problems(doc)), _problems(doc)


def test_field_types_say_what_the_kinds_hold() -> None:
    # The annotation is for mypy, the kind for the checks: they must describe the same value.
    def expected(kind: Kind) -> str:
        if isinstance(kind, kinds.Section):
            return kind.cls.__name__
        if isinstance(kind, kinds.Table):
            return f"dict[str, {kind.cls.__name__}]"
        if isinstance(kind, (kinds.Strings, kinds.Refs)):
            return "tuple[str, ...]"
        if isinstance(kind, kinds.RefMap):
            return "dict[str, str]"
        return {kinds.Flag: "bool", kinds.Count: "int", kinds.Version: "int"}.get(type(kind), "str")

    for _, cls in MAPS:
        for f, k in zip(dataclasses.fields(cls), keys_of(cls), strict=True):
            assert f.type == expected(k.kind) + (" | None" if k.nullable else ""), f"{cls.__name__}.{f.name}"


def test_pattern_key_lists_are_the_declared_ones() -> None:
    assert set(FIELDS) == set(PATTERN_FIELDS) and len(FIELDS) == len(PATTERN_FIELDS)
    assert FIELDS[:len(DECIDING_FIELDS)] == DECIDING_FIELDS
    # OwnershipIndex.standing_from turns exactly these four into a class: a new deciding
    # pattern key needs a rule there, not only a line in the declaration.
    assert DECIDING_FIELDS == ("allow", "deny", "propose_only", "handoff_required_on")


def test_policy_diff_compares_every_table_of_ids() -> None:
    # PolicyDiff's JSON is recorded in the ledger, so its shape is written out, not derived: a new
    # table of ids must get its own added/removed/changed field there.
    tables = {k.name for k in keys_of(Policy) if isinstance(k.kind, kinds.Table)} - {"workers"}
    assert tables <= {f.name for f in dataclasses.fields(PolicyDiff)}


def test_only_declared_keys_make_a_policy_map() -> None:
    class Undeclared:
        name: str = "x"

    with pytest.raises(TypeError, match=r"Undeclared\.name"):
        keys.section(Undeclared)


def test_json_schema_documents_every_key() -> None:
    result = lanewarden("policy", "schema")
    assert result.exit_code == 0, result.stderr
    schema = json.loads(result.stdout)
    for _, cls in MAPS:
        model = schema if cls is Policy else schema["$defs"][cls.__name__]
        assert list(model["properties"]) == [k.name for k in keys_of(cls)]
        assert sorted(model.get("required", [])) == sorted(k.name for k in keys_of(cls) if k.required)
        for k in keys_of(cls):
            assert model["properties"][k.name]["description"] == k.doc


def _default(k: Key) -> str:
    if k.required:
        return "required"
    if k.default is None:
        return "none"
    if isinstance(k.kind, (kinds.Section, kinds.Table)):
        return "`{}`"
    return f"`{json.dumps(list(k.default) if isinstance(k.default, tuple) else k.default)}`"


def _label(k: Key) -> str:
    label = LABELS[type(k.kind)]
    return f"non-empty {label}" if getattr(k.kind, "non_empty", False) else label


def reference(cls: type[Any] = Policy, loc: tuple[str, ...] = ()) -> list[str]:
    """docs/policy.md's key table, as the declaration says it (nested keys right under their map)."""
    rows = ["| key | holds | default | what it is for |", "|---|---|---|---|"] if not loc else []
    for k in keys_of(cls):
        path = (*loc, k.name)
        rows.append(f"| `{'.'.join(path)}` | {_label(k)} | {_default(k)} | {k.doc} |")
        if isinstance(k.kind, kinds.Section):
            rows += reference(k.kind.cls, path)
        elif isinstance(k.kind, kinds.Table):
            rows += reference(k.kind.cls, (*path, "<id>"))
    return rows


def test_docs_list_every_key_as_declared() -> None:
    docs = (CHECKOUT / "docs" / "policy.md").read_text(encoding="utf-8")
    table = "\n".join(reference())
    assert table in docs, f"docs/policy.md's key table differs from workers/policy.py; it should read:\n{table}"


if __name__ == "__main__":
    print("\n".join(reference()))
