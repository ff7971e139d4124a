"""Test doubles for autoformalization: a scripted language model and a scripted sketch prover.

The model answers each prompt from a table keyed by a piece of text that must occur in the prompt's
final (open) block. The prover checks statements against a set written in the test, proves
equivalence theorems with a scripted predicate, and answers hole goals from a script (goal text ->
tactic -> outcome). Its `verify` replays every filled hole against the same script, the way a from-
scratch check re-elaborates the whole proof, so a hole filled with a tactic the script does not accept
is rejected. Nothing here is a real prover.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Mapping, Sequence

import re

from llemma_prove.autoformalize.holes import Sketch, parse_sketch
from llemma_prove.errors import ProverError
from llemma_prove.autoformalize.protocols import HammerFound, HoleGoal
from llemma_prove.types import (
    Completion,
    GoalState,
    Language,
    OutcomeKind,
    Proof,
    SamplingParams,
    StepOutcome,
    Theorem,
    Verdict,
    Verification,
)
from tests.doubles.scripted import Edge, fails, goes_to, proves  # noqa: F401  (re-exported for tests)


class ScriptedLanguageModel:
    """LanguageModel double: completions chosen by a key found in the prompt's last block."""

    name = "scripted-model"

    def __init__(self, table: Sequence[tuple[str, Sequence[str]]], separator: str = "\n\n\n\n") -> None:
        self.table = list(table)
        self.separator = separator
        self.prompts: list[str] = []
        self.params: list[SamplingParams] = []

    async def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]:
        out = []
        for prompt in prompts:
            self.prompts.append(prompt)
            self.params.append(params)
            query = prompt.rsplit(self.separator, 1)[-1]
            texts: Sequence[str] = ()
            for key, answers in self.table:
                if key in query:
                    texts = answers
                    break
            out.append([Completion(t, -0.5 * (i + 1), 4) for i, t in enumerate(list(texts)[: params.n])])
        return out

    async def close(self) -> None:
        return None


def hole_goal_text(sketch: Sketch, index: int) -> str:
    """What this double calls the goal of a hole: the code before the hole on its line, or on the
    nearest line above that has code (so `have h : P := by sorry` and `have h : P := by\\n sorry` agree)."""
    hole = sketch.holes[index]
    lines = sketch.text.split("\n")
    before = lines[hole.line - 1][: hole.column].strip()
    row = hole.line - 2
    while not before or before in ("·", "by"):
        if row < 0:
            break
        above = lines[row].strip()
        if above and not above.startswith(("--", "(*")):
            before = (above + " " + before).strip()
            if before not in ("·", "by"):
                break
        row -= 1
    return before


class ScriptedSketchSession:
    def __init__(self, prover: "ScriptedSketchProver", theorem: Theorem, sketch: Sketch) -> None:
        self.prover = prover
        self.theorem = theorem
        self.sketch = sketch
        self.closed = False
        self.fills_seen: list[tuple[str, ...]] = []

    async def hole_goal(self, index: int, fills: Sequence[str]) -> HoleGoal:
        self.fills_seen.append(tuple(fills))
        for bad in self.prover.skeleton_errors:
            offset = self.sketch.text.find(bad)
            if offset != -1 and offset < self.sketch.holes[index].start:
                return HoleGoal(index, None, f"error: unknown identifier near {bad!r}")
        text = hole_goal_text(self.sketch, index)
        return HoleGoal(index, GoalState(text, handle=(index,)))

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        self.prover.steps.append((state.text, tactic))
        if self.prover.step_delay_s:
            await asyncio.sleep(self.prover.step_delay_s)
        edge = self.prover.hole_script.get(state.text, {}).get(tactic)
        if edge is None:
            return StepOutcome.error(f"tactic {tactic!r} failed")
        if edge.kind is OutcomeKind.PROVED:
            return StepOutcome.proved()
        if edge.kind is OutcomeKind.GOALS and edge.target is not None:
            return StepOutcome.goals(GoalState(edge.target, handle=state.handle))
        return StepOutcome.error(edge.message or "failed")

    async def close(self) -> None:
        self.closed = True


