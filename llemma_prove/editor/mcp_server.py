"""`llemma-prove mcp`: a Model Context Protocol server (stdio) for agents, on the editor's machinery.

Tools (every result is JSON; a proof is reported only after the prover's final check accepted it):
- `prove_theorem`: a proof for one Lean 4 statement (with its header), by best-first search;
- `prove_sorry_in_file`: the `sorry`s of a `.lean`/`.thy` file (all, one theorem, or one line), as
  `llemma-prove prove FILE --json` reports them, optionally written back (`write`, `partial`);
- `suggest_next_steps`: the model's top next steps at a `sorry` of a file that Lean accepts, with the
  goals each leaves;
- `check_proof`: the trusted final check of a proof of a statement (the same check searches end with);
- `run_step`: one tactic on the state reached by a statement and the steps before it (stateless: the
  state is named by those steps), answering the goals left, "proved", or Lean's error.

Provers and the model are built on first use and kept (per Lake project, see `project.py`).
Provers and model: as for `prove`, the plug-ins (`--backends NAME` names an editor-backends plug-in).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ProposerError, ProverError, UserError
from ..types import Language, OutcomeKind, Proof
from .backends import Backends, EditorConfig, load_backends
from .errors import NoTarget
from .project import choose_project
from .prove_file import prove_file
from .session import ReplayingProver, prove_target, suggest_steps
from .lean_targets import lean_may_decide
from .lean_view import lean_view
from .targets import HoleKind, Target, language_for, locate, select_targets
from .writeback import read_source

log = logging.getLogger(__name__)

DEFAULT_HEADER = "import Mathlib\n"


def _import_server_class() -> Any:
    """The SDK's high-level server: `MCPServer` (mcp 2.x), or `FastMCP` (mcp 1.x)."""
    try:
        from mcp.server.mcpserver import MCPServer

        return MCPServer
    except ImportError:
        from mcp.server.fastmcp import FastMCP  # type: ignore[no-redef]

        return FastMCP


class ProverTools:
    """The tools' logic, independent of the MCP transport (tested directly and through the SDK)."""

    def __init__(self, config: EditorConfig) -> None:
        self.config = config
        self._backends: dict[str, Backends] = {}

    def backends(self, file: Path | None = None) -> Backends:
        config = self.config
        if file is not None and file.suffix.lower() == ".lean":
            config = replace(config, lean_project=choose_project(file, config).directory)
        elif file is None and config.lean_project is None:
            config = replace(config, lean_project=choose_project(Path.cwd() / "Statement.lean", config).directory)
        key = str(config.lean_project)
        if key not in self._backends:
            self._backends[key] = load_backends(config)
        return self._backends[key]

    async def close(self) -> None:
        backends, self._backends = list(self._backends.values()), {}
        for item in backends:
            try:
                await item.close()
            except Exception:
                log.exception("closing backends failed")

    # -- targets from a statement ----------------------------------------------------------------

    @staticmethod
    def statement_target(statement: str, header: str) -> Target:
        """The whole-proof target of `header` + `statement` (its proof, if any, replaced by `sorry`)."""
        from ..provers.lean.render import statement_head

        if not statement.strip():
            raise UserError("the statement is empty")
        head = header if header.endswith("\n") or not header else header + "\n"
        text = head + "\n" + statement_head(statement) + " by sorry\n"
        located = locate(text, Language.LEAN4)
        whole = [t for t in located.targets if t.kind is HoleKind.WHOLE_PROOF]
        if len(whole) != 1 or len(located.targets) != 1:
            raise UserError("give one `theorem`/`lemma`/`example` statement (its proof, if any, is ignored)")
        return whole[0]

    # -- tools -----------------------------------------------------------------------------------

    async def prove_theorem(self, statement: str, header: str = DEFAULT_HEADER) -> dict[str, Any]:
        target = self.statement_target(statement, header)
        outcome = await prove_target(target, self.backends(), self.config)
        data = outcome.to_json()
        data["proof"] = "\n".join(outcome.steps) if outcome.proved else None
        return data

    async def prove_sorry_in_file(self, path: str, theorem: str | None = None, line: int | None = None,
                                  write: bool = False, partial: bool = False) -> dict[str, Any]:
        file = Path(path).expanduser()
        language_for(file)  # a clear error for a wrong file type before anything starts
        report = await prove_file(file, self.config, theorem=theorem, line=line, write=write, partial=partial,
                                  backends=self.backends(file))
        return report.to_json(with_diff=True)

    async def suggest_next_steps(self, path: str, line: int, count: int = 5) -> dict[str, Any]:
        file = Path(path).expanduser()
        snapshot = read_source(file)
        located = locate(snapshot.text, language_for(file))
        targets = [t for t in select_targets(located, line=line, source=str(file)) if t.line == line]
        if not targets:
            raise NoTarget(f"no sorry on line {line} of {file}")
        if located.language is Language.LEAN4 and lean_may_decide(targets[0], snapshot.text):
            view = await lean_view(snapshot.text, located.header, self.backends(file))  # Lean decides, if here
            if view is not None:
                targets = [t for t in locate(snapshot.text, Language.LEAN4, view).targets if t.start == targets[0].start]
        target = targets[0].require_supported()
        try:
            suggestions = await suggest_steps(target, self.backends(file), self.config, count=count)
        except (ProverError, ProposerError) as exc:
            return {"target": target.label, "suggestions": [], "error": str(exc)}
        return {"target": target.label, "suggestions": [s.to_json() for s in suggestions]}

    async def check_proof(self, statement: str, proof: str, header: str = DEFAULT_HEADER) -> dict[str, Any]:
        target = self.statement_target(statement, header)
        assert target.theorem is not None
        if not proof.strip():
            raise UserError("the proof is empty")
        prover = await self.backends().prover(target.theorem)
        verification = await prover.verify(target.theorem, Proof((proof.strip("\n"),)))
        return {"accepted": verification.accepted, "verdict": verification.verdict.value,
                "reason": verification.reason or None, "checked_text": verification.checked_text or None}

    async def run_step(self, statement: str, tactic: str, steps_before: list[str] | None = None,
                       header: str = DEFAULT_HEADER) -> dict[str, Any]:
        target = self.statement_target(statement, header)
        theorem = target.theorem
        assert theorem is not None
        prover = await self.backends().prover(theorem)
        if steps_before:
            prover = ReplayingProver(prover, tuple(steps_before))
        try:
            session = await prover.open(theorem)
        except ProverError as exc:
            return {"status": "error", "goals": None, "message": str(exc)}
        try:
            state = await session.initial_state()
            outcome = await session.step(state, tactic)
        finally:
            await session.close()
        if outcome.kind is OutcomeKind.PROVED:
            return {"status": "proved", "goals": "", "message": outcome.message or None,
                    "note": "the goal is closed; run check_proof on the whole proof for the final check"}
        if outcome.kind is OutcomeKind.GOALS and outcome.state is not None:
            return {"status": "goals", "goals": outcome.state.text, "message": outcome.message or None}
        return {"status": outcome.kind.value, "goals": None, "message": outcome.message}


