"""OpenAPI compatibility: what a change to an API description does to its clients.

Read with PyYAML (safe loader; a document with aliases is not judged, as the
policy loader refuses them). Rules after oasdiff's breaking-change checks:
an operation removed, a required parameter added (or an optional one made
required), a request body or request property made required, a success
response removed, a response property removed or its type changed: breaking.
New operations, optional parameters and response properties: compatible.
Anything else that differs in an operation or a schema (ignoring
descriptions, summaries and examples) is ``unknown``, never ``compatible``.
"""
from __future__ import annotations

import json
from typing import Any

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
_PROSE = frozenset({"description", "summary", "example", "examples", "title", "externalDocs", "tags"})
_MAX_NODES = 200_000


def load(text: str) -> dict[str, Any]:
    """The document as data; ValueError when it cannot be judged."""
    try:
        for nodes, event in enumerate(yaml.parse(text, Loader=yaml.SafeLoader)):
            if isinstance(event, yaml.AliasEvent) or nodes > _MAX_NODES:
                raise ValueError("uses YAML aliases or is too large to judge")
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"does not parse: {exc}") from None
    if not isinstance(doc, dict) or not ("openapi" in doc or "swagger" in doc):
        raise ValueError("not an OpenAPI document (no `openapi` key)")
    return doc


def is_openapi(text: str) -> bool:
    head = text[:2000]
    return "openapi:" in head or '"openapi"' in head or "swagger:" in head


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _PROSE and not str(k).startswith("x-")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _same(a: Any, b: Any) -> bool:
    return json.dumps(_strip(a), sort_keys=True, default=str) == json.dumps(_strip(b), sort_keys=True, default=str)


