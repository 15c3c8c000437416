"""``lanewarden init`` on a repository shaped like open-telemetry/opentelemetry-demo (fixtures/otel-shaped).

What real repositories showed: a service with its own ``src/`` and ``tests/`` folders split into two
workers named ``src`` and ``tests``; configuration-only folders and ``.github/`` owned by nobody and not
reported; the e2e suite in ``test/`` taken for a service; no append-only changelog proposed; root
handing its own files to itself; consumers missed when a Dockerfile copies the whole contract folder,
in ``.csproj`` files and in ts-proto output; no producers.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import git, lanewarden


@pytest.fixture
def otel(make_repo) -> Path:  # type: ignore[no-untyped-def]
    repo: Path = make_repo("otel-shaped")
    # Non-ASCII service folders keep readable ids.
    (repo / "src" / "ünïcode-svc").mkdir()
    (repo / "src" / "ünïcode-svc" / "package.json").write_text('{"name": "u"}\n', encoding="utf-8")
    (repo / "src" / "服务").mkdir()
    (repo / "src" / "服务" / "go.mod").write_text("module example.com/fuwu\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "non-ASCII services")
    # History: nearly every change adds a changelog entry; code is edited in place.
    main = repo / "src" / "checkout" / "main.go"
    for i in range(8):
        with open(repo / "CHANGELOG.md", "a", encoding="utf-8") as fh:
            fh.write(f"- change {i}\n")
        main.write_text(main.read_text().replace("func main() {", f"func main() {{ // v{i}", 1)
                        .replace(f"// v{i - 1}", "", 1))
        git(repo, "commit", "-q", "-am", f"change {i}")
    return repo


def _init(repo: Path) -> tuple[dict, dict]:  # type: ignore[type-arg]
    result = lanewarden("init", "--repo", str(repo), "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), yaml.safe_load((repo / "lanewarden.yaml").read_text(encoding="utf-8"))


def test_init_gets_an_otel_shaped_monorepo_right(otel: Path) -> None:
    report, policy = _init(otel)
    workers = policy["workers"]
    # One worker per service folder, even with src/ and tests/ inside; config-only folders get one too.
    assert workers["cart"]["allow"] == ["src/cart/**"] and "src" not in workers and "tests" not in workers
    for config in ("grafana", "jaeger", "otel-collector", "flagd"):
        assert workers[config]["allow"] == [f"src/{config}/**"]
    assert {"unicode-svc", "xn--zfr188b"} <= set(workers)
    # test/ is the e2e suite, not a service.
    assert "telemetry" not in workers and report["draft"]["e2e"] == [{"folder": "test", "suites": ["telemetry"]}]
    # Root's lane covers what it owns: it never hands its own files to itself.
    assert {"*", ".github/**", "kubernetes/**", "test/**"} <= set(workers["root"]["allow"])
    assert report["draft"]["root_owns"] == {"*": 4, ".github/**": 1, "kubernetes/**": 1}
    assert policy["shared"]["append_only"] == ["CHANGELOG.md"]
    contract = policy["contracts"]["demo"]
    assert set(contract["consumers"]) == {"cart", "checkout", "frontend", "payment"}
    assert set(contract["producers"]) == {"cart", "checkout", "payment"}
    evidence = {svc: note for svc, _, note in report["inferred_consumers"]["demo"]}
    assert "src/cart/src/cart.csproj" in evidence["cart"] and "generated src/frontend/protos/demo.ts" in \
        evidence["frontend"] and "src/payment/Dockerfile" in evidence["payment"]
    # Every tracked file has a writer: nothing is silently unowned.
    git(otel, "add", "lanewarden.yaml")
    git(otel, "commit", "-q", "-m", "policy")
    tracked = git(otel, "ls-files", "-z").split("\0")[:-1]
    explained = lanewarden("explain", "--repo", str(otel), "--format", "json", "-", input="\n".join(tracked))
    lines = [json.loads(line) for line in explained.stdout.splitlines()]
    assert not [x["path"] for x in lines if not x["writers"]]
    owners = {x["path"]: x["owner"] for x in lines}
    assert owners["src/cart/README.md"] == "cart" and owners["src/cart/cart.sln"] == "cart"
    assert owners[".github/workflows/ci.yml"] == "root"
    root_edit = lanewarden("explain", "--repo", str(otel), "--worker", "root", "--format", "json",
                           ".github/workflows/ci.yml")
    assert json.loads(root_edit.stdout)["class"] == "writable"
    check = lanewarden("policy", "check", "--repo", str(otel))
    assert check.exit_code == 0, check.stdout + check.stderr


def test_init_reads_heads_tree_when_the_checkout_failed(otel: Path) -> None:
    git(otel, "rm", "-r", "-q", "--cached", ".")  # an empty index, as after a failed checkout
    result = lanewarden("init", "--repo", str(otel), "--output", "-")
    assert result.exit_code == 0, result.stderr
    assert "the index is empty but HEAD tracks" in result.stderr and "git tracks no files yet" not in result.stderr
    assert "  cart:" in result.stdout


def test_a_copy_differing_only_in_white_space_says_so(otel: Path) -> None:
    _init(otel)
    git(otel, "add", "lanewarden.yaml")
    git(otel, "commit", "-q", "-m", "policy")
    proto = (otel / "pb" / "demo.proto").read_text()
    (otel / "src" / "checkout" / "proto").mkdir()
    copy = proto.replace("{}", "{ }").replace("\n", "  \n")
    (otel / "src" / "checkout" / "proto" / "demo.proto").write_text(copy)
    git(otel, "add", "-A")
    git(otel, "commit", "-q", "-m", "vendored copy")
    result = lanewarden("review", "contracts", "--repo", str(otel), "--no-handoffs", "--base", "HEAD~1",
                        "--infer")
    assert "differs only in white space" in result.stdout and "100% alike" not in result.stdout
    data = json.loads(lanewarden("review", "contracts", "--repo", str(otel), "--base", "HEAD~1", "--infer",
                                 "--format", "json").stdout)
    assert [c["whitespace_only"] for c in data["copies"]] == [True]
