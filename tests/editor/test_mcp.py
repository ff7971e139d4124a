"""`llemma-prove mcp`: the MCP server driven by the `mcp` SDK's own client over stdio (the server in
its own process, the scripted provers and model plugged in through the editor's backends seam)."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import ROOT, cli_env
from tests.editor.doubles import SAMPLE_LEAN

mcp = pytest.importorskip("mcp", reason="the MCP SDK (the `mcp` extra) is not installed")



def _result(answer) -> dict:
    """A tool's JSON answer: the structured content, else the text block."""
    # mcp 2.x names the fields in snake case, mcp 1.x in camel case
    assert not getattr(answer, "is_error", getattr(answer, "isError", False)), answer
    structured = getattr(answer, "structured_content", getattr(answer, "structuredContent", None))
    if structured is not None:
        data = structured
        return data.get("result", data) if set(data) == {"result"} else data
    (block,) = answer.content
    return json.loads(block.text)


async def test_tools_over_stdio_with_the_sdk_client(tmp_path):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    path = tmp_path / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")
    env = {**cli_env(), "LLEMMA_PROVE_LEAN_PROJECT": str(tmp_path)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "llemma_prove.cli", "mcp", "--expansions", "10",
                                                                 "--backends", "test-cli"],
                                   env=env, cwd=str(ROOT))
    with open(tmp_path / "server.log", "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                names = sorted(t.name for t in (await session.list_tools()).tools)
                assert names == ["check_proof", "prove_sorry_in_file", "prove_theorem", "run_step",
                                 "suggest_next_steps"]

                header = "import Mathlib\nopen Real\n"
                proved = _result(await session.call_tool("prove_theorem", {
                    "statement": "lemma helper (x : ℕ) : x + 0 = x", "header": header}))
                assert proved["status"] == "proved" and proved["proof"] == "simp"

                report = _result(await session.call_tool("prove_sorry_in_file", {
                    "path": str(path), "theorem": "uses_helper"}))
                (row,) = report["results"]
                assert row["status"] == "proved" and row["proof"] == "exact helper a" and row["line"] == 9
                assert path.read_text(encoding="utf-8") == SAMPLE_LEAN  # not written without `write`

                steps = _result(await session.call_tool("suggest_next_steps", {"path": str(path), "line": 5}))
                assert [s["steps"] for s in steps["suggestions"]] == [["simp"]]  # `rfl` is refused by Lean

                ok = _result(await session.call_tool("check_proof", {
                    "statement": "lemma helper (x : ℕ) : x + 0 = x", "proof": "simp", "header": header}))
                bad = _result(await session.call_tool("check_proof", {
                    "statement": "lemma helper (x : ℕ) : x + 0 = x", "proof": "rfl", "header": header}))
                assert ok["accepted"] is True and bad["accepted"] is False

                step = _result(await session.call_tool("run_step", {
                    "statement": "theorem uses_helper (a : ℕ) : a + 0 + 0 = a", "tactic": "omega",
                    "steps_before": ["rw [helper]"], "header": header}))
                assert step["status"] == "error" and "omega could not prove the goal" in step["message"]
                step = _result(await session.call_tool("run_step", {
                    "statement": "theorem uses_helper (a : ℕ) : a + 0 + 0 = a", "tactic": "rw [helper]",
                    "header": header}))
                assert step == {"status": "goals", "goals": "a : ℕ ⊢ a + 0 = a", "message": None}

                error = _result(await session.call_tool("prove_sorry_in_file", {"path": str(tmp_path / "nope.lean")}))
                assert "no such file" in error["error"]