def build_server(config: EditorConfig) -> tuple[Any, ProverTools]:
    """The MCP server with the five tools registered, and the tools object behind it."""
    server_class = _import_server_class()
    tools = ProverTools(config)
    server = server_class("llemma-prove", instructions=(
        "Lean 4 / Isabelle proof search with LLEMMA. Proofs are reported only after the prover's final "
        "check accepted them. Use suggest_next_steps and run_step to explore, check_proof to verify."))

    async def guarded(call: Any) -> dict[str, Any]:
        try:
            return await call
        except UserError as exc:
            return {"error": str(exc)}

    @server.tool()
    async def prove_theorem(statement: str, header: str = DEFAULT_HEADER) -> dict[str, Any]:
        """Search for a proof of one Lean 4 statement (`theorem name ... :`); `header` holds its imports.
        The result's `proof` is set only when the final check accepted it."""
        return await guarded(tools.prove_theorem(statement, header))

    @server.tool()
    async def prove_sorry_in_file(path: str, theorem: str | None = None, line: int | None = None,
                                  write: bool = False, partial: bool = False) -> dict[str, Any]:
        """Prove the sorrys of a .lean or .thy file (all, those of `theorem`, or the one on `line`) in the
        file's own context and Lake project; `write` puts checked proofs into the file (atomically)."""
        return await guarded(tools.prove_sorry_in_file(path, theorem, line, write, partial))

    @server.tool()
    async def suggest_next_steps(path: str, line: int, count: int = 5) -> dict[str, Any]:
        """The model's top next tactics at the sorry on `line` of a file, each run by Lean: only accepted
        ones, with the goals each leaves."""
        return await guarded(tools.suggest_next_steps(path, line, count))

    @server.tool()
    async def check_proof(statement: str, proof: str, header: str = DEFAULT_HEADER) -> dict[str, Any]:
        """The trusted final check (from scratch, axioms audited) of `proof`, the tactic block after
        `:= by`, for `statement`."""
        return await guarded(tools.check_proof(statement, proof, header))

    @server.tool()
    async def run_step(statement: str, tactic: str, steps_before: list[str] | None = None,
                       header: str = DEFAULT_HEADER) -> dict[str, Any]:
        """Run `tactic` on the state that `steps_before` reach from `statement`'s goal: the goals left,
        "proved", or Lean's error."""
        return await guarded(tools.run_step(statement, tactic, steps_before, header))

    return server, tools


def serve(config: EditorConfig) -> None:
    """Run the server on stdin/stdout until the client closes it."""
    import anyio

    server, tools = build_server(config)

    async def main() -> None:
        try:
            await server.run_stdio_async()
        finally:
            await tools.close()

    anyio.run(main)


__all__ = ["ProverTools", "build_server", "serve"]
