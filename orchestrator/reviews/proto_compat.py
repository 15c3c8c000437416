"""Protobuf compatibility: what a change to a ``.proto`` file does to the programs built on it.

Parsed with ``proto-schema-parser`` (pure Python, an ANTLR grammar of the
protobuf language, installed with lanewarden: no protoc, node or network).
buf's ``breaking`` rules are the model (FIELD_NO_DELETE, FIELD_SAME_TYPE,
FIELD_SAME_CARDINALITY, RPC_NO_DELETE, ...); buf itself needs its own binary,
which a Python install cannot rely on.

Each file becomes a flat set of keys (a field is its message and number, a
method its service and name) with a signature; the two sets are compared.
A difference the rules below do not cover (options, extensions, an edition) is
``unknown``, never ``compatible``.
"""
from __future__ import annotations

from typing import Any

Signature = tuple[Any, ...]
Keys = dict[tuple[str, ...], Signature]


def _elements(node: Any) -> list[Any]:
    return list(getattr(node, "elements", None) or getattr(node, "file_elements", None) or [])


def _opts(node: Any) -> str:
    return repr(getattr(node, "options", None) or [])


def _message(msg: Any, prefix: str, keys: Keys, oneof: str | None = None) -> None:
    from proto_schema_parser import ast

    full = f"{prefix}.{msg.name}" if prefix else msg.name
    if oneof is None:
        keys[("message", full)] = ()
    for el in _elements(msg):
        if isinstance(el, ast.Field):
            card = el.cardinality.value.lower() if el.cardinality else "singular"
            keys[("field", full, str(el.number))] = (el.name, el.type, card, oneof, _opts(el))
        elif isinstance(el, ast.MapField):
            keys[("field", full, str(el.number))] = (el.name, f"map<{el.key_type},{el.value_type}>", "map",
                                                      oneof, _opts(el))
        elif isinstance(el, ast.OneOf):
            _message(el, full, keys, oneof=el.name)
            # a oneof's fields belong to the message, not to a nested one
            for k in [k for k in keys if k[0] == "field" and k[1] == f"{full}.{el.name}"]:
                keys[("field", full, k[2])] = keys.pop(k)
        elif isinstance(el, ast.Message):
            _message(el, full, keys)
        elif isinstance(el, ast.Enum):
            _enum(el, full, keys)
        elif isinstance(el, ast.Reserved):
            keys.setdefault(("reserved", full), ())
            keys[("reserved", full)] = (*keys[("reserved", full)], *map(str, el.ranges), *el.names)
        elif isinstance(el, ast.Comment):
            continue
        else:
            keys[("other", full, type(el).__name__, repr(el))] = ()


def _enum(enum: Any, prefix: str, keys: Keys) -> None:
    from proto_schema_parser import ast

    full = f"{prefix}.{enum.name}" if prefix else enum.name
    keys[("enum", full)] = ()
    for el in _elements(enum):
        if isinstance(el, ast.EnumValue):
            keys[("value", full, el.name)] = (el.number,)
        elif not isinstance(el, ast.Comment):
            keys[("other", full, type(el).__name__, repr(el))] = ()


def keys_of(text: str) -> Keys:
    """The comparable shape of one ``.proto`` file; ValueError when it does not parse."""
    from proto_schema_parser import ast
    from proto_schema_parser.parser import Parser

    try:
        parsed = Parser().parse(text)
    except Exception as exc:  # the parser raises its own (ANTLR) errors: any failure means "cannot judge"
        raise ValueError(f"does not parse: {exc}") from None
    keys: Keys = {("syntax",): (parsed.syntax, getattr(parsed, "edition", None))}
    for el in _elements(parsed):
        if isinstance(el, ast.Package):
            keys[("package",)] = (el.name,)
        elif isinstance(el, ast.Message):
            _message(el, "", keys)
        elif isinstance(el, ast.Enum):
            _enum(el, "", keys)
        elif isinstance(el, ast.Service):
            keys[("service", el.name)] = ()
            for m in _elements(el):
                if isinstance(m, ast.Method):
                    keys[("rpc", el.name, m.name)] = (m.input_type.type, m.input_type.stream,
                                                       m.output_type.type, m.output_type.stream)
        elif isinstance(el, ast.Import):
            keys[("import", repr(el))] = ()
        elif isinstance(el, ast.Option):
            keys[("option", el.name)] = (repr(el.value),)
        elif not isinstance(el, ast.Comment):
            keys[("other", type(el).__name__, repr(el))] = ()
    return keys