def _resolve(doc: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """Follow local ``$ref``s (``#/components/...``); an unresolvable one stays as it is."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < 20:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return node
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        if target is None:
            return node
        node, depth = target, depth + 1
    return node


def _operations(doc: dict[str, Any]) -> dict[str, tuple[dict[str, Any], list[Any]]]:
    out: dict[str, tuple[dict[str, Any], list[Any]]] = {}
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        shared = list(item.get("parameters") or [])
        for method in METHODS:
            if isinstance(item.get(method), dict):
                out[f"{method.upper()} {path}"] = (item[method], shared + list(item[method].get("parameters") or []))
    return out


def _params(doc: dict[str, Any], raw: list[Any]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for p in raw:
        p = _resolve(doc, p)
        if isinstance(p, dict) and "name" in p:
            out[(str(p.get("in")), str(p["name"]))] = p
    return out


def _json_schema(doc: dict[str, Any], holder: Any) -> dict[str, Any] | None:
    holder = _resolve(doc, holder)
    content = holder.get("content") if isinstance(holder, dict) else None
    if not isinstance(content, dict):
        return None
    media = content.get("application/json") or next(iter(content.values()), None)
    schema = _resolve(doc, media.get("schema")) if isinstance(media, dict) else None
    return schema if isinstance(schema, dict) else None


def _props(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    return {k: _resolve(doc, v) for k, v in (schema.get("properties") or {}).items()}


def _schema_diff(where: str, od: dict[str, Any], old: dict[str, Any], nd: dict[str, Any], new: dict[str, Any],
                 *, request: bool) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if old.get("type") != new.get("type"):
        return [("breaking", f"{where}: type changed from {old.get('type')} to {new.get('type')}")]
    op, np_ = _props(od, old), _props(nd, new)
    oreq, nreq = set(old.get("required") or []), set(new.get("required") or [])
    for name in sorted(op.keys() - np_.keys()):
        found.append(("unknown" if request else "breaking",
                      f"{where}: property {name} removed" + ("" if request else " (response narrowed)")))
    for name in sorted(np_.keys() - op.keys()):
        if request and name in nreq:
            found.append(("breaking", f"{where}: new required property {name}"))
        else:
            found.append(("compatible", f"{where}: property {name} added"))
    for name in sorted(op.keys() & np_.keys()):
        if op[name].get("type") != np_[name].get("type"):
            found.append(("breaking", f"{where}: property {name} type changed from {op[name].get('type')} "
                                      f"to {np_[name].get('type')}"))
        elif not _same(op[name], np_[name]):
            found.append(("unknown", f"{where}: property {name} changed (format, enum, nested schema): not judged"))
    if request:
        for name in sorted((nreq - oreq) & op.keys()):
            found.append(("breaking", f"{where}: property {name} became required"))
    else:
        for name in sorted((oreq - nreq) & np_.keys()):
            found.append(("breaking", f"{where}: property {name} no longer required (clients rely on it)"))
    if not found and not _same({k: v for k, v in old.items() if k not in ("properties", "required")},
                               {k: v for k, v in new.items() if k not in ("properties", "required")}):
        found.append(("unknown", f"{where}: schema changed: not judged"))
    return found


def _operation(name: str, od: dict[str, Any], old: tuple[dict[str, Any], list[Any]], nd: dict[str, Any],
               new: tuple[dict[str, Any], list[Any]]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    op, np_ = _params(od, old[1]), _params(nd, new[1])
    for key in sorted(np_.keys() - op.keys()):
        required = bool(np_[key].get("required")) or key[0] == "path"
        found.append(("breaking" if required else "compatible",
                      f"{name}: {'required' if required else 'optional'} {key[0]} parameter {key[1]} added"))
    for key in sorted(op.keys() - np_.keys()):
        found.append(("unknown", f"{name}: {key[0]} parameter {key[1]} removed: clients that send it may fail"))
    for key in sorted(op.keys() & np_.keys()):
        if np_[key].get("required") and not op[key].get("required"):
            found.append(("breaking", f"{name}: {key[0]} parameter {key[1]} became required"))
        elif not _same(op[key], np_[key]):
            found.append(("unknown", f"{name}: {key[0]} parameter {key[1]} changed: not judged"))
    obody, nbody = _resolve(od, old[0].get("requestBody")), _resolve(nd, new[0].get("requestBody"))
    if isinstance(nbody, dict) and nbody.get("required") and not (isinstance(obody, dict) and obody.get("required")):
        found.append(("breaking", f"{name}: request body became required"))
    oschema, nschema = _json_schema(od, obody), _json_schema(nd, nbody)
    if oschema is not None and nschema is not None:
        found += _schema_diff(f"{name} request", od, oschema, nd, nschema, request=True)
    elif not _same(obody, nbody):
        found.append(("unknown", f"{name}: request body changed: not judged"))
    oresp, nresp = old[0].get("responses") or {}, new[0].get("responses") or {}
    for code in sorted(set(map(str, oresp)) - set(map(str, nresp))):
        found.append(("breaking", f"{name}: response {code} removed"))
    for code in sorted(set(map(str, nresp)) - set(map(str, oresp))):
        found.append(("compatible", f"{name}: response {code} added"))
    for code in sorted(set(map(str, oresp)) & set(map(str, nresp))):
        o, n = _json_schema(od, oresp.get(code, oresp.get(int(code)) if code.isdigit() else None)), \
            _json_schema(nd, nresp.get(code, nresp.get(int(code)) if code.isdigit() else None))
        if o is not None and n is not None:
            found += _schema_diff(f"{name} response {code}", od, o, nd, n, request=False)
        elif (o is None) != (n is None):
            found.append(("breaking" if n is None else "compatible",
                          f"{name}: response {code} {'lost' if n is None else 'gained'} its body"))
    return found


def compare(old_text: str, new_text: str) -> list[tuple[str, str]]:
    """``(class, reason)`` for every difference found."""
    od, nd = load(old_text), load(new_text)
    oops, nops = _operations(od), _operations(nd)
    found: list[tuple[str, str]] = []
    for name in sorted(oops.keys() - nops.keys()):
        found.append(("breaking", f"operation {name} removed"))
    for name in sorted(nops.keys() - oops.keys()):
        found.append(("compatible", f"operation {name} added"))
    for name in sorted(oops.keys() & nops.keys()):
        judged = _operation(name, od, oops[name], nd, nops[name])
        found += judged
        if not judged and not _same(oops[name][0], nops[name][0]):
            found.append(("unknown", f"operation {name} changed: not judged"))
    rest = [k for k in sorted(set(od) | set(nd)) if k not in ("paths", "components", "info")
            and not _same(od.get(k), nd.get(k))]
    if rest:
        found.append(("unknown", f"changed outside operations and schemas: {', '.join(map(str, rest))}"))
    return found
