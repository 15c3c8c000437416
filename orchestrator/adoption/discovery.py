"""Find the services, contracts and e2e suites of an existing monorepo, with the reason for each.

Works on the tracked file list (``git ls-files``), so build output, vendored
and ignored files never become services. A *service* is a folder with its own
build file (package.json, pyproject.toml, go.mod, Cargo.toml, pom.xml, ...) or
a member of a declared workspace (npm/yarn ``workspaces``, pnpm-workspace.yaml,
a Cargo ``[workspace]``, go.work). The folder declaring a workspace is not a
service itself; a build file nested inside a service belongs to that service.
*Contracts* are .proto, GraphQL, Avro, Thrift, JSON Schema and OpenAPI/AsyncAPI
files outside the services. Nothing here decides anything for good: it feeds a
commented draft that a person reviews.
"""
from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml

from lanewarden.workers.pattern import compile_pattern, problems

BUILD_FILES = {
    "package.json": "npm package", "pyproject.toml": "Python project", "setup.py": "Python project",
    "setup.cfg": "Python project", "go.mod": "Go module", "Cargo.toml": "Rust crate", "pom.xml": "Maven project",
    "build.gradle": "Gradle project", "build.gradle.kts": "Gradle project", "Dockerfile": "Dockerfile",
    "Gemfile": "Ruby project", "composer.json": "PHP project", "mix.exs": "Elixir project",
    "Package.swift": "Swift package", "pubspec.yaml": "Dart package", "deno.json": "Deno project",
}
BUILD_SUFFIXES = {".csproj": ".NET project", ".fsproj": ".NET project", ".vbproj": ".NET project",
                  ".sln": ".NET solution"}
# A service keeps its code and tests in such sub-folders, each perhaps with its own build file:
# they are parts of the service around them, never services of their own.
LAYOUT_NAMES = frozenset({"src", "source", "tests", "test", "lib", "app", "spec", "specs", "main"})
E2E_TOP = frozenset({"test", "tests"})  # at the repository root: the integration suite
E2E_CONFIGS = ("cypress.config.", "playwright.config.")
INFRA_NAMES = frozenset({".github", ".gitlab", ".circleci", "kubernetes", "k8s", "helm", "charts", "deploy",
                         "deployment", "infra", "infrastructure", "terraform", "ops", "ci", ".devcontainer"})
SKIP_DIRS = frozenset({"node_modules", "vendor", "third_party", "third-party", "testdata", "__fixtures__"})
CONTRACT_SUFFIXES = {".proto": "protobuf", ".graphql": "GraphQL", ".graphqls": "GraphQL", ".gql": "GraphQL",
                     ".avsc": "Avro schema", ".thrift": "Thrift IDL"}
_SPEC_NAME = re.compile(r"(^|[._-])(openapi|swagger|asyncapi)([._-]|$)", re.IGNORECASE)
_SPEC_TEXT = re.compile(rb"""^\s*["']?(openapi|swagger|asyncapi)["']?\s*:""", re.MULTILINE)
E2E_NAMES = frozenset({"e2e", "e2e-tests", "end-to-end", "integration-tests", "acceptance-tests", "system-tests"})
DOC_NAMES = frozenset({"docs", "doc", "documentation"})

Reader = Callable[[str], "bytes | None"]


@dataclass
class Service:
    folder: str
    reasons: list[str] = field(default_factory=list)
    build_files: list[str] = field(default_factory=list)


@dataclass
class ContractGroup:
    """Contract files under one shared folder (the ``contracts`` worker owns ``folder``)."""

    folder: str  # '' for contract files at the repository root
    items: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # contract id -> [(path, kind)]


@dataclass
class Found:
    services: list[Service]
    contracts: list[ContractGroup]
    e2e: dict[str, list[str]]  # e2e folder -> suite sub-folders
    docs: list[str]
    workspace_roots: dict[str, str]  # folder -> what declares it
    root_files: bool
    unowned: list[str]
    notes: list[str]
    dirs: set[str]
    # Every tracked path no service, contract, e2e or docs folder claims, as pattern -> file count:
    # root's lane, so root never hands its own files to itself.
    groups: dict[str, int] = field(default_factory=dict)
    config_only: list[str] = field(default_factory=list)  # services found by their place, not a build file


