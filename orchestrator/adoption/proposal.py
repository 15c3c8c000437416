"""Turn what ``lanewarden init`` found (discovery or a CODEOWNERS import) into a draft policy."""
from __future__ import annotations

import re
import unicodedata

from lanewarden.orchestrator.adoption.codeowners import SKIP_MARK, Imported
from lanewarden.orchestrator.adoption.discovery import INFRA_NAMES, Found
from lanewarden.orchestrator.adoption.draft import DraftContract, DraftOwnership, DraftWorker, render
from lanewarden.workers.pattern import directory_prefix

ROOT = "root"
CONTRACTS = "contracts"
_HEADER = [
    "lanewarden policy: a DRAFT written by `lanewarden init`. Review it before you commit it:",
    "allow minus deny is what each worker (agent) may write; everything else is out of its lane.",
    "Patterns are git glob pathspecs anchored at the repository root (docs/policy.md); quote them.",
    "Check it with `lanewarden policy check`; see who owns a path with `lanewarden explain PATH`.",
]
_BUDGETS = "budgets: {max_files: 40, max_lines: 2000, timeout_s: 900}   # limits per change and run"


def _clean(text: str) -> str:
    """A worker id from a folder name: accents dropped ('café' -> 'cafe'), other scripts spelled
    with IDNA's punycode ('服务' -> 'xn--...'), so a non-ASCII name keeps a readable, unique id."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text).strip("-._")[:90]
    if not out or (not text.isascii() and len(out) < len(re.sub(r"[^\w.-]+", "", text)) // 2):
        try:
            coded = "xn--" + text.encode("punycode").decode("ascii")
        except UnicodeError:
            coded = ""
        out = re.sub(r"[^A-Za-z0-9._-]+", "-", coded).strip("-._")[:90]
    return out or "service"


def unique_ids(folders: list[str], taken: set[str]) -> dict[str, str]:
    """Worker ids from folder names; folders sharing a name get their whole path as id."""
    names = [_clean(f.rpartition("/")[2]) for f in folders]
    out: dict[str, str] = {}
    for folder, name in zip(folders, names, strict=False):
        wanted = name if names.count(name) == 1 and name not in taken else _clean(folder.replace("/", "-"))
        candidate, n = wanted, 2
        while candidate in taken:
            candidate, n = f"{wanted}-{n}", n + 1
        taken.add(candidate)
        out[folder] = candidate
    return out


def _below(folder: str) -> str:
    return f"{folder}/**"


Inferred = dict[str, list[tuple[str, bool, str]]]  # contract id -> (service, trusted, evidence note)
Appended = list[tuple[str, int, int]]  # (path, commits touching it, of which only added lines)


def from_discovery(found: Found, inferred: Inferred | None = None,
                   appended: Appended | None = None,
                   serving: dict[str, list[tuple[str, str]]] | None = None) -> tuple[str, dict[str, str]]:
    """The draft text and the worker id chosen for each service folder.

    ``inferred`` (from orchestrator/reviews/consumers.py, keyed by the draft's contract ids)
    fills in consumers with strong evidence and leaves the rest as comments.
    """
    ids = unique_ids([s.folder for s in found.services], {ROOT, CONTRACTS})
    contract_patterns = [_below(g.folder) if g.folder else p for g in found.contracts
                         for p in ([g.folder] if g.folder else [path for items in g.items.values()
                                                                 for path, _ in items])]
    workers: list[DraftWorker] = []
    for svc in found.services:
        worker = DraftWorker(ids[svc.folder], cwd=svc.folder,
                             comments=[f"found {r}" for r in svc.reasons[:6]])
        worker.patterns["allow"] = [(_below(svc.folder), None)]
        if contract_patterns:
            worker.patterns["read_hints"] = [(p, None) for p in contract_patterns]
            worker.patterns["propose_only"] = [(p, "contracts change through a handoff to 'contracts'")
                                               for p in contract_patterns]
        worker.commented.append(_BUDGETS)
        workers.append(worker)
    if found.contracts:
        folders = [g.folder for g in found.contracts if g.folder]
        worker = DraftWorker(CONTRACTS, cwd=folders[0] if len(folders) == 1 else None,
                             comments=["the single source of truth for shared APIs and schemas"])
        worker.patterns["allow"] = [(p, None) for p in contract_patterns]
        workers.append(worker)
    root = DraftWorker(ROOT, comments=["integration: e2e, docs and repository-wide files; receives unowned paths,",
                                       "so its lane covers every path no other worker claims (it never hands its",
                                       "own files to itself)"])
    allow: list[tuple[str, str | None]] = [(_below(e), "e2e suites") for e in found.e2e]
    allow += [(_below(d), "documentation") for d in found.docs]
    allow += [(f"{w}/*", f"workspace manifest: {what}") for w, what in sorted(found.workspace_roots.items()) if w]
    for unclaimed, count in found.groups.items():
        top = unclaimed.split("/")[0]
        what = ("infrastructure" if top.lower() in INFRA_NAMES else "files at the repository root"
                if unclaimed == "*" else "no service claims it")
        allow.append((unclaimed, f"{what}: {count} tracked file(s)"))
    root.patterns["allow"] = allow
    workers.append(root)
    contracts: list[DraftContract] = []
    taken: set[str] = set()
    for group in found.contracts:
        for cid, files in sorted(group.items.items()):
            name = _clean(cid)
            candidate, n = name, 2
            while candidate in taken:
                candidate, n = f"{name}-{n}", n + 1
            taken.add(candidate)
            sub = f"{group.folder}/{cid}" if group.folder else cid
            is_folder = any(p.startswith(sub + "/") for p, _ in files)
            kinds = sorted({k for _, k in files})
            shown = ", ".join(p for p, _ in files[:3]) + (", ..." if len(files) > 3 else "")
            evidence = (inferred or {}).get(candidate, [])
            served = (serving or {}).get(candidate, [])
            notes = [f"producer {svc}: {note}" for svc, note in served]
            notes += [f"consumer {svc}: {note}" + ("" if ok else " (not added: check it)")
                      for svc, ok, note in evidence]
            contracts.append(DraftContract(
                candidate, [_below(sub)] if is_folder else [p for p, _ in files],
                comments=[f"{', '.join(kinds)}: {shown}", *notes,
                          ("check the producers" if served else "fill in producers")
                          + (" and consumers" if not evidence else "; check the consumers") + " (worker ids)"],
                consumers=[svc for svc, ok, _ in evidence if ok], producers=[svc for svc, _ in served]))
    trailer: list[str] = []
    for folder, suites in found.e2e.items():
        trailer += ["", f"e2e suites found in {folder}/: say which services each exercises and how it runs,",
                    "then uncomment (services take worker ids):", "e2e:"]
        for suite in suites or [folder.rpartition("/")[2]]:
            trailer += [f"  {_clean(suite)}:", "    services: []", f'    command: "make -C {folder} {suite}"']
    if found.groups:
        trailer += ["", "root owns what no service claims (its allow above): "
                    + ", ".join(f"{g} ({n})" for g, n in found.groups.items())]
    shared = [(path, f"{only} of {touched} commits touching it only added lines") for path, touched, only in
              appended or []]
    return render(_HEADER, ROOT, workers, contracts, trailer, shared=shared), ids


def _cwd(patterns: list[str], dirs: set[str]) -> str | None:
    keys = [directory_prefix(p) for p in patterns]
    common: list[str] = []
    for parts in zip(*keys, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    while common and "/".join(common) not in dirs:
        common.pop()  # a literal file pattern: its folder is the place to start
    return "/".join(common) or None


def _lines(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:20])) + (f", ... ({len(numbers)} lines)" if len(numbers) > 20 else "")


def from_codeowners(imported: Imported, dirs: set[str]) -> str:
    """The draft for a CODEOWNERS import: one worker per owner, the file as ordered rules, plus root."""
    dialect = "GitLab" if imported.flavour == "gitlab" else "GitHub"
    rules = imported.parsed.rules
    header = [*_HEADER, "",
              f"Imported from {imported.source}, read as {dialect} CODEOWNERS ({imported.detected}):",
              f"{len(rules)} rules, {len(imported.workers)} workers. The file is kept below as written, under",
              "`ownership.rules`, with CODEOWNERS' own semantics: the last matching line decides"
              + (", in each section on its own." if imported.flavour == "gitlab" else "."),
              "The owners of the deciding line may write the path (their own deny and propose_only still apply);",
              "a line without owners un-owns its paths (they route to root). See docs/policy.md."]
    if imported.flavour == "gitlab":
        header += ["Maps to lanes: the rules of required sections (write access and routing; the latest",
                   "deciding line routes). Review-only metadata: optional sections (^[...]) and approval",
                   "counts ([Name][2]). Exclusions (!path) take a path out of their section."]
    skipped = imported.skipped
    if skipped:
        header += ["", f"{len(skipped)} line(s) NOT translated (commented out with '{SKIP_MARK.strip()}'; their "
                   "paths keep earlier owners):"]
        header += [str(i) for i in skipped[:50]]
        if len(skipped) > 50:
            header.append(f"... and {len(skipped) - 50} more: see the output of `lanewarden init`")
    by_owner: dict[str, list[int]] = {}
    patterns: dict[str, list[str]] = {}
    for rule in rules:
        for owner in rule.owners:
            by_owner.setdefault(owner, []).append(rule.line or 0)
            if len(patterns.setdefault(owner, [])) < 200:  # enough to find a common folder
                patterns[owner].extend(rule.patterns)
    workers: list[DraftWorker] = []
    for owner, wid in sorted(imported.workers.items(), key=lambda item: item[1]):
        written = imported.spelling.get(owner, owner)
        lines = by_owner.get(owner, [])
        worker = DraftWorker(wid, description=written, cwd=_cwd(patterns.get(owner, []), dirs),
                             comments=[f"{written}: CODEOWNERS line(s) {_lines(lines)}" if lines else
                                       f"{written}: a GitLab section's default owner"])
        worker.patterns["allow"] = []
        workers.append(worker)
    root = DraftWorker(ROOT, comments=["paths no CODEOWNERS line owns (or a line without owners) route here"])
    workers.append(root)
    ownership = DraftOwnership(
        source=imported.source, flavour=imported.flavour,
        owners=[(imported.spelling.get(o, o), wid) for o, wid in sorted(imported.workers.items())],
        text=imported.text,
        comments=["", "Ordered ownership rules: the CODEOWNERS file as written (docs/policy.md)."])
    return render(header, ROOT, workers, [], [], ownership)
