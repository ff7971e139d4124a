"""The final check for Lean proofs: compiled in fresh processes, replayed by the kernel, compared with
the reference statement. A proof is ACCEPTED only when every layer ran and passed.

Layers, in order (each a separate process in its own process group, with the search's time and
memory limits; none of them is a worker of the search pool):

1. text (`lexer.filter_text`): the proof lexed as Lean lexes it; no command, no metaprogram, no
   option other than limits, no `sorry`, no reference to the theorem itself. Fast, and only a filter.
2. compile: `header + preamble + the benchmark's statement + proof` written as a module
   `LlemmaCheck_<hash>.lean` in a scratch directory put first on LEAN_PATH, then
   `lean --json -o LlemmaCheck_<hash>.olean LlemmaCheck_<hash>.lean` with the project's `lake env`.
   `lean` writes the `.olean` and exits 0 only when no message is an error (`src/util/shell.cpp`:
   `if (olean_fn && ok) write_module(...)`, `exit(ok ? 0 : 1)`); `--json` prints every message as one
   JSON object per line. Any error, any `sorry` warning or any "Try this" rejects the proof.
3. type: after the proof the module runs `set_option pp.all true in #check (@_root_.NAME)`. The same
   command runs in a separate `lean` process on `header + preamble + statement := by sorry`, the
   reference elaborated on its own. The two answers must be equal text. `#check` on a term that is not
   a bare identifier logs `m!"{e} : {type}"` at the `#check` token (`elabCheckCore`,
   `src/Lean/Elab/BuiltinCommand.lean`). `pp.all` turns on explicit arguments, universe levels, full
   and private names, proofs and deep terms, and turns off notation, coercion hiding, field notation,
   structure-instance notation and `match` notation (`getPPAll` and its users in
   `src/Lean/PrettyPrinter/Delaborator/Options.lean`); `pp.maxSteps` is raised so nothing is cut.
   So equal text means the same elaborated type up to what printing cannot show (metadata, which the
   kernel ignores), the same universe parameters (`@NAME.{u}`), the same constant. `_root_.NAME` resolves to exactly one constant, so no other
   declaration can answer in its place. An elided answer (`⋯`) is refused.
4. axioms: the module also runs `#print axioms _root_.NAME`, answered at the `#print` token with
   `'NAME' depends on axioms: [...]` or `'NAME' does not depend on any axioms`
   (`printAxiomsOf`, `src/Lean/Elab/Print.lean`). Exactly one such report for exactly that name, and
   only `propext`, `Classical.choice`, `Quot.sound`; a missing, duplicated or unreadable report rejects.
5. kernel replay: `lean4checker LlemmaCheck_<hash>` (leanprover/lean4checker at tag v4.24.0,
   `Main.lean`: `replayFromImports` reads the module's `.olean`, imports only its imports and sends
   every constant the module adds, auxiliary lemmas included, to the kernel with `Environment.replay'`).
   It exits 0 when all are accepted; on a kernel error it prints `lean4checker found a problem in M`
   and `uncaught exception: (kernel) ...` and exits 1 (an uncaught `IO.userError` in `main`). So a
   declaration added by a metaprogram, or checked with `debug.skipKernelTC`, is checked here.

Messages are attributed by position: the answer to 4 must sit on the line of the `#print` token and
the answer to 3 on the line of the `#check` token of the query block, which follows the proof; anything the proof itself prints sits on earlier lines and cannot stand in
for them. Verdicts: REJECTED with the reasons when a layer refuses; UNCHECKED when a layer could not
run (a tool missing or crashing, the reference statement not elaborating, the replay past its time).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ...errors import ProverUnavailable
from ...processes import ChildProcess, ProcessSpec
from ...types import Proof, Theorem, Verdict, Verification
from .lexer import filter_text
from .options import LeanOptions
from .render import declaration_name, proof_body, render_source, sorry_command, source_prefix, statement_head
from .soundness import split_source

log = logging.getLogger(__name__)

STANDARD_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})

_AXIOMS = re.compile(r"^'(?P<name>[^']+)' depends on axioms: \[(?P<list>[^\]]*)\]\s*$", re.DOTALL)
_NO_AXIOMS = re.compile(r"^'(?P<name>[^']+)' does not depend on any axioms\s*$")
_SORRY_WARNING = re.compile(r"declaration uses ['`]sorry['`]")
_OUTPUT_LIMIT = 4 * 1024 * 1024


CHECK_OFFSET = 3  # the `#check` token's line, counted from the `#print axioms` line of `query_block`


def query_block(name: str) -> str:
    """The commands that follow the proof (and the reference statement). Text of our own, core commands only."""
    target = "_root_." + name
    return (f"#print axioms {target}\n"
            "set_option pp.all true in\n"
            "set_option pp.maxSteps 100000000 in\n"
            f"#check (@{target})\n")


@dataclass(frozen=True)
class KernelTools:
    """How to run `lean` and `lean4checker`: argv prefixes, the `lake env` environment, where scratch goes."""

    lean: tuple[str, ...]
    checker: tuple[str, ...]
    env: dict[str, str] | None = field(default=None, repr=False)
    scratch_root: Path | None = None


@dataclass(frozen=True)
class LeanMessage:
    severity: str  # "error" | "warning" | "information"
    line: int
    column: int
    data: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


@dataclass
class RunResult:
    code: int | None  # None: stopped at the time limit
    stdout: str
    stderr: str
    elapsed_s: float
    signal: int | None = None

    @property
    def timed_out(self) -> bool:
        return self.code is None

    @property
    def out_of_memory(self) -> bool:
        """What Lean's runtime prints when the address-space cap stops it (on stderr, or a bare line on
        stdout); never read from JSON messages, whose text the proof controls."""
        bare = [line for line in self.stdout.splitlines() if not line.lstrip().startswith("{")]
        text = (self.stderr + "\n" + "\n".join(bare)).lower()
        return "out of memory" in text or "std::bad_alloc" in text or "cannot allocate memory" in text


def parse_json_messages(stdout: str) -> tuple[list[LeanMessage], list[str]]:
    """`lean --json` output: one JSON message a line (`SerialMessage`); other lines are returned apart."""
    messages: list[LeanMessage] = []
    other: list[str] = []
    for line in stdout.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        try:
            data = json.loads(stripped)
        except ValueError:
            other.append(line)
            continue
        if not isinstance(data, dict) or "severity" not in data or "data" not in data:
            other.append(line)
            continue
        pos = data.get("pos") or {}
        severity = str(data["severity"])
        severity = "information" if severity in ("info", "information") else severity
        messages.append(LeanMessage(severity, int(pos.get("line", 0)), int(pos.get("column", 0)), str(data["data"])))
    return messages, other


async def run_limited(argv: Sequence[str], cwd: Path, env: dict[str, str] | None, timeout_s: float,
                      memory_limit_mb: int | None) -> RunResult:
    """Run one tool to completion in its own process group, under a time limit and an address-space cap."""
    spec = ProcessSpec(argv=list(argv), cwd=str(cwd), env=env,
                       memory_limit_bytes=memory_limit_mb * 1024 * 1024 if memory_limit_mb else None)
    child = ChildProcess(spec)
    started = time.monotonic()
    try:
        await child.start()
    except OSError as exc:
        return RunResult(127, "", f"cannot run {argv[0]}: {exc}", 0.0)
    proc = child.proc
    assert proc is not None and proc.stdin is not None
    proc.stdin.close()
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except asyncio.TimeoutError:
        await child.stop(grace_s=0.5)
        return RunResult(None, "", "", time.monotonic() - started)
    finally:
        if proc.returncode is None:
            await child.stop(grace_s=0.5)
        else:
            child.kill_now()  # nothing of its group may outlive it
    code = proc.returncode
    sig = -code if code is not None and code < 0 else None
    return RunResult(code, out[:_OUTPUT_LIMIT].decode("utf-8", "replace"), err[:_OUTPUT_LIMIT].decode("utf-8", "replace"),
                     time.monotonic() - started, sig)


class _Outcome(Exception):
    def __init__(self, verdict: Verdict, layer: str, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.verdict, self.layer, self.reasons = verdict, layer, reasons


def _reject(layer: str, *reasons: str) -> _Outcome:
    return _Outcome(Verdict.REJECTED, layer, list(reasons))


def _unchecked(layer: str, *reasons: str) -> _Outcome:
    return _Outcome(Verdict.UNCHECKED, layer, list(reasons))


@dataclass(frozen=True)
class Reference:
    """The reference statement's `#check` answer (or why it could not be had)."""

    type_text: str | None
    problem: str = ""