def _skipped(path: str) -> bool:
    return any(part.startswith(".") or part in SKIP_DIRS for part in path.split("/")[:-1])


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _load_toml(data: bytes) -> dict[str, Any] | None:
    try:
        tomllib: Any = importlib.import_module("tomllib")  # Python 3.11+
    except ModuleNotFoundError:
        return None
    try:
        parsed: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
        return parsed
    except (ValueError, UnicodeDecodeError):
        return None


def _workspace_members(path: str, data: bytes) -> tuple[str, list[str]] | None:
    """(what declares it, member globs relative to its folder) for a workspace manifest."""
    name = path.rpartition("/")[2]
    try:
        if name in ("package.json", "lerna.json"):
            doc = json.loads(data)
            members = doc.get("workspaces") if name == "package.json" else doc.get("packages")
            if isinstance(members, dict):
                members = members.get("packages")
            kind = "npm workspaces" if name == "package.json" else "lerna packages"
        elif name == "pnpm-workspace.yaml":
            members, kind = (yaml.safe_load(data) or {}).get("packages"), "pnpm workspace"
        elif name == "Cargo.toml":
            doc = _load_toml(data)
            if doc is not None:
                members = (doc.get("workspace") or {}).get("members")
            else:  # Python 3.10: just the members array of [workspace]
                found = re.search(rb"\[workspace\][^\[]*?members\s*=\s*\[([^\]]*)\]", data, re.S)
                members = re.findall(r'"([^"]+)"', found.group(1).decode()) if found else None
            kind = "Cargo workspace"
        elif name == "go.work":
            text = data.decode("utf-8", "replace")
            block = re.search(r"^use\s*\((.*?)\)", text, re.M | re.S)
            members = block.group(1).split() if block else re.findall(r"^use\s+(\S+)", text, re.M)
            kind = "go.work"
        else:
            return None
    except (ValueError, AttributeError, yaml.YAMLError):
        return None
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        return None
    return kind, [m for m in members if isinstance(m, str)]


def _expand(base: str, member: str, dirs: set[str], notes: list[str], where: str) -> list[str]:
    member = member.strip()
    while member.startswith("./"):
        member = member[2:]
    member = member.rstrip("/")
    if not member or member.startswith("!"):
        return []  # exclusions only narrow the member list; we never add what they remove
    full = f"{base}/{member}" if base else member
    bad = problems(full)
    if bad:
        notes.append(f"{where}: workspace member {member!r} ignored: {bad[0]}")
        return []
    pattern = compile_pattern(full)
    return sorted(d for d in dirs if pattern.matches(d) and (d == full or "*" in full or "?" in full))


