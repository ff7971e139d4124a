"""Test doubles for the editor tests: scripted provers/proposers behind the editor's `Backends` seam.

They extend `tests/doubles/scripted.py` (a prover that answers from a scripted graph and checks a
proof by replaying it through the same graph, and a proposer that answers from a table). The factories
at the bottom are, as editor-backends plug-ins (tests/plugin_dist), what `--backends NAME` (CLI) and the
`backends` initialization option (language server) name; the language-server ones write every call to
an event log file so a test in another process can see what the search did and when it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from llemma_prove.plugins import EditorBackendsPlugin
from llemma_prove.editor.backends import EditorConfig
from llemma_prove.provers.lean import LeanReplProver
from llemma_prove.types import GoalState, Language, OutcomeKind, Proof, StepOutcome, Theorem, Verification
from tests.doubles.scripted import Edge, ScriptedProposer, ScriptedProver, ScriptedSession, fails, goes_to, proves


class EventLog:
    """Lines appended (and flushed) to a file: `time event detail`. None: nothing is written."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None

    def write(self, event: str, detail: str = "") -> None:
        if self.path is None:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(f"{time.monotonic():.4f}\t{event}\t{detail.replace(chr(10), ' ')}\n")


def read_events(path: Path) -> list[tuple[float, str, str]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stamp, event, detail = line.split("\t", 2)
        rows.append((float(stamp), event, detail))
    return rows


class LoggedSession(ScriptedSession):
    def __init__(self, prover: "EditorScriptedProver", theorem: Theorem) -> None:
        super().__init__(prover, theorem)
        self.log = prover.log

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        self.log.write("step", f"{state.text} | {tactic}")
        return await super().step(state, tactic)

    async def close(self) -> None:
        self.log.write("session-closed", self.theorem.name)
        await super().close()


class EditorScriptedProver(ScriptedProver):
    """ScriptedProver for whole files: records the theorems it opens and the proofs it checks."""

    def __init__(self, script: Mapping[str, Mapping[str, Edge]], roots: Mapping[str, str],
                 reject: Sequence[str] = (), log: EventLog | None = None, language: Language = Language.LEAN4) -> None:
        super().__init__(script, roots, reject)
        self.log = log or EventLog(None)
        self.language = language
        self.opened: list[Theorem] = []
        self.verified: list[tuple[Theorem, Proof]] = []
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        self.log.write("prover-start")
        await super().start()

    async def open(self, theorem: Theorem) -> ScriptedSession:
        if theorem.name not in self.roots:
            from llemma_prove.errors import ProverError

            raise ProverError(f"theorem {theorem.name} is not in the script")
        self.opened.append(theorem)
        self.log.write("open", theorem.name)
        session = LoggedSession(self, theorem)
        self.sessions.append(session)
        return session

    async def verify(self, theorem: Theorem, proof: Proof) -> Verification:
        self.verified.append((theorem, proof))
        self.log.write("verify", " ; ".join(proof.tactics))
        return await super().verify(theorem, proof)

    async def close(self) -> None:
        self.log.write("prover-closed")
        await super().close()


@dataclass
class ScriptedBackends:
    """`Backends` over one scripted prover and proposer; counts how often each was asked for."""

    prover_double: EditorScriptedProver
    proposer_double: ScriptedProposer
    log: EventLog = field(default_factory=lambda: EventLog(None))
    prover_requests: int = 0
    closed: bool = False
    _started: bool = False

    async def prover(self, theorem: Theorem) -> EditorScriptedProver:
        self.prover_requests += 1
        if not self._started:
            await self.prover_double.start()
            self._started = True
        return self.prover_double

    async def proposer(self, language: Language) -> ScriptedProposer:
        return self.proposer_double

    async def close(self) -> None:
        self.closed = True
        self.log.write("backends-closed")
        await self.prover_double.close()


class Chain(Mapping[str, Any]):
    """A scripted graph for slow searches: state `sK` --`step`--> `s(K+1)`, each step taking `delay_s`;
    endless, or `step` proves the goal at state `s<prove_at>`."""

    def __init__(self, delay_s: float, prove_at: int | None = None) -> None:
        self.delay_s = delay_s
        self.prove_at = prove_at

    def __getitem__(self, key: str) -> Any:
        if not key.startswith("s") or not key[1:].isdigit():
            raise KeyError(key)
        k = int(key[1:])
        if self.prove_at is not None and k == self.prove_at:
            return {"step": proves(delay_s=self.delay_s)}
        return {"step": goes_to(f"s{k + 1}", delay_s=self.delay_s)}

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class ChainTable(Mapping[str, Any]):
    """Proposer table for `Chain`: every chain state gets the candidate `step`."""

    def __getitem__(self, key: str) -> Any:
        if key.startswith("s") and key[1:].isdigit():
            return [("step", -0.1)]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


# ------------------------------------------------------------------ the scripted file used by the tests

SAMPLE_LEAN = """import Mathlib
open Real

/-- A helper lemma. -/
@[simp] lemma helper (x : ℕ) : x + 0 = x := by sorry

theorem uses_helper (a : ℕ) : a + 0 + 0 = a := by
  rw [helper]
  sorry

example : (2 : ℕ) + 2 = 4 := sorry

theorem «nested one» : True ∧ True := by
  constructor
  · exact sorry
  · trivial
"""

LEAN_ROOTS = {
    "helper": "x : ℕ ⊢ x + 0 = x",
    "uses_helper": "a : ℕ ⊢ a + 0 + 0 = a",
    "llemma_example_line11": "⊢ 2 + 2 = 4",
    "chain": "s0",
}
LEAN_SCRIPT: dict[str, dict[str, Edge]] = {
    "x : ℕ ⊢ x + 0 = x": {"simp": proves(), "rfl": fails("rfl failed")},
    "a : ℕ ⊢ a + 0 + 0 = a": {"rw [helper]": goes_to("a : ℕ ⊢ a + 0 = a")},
    "a : ℕ ⊢ a + 0 = a": {"exact helper a": proves(), "omega": fails("omega could not prove the goal")},
    "⊢ 2 + 2 = 4": {"norm_num": proves()},
}
LEAN_TABLE = {
    "x : ℕ ⊢ x + 0 = x": [("rfl", -0.5), ("simp", -0.2)],
    "a : ℕ ⊢ a + 0 = a": [("omega", -0.1), ("exact helper a", -0.3)],
    "⊢ 2 + 2 = 4": [("norm_num", -0.1)],
}


def sample_backends(config: EditorConfig, log: EventLog | None = None, reject: Sequence[str] = ()) -> ScriptedBackends:
    log = log or EventLog(None)
    prover = EditorScriptedProver(LEAN_SCRIPT, LEAN_ROOTS, reject=reject, log=log)
    return ScriptedBackends(prover, ScriptedProposer(LEAN_TABLE), log)


# ------------------------------------------------------------------ factories named by the seams


def cli_backends(config: EditorConfig) -> ScriptedBackends:
    """For `--backends test-cli` in CLI tests: the sample script."""
    return sample_backends(config)


def cli_slow_backends(config: EditorConfig) -> ScriptedBackends:
    """The sample script plus theorem `slow`, an endless chain of 0.2 s steps (for interrupt tests)."""
    chain, chain_table = Chain(0.2), ChainTable()

    class Script(dict):
        def get(self, key: str, default: Any = None) -> Any:
            return super().get(key) or chain.get(key, default)

    class Table(dict):
        def get(self, key: str, default: Any = None) -> Any:
            return super().get(key) or chain_table.get(key, default)

    prover = EditorScriptedProver(Script(LEAN_SCRIPT), {**LEAN_ROOTS, "slow": "s0"})
    return ScriptedBackends(prover, ScriptedProposer(Table(LEAN_TABLE)))


def cli_rejecting_backends(config: EditorConfig) -> ScriptedBackends:
    """The sample script, but the final check refuses `helper`'s proof."""
    return sample_backends(config, reject=["helper"])


def lsp_backends(config: EditorConfig) -> ScriptedBackends:
    """For the language server: the sample script plus a slow chain (`Chain`), logging every call to
    `backend_options["log"]`. Options: `delay` (seconds per chain step), `prove_at` (the chain's
    length, none: endless), `roots` (more theorem name -> root state)."""
    options = config.backend_options
    log = EventLog(options.get("log"))
    log.write("backends-built", str(config.lean_project))
    script: dict[str, Any] = dict(LEAN_SCRIPT)
    table: dict[str, Any] = dict(LEAN_TABLE)
    chain, chain_table = Chain(float(options.get("delay", 0.2)), options.get("prove_at")), ChainTable()

    class Script(dict):
        def get(self, key: str, default: Any = None) -> Any:
            return super().get(key) or chain.get(key, default)

    class Table(dict):
        def get(self, key: str, default: Any = None) -> Any:
            return super().get(key) or chain_table.get(key, default)

    roots = dict(LEAN_ROOTS)
    roots.update(options.get("roots", {}))
    prover = EditorScriptedProver(Script(script), roots, log=log)
    return ScriptedBackends(prover, ScriptedProposer(Table(table)), log)


# ------------------------------------------------------------------ sketch-capable doubles (nested sorrys)


class SketchSessionDouble(LoggedSession):
    """A scripted sketch session. Like Lean's REPL, which elaborates the whole sketch at once: the
    sketch must be the theorem's first opened sketch with some holes filled by fills that replay to a
    proof (else nothing elaborates); each remaining hole's goal is the script's root for that hole of
    the first sketch (`hole_roots[name]`: one goal, or a list, one per hole)."""

    def __init__(self, prover: SketchScriptedProver, theorem: Theorem, sketch: Any) -> None:
        super().__init__(prover, theorem)
        self.sketch = sketch
        self.prover_double = prover

    async def hole_goal(self, index: int, fills: Sequence[str]) -> Any:
        from llemma_prove.autoformalize.protocols import HoleGoal

        prover = self.prover_double
        original = prover.first_sketch(self.theorem.name)
        mapping = prover.remaining_holes(self.theorem.name, original, self.sketch.text)
        if mapping is None or index >= len(self.sketch.holes):
            return HoleGoal(index, None, "the sketch does not elaborate (not in the test script)")
        root = prover.hole_root(self.theorem.name, mapping[index])
        if root is None:
            return HoleGoal(index, None, "the sketch does not elaborate (not in the test script)")
        return HoleGoal(index, GoalState(root, handle=("hole", mapping[index])))


class SketchScriptedProver(EditorScriptedProver):
    """EditorScriptedProver that also opens sketches (`autoformalize.protocols.SketchProver`).

    `verify_sketch` stands in for Lean's from-scratch check of the assembled proof: the text around the
    holes must be the first opened sketch's, byte for byte; each fill's tactics (one per line, later
    lines at the hole's own column, as Lean's tactic blocks require) must replay through the script
    from that hole's goal to a proof; no `sorry` may remain.
    """

    def __init__(self, script: Mapping[str, Mapping[str, Edge]], roots: Mapping[str, str],
                 hole_roots: Mapping[str, Any], reject: Sequence[str] = (), log: EventLog | None = None) -> None:
        super().__init__(script, roots, reject, log)
        self.hole_roots = dict(hole_roots)
        self.sketches: list[tuple[Theorem, Any]] = []
        self.checked_bodies: list[tuple[Theorem, str]] = []

    def first_sketch(self, name: str) -> Any:
        return next((s for t, s in self.sketches if t.name == name), None)

    def hole_root(self, name: str, index: int) -> str | None:
        roots = self.hole_roots.get(name)
        if isinstance(roots, (list, tuple)):
            return roots[index] if index < len(roots) else None
        return roots

    def _fills(self, original: Any, body: str) -> list[str | None] | None:
        """The text standing in each hole of `original` inside `body` (None: still `sorry`), or None
        when `body` is not `original` with its holes replaced."""
        import re

        if original is None:
            return None
        pieces = original.segments()
        pattern = "".join(re.escape(p) + ("(.*?)" if i < len(pieces) - 1 else "") for i, p in enumerate(pieces))
        match = re.fullmatch(pattern, body, flags=re.DOTALL)
        if match is None:
            return None
        return [None if g == "sorry" else g for g in match.groups()]

    def _replays(self, name: str, index: int, fill: str, column: int) -> str:
        """'' when `fill` proves hole `index` of theorem `name` by the script, else why not."""
        lines = fill.replace("\r\n", "\n").split("\n")
        if any(len(line) - len(line.lstrip(" ")) != column for line in lines[1:]):
            return "a tactic is not at the block's column"
        state = self.hole_root(name, index) or ""
        tactics = [line.strip() for line in lines]
        for i, tactic in enumerate(tactics):
            edge = self.script.get(state, {}).get(tactic)
            if edge is None or edge.kind in (OutcomeKind.ERROR, OutcomeKind.TIMEOUT):
                return f"step {i} ({tactic!r}) fails"
            if edge.kind is OutcomeKind.PROVED:
                return "" if i == len(tactics) - 1 else "tactics after the goal was closed"
            state = edge.target or ""
        return "unsolved goals at the hole"

    def remaining_holes(self, name: str, original: Any, body: str) -> list[int] | None:
        """For a sketch text: the original hole index of each hole still open, if every filled hole's
        fill replays to a proof (what Lean's elaboration of the partly filled text would accept)."""
        fills = self._fills(original, body)
        if fills is None:
            return None
        open_holes = []
        for hole, fill in zip(original.holes, fills):
            if fill is None:
                open_holes.append(hole.index)
            elif self._replays(name, hole.index, fill, hole.column):
                return None
        return open_holes

    async def open_sketch(self, theorem: Theorem, sketch: Any) -> SketchSessionDouble:
        self.sketches.append((theorem, sketch))
        self.log.write("open-sketch", theorem.name)
        session = SketchSessionDouble(self, theorem, sketch)
        self.sessions.append(session)
        return session

    async def verify_sketch(self, theorem: Theorem, body: str) -> Verification:
        from llemma_prove.autoformalize.holes import parse_sketch
        from llemma_prove.provers.lean.render import statement_head
        from llemma_prove.types import Verdict

        self.checked_bodies.append((theorem, body))
        self.log.write("verify-sketch", body)
        text = theorem.header + statement_head(theorem.statement) + " by" + body
        if theorem.name in self.reject:
            return Verification(Verdict.REJECTED, "rejected by the test script", text)
        if parse_sketch(body, Language.LEAN4).holes:
            return Verification(Verdict.REJECTED, "declaration uses 'sorry'", text)
        original = self.first_sketch(theorem.name)
        if original is None:
            return Verification(Verdict.REJECTED, "no sketch was opened for this theorem", text)
        fills = self._fills(original, body)
        if fills is None:
            return Verification(Verdict.REJECTED, "the text around the holes changed", text)
        for hole, fill in zip(original.holes, fills):
            why = self._replays(theorem.name, hole.index, fill or "", hole.column)
            if why:
                return Verification(Verdict.REJECTED, why, text)
        return Verification(Verdict.ACCEPTED, "", text)


NESTED_LEAN = """import Mathlib

theorem with_have (a b : ℕ) (h : a = b) : b = a := by
  have h' : b = a := by sorry
  exact h'

theorem bullets (p q : Prop) (hp : p) (hq : q) : p ∧ q := by
  constructor
  · exact hp
  · sorry
"""

NESTED_HOLE_ROOTS = {
    "with_have": "a b : ℕ\nh : a = b\n⊢ b = a",
    "bullets": "p q : Prop\nhq : q\n⊢ q",
}
NESTED_SCRIPT: dict[str, dict[str, Edge]] = {
    "a b : ℕ\nh : a = b\n⊢ b = a": {"omega": fails("omega failed"), "exact h.symm": proves()},
    "p q : Prop\nhq : q\n⊢ q": {"have hq' := hq": goes_to("p q : Prop\nhq hq' : q\n⊢ q")},
    "p q : Prop\nhq hq' : q\n⊢ q": {"exact hq'": proves()},
}
NESTED_TABLE = {
    "a b : ℕ\nh : a = b\n⊢ b = a": [("omega", -0.1), ("exact h.symm", -0.4)],
    "p q : Prop\nhq : q\n⊢ q": [("have hq' := hq", -0.2)],
    "p q : Prop\nhq hq' : q\n⊢ q": [("exact hq'", -0.1)],
}


def nested_backends(config: EditorConfig, reject: Sequence[str] = ()) -> ScriptedBackends:
    """The sample script plus sketch-capable doubles for `NESTED_LEAN`; options as `lsp_backends`
    (`log`, and `reject`: theorems whose final check refuses)."""
    options = config.backend_options
    log = EventLog(options.get("log"))
    log.write("backends-built")
    script = {**LEAN_SCRIPT, **NESTED_SCRIPT}
    table = {**LEAN_TABLE, **NESTED_TABLE}
    prover = SketchScriptedProver(script, LEAN_ROOTS, NESTED_HOLE_ROOTS,
                                  reject=list(reject) + list(options.get("reject", [])), log=log)
    return ScriptedBackends(prover, ScriptedProposer(table), log)


# ------------------------------------------------------------------ the factories as editor-backends plug-ins
# (tests/plugin_dist publishes them; `--backends NAME` / the `backends` initialization option choose one)

CLI_BACKENDS = EditorBackendsPlugin("test-cli", cli_backends, "the sample script (tests only)")
CLI_REJECTING_BACKENDS = EditorBackendsPlugin("test-cli-rejecting", cli_rejecting_backends, "tests only")
CLI_SLOW_BACKENDS = EditorBackendsPlugin("test-cli-slow", cli_slow_backends, "tests only")
LSP_BACKENDS = EditorBackendsPlugin("test-lsp", lsp_backends, "tests only")
NESTED_BACKENDS = EditorBackendsPlugin("test-nested", nested_backends, "tests only")


def use_backends(monkeypatch, factory) -> None:
    """For the rest of the test, the editor-backends plug-in `default` of this process is `factory`
    (a function, or "module:function" of the test suite), through the registry's own API."""
    import importlib

    from llemma_prove import plugins

    if isinstance(factory, str):
        module, _, name = factory.partition(":")
        factory = getattr(importlib.import_module(module), name)
    monkeypatch.setitem(plugins._registered[plugins.EDITOR_BACKENDS], "default",
                        EditorBackendsPlugin("default", factory, "test stand-in"))


class LeanReplBackends:
    """`Backends` with the real `LeanReplProver` (on the stand-in REPL, a test double, or on real Lean)
    and a scripted proposer: the sketch capability comes from `provers/lean/sketch.py`."""

    def __init__(self, prover: LeanReplProver, proposer: ScriptedProposer) -> None:
        self.lean = prover
        self.proposer_double = proposer

    async def prover(self, theorem: Theorem) -> LeanReplProver:
        await self.lean.start()
        return self.lean

    async def proposer(self, language: Language) -> ScriptedProposer:
        return self.proposer_double

    async def close(self) -> None:
        await self.lean.close()