class KernelChecker:
    """Runs the final check; `check_proof` / `check_source` never raise for a proof's faults."""

    def __init__(self, options: LeanOptions, tools: KernelTools | None = None, *, concurrency: int | None = None) -> None:
        self.options = options
        self.tools = tools
        self._tools_problem: str | None = None
        self._references: dict[str, Reference] = {}
        self._reference_locks: dict[str, asyncio.Lock] = {}
        self._slots = asyncio.Semaphore(max(1, concurrency or options.resolved_workers()))

    async def start(self) -> None:
        """Resolve the tools once. A missing tool is remembered: every check then answers UNCHECKED."""
        if self.tools is not None or self._tools_problem is not None:
            return
        try:
            self.tools = await resolve_kernel_tools(self.options)
        except ProverUnavailable as exc:
            self._tools_problem = str(exc)
            log.warning("the final check cannot run: %s", exc)

    # ------------------------------------------------------------------ entry points

    async def check_proof(self, theorem: Theorem, proof: Proof) -> Verification:
        if not proof.tactics:
            return self._verification(Verdict.REJECTED, "text", ["the proof is empty"], render_source(theorem, proof), 0.0, {})
        return await self.check_body(theorem, proof_body(proof.tactics))

    async def check_source(self, theorem: Theorem, source: str) -> Verification:
        """A complete file: it must be the theorem's header and statement, byte for byte, then the proof;
        the file itself, as given, is what is compiled."""
        body, reasons = split_source(theorem, source)
        if body is None:
            return self._verification(Verdict.REJECTED, "text", reasons, source, 0.0, {})
        return await self.check_body(theorem, body.rstrip(), source=source)

    async def check_body(self, theorem: Theorem, body: str, *, source: str | None = None) -> Verification:
        """Every layer for `statement_head + body` (the body is what follows the statement's `:=`), or
        for `source` when given (a whole file whose proof part is `body`)."""
        started = time.monotonic()
        head = statement_head(theorem.statement)
        checked = source if source is not None else source_prefix(theorem) + head + body + "\n"
        details: dict[str, Any] = {"declaration": head + body, "layers": []}
        try:
            await self._run_layers(theorem, body, checked, details)
        except _Outcome as outcome:
            return self._verification(outcome.verdict, outcome.layer, outcome.reasons, checked,
                                      time.monotonic() - started, details)
        return self._verification(Verdict.ACCEPTED, "kernel", [], checked, time.monotonic() - started, details)

    # ------------------------------------------------------------------ layers

    async def _run_layers(self, theorem: Theorem, body: str, checked: str, details: dict[str, Any]) -> None:
        name = declaration_name(theorem.statement)
        if not body.strip() or body.strip() == "by":
            raise _reject("text", "the proof is empty")
        verdict = filter_text(body, name)
        if not verdict.ok:
            raise _reject("text", *verdict.reasons)
        details["layers"].append("text")
        if name is None:
            raise _reject("text", "the declaration has no name, so its type and axioms cannot be checked")
        await self.start()
        if self.tools is None:
            raise _unchecked("tools", self._tools_problem or "the final check's tools are not available")
        reference = await self.reference(theorem)
        if reference.type_text is None:
            raise _unchecked("type", f"the reference statement could not be elaborated on its own: {reference.problem}")
        async with self._slots:
            scratch = self._scratch()
            try:
                await self._candidate_layers(checked, name, reference.type_text, scratch, details)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)

    async def _candidate_layers(self, checked: str, name: str, reference_type: str, scratch: Path,
                                details: dict[str, Any]) -> None:
        assert self.tools is not None
        limits = self.options
        memory = limits.resolved_memory_limit_mb()
        prefix = checked.rstrip("\n") + "\n\n"
        text = prefix + query_block(name)
        query_line = prefix.count("\n") + 1
        module = "LlemmaCheck_" + hashlib.sha256(text.encode()).hexdigest()[:20]
        (scratch / f"{module}.lean").write_text(text, encoding="utf-8")
        env = self._env(scratch)

        # 2. compile
        run = await run_limited([*self.tools.lean, "--json", "-o", f"{module}.olean", f"{module}.lean"], scratch, env,
                                limits.check_timeout_s, memory)
        details["compile_s"] = round(run.elapsed_s, 3)
        if run.timed_out:
            raise _reject("budget", f"the check exceeded its time budget of {limits.check_timeout_s:g} s")
        if run.out_of_memory:
            cap = f" of {memory} MB" if memory else ""
            raise _reject("budget", f"the check exceeded its memory budget{cap}")
        messages, other = parse_json_messages(run.stdout)
        details["messages"] = [m.__dict__ for m in messages[:50]]
        if run.code not in (0, 1) or (run.code == 1 and not any(m.is_error for m in messages)):
            tail = " / ".join((run.stderr or "\n".join(other)).strip().splitlines()[-3:])
            raise _unchecked("compile", f"`lean` failed without a Lean error (exit {_exit(run)}): {tail or 'no output'}")
        if not messages and other:
            raise _unchecked("compile", "`lean --json` printed no message this check can read: "
                             + " / ".join(other[-2:])[:200])
        reasons = judge_compile(messages, query_line)
        if reasons:
            raise _reject("compile", *reasons)
        if run.code != 0 or not (scratch / f"{module}.olean").is_file():
            raise _unchecked("compile", f"`lean` exited {_exit(run)} and wrote no .olean")
        details["layers"].append("compile")

        # 3. type
        checks = [m for m in messages if m.line == query_line + CHECK_OFFSET and m.severity == "information"]
        reasons = judge_type(checks, reference_type)
        details["type"] = checks[0].data if len(checks) == 1 else None
        if reasons:
            raise _reject("type", *reasons)
        details["layers"].append("type")

        # 4. axioms
        reasons, axioms = judge_axiom_reports(name, [m for m in messages if m.line == query_line
                                                     and m.severity == "information"])
        details["axioms"] = axioms
        if reasons:
            raise _reject("axioms", *reasons)
        details["layers"].append("axioms")

        # 5. kernel replay
        replay = await run_limited([*self.tools.checker, module], scratch, env, limits.check_timeout_s, memory)
        details["replay_s"] = round(replay.elapsed_s, 3)
        verdict, reasons = judge_replay(module, replay)
        if verdict is not Verdict.ACCEPTED:
            raise _Outcome(verdict, "replay", reasons)
        details["layers"].append("replay")

    async def reference(self, theorem: Theorem) -> Reference:
        """The reference statement's `#check` answer, elaborated on its own in a fresh `lean` (cached)."""
        assert self.tools is not None
        name = declaration_name(theorem.statement) or ""
        prefix = source_prefix(theorem) + sorry_command(theorem.statement) + "\n\n"
        text = prefix + query_block(name)
        key = hashlib.sha256(text.encode()).hexdigest()
        lock = self._reference_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key in self._references:
                return self._references[key]
            async with self._slots:
                scratch = self._scratch()
                try:
                    module = "LlemmaReference_" + key[:20]
                    (scratch / f"{module}.lean").write_text(text, encoding="utf-8")
                    run = await run_limited([*self.tools.lean, "--json", f"{module}.lean"], scratch, self._env(scratch),
                                            self.options.check_timeout_s, self.options.resolved_memory_limit_mb())
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
            reference = _judge_reference(run, prefix.count("\n") + 1)
            if reference.type_text is not None or run.timed_out:
                self._references[key] = reference
            return reference

    # ------------------------------------------------------------------ helpers

    def _scratch(self) -> Path:
        assert self.tools is not None
        root = self.tools.scratch_root
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="llemma-check-", dir=str(root) if root else None))

    def _env(self, scratch: Path) -> dict[str, str]:
        assert self.tools is not None
        env = dict(self.tools.env if self.tools.env is not None else os.environ)
        lean_path = env.get("LEAN_PATH", "")
        env["LEAN_PATH"] = str(scratch) + (os.pathsep + lean_path if lean_path else "")
        return env

    @staticmethod
    def _verification(verdict: Verdict, layer: str, reasons: list[str], checked: str, elapsed: float,
                      details: dict[str, Any]) -> Verification:
        details = dict(details)
        details["layer"] = layer
        details["reasons"] = reasons
        details["final_check"] = "kernel"
        return Verification(verdict, "; ".join(reasons), checked, elapsed, details)