def discover(files: list[str], read: Reader) -> Found:
    """Everything ``lanewarden init`` proposes, from the tracked files."""
    dirs = {str(p) for f in files for p in PurePosixPath(f).parents if str(p) != "."}
    notes: list[str] = []
    candidates: dict[str, Service] = {}
    workspace_roots: dict[str, str] = {}
    for path in files:
        if _skipped(path):
            continue
        name = path.rpartition("/")[2]
        folder = _parent(path)
        if name in ("package.json", "pnpm-workspace.yaml", "Cargo.toml", "go.work", "lerna.json"):
            data = read(path)
            declared = _workspace_members(path, data) if data is not None else None
            if declared is not None:
                kind, members = declared
                seen = workspace_roots.get(folder)
                workspace_roots[folder] = f"{seen}; {path} ({kind})" if seen else f"{path} ({kind})"
                for member in members:
                    for d in _expand(folder, member, dirs, notes, path):
                        svc = candidates.setdefault(d, Service(d))
                        svc.reasons.append(f"member {member!r} of the {kind} in {path}")
        kind_name = BUILD_FILES.get(name) or next((k for s, k in BUILD_SUFFIXES.items() if name.endswith(s)), None)
        if kind_name is not None and folder:
            svc = candidates.setdefault(folder, Service(folder))
            svc.build_files.append(path)
            svc.reasons.append(f"{path} ({kind_name})")
    for root in workspace_roots:
        candidates.pop(root, None)  # a workspace root is the frame, its members are the services
    e2e = _e2e(files, dirs)
    for folder in list(candidates):
        if any(folder == e or folder.startswith(e + "/") for e in e2e):
            del candidates[folder]  # a suite's own package.json or Dockerfile does not make it a service
    _fold_layout(candidates, workspace_roots)
    services: list[Service] = []
    for folder in sorted(candidates, key=lambda f: (f.count("/"), f)):
        outer = next((s for s in services if folder.startswith(s.folder + "/")), None)
        if outer is not None:
            outer.reasons.extend(f"{r} (inside {outer.folder})" for r in candidates[folder].reasons
                                 if "member " not in r)
            continue
        services.append(candidates[folder])
    config_only = _config_only(services, dirs, e2e)
    services += [Service(f, [f"configuration only (no build file), beside the services in {_parent(f)}/"])
                 for f in config_only]
    services.sort(key=lambda s: s.folder)
    in_service = _owner_of(services)
    contracts = _contracts(files, read, in_service, notes)
    for d in sorted(dirs, key=lambda x: (x.count("/"), x)):
        if d.rpartition("/")[2].lower() in E2E_NAMES and in_service(d + "/x") is None and not _skipped(d + "/x") \
                and not any(d == e or d.startswith(e + "/") for e in e2e):
            e2e[d] = sorted({f[len(d) + 1:].split("/")[0] for f in files
                             if f.startswith(d + "/") and f.count("/") > d.count("/") + 1})
    for svc in services:  # suites inside a service stay the service's files, but are reported
        for f in files:
            if f.startswith(svc.folder + "/") and f.rpartition("/")[2].startswith(E2E_CONFIGS):
                notes.append(f"e2e suite {f} (inside {svc.folder}, which keeps it)")
    docs = sorted(d for d in dirs if "/" not in d and d.lower() in DOC_NAMES)
    claimed = [s.folder for s in services] + [g.folder for g in contracts if g.folder] + list(e2e) + docs
    groups = _groups(files, claimed, workspace_roots)
    tops = {f.split("/")[0] for f in files if "/" in f and not _skipped(f)}
    unowned = sorted(t for t in tops if not any(c == t or c.startswith(t + "/") for c in claimed + list(
        workspace_roots) if c))
    return Found(services=services, contracts=contracts, e2e=e2e, docs=docs, workspace_roots=workspace_roots,
                 root_files=any("/" not in f for f in files), unowned=unowned, notes=notes, dirs=dirs,
                 groups=groups, config_only=config_only)


def _e2e(files: list[str], dirs: set[str]) -> dict[str, list[str]]:
    """Integration suites that are nobody's service: a top-level ``test/`` or ``tests/``, and folders
    holding a Cypress or Playwright configuration outside any build-file folder."""
    out: dict[str, list[str]] = {}
    for d in sorted(dirs):
        if "/" not in d and d.lower() in E2E_TOP:
            out[d] = sorted({f[len(d) + 1:].split("/")[0] for f in files
                             if f.startswith(d + "/") and f.count("/") > 1})
    for f in files:
        name = f.rpartition("/")[2]
        folder = _parent(f)
        if name.startswith(E2E_CONFIGS) and folder and not _skipped(f) and folder.split("/")[0].lower() in (
                E2E_NAMES | E2E_TOP) and not any(folder.startswith(e + "/") or folder == e for e in out):
            out[folder] = [name.split(".")[0]]
    return out


def _fold_layout(candidates: dict[str, Service], workspace_roots: dict[str, str]) -> None:
    """``svc/src`` and ``svc/tests`` with build files are one service ``svc`` (when all the folder's
    candidates are such layout folders, or it has a build file of its own)."""
    by_parent: dict[str, list[str]] = {}
    for folder in candidates:
        if "/" in folder:
            by_parent.setdefault(_parent(folder), []).append(folder)
    for parent, children in sorted(by_parent.items(), key=lambda item: -item[0].count("/")):
        layout = [c for c in children if c.rpartition("/")[2].lower() in LAYOUT_NAMES]
        if not layout or parent in workspace_roots or (len(layout) < len(children) and parent not in candidates):
            continue
        svc = candidates.setdefault(parent, Service(parent))
        for child in layout:
            moved = candidates.pop(child)
            svc.build_files.extend(moved.build_files)
            svc.reasons.extend(f"{r} (its {child.rpartition('/')[2]}/ folder)" for r in moved.reasons)


