#!/usr/bin/env python3
"""Review benchmark: graph, contract impact and e2e matrix on a policy of 2,000 services and 500 contracts.

What it times, in-process (best of --repeat after one warm-up):

  (a) graph     orchestrator.graph.build(policy): services, contracts, suites, depends_on
  (b) review    orchestrator.impact.review + orchestrator.matrix.build for a change set
                touching --changed-contracts contracts and --changed-paths service files:
                one multi-source traversal carrying every changed contract at once
  (c) naive     the same dependents answered the obvious way: one nx.descendants()
                per producer/consumer of each changed contract, then one per contract union
  (d) floor     `git --version` as a subprocess: the cost of starting any git command,
                the unit the other figures are compared with

and prints (b) / (c) (the single traversal against per-node traversals),
(a + b) / d and the number of affected services, contracts and suites, so the
answers of (b) and (c) can be checked to agree (exit 1 when they do not).

The policy is built as lanewarden's own frozen values (no YAML), with a fixed seed;
the llm-context mappings are not read (in a review that is one `git cat-file --batch`).
"""
from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import networkx as nx
from benchenv import git_env

from lanewarden.orchestrator.reviews import (
    graph,
    impact,
    matrix,
)
from lanewarden.orchestrator.reviews.inputs import ChangeRef, Subject
from lanewarden.workers.loader import LoadedPolicy
from lanewarden.workers.policy import Contract, Policy, Suite, Worker


def svc(i: int) -> str:
    return f"svc-{i:04d}"


def make_policy(services: int, contracts: int, suites: int, rng: random.Random) -> Policy:
    workers: dict[str, Worker] = {}
    for i in range(services):
        # Each service calls up to three others; some cycles, as in real estates.
        deps = tuple(sorted({svc(rng.randrange(services)) for _ in range(rng.randint(0, 3))} - {svc(i)}))
        workers[svc(i)] = Worker(cwd=f"services/{svc(i)}", allow=(f"services/{svc(i)}/**",),
                                 propose_only=("contracts/**",), depends_on=deps, high_risk=i % 50 == 0)
    workers["contracts"] = Worker(allow=("contracts/**",))
    workers["root"] = Worker(allow=("e2e/**",))
    cons: dict[str, Contract] = {}
    for c in range(contracts):
        producer = svc(rng.randrange(services))
        consumers = tuple(sorted({svc(rng.randrange(services)) for _ in range(rng.randint(2, 8))} - {producer}))
        cons[f"api-{c:03d}"] = Contract(paths=(f"contracts/api-{c:03d}/**",), producers=(producer,),
                                        consumers=consumers)
    e2e = {f"suite-{s:03d}": Suite(services=tuple(sorted({svc(rng.randrange(services))
                                                          for _ in range(rng.randint(5, 20))})),
                                   command=f"make e2e-{s}")
           for s in range(suites)}
    return Policy(version=1, root="root", workers=workers, contracts=cons, e2e=e2e)


def make_subject(policy: Policy, changed_contracts: int, changed_paths: int, rng: random.Random) -> Subject:
    changes = [ChangeRef(f"contracts/{cid}/schema.json", "range", "base..head", "modified")
               for cid in rng.sample(sorted(policy.contracts), changed_contracts)]
    services = sorted(w for w in policy.workers if w.startswith("svc-"))
    changes += [ChangeRef(f"services/{rng.choice(services)}/src/file{k}.py", "range", "base..head", "modified")
                for k in range(changed_paths)]
    loaded = LoadedPolicy(policy=policy, source="bench", origin="revision", rev=None, sha256="", text=b"")
    return Subject(loaded=loaded, base=None, head=None, mapping_rev=None, changes=tuple(changes), handoffs=(),
                   sources=("synthetic range",))


def naive_dependents(g: nx.DiGraph, policy: Policy, contracts: list[str]) -> dict[str, set[str]]:
    """contract -> dependents, one descendants() walk per producer/consumer."""
    deps = g.edge_subgraph([(a, b) for a, b, k in g.edges(data="kind") if k == "depends_on"])
    out: dict[str, set[str]] = {}
    for cid in contracts:
        c = policy.contracts[cid]
        direct = {*c.producers, *c.consumers}
        found: set[str] = set()
        for s in direct:
            key = graph.node(graph.SERVICE, s)
            if key in deps:
                found |= {graph.split(k)[1] for k in nx.descendants(deps, key)}
        out[cid] = found - direct
    return out


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    fn()  # warm-up
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description="lanewarden review on a large synthetic policy")
    ap.add_argument("--services", type=int, default=2000)
    ap.add_argument("--contracts", type=int, default=500)
    ap.add_argument("--suites", type=int, default=100)
    ap.add_argument("--changed-contracts", type=int, default=50)
    ap.add_argument("--changed-paths", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(6)
    policy = make_policy(args.services, args.contracts, args.suites, rng)
    subject = make_subject(policy, args.changed_contracts, args.changed_paths, rng)
    edges = sum(len(w.depends_on) for w in policy.workers.values())
    print(f"policy: {len(policy.workers)} workers ({edges} depends_on edges), {len(policy.contracts)} contracts, "
          f"{len(policy.e2e)} suites; change: {args.changed_contracts} contracts, {args.changed_paths} service paths")

    t_graph, g = best(lambda: graph.build(policy), args.repeat)

    def review() -> tuple[impact.ImpactReview, matrix.Matrix]:
        r = impact.review(None, subject, g)  # type: ignore[arg-type]  # no git: mappings are not read
        return r, matrix.build(policy, g, r.affected_services)

    t_review, (result, mx) = best(review, args.repeat)
    touched = [c.contract for c in result.contracts]
    seeds = {graph.node(graph.SERVICE, s): {cid}
             for cid in touched for s in (*policy.contracts[cid].producers, *policy.contracts[cid].consumers)}
    t_one, _ = best(lambda: graph.dependents(g, seeds), args.repeat)
    t_naive, naive = best(lambda: naive_dependents(g, policy, touched), args.repeat)
    ours = {c.contract: {d for d, _ in c.dependents} for c in result.contracts}
    if ours != naive:
        print("error: the single traversal and the per-node walks disagree", file=sys.stderr)
        return 1
    t_git, _ = best(lambda: subprocess.run(["git", "--version"], env=git_env(), capture_output=True, check=True),
                    args.repeat)
    print(f"  (a) graph build                                {t_graph:7.3f} s  "
          f"({g.number_of_nodes()} nodes, {g.number_of_edges()} edges)")
    print(f"  (b) review: impact + e2e matrix                {t_review:7.3f} s  "
          f"({len(touched)} contracts, {len(result.affected_services)} affected services, "
          f"{sum(1 for r in mx.rows if r.required)} required suites)")
    print(f"      of which the one dependents traversal      {t_one:7.3f} s")
    print(f"  (c) naive: one descendants() per node          {t_naive:7.3f} s")
    print(f"  (d) git --version (floor)                      {t_git:7.3f} s")
    print(f"  traversal: naive / one = {t_naive / t_one:.1f}x;  review (a + b) = {(t_graph + t_review) / t_git:.1f}x "
          "the git floor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