def _field_change(where: str, old: Signature, new: Signature) -> tuple[str, str]:
    (oname, otype, ocard, oone, oopts), (nname, ntype, ncard, none, nopts) = old, new
    if otype != ntype:
        return "breaking", f"{where}: type changed from {otype} to {ntype}"
    if ocard != ncard:
        return "breaking", f"{where}: cardinality changed from {ocard} to {ncard} (required/optional/repeated)"
    if oname != nname:
        return "breaking", f"{where}: renamed from {oname} to {nname} (JSON names and generated code change)"
    if oone != none:
        return "breaking", f"{where}: moved {'into oneof ' + str(none) if none else 'out of oneof ' + str(oone)}"
    return "unknown", f"{where}: field options changed ({oopts} -> {nopts}): not judged"


def compare(old_text: str, new_text: str) -> list[tuple[str, str]]:
    """``(class, reason)`` for every difference; class is breaking, compatible or unknown."""
    old, new = keys_of(old_text), keys_of(new_text)
    found: list[tuple[str, str]] = []
    reserved_new = {(k[1], v) for k, vs in new.items() if k[0] == "reserved" for v in vs}
    names_new = {(k[1], sig[0]): k[2] for k, sig in new.items() if k[0] == "field"}
    for key, sig in old.items():
        kind = key[0]
        if key not in new:
            if kind == "field":
                msg, num = key[1], key[2]
                moved = names_new.get((msg, sig[0]))
                if moved is not None:
                    found.append(("breaking", f"field {msg}.{sig[0]} renumbered from {num} to {moved}"))
                elif (msg, num) in reserved_new:
                    found.append(("compatible", f"field {msg}.{sig[0]} = {num} removed and its number reserved"))
                else:
                    found.append(("breaking", f"field {msg}.{sig[0]} = {num} removed"))
            elif kind in ("message", "enum", "service"):
                found.append(("breaking", f"{kind} {key[1]} removed"))
            elif kind == "rpc":
                found.append(("breaking", f"method {key[1]}.{key[2]} removed"))
            elif kind == "value":
                found.append(("breaking", f"enum value {key[1]}.{key[2]} removed"))
            elif kind == "package":
                found.append(("breaking", "package removed: every fully-qualified name changes"))
            elif kind != "reserved":
                found.append(("unknown", f"{' '.join(key)} removed: not judged"))
        elif new[key] != sig:
            if kind == "field":
                found.append(_field_change(f"field {key[1]} = {key[2]}", sig, new[key]))
            elif kind == "rpc":
                found.append(("breaking", f"method {key[1]}.{key[2]}: request/response type or streaming "
                                          f"changed ({sig} -> {new[key]})"))
            elif kind == "value":
                found.append(("breaking", f"enum value {key[1]}.{key[2]}: number changed from {sig[0]} "
                                          f"to {new[key][0]}"))
            elif kind == "package":
                found.append(("breaking", f"package changed from {sig[0]} to {new[key][0]}"))
            elif kind == "reserved":
                found.append(("unknown", f"reserved ranges of {key[1]} changed"))
            else:
                found.append(("unknown", f"{' '.join(key)} changed: not judged"))
    for key in new.keys() - old.keys():
        kind = key[0]
        if kind in ("field", "message", "enum", "service", "rpc", "value"):
            found.append(("compatible", f"{kind} {'.'.join(key[1:])} added"))
        elif kind == "package":
            found.append(("breaking", "package added: every fully-qualified name changes"))
        elif kind != "reserved":
            found.append(("unknown", f"{' '.join(key)} added: not judged"))
    return found