def _config_only(services: list[Service], dirs: set[str], e2e: dict[str, list[str]]) -> list[str]:
    """Folders with no build file beside two or more services (``src/grafana`` next to ``src/cart``):
    configuration a service folder of its own would own."""
    folders = {s.folder for s in services}
    parents: dict[str, int] = {}
    for folder in folders:
        if "/" in folder:
            parents[_parent(folder)] = parents.get(_parent(folder), 0) + 1
    out = []
    for d in sorted(dirs):
        parent = _parent(d)
        if "/" in d and parents.get(parent, 0) >= 2 and d not in folders and not _skipped(d + "/x") \
                and d not in e2e and d.rpartition("/")[2].lower() not in DOC_NAMES | E2E_NAMES:
            out.append(d)
    return out


def _groups(files: list[str], claimed: list[str], workspace_roots: dict[str, str]) -> dict[str, int]:
    """Unclaimed tracked paths as root-lane patterns: the widest folder holding no claim, else the
    direct files of the folder they sit in (``*`` at the root)."""
    claims = {c for c in claimed if c}
    holds = {str(p) for c in claims for p in PurePosixPath(c).parents if str(p) != "."} | claims
    out: dict[str, int] = {}
    for f in files:
        parts = f.split("/")
        if any("/".join(parts[:i]) in claims for i in range(1, len(parts))):
            continue
        group = None
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder not in holds:
                group = f"{folder}/**"
                break
        if group is None:
            parent = _parent(f)
            if parent in workspace_roots and parent:
                continue  # the draft gives root the workspace manifest's folder files already
            group = f"{parent}/*" if parent else "*"
        out[group] = out.get(group, 0) + 1
    return dict(sorted(out.items()))


def _owner_of(services: list[Service]) -> Callable[[str], str | None]:
    folders = {s.folder for s in services}

    def owner(path: str) -> str | None:
        for p in PurePosixPath(path).parents:
            if str(p) in folders:
                return str(p)
        return None
    return owner


def contract_kind(path: str, read: Reader) -> str | None:
    """What kind of contract file ``path`` is, or None."""
    name = path.rpartition("/")[2]
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in CONTRACT_SUFFIXES:
        return CONTRACT_SUFFIXES[suffix]
    if suffix in (".json", ".yaml", ".yml"):
        if name.lower().endswith((".schema.json", ".schema.yaml", ".schema.yml")):
            return "JSON Schema"
        if _SPEC_NAME.search(PurePosixPath(name).stem):
            return "OpenAPI/AsyncAPI"
        head = (read(path) or b"")[:4096]
        spec = _SPEC_TEXT.search(head)
        if spec:
            return "AsyncAPI" if spec.group(1) == b"asyncapi" else "OpenAPI"
        if b'"$schema"' in head and b"json-schema.org" in head:
            return "JSON Schema"
    return None


def _contracts(files: list[str], read: Reader, in_service: Callable[[str], str | None],
               notes: list[str]) -> list[ContractGroup]:
    groups: dict[str, ContractGroup] = {}
    inside: dict[str, int] = {}
    for path in files:
        if _skipped(path):
            continue
        kind = contract_kind(path, read)
        if kind is None:
            continue
        service = in_service(path)
        if service is not None:
            inside[service] = inside.get(service, 0) + 1
            continue
        top = path.split("/")[0] if "/" in path else ""
        if top.lower() in E2E_NAMES | DOC_NAMES:
            top = _parent(path)  # a spec inside docs/ or e2e/: own its folder, not all of docs
        group = groups.setdefault(top, ContractGroup(top))
        rest = path[len(top) + 1:] if top else path
        cid = rest.split("/")[0] if "/" in rest else PurePosixPath(rest).stem.split(".")[0]
        group.items.setdefault(cid, []).append((path, kind))
    for service, count in sorted(inside.items()):
        notes.append(f"{count} contract-like file(s) inside {service} are left to that service")
    return [groups[k] for k in sorted(groups)]