class ScriptedHammerSession(ScriptedSketchSession):
    """Adds the Isabelle capability: Sledgehammer answers from `hammer_script` (goal -> proof text)."""

    async def hammer(self, state: GoalState, timeout_s: float) -> HammerFound:
        self.prover.hammer_calls.append(state.text)
        found = self.prover.hammer_script.get(state.text)
        return HammerFound(found, "sledgehammer found a proof" if found else "sledgehammer: no proof found")


class _EquivalenceSession:
    def __init__(self, prover: "ScriptedSketchProver", theorem: Theorem) -> None:
        self.prover = prover
        self.theorem = theorem

    async def initial_state(self) -> GoalState:
        return GoalState(self.theorem.statement)

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        self.prover.equivalence_steps.append((self.theorem.name, tactic))
        failure = self.prover.equivalence_failure(self.theorem, tactic)
        if failure == "crash":  # as the REPL / PISA clients raise when the process dies
            raise ProverError("the prover process exited (scripted crash)")
        if failure == "timeout":
            return StepOutcome.timeout("scripted time limit")
        if failure == "hang":
            await asyncio.sleep(3600)
        if self.prover.proves_equivalence(self.theorem, tactic):
            return StepOutcome.proved()
        return StepOutcome.error("tactic failed")

    async def close(self) -> None:
        return None


class ScriptedSketchProver:
    """Prover + StatementChecker + SketchProver double for one language."""

    def __init__(
        self,
        language: Language,
        well_formed: Sequence[str] = (),
        hole_script: Mapping[str, Mapping[str, Edge]] | None = None,
        hammer_script: Mapping[str, str] | None = None,
        proves_equivalence: Callable[[Theorem, str], bool] = lambda theorem, tactic: False,
        equivalence_failure: Callable[[Theorem, str], str | None] = lambda theorem, tactic: None,
        skeleton_errors: Sequence[str] = (),
        with_hammer: bool | None = None,
        step_delay_s: float = 0.0,
    ) -> None:
        self.name = f"scripted-{language.value}"
        self.language = language
        self.well_formed = set(well_formed)
        self.hole_script = dict(hole_script or {})
        self.hammer_script = dict(hammer_script or {})
        self.proves_equivalence = proves_equivalence
        self.equivalence_failure = equivalence_failure
        self.skeleton_errors = tuple(skeleton_errors)
        self.with_hammer = language is Language.ISABELLE if with_hammer is None else with_hammer
        self.step_delay_s = step_delay_s
        self.checked: list[str] = []
        self.steps: list[tuple[str, str]] = []
        self.equivalence_steps: list[tuple[str, str]] = []
        self.hammer_calls: list[str] = []
        self.verified: list[tuple[str, str]] = []
        self.sessions: list[ScriptedSketchSession] = []
        self._sketches: dict[str, list[Sketch]] = {}

    # -- Prover ------------------------------------------------------------------------------------
    async def start(self) -> None:
        return None

    async def open(self, theorem: Theorem) -> _EquivalenceSession:
        return _EquivalenceSession(self, theorem)

    async def verify(self, theorem: Theorem, proof: Proof) -> Verification:
        text = self.render(theorem, proof)
        (body,) = proof.tactics
        self.verified.append((theorem.name, body))
        if theorem.name not in self._sketches:  # an equivalence theorem, proved by one tactic
            ok = self.proves_equivalence(theorem, body)
            return Verification(Verdict.ACCEPTED if ok else Verdict.REJECTED, "" if ok else "tactic fails", text)
        if parse_sketch(body, self.language).holes:
            return Verification(Verdict.REJECTED, "the proof still has holes", text)
        for bad in self.skeleton_errors:
            if bad in body:
                return Verification(Verdict.REJECTED, f"error: unknown identifier {bad!r}", text)
        reason = "the proof is not a filled-in sketch this double knows"
        for sketch in self._sketches[theorem.name]:
            for fills in _match_fills(sketch, body):
                failures = [(i, self._replay(hole_goal_text(sketch, i), fill)) for i, fill in enumerate(fills)]
                failures = [(i, r) for i, r in failures if r]
                if not failures:
                    return Verification(Verdict.ACCEPTED, "", text)
                reason = f"hole {failures[0][0]}: {failures[0][1]}"
        return Verification(Verdict.REJECTED, reason, text)

    def _replay(self, goal: str, fill: str) -> str:
        """Re-run a hole's replacement text (one tactic per line, `(by ...)` unwrapped) from its goal."""
        inner = fill.strip()
        if inner.startswith("(by ") and inner.endswith(")"):
            inner = inner[4:-1]
        tactics = [line.strip() for line in inner.split("\n") if line.strip()]
        state = goal
        for i, tactic in enumerate(tactics):
            edge = self.hole_script.get(state, {}).get(tactic)
            if edge is None or edge.kind not in (OutcomeKind.GOALS, OutcomeKind.PROVED):
                return f"{tactic!r} fails on replay"
            if edge.kind is OutcomeKind.PROVED:
                return "" if i == len(tactics) - 1 else "tactics after the goal was closed"
            state = edge.target or ""
        return "goal left open"

    def render(self, theorem: Theorem, proof: Proof) -> str:
        return f"{theorem.header}\n{theorem.statement}\n" + "\n".join(proof.tactics)

    async def close(self) -> None:
        return None

    # -- StatementChecker --------------------------------------------------------------------------
    async def check_statement(self, theorem: Theorem) -> Verification:
        self.checked.append(theorem.statement)
        if theorem.statement in self.well_formed:
            return Verification(Verdict.ACCEPTED, "", theorem.statement)
        return Verification(Verdict.REJECTED, "error: unexpected token (scripted)", theorem.statement)

    # -- SketchProver ------------------------------------------------------------------------------
    async def open_sketch(self, theorem: Theorem, sketch: Sketch) -> ScriptedSketchSession:
        self._sketches.setdefault(theorem.name, []).append(sketch)
        cls = ScriptedHammerSession if self.with_hammer else ScriptedSketchSession
        session = cls(self, theorem, sketch)
        self.sessions.append(session)
        return session

    async def verify_sketch(self, theorem: Theorem, body: str) -> Verification:
        return await self.verify(theorem, Proof((body,)))