# ------------------------------------------------------------------------------------ judges


def judge_compile(messages: list[LeanMessage], query_line: int) -> list[str]:
    """Reasons the compile's messages refuse the proof: any error, any `sorry` warning, any suggestion."""
    reasons: list[str] = []
    errors = [m for m in messages if m.is_error]
    if errors:
        first = errors[0]
        where = "" if first.line < query_line else " (in the checker's own queries: the proof changed how they read)"
        reasons.append(f"Lean reports an error{where}: {_first_line(first.data)}")
    if any(m.severity == "warning" and _SORRY_WARNING.search(m.data) for m in messages):
        reasons.append("Lean reports that the declaration uses `sorry`")
    if any(m.data.lstrip().startswith("Try this") for m in messages):
        reasons.append("a search tactic left a suggestion in the proof")
    return reasons


def judge_type(checks: list[LeanMessage], reference_type: str) -> list[str]:
    if not checks:
        return ["no answer to the type query (`#check`): the proof kept it from running"]
    if len(checks) > 1:
        return [f"{len(checks)} answers to the one type query: the proof changed how it reads"]
    text = checks[0].data.strip()
    if "⋯" in text:
        return ["the theorem's type was printed elided (⋯), so it cannot be compared"]
    if text != reference_type.strip():
        return ["the theorem's elaborated type differs from the reference statement's: "
                f"{_first_line(text)[:160]!r} vs {_first_line(reference_type)[:160]!r}"]
    return []


