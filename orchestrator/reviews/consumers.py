"""Which services consume a contract, inferred from the evidence in the tree.

The policy's ``consumers`` lists are written by people and go stale. The tree
holds evidence of who really uses a contract, spread over several kinds of
file, some of it stale itself:

- ``generated``: generated code inside the service that names the contract
  (``source: demo.proto`` as protoc, buf, ts-proto and grpc-web write it, its
  proto package, ``demo_pb2``), found by file name or in generated-code folders;
- ``build-copy``: a build file, project file (``.csproj``, ``.sln``) or
  Dockerfile of the service that names the contract's path, relative or from
  the repository root, or copies the contract's whole folder (``COPY ./pb/ ./proto``);
- ``vendored-copy``: a copy of the contract inside the service (orchestrator/reviews/copies.py);
- ``generator-script``: a script elsewhere that names the contract and the
  service's folder;
- ``ignore-entry``: an ignore file of the service that lists the contract's
  file name (a copy made at build time).

The first three are strong. Evidence of a single weak kind is reported as
"possibly stale" and never trusted silently: a generator script that still
mentions a service which stopped using the proto is exactly that.

Producers (:func:`producers`) are the services whose code serves a service the
contract declares (``RegisterCartServiceServer``, ``add_CartServiceServicer_to_server``,
``CartService.CartServiceBase``, ``addService(...CartService...)``).
"""
from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lanewarden.orchestrator.reviews.copies import Copy, Tree, contract_files
from lanewarden.workers.git import Git
from lanewarden.workers.ownership import OwnershipIndex
from lanewarden.workers.policy import Policy

STRONG = ("generated", "build-copy", "vendored-copy")
WEAK = ("generator-script", "ignore-entry")

_GENERATED = re.compile(r"(\.pb\.go|_pb2\.py|_pb2_grpc\.py|\.pb\.cc|\.pb\.h|_pb\.js|_pb\.d\.ts|\.pb\.ts|"
                        r"_grpc\.pb\.go|\.pb\.swift|Grpc\.java|\.g\.dart|\.generated\.\w+)$")
_BUILD = re.compile(r"(^|/)(Dockerfile[^/]*|Makefile|[^/]*\.mk|package\.json|Cargo\.toml|build\.rs|go\.mod|"
                    r"pyproject\.toml|setup\.py|build\.gradle(\.kts)?|pom\.xml|CMakeLists\.txt|BUILD(\.bazel)?|"
                    r"buf\.gen\.yaml|buf\.yaml|buf\.work\.yaml|docker-compose[^/]*\.ya?ml|"
                    r"[^/]*\.(csproj|fsproj|vbproj|sln|props|targets))$")
# Generated code that does not follow the *.pb.* names: ts-proto, grpc-web, buf plugins in a gen folder.
_GEN_DIRS = frozenset({"gen", "generated", "genproto", "protos", "proto", "pb", "grpc", "_generated"})
_CODE = re.compile(r"\.(ts|tsx|js|mjs|cjs|go|py|cs|java|kt|rb|rs|php|swift|dart|ex|cc|cpp|h)$")
_HEADER = 4096  # generated-code headers sit at the top
_TOKEN = re.compile(rb"[A-Za-z0-9_.@/\\-]+")
_SCRIPT = re.compile(r"(\.sh|\.bash|\.py|\.mk)$|(^|/)(scripts?|tools|hack|bin)/")
_IGNORE = re.compile(r"(^|/)\.(git|docker)ignore$")
_PACKAGE = re.compile(rb"^\s*package\s+([A-Za-z0-9_.]+)\s*;", re.MULTILINE)
_GO_PACKAGE = re.compile(rb'option\s+go_package\s*=\s*"([^"]+)"')


@dataclass(frozen=True)
class Evidence:
    kind: str
    path: str
    detail: str