def _match_fills(sketch: Sketch, body: str) -> list[list[str]]:
    """Every way of reading `body` as `sketch` with its holes replaced (a filled hole can contain text
    that also occurs in the sketch, so there may be more than one)."""
    segments = sketch.segments()
    out: list[list[str]] = []

    def walk(k: int, pos: int, fills: list[str]) -> None:
        if k == len(segments) - 1:
            if body.endswith(segments[k]) and len(body) - len(segments[k]) >= pos:
                out.append(fills + [body[pos : len(body) - len(segments[k])]])
            return
        start = pos
        while True:
            end = body.find(segments[k], start)
            if end == -1:
                return
            walk(k + 1, end + len(segments[k]), fills + [body[pos:end]])
            start = end + 1

    if not body.startswith(segments[0]):
        return []
    if len(segments) == 1:
        return [[]] if body == segments[0] else []
    walk(1, len(segments[0]), [])
    return out


# -- what automation proves, for equivalence tests ----------------------------------------------------


def implication_parts(statement: str) -> tuple[str, str] | None:
    """(hypothesis, conclusion) of an implication built by `LeanTarget.implication` or
    `IsabelleTarget.implication`; None for anything else."""
    isabelle = re.fullmatch(r'lemma \S+:\n  assumes h: "(.*)"\n  shows "(.*)"', statement, re.S)
    if isabelle:
        return isabelle.group(1), isabelle.group(2)
    lean = re.fullmatch(r"theorem \S+ : \((.*)\) := by sorry", statement, re.S)
    if not lean:
        return None
    inner, depth = lean.group(1), 0
    for i, ch in enumerate(inner):  # the hypothesis ends at the `)` that closes the first `(`
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0 and inner.startswith(") → (", i):
            return inner[:i], inner[i + len(") → ("):]
    return None


