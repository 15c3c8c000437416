"""``lanewarden mcp`` driven by the MCP SDK's own client over stdio, on a real repository."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import BIN, git, git_env

mcp = pytest.importorskip("mcp")

from anyio import run as run_async  # noqa: E402
from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

TOOLS = {"my_lane", "who_owns", "check_my_changes", "propose_handoff", "list_handoffs"}


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result
    if result.structured_content is not None:
        data: dict[str, Any] = result.structured_content
        return data.get("result", data) if set(data) == {"result"} else data
    return json.loads(result.content[0].text)  # type: ignore[no-any-return]


async def _session(repo: Path, calls: list[tuple[str, dict[str, Any]]]) -> tuple[set[str], list[dict[str, Any]]]:
    params = StdioServerParameters(command=str(BIN / "lanewarden"), args=["mcp", "--worker", "wallet-api"],
                                   env={**git_env(), "PYTHONPATH": str(BIN.parent)}, cwd=str(repo))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        listed = await session.list_tools()
        names = {t.name for t in listed.tools}
        descriptions = {t.name: t.description or "" for t in listed.tools}
        assert all(len(descriptions[n]) > 80 for n in names)  # written for an agent to act on
        out = [_data(await session.call_tool(name, args)) for name, args in calls]
    return names, out


def test_mcp_server_over_stdio(repo: Path) -> None:
    (repo / "services" / "kms-api" / "src" / "kms_api" / "server.py").write_text("changed out of lane\n")
    contract = repo / "contracts" / "wallet" / "openapi.yaml"
    original = contract.read_text()
    contract.write_text(original + "# v2\n")
    patch = git(repo, "diff", "--", "contracts/wallet/openapi.yaml")
    contract.write_text(original)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("my_lane", {}),
        ("who_owns", {"paths": ["contracts/wallet/openapi.yaml",
                                str(repo / "services/wallet-api/src/wallet_api/app.py"), "services/kms-api/src"]}),
        ("check_my_changes", {}),
        ("propose_handoff", {"problem": "Add a v2 marker to the wallet contract", "patch": patch}),
        ("list_handoffs", {"direction": "from_me"}),
        ("propose_handoff", {"problem": "  "}),
    ]
    names, (lane, owners, check, proposed, mine, bad) = run_async(_session, repo, calls)
    assert names == TOOLS
    assert lane["worker"] == "wallet-api" and lane["may_write"] == ["services/wallet-api/**"]
    assert lane["change_only_through_handoff"] == ["contracts/**"]
    assert [c["id"] for c in lane["contracts_produced"]] == ["wallet-api"]
    assert [c["id"] for c in lane["contracts_consumed"]] == ["kms-signing"]
    assert [(p["owner"], p["you_may_write"]) for p in owners["paths"]] == [
        ("contracts", False), ("wallet-api", True), ("kms-api", False)]
    assert owners["paths"][1]["path"] == "services/wallet-api/src/wallet_api/app.py"  # absolute paths made relative
    assert check["done_allowed"] is False and check["verdict"]["decision"] == "reject"
    assert "services/kms-api/src/kms_api/server.py" in check["what_to_do"]
    (queued,) = proposed["queued"]
    assert queued["target_worker"] == "contracts" and queued["created"] is True
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/lanewarden/handoffs/").split()
    assert refs == [f"refs/lanewarden/handoffs/{queued['id']}"]
    assert [h["id"] for h in mine["handoffs"]] == [queued["id"]]
    assert "problem is empty" in bad["error"]


def test_mcp_refuses_to_start_for_an_unknown_worker(repo: Path) -> None:
    from conftest import lanewarden

    result = lanewarden("mcp", "--repo", str(repo), "--worker", "nobody")
    assert result.exit_code == 2 and "unknown worker 'nobody'" in result.stderr


def test_lane_desk_routes_a_proposal_by_paths(repo: Path) -> None:
    from lanewarden.orchestrator.integrations.mcp_server import LaneDesk
    from lanewarden.workers.errors import InputError
    from lanewarden.workers.git import Git

    desk = LaneDesk(Git.discover(repo), "wallet-api")
    queued = desk.propose_handoff("kms-api must accept a key id", paths=["services/kms-api/src/kms_api/keys.py"])
    (item,) = queued["queued"]
    assert item["target_worker"] == "kms-api" and item["status"] == "open"
    assert [h["id"] for h in LaneDesk(desk.git, "kms-api").list_handoffs()["handoffs"]] == [item["id"]]
    assert desk.list_handoffs("to_me")["handoffs"] == []
    with pytest.raises(InputError, match="outside this repository"):
        desk.who_owns(["/etc/passwd"])