def judge_axiom_reports(name: str, reports: list[LeanMessage]) -> tuple[list[str], list[str] | None]:
    """Exactly one `#print axioms` report, for exactly `name`, listing only the standard axioms."""
    parsed: list[tuple[str, list[str]]] = []
    for message in reports:
        text = message.data.strip()
        match = _AXIOMS.match(text)
        if match:
            parsed.append((match.group("name"), [a.strip() for a in match.group("list").split(",") if a.strip()]))
            continue
        match = _NO_AXIOMS.match(text)
        if match:
            parsed.append((match.group("name"), []))
    if not parsed:
        return ["no axiom report (`#print axioms` gave no answer): counted as a rejection, never as 'no axioms'"], None
    if len(parsed) > 1:
        return [f"{len(parsed)} axiom reports for one query: the proof changed how it reads"], None
    reported, axioms = parsed[0]
    if reported != name.removeprefix("_root_."):
        return [f"the axiom report is for `{reported}`, not for `{name}`"], None
    extra = [a for a in axioms if a not in STANDARD_AXIOMS]
    if extra:
        return [f"the proof depends on non-standard axioms: {', '.join(extra)}"], axioms
    return [], axioms


def judge_replay(module: str, run: RunResult) -> tuple[Verdict, list[str]]:
    """lean4checker's answer: exit 0 is a pass; `found a problem` is a kernel rejection; anything else
    means the replay did not run (UNCHECKED)."""
    output = (run.stdout + "\n" + run.stderr).strip()
    if run.timed_out:
        return Verdict.UNCHECKED, ["the kernel replay (lean4checker) ran past its time limit"]
    if f"lean4checker found a problem in {module}" in output:
        lines = output.splitlines()
        detail = next((line for line in lines if line.startswith("uncaught exception:")), lines[-1])
        rest = output[output.find(detail) + len(detail):].strip().splitlines()
        detail = detail.removeprefix("uncaught exception:").strip()
        if rest and len(detail) < 60:
            detail += " " + " ".join(r.strip() for r in rest[:3])
        return Verdict.REJECTED, [f"the kernel replay (lean4checker) rejects the module: {detail[:300]}"]
    if run.code == 0:
        return Verdict.ACCEPTED, []
    if run.out_of_memory:
        return Verdict.UNCHECKED, ["the kernel replay (lean4checker) ran out of memory"]
    tail = " / ".join(output.splitlines()[-3:]) or "no output"
    return Verdict.UNCHECKED, [f"the kernel replay (lean4checker) did not run (exit {_exit(run)}): {tail[:300]}"]