@dataclass(frozen=True)
class Consumer:
    contract: str
    service: str
    evidence: tuple[Evidence, ...]
    declared: bool  # listed in the policy's consumers

    @property
    def kinds(self) -> list[str]:
        return sorted({e.kind for e in self.evidence})

    @property
    def confidence(self) -> str:
        strong = [k for k in self.kinds if k in STRONG]
        if len(strong) >= 2 or (strong and len(self.kinds) >= 2):
            return "high"
        if strong:
            return "medium"
        return "low"

    @property
    def possibly_stale(self) -> bool:
        return len(self.kinds) == 1 and self.kinds[0] in WEAK

    def as_json(self) -> dict[str, Any]:
        return {"contract": self.contract, "service": self.service, "confidence": self.confidence,
                "possibly_stale": self.possibly_stale, "declared": self.declared,
                "evidence": [{"kind": e.kind, "path": e.path, "detail": e.detail} for e in self.evidence]}


def _markers(path: str, text: bytes) -> list[bytes]:
    """Words that name a contract file in code generated from it or in files that copy it."""
    name = posixpath.basename(path).encode()
    stem = name.rsplit(b".", 1)[0]
    out = [b"source: " + name, stem + b"_pb2", stem + b"_pb.", stem + b".pb."]
    for regex in (_PACKAGE, _GO_PACKAGE):
        for found in regex.findall(text):
            if found:
                out.append(b"package " + found.rsplit(b"/", 1)[-1].split(b";")[0])
    return out


def _maybe_generated(path: str, stems: set[str]) -> bool:
    if not _CODE.search(path):
        return False
    parts = path.split("/")
    name = parts[-1].split(".")[0]
    return name in stems or any(p in _GEN_DIRS for p in parts[:-1]) or name.split("_")[0] in stems


def _names_path(where: str, text: bytes, contract: str) -> str | None:
    """How a build file names a contract file: its path (from the root or relative to the build
    file, either slash) or its whole folder (``COPY ./pb/ ./proto``); None when it does not."""
    name = posixpath.basename(contract).encode()
    folder = posixpath.dirname(contract)
    base = posixpath.dirname(where)
    fold = posixpath.basename(folder).encode() if folder else b""
    for token in set(_TOKEN.findall(text)):
        if name not in token and not (fold and fold in token and b"/" in token.replace(b"\\", b"/")):
            continue
        raw = token.replace(b"\\", b"/").decode("utf-8", "replace").strip("\"'")
        for candidate in (posixpath.normpath(raw.lstrip("/")), posixpath.normpath(posixpath.join(base, raw))):
            if candidate == contract:
                return f"names {contract}"
            if folder and candidate == folder and raw.rstrip("/") != "":
                return f"copies the folder {folder}/ ({raw})"
    return None


def producers(git: Git, policy: Policy, files: Tree) -> list[Consumer]:
    """(contract, service) pairs where the service's code serves a service the contract declares."""
    index = OwnershipIndex(policy)
    by_contract = contract_files(policy, files)
    blobs = git.read_blobs(sorted({f.oid for fs in by_contract.values() for f in fs}))
    services: dict[str, list[bytes]] = {}
    for cid, cfiles in by_contract.items():
        for src in cfiles:
            services.setdefault(cid, []).extend(_SERVICE.findall(blobs.get(src.oid, b"")))
    if not any(services.values()):
        return []
    contract_paths = {f.path for fs in by_contract.values() for f in fs}
    code = [f for f in files if f.path not in contract_paths and _CODE.search(f.path)
            and not _GENERATED.search(f.path) and index.owner(f.path) != policy.root]
    texts = git.read_blobs(sorted({f.oid for f in code}))
    found: dict[tuple[str, str], list[Evidence]] = {}
    for cid, names in sorted(services.items()):
        signs = [(n, sign) for n in dict.fromkeys(names) for sign in _serving(n)]
        for f in code:
            text = texts.get(f.oid, b"")
            hit = next(((n, sign) for n, sign in signs if sign in text), None)
            if hit is None:
                continue
            owner = index.owner(f.path)
            items = found.setdefault((cid, owner), [])
            if len(items) < 3:
                items.append(Evidence("serves", f.path, f"serves {hit[0].decode()} ({hit[1].decode()})"))
    return [Consumer(cid, svc, tuple(ev), svc in policy.contracts[cid].producers)
            for (cid, svc), ev in sorted(found.items())]