def _unwrap(text: str) -> str:
    """`text` without parentheses that enclose all of it."""
    text = text.strip()
    while text.startswith("("):
        depth = 0
        for i, ch in enumerate(text):
            depth += (ch == "(") - (ch == ")")
            if depth == 0:
                break
        if i != len(text) - 1:
            break
        text = text[1:-1].strip()
    return text


def _closed_value(prop: str) -> bool | None:
    """The truth of a closed arithmetic proposition such as `(5^30) % 7 = 1` or `(2^8) mod 5 = (1::nat)`;
    None if it has a free variable or is not arithmetic."""
    text = _unwrap(prop)
    text = re.sub(r"\(\s*(\d+)\s*(?::\s*ℕ|::nat|::int|::real)\s*\)", r"\1", text).replace(" mod ", " % ")
    if not re.fullmatch(r"[\d\s+*%^()=-]+", text) or text.count("=") != 1:
        return None
    left, right = text.split("=")
    try:
        return eval(left.replace("^", "**")) == eval(right.replace("^", "**"))  # digits and operators only
    except (SyntaxError, ArithmeticError):
        return None


def automation_proves(hypothesis: str, conclusion: str) -> bool:
    """What `decide`/`norm_num`/`simp_all`/`tauto` (Isabelle: `auto`, `simp`, `eval`) prove about
    `hypothesis → conclusion` among the shapes these tests use, modelled on what those tactics are
    documented to do: `decide` and `norm_num` evaluate a true closed computation, `simp` closes `True`
    and `a = a` (`rfl`), `simp_all`/`tauto`/`auto` close any goal under a `False` hypothesis, and
    `exact fun h => h` closes `A → A`. Anything else they are taken not to prove (a weaker double
    would let a vacuous candidate fail for the wrong reason)."""
    hyp, concl = hypothesis.strip(), conclusion.strip()
    body = re.sub(r"^(?:∀|\\<And>)[^,.]*[,.]\s*", "", concl)  # drop leading binders
    if hyp == concl or _unwrap(hyp) == "False":
        return True
    if _unwrap(body) == "True" or _closed_value(body) is True:
        return True
    if re.fullmatch(r"(\w+) = \1", _unwrap(body)):
        return True
    if re.match(r"\(?h : False\)?", concl.removeprefix("∀").strip()) or "(False) \\<Longrightarrow>" in concl:
        return True
    return False


def automation(extra: Callable[[str, str], bool] = lambda hyp, concl: False) -> Callable[[Theorem, str], bool]:
    """A `proves_equivalence` predicate: `automation_proves`, or `extra(hypothesis, conclusion)`, for
    the implications the pipeline builds; every tactic in the list is taken to have the same power."""

    def proves(theorem: Theorem, tactic: str) -> bool:
        parts = implication_parts(theorem.statement)
        if parts is None:
            return False
        return automation_proves(*parts) or extra(*parts)

    return proves


# -- the command line with these doubles: registered as the "test-doubles" prover and model plug-ins -----

DOUBLES_ARGS = ["--prover", "test-doubles", "--model-backend", "test-doubles"]


def doubles_plugins(language: Language, factory) -> tuple[Any, Any, dict[str, Any]]:
    """Plug-ins handing the command what `factory()` -> (model, prover) makes, when it builds its prover
    (the prover is a sketch prover too); `built` holds them for the test to inspect."""
    from llemma_prove import plugins

    built: dict[str, Any] = {}

    def prover(spec, theorems, search):
        built["model"], built["prover"] = factory()
        return built["prover"]

    def model(spec):
        return built["model"]

    return (plugins.ProverPlugin("test-doubles", prover, language),
            plugins.ProposerPlugin("test-doubles", build_model=model), built)


def use_cli_doubles(monkeypatch, language: Language, factory) -> dict[str, Any]:
    """Register `doubles_plugins` for the rest of the test (the monkeypatch undoes it)."""
    from llemma_prove import plugins

    prover, model, built = doubles_plugins(language, factory)
    monkeypatch.setitem(plugins._registered[plugins.PROVERS], "test-doubles", prover)
    monkeypatch.setitem(plugins._registered[plugins.PROPOSERS], "test-doubles", model)
    return built