def _judge_reference(run: RunResult, query_line: int) -> Reference:
    if run.timed_out:
        return Reference(None, "ran past its time limit")
    messages, other = parse_json_messages(run.stdout)
    errors = [m for m in messages if m.is_error]
    if errors:
        return Reference(None, _first_line(errors[0].data))
    if run.code != 0:
        return Reference(None, f"`lean` exited {_exit(run)}: " + " / ".join((run.stderr or "\n".join(other)).strip().splitlines()[-2:]))
    checks = [m for m in messages if m.line == query_line + CHECK_OFFSET and m.severity == "information"]
    if len(checks) != 1:
        return Reference(None, f"{len(checks)} answers to the type query")
    if "⋯" in checks[0].data:
        return Reference(None, "its type was printed elided (⋯)")
    return Reference(checks[0].data.strip())


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else ""


def _exit(run: RunResult) -> str:
    if run.signal:
        try:
            return f"by signal {signal.Signals(run.signal).name}"
        except ValueError:
            return f"by signal {run.signal}"
    return str(run.code)


# ------------------------------------------------------------------------------------ tools


async def resolve_kernel_tools(options: LeanOptions) -> KernelTools:
    """`lean` and `lean4checker` for these options; ProverUnavailable naming what is missing."""
    from .project import (
        default_project_dir,
        find_tool,
        lake_environment,
        lean4checker_binary,
        lean_health,
        unavailable_message,
    )

    project = Path(options.project_dir) if options.project_dir else default_project_dir()
    scratch_root = Path(options.check_dir) if options.check_dir else project / ".lake" / "llemma_prove" / "check"
    if options.lean_command or options.lean4checker_command:
        if not (options.lean_command and options.lean4checker_command):
            raise ProverUnavailable("the final check needs both `lean` and `lean4checker` (set both commands)")
        env = options.repl_env
        return KernelTools(tuple(options.lean_command), tuple(options.lean4checker_command), env,
                           Path(options.check_dir) if options.check_dir else None)
    message = unavailable_message(lean_health(project))
    if message:
        raise ProverUnavailable(message)
    lake = find_tool("lake")
    assert lake is not None
    env = await lake_environment(lake, project)
    lean = _lean_binary(env) or find_tool("lean")
    if lean is None:
        raise ProverUnavailable("no `lean` binary in the project's toolchain; run `llemma-prove setup lean`")
    return KernelTools((str(lean),), (str(lean4checker_binary(project)),), env, scratch_root)


def _lean_binary(env: dict[str, str]) -> Path | None:
    sysroot = env.get("LEAN_SYSROOT")
    if sysroot and (Path(sysroot) / "bin" / "lean").is_file():
        return Path(sysroot) / "bin" / "lean"
    found = shutil.which("lean", path=env.get("PATH"))
    return Path(found) if found else None