_SERVICE = re.compile(rb"^\s*service\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{", re.MULTILINE)


def _serving(name: bytes) -> list[bytes]:
    """What server code for gRPC service ``name`` writes, in the common languages."""
    return [b"Register" + name + b"Server(", b"add_" + name + b"Servicer_to_server", name + b"Servicer)",
            name + b"." + name + b"Base", name + b"Grpc." + name + b"ImplBase", name + b".service",
            b"impl " + name + b" for", b"Unimplemented" + name + b"Server"]


def infer(git: Git, policy: Policy, files: Tree, copies: Sequence[Copy] = ()) -> list[Consumer]:
    """Every (contract, service) pair with evidence, strongest first; producers are left out."""
    index = OwnershipIndex(policy)
    by_contract = contract_files(policy, files)
    contract_paths = {f.path for fs in by_contract.values() for f in fs}
    stems = {posixpath.basename(f.path).rsplit(".", 1)[0] for fs in by_contract.values() for f in fs}
    readers = [f for f in files if f.path not in contract_paths and (
        _GENERATED.search(f.path) or _BUILD.search(f.path) or _SCRIPT.search(f.path) or _IGNORE.search(f.path)
        or _maybe_generated(f.path, stems))]
    blobs = git.read_blobs(sorted({f.oid for f in readers} | {f.oid for fs in by_contract.values() for f in fs}))
    folders = {wid: (w.cwd or "").rstrip("/") for wid, w in policy.workers.items() if w.cwd}
    found: dict[tuple[str, str], list[Evidence]] = {}

    owners = {cid: {index.owner(f.path) for f in fs} for cid, fs in by_contract.items()}

    def add(cid: str, service: str | None, kind: str, path: str, detail: str) -> None:
        # The contract's own writers (producers, the contract folder's owner) are not consumers.
        if service is None or service == policy.root or service in policy.contracts[cid].producers \
                or service in owners.get(cid, ()):
            return
        items = found.setdefault((cid, service), [])
        if not any(e.kind == kind and e.path == path for e in items):
            items.append(Evidence(kind, path, detail))

    for cid, cfiles in sorted(by_contract.items()):
        for src in cfiles:
            name = posixpath.basename(src.path)
            markers = _markers(src.path, blobs.get(src.oid, b""))
            for f in readers:
                text = blobs.get(f.oid, b"")
                owner = index.owner(f.path)
                if _GENERATED.search(f.path):
                    hit = next((m for m in markers if m in text), None)
                    if hit is not None:
                        add(cid, owner, "generated", f.path, f"names {hit.decode('utf-8', 'replace')!r}")
                elif _maybe_generated(f.path, stems) and not _BUILD.search(f.path):
                    head = text[:_HEADER]
                    if b"source: " + name.encode() in head:
                        add(cid, owner, "generated", f.path, f"generated from {name} (its header says so)")
                if _BUILD.search(f.path):
                    named = _names_path(f.path, text, src.path)
                    if named is not None:
                        add(cid, owner, "build-copy", f.path, named)
                if _IGNORE.search(f.path) and any(ln.strip().endswith(name.encode()) for ln in text.splitlines()):
                    add(cid, owner, "ignore-entry", f.path, f"ignores a copy of {name}")
                if _SCRIPT.search(f.path) and not _BUILD.search(f.path) and src.path.encode() in text:
                    for wid, folder in folders.items():
                        if folder and (folder + "/").encode() in text and not f.path.startswith(folder + "/"):
                            add(cid, wid, "generator-script", f.path, f"names {src.path} and {folder}/")
    for copy in copies:
        add(copy.contract, index.owner(copy.path), "vendored-copy", copy.path,
            f"{copy.state} copy" if not copy.identical else "identical copy")
    out = [Consumer(cid, service, tuple(ev), service in policy.contracts[cid].consumers)
           for (cid, service), ev in found.items()]
    rank = {"high": 0, "medium": 1, "low": 2}
    return sorted(out, key=lambda c: (c.contract, rank[c.confidence], c.service))
