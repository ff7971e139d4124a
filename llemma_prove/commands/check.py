"""`llemma-prove check`: run the final check this project trusts on proofs from anywhere.

Input: a `.lean` file (header + a benchmark statement + its proof), a `.thy` file (an Isabelle theory
proving a miniF2F statement), or a JSONL of `{name, proof}` rows (the text after the statement's `:=`,
or a list of tactics), `{name, formal_proof}` / `{name, lean_code}` rows (whole files, e.g. the
published solutions in shared data). Every proof is checked against the statement of the same name in
the statement set (`--statement-set` / `--data`, as in `minif2f`), never against the statement written
in the file: a changed statement is a rejection.

Order: validate the arguments and read the input (cheap, user mistakes first) -> check the tools are
installed (without them it stops at once, saying what to install) -> load the statements -> check
every proof, many at once, each in fresh processes with the search's time and memory limits -> a
table (or `--json`). Exit status 0 when every proof is ACCEPTED, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import typer

from ..console import stderr_console
from ..errors import DataError, ProverUnavailable, UserError
from ..types import Language, Proof, Theorem, Verdict, Verification
from . import options


@dataclass(frozen=True)
class Submission:
    """One proof to check: the theorem's name, and either a whole source or the text after `:=`."""

    name: str
    origin: str  # file:line, for the report
    source: str | None = None
    body: str | None = None
    tactics: tuple[str, ...] | None = None
    isabelle: bool = False
    names: tuple[str, ...] = ()  # for a .lean file: every name it declares, in order

    def resolve(self, known: dict[str, Theorem]) -> "Submission":
        """The submission for the first declared name the statement set knows."""
        found = next((n for n in self.names if n in known), None)
        return Submission(found, self.origin, self.source, self.body, self.tactics, self.isabelle) if found else self


@dataclass(frozen=True)
class CheckArgs:
    input: Path
    statement_set: str | None = None
    data: Path | None = None
    prover: str = "lean"
    lean_project: Path | None = None
    workers: int | None = None
    timeout: float = 300.0
    memory_limit_mb: int | None = None
    as_json: bool = False
    lean_command: str | None = None
    lean4checker_command: str | None = None


# -- reading the input ---------------------------------------------------------------------------------


def read_submissions(args: CheckArgs) -> list[Submission]:
    path = args.input
    if not path.is_file():
        raise UserError(f"input file {path} not found")
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    if suffix == ".lean":
        names = _lean_theorem_names(text)
        if not names:
            raise DataError(f"{path}: no `theorem NAME` in the file")
        return [Submission(names[0], str(path), source=text, names=tuple(names))]
    if suffix == ".thy":
        from ..provers.isabelle.theory import TheorySyntaxError, split_theory

        try:
            parts = split_theory(text)
        except TheorySyntaxError as exc:
            raise DataError(f"{path}: {exc}") from None
        return [Submission(parts.theory_name, str(path), source=text, isabelle=True)]
    if suffix in (".jsonl", ".json"):
        return _jsonl_submissions(path, text, isabelle=args.prover == "isabelle")
    raise UserError(f"{path}: cannot check a `{suffix or 'extensionless'}` file (give a .lean, .thy or .jsonl file)")


def _lean_theorem_names(text: str) -> list[str]:
    """The names declared by `theorem` / `lemma` in a file, in order (the one checked is the first that
    names a statement of the set; the others are the file's own lemmas)."""
    from ..provers.lean.lexer import Kind, LeanSyntaxError, tokenize

    try:
        tokens = [t for t in tokenize(text) if t.significant]
    except LeanSyntaxError:
        tokens = []
    return [tokens[k + 1].text for k, tok in enumerate(tokens[:-1])
            if tok.kind is Kind.IDENT and tok.text in ("theorem", "lemma") and tokens[k + 1].kind is Kind.IDENT]


def _jsonl_submissions(path: Path, text: str, *, isabelle: bool) -> list[Submission]:
    out: list[Submission] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("name"), str) or not row["name"]:
            raise DataError(f"{where}: each row needs a \"name\"")
        whole = row.get("formal_proof", row.get("lean_code"))
        proof = row.get("proof", row.get("tactics"))
        if isinstance(whole, str):
            out.append(Submission(row["name"], where, source=whole, isabelle=isabelle))
        elif isinstance(proof, list) and all(isinstance(t, str) for t in proof):
            out.append(Submission(row["name"], where, tactics=tuple(proof), isabelle=isabelle))
        elif isinstance(proof, str):
            out.append(Submission(row["name"], where, body=proof, isabelle=isabelle))
        else:
            raise DataError(f"{where}: a row needs \"proof\" (text or list of tactics) or \"formal_proof\"")
    if not out:
        raise DataError(f"{path}: no proofs in the file")
    return out


def validate(args: CheckArgs) -> None:
    from ..data import minif2f

    options.check_statements(args.data, args.statement_set, minif2f.STATEMENT_SETS)
    options.check_at_least_one("--workers", args.workers)
    options.check_positive_seconds("--timeout", args.timeout)


# -- tools and statements --------------------------------------------------------------------------------


def lean_options(args: CheckArgs) -> Any:
    from ..provers.lean import LeanOptions

    values: dict[str, Any] = {"check_timeout_s": args.timeout}
    if args.lean_project is not None:
        values["project_dir"] = args.lean_project
    if args.workers:
        values["workers"] = args.workers
    if args.memory_limit_mb is not None:
        values["memory_limit_mb"] = args.memory_limit_mb
    if args.lean_command:
        values["lean_command"] = shlex.split(args.lean_command)
    if args.lean4checker_command:
        values["lean4checker_command"] = shlex.split(args.lean4checker_command)
    return LeanOptions(**values)


async def lean_checker(args: CheckArgs) -> Any:
    """The kernel checker with its tools resolved; ProverUnavailable (what to install) when they are missing."""
    from ..provers.lean.final_check import KernelChecker, resolve_kernel_tools

    options = lean_options(args)
    tools = await resolve_kernel_tools(options)
    return KernelChecker(options, tools, concurrency=options.resolved_workers())


def isabelle_preflight() -> None:
    from ..provers.isabelle.health import blocking_problems, isabelle_health, unavailable_message
    from ..provers.isabelle.options import IsabelleOptions

    problems = blocking_problems(isabelle_health(IsabelleOptions.from_env()))
    if problems:
        raise ProverUnavailable(unavailable_message(problems))


async def load_statements(args: CheckArgs, isabelle: bool) -> dict[str, Theorem]:
    from ..data import minif2f

    if isabelle:
        from ..data import isabelle_minif2f

        collection = (isabelle_minif2f.load_isabelle_data_file(args.data) if args.data is not None
                      else await isabelle_minif2f.load_isabelle_statements())
    elif args.data is not None:
        collection = minif2f.load_data_file(args.data)
    else:
        collection = await minif2f.load_statement_set(args.statement_set or minif2f.DEFAULT_STATEMENT_SET)
    return {t.name: t for t in collection.theorems}


# -- checking ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    submission: Submission
    verification: Verification

    def to_json(self) -> dict[str, Any]:
        v = self.verification
        return {"name": self.submission.name, "origin": self.submission.origin, "verdict": v.verdict.value,
                "reason": v.reason, "layer": v.details.get("layer"), "time_s": round(v.elapsed_s, 3),
                "axioms": v.details.get("axioms")}


async def check_lean(checker: Any, theorem: Theorem, item: Submission) -> Verification:
    if item.source is not None:
        source = item.source
        if theorem.header and not source.startswith(theorem.header.rstrip()):
            # a whole proof without the header (a `formal_proof` row): the statement set's header goes first
            source = theorem.header + source.lstrip("\n")
        return await checker.check_source(theorem, source)
    if item.tactics is not None:
        return await checker.check_proof(theorem, Proof(item.tactics))
    body = (item.body or "").strip("\n")  # the text after the statement's `:=` (a leading `:=` is dropped)
    if body.lstrip().startswith(":="):
        body = body.lstrip()[2:]
    if not body.startswith((" ", "\n")):
        body = " " + body
    return await checker.check_body(theorem, body)


async def check_isabelle(prover: Any, theorem: Theorem, item: Submission) -> Verification:
    from ..provers.isabelle.theory import TheorySyntaxError, split_theory

    if item.source is not None:
        try:
            parts = split_theory(item.source, theorem.name)
        except TheorySyntaxError as exc:
            return Verification(Verdict.REJECTED, f"the theory cannot be cut: {exc}", item.source, 0.0)
        if " ".join(parts.statement.split()) != " ".join(theorem.statement.split()):
            return Verification(Verdict.REJECTED, "the statement differs from the benchmark's", item.source, 0.0)
        proof = Proof((parts.proof,))
    else:
        proof = Proof(item.tactics if item.tactics is not None else ((item.body or ""),))
    return await prover.verify(theorem, proof)


async def run_check(args: CheckArgs, console: Any = None) -> tuple[int, list[Outcome]]:
    validate(args)
    submissions = read_submissions(args)
    isabelle = any(s.isabelle for s in submissions)
    if isabelle and args.statement_set is not None:
        raise UserError("--statement-set names a Lean 4 set; Isabelle proofs are checked against the Isabelle "
                        "miniF2F statements (or --data FILE)")
    if isabelle:
        isabelle_preflight()
        from ..provers.isabelle.options import IsabelleOptions
        from ..provers.isabelle.prover import PisaProver

        backend: Any = PisaProver(IsabelleOptions.from_env())
    else:
        backend = await lean_checker(args)
    theorems = await load_statements(args, isabelle)
    submissions = [s.resolve(theorems) for s in submissions]
    unknown = [s.name for s in submissions if s.name not in theorems]
    if len(unknown) == len(submissions):
        raise UserError(f"no proof names a theorem of the statement set (e.g. '{unknown[0]}')")
    if isabelle:
        await backend.start()
    started = time.monotonic()

    async def one(item: Submission) -> Outcome:
        theorem = theorems.get(item.name)
        if theorem is None:
            return Outcome(item, Verification(Verdict.REJECTED, "no statement of this name in the statement set", "", 0.0,
                                              {"layer": "statement"}))
        if isabelle:
            return Outcome(item, await check_isabelle(backend, theorem, item))
        if theorem.language is not Language.LEAN4:
            return Outcome(item, Verification(Verdict.REJECTED, "not a Lean 4 statement", "", 0.0))
        return Outcome(item, await check_lean(backend, theorem, item))

    try:
        outcomes = list(await asyncio.gather(*(one(s) for s in submissions)))
    finally:
        if isabelle:
            await backend.close()
    if console is not None:
        console.print(f"checked {len(outcomes)} proofs in {time.monotonic() - started:.1f} s")
    code = 0 if all(o.verification.verdict is Verdict.ACCEPTED for o in outcomes) else 1
    return code, outcomes


def summary_table(outcomes: Sequence[Outcome]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    colours = {Verdict.ACCEPTED: "green", Verdict.REJECTED: "red", Verdict.UNCHECKED: "yellow"}
    table = Table(title="llemma-prove check")
    for column in ("theorem", "verdict", "layer", "time", "reason"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        v = o.verification
        colour = colours[v.verdict]
        table.add_row(escape(o.submission.name), f"[{colour}]{v.verdict.value}[/{colour}]",
                      escape(str(v.details.get("layer") or "")), f"{v.elapsed_s:.1f} s", escape(v.reason[:300]))
    counts = {verdict: sum(o.verification.verdict is verdict for o in outcomes) for verdict in Verdict}
    table.caption = ", ".join(f"{counts[v]} {v.value}" for v in Verdict) + " (only accepted counts as proved)"
    return table


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check_command(
        input: Path = typer.Argument(..., help="A .lean or .thy file, or a JSONL of {name, proof} / {name, formal_proof}."),
        statement_set: Optional[str] = options.statement_set(),
        data: Optional[Path] = options.data(),
        prover: str = typer.Option("lean", "--prover", help="For a JSONL: lean or isabelle."),
        lean_project: Optional[Path] = options.lean_project(),
        workers: Optional[int] = typer.Option(None, "--workers", help="Proofs checked at once (default: as the search)."),
        timeout: float = typer.Option(300.0, "--timeout", help="Seconds per process of the check."),
        memory_limit_mb: Optional[int] = typer.Option(None, "--memory-limit-mb", help="Address-space cap (0: none)."),
        as_json: bool = typer.Option(False, "--json", help="Print the verdicts as JSON."),
        lean_command: Optional[str] = typer.Option(None, "--lean-command", help="Run this instead of the project's `lean`."),
        lean4checker_command: Optional[str] = typer.Option(None, "--lean4checker-command",
                                                           help="Run this instead of the project's lean4checker."),
    ) -> None:
        """Check proofs with the final check this project trusts (kernel replay, statement, axioms)."""
        from rich.console import Console

        if prover not in ("lean", "isabelle"):
            raise UserError(f"--prover must be lean or isabelle, got {prover!r}")
        args = CheckArgs(input, statement_set, data, prover, lean_project, workers, timeout, memory_limit_mb,
                         as_json, lean_command, lean4checker_command)
        err = stderr_console()
        code, outcomes = asyncio.run(run_check(args, None if as_json else err))
        if as_json:
            counts = {v.value: sum(o.verification.verdict is v for o in outcomes) for v in Verdict}
            typer.echo(json.dumps({"results": [o.to_json() for o in outcomes], "summary": counts}, ensure_ascii=False))
        else:
            Console().print(summary_table(outcomes))
        raise typer.Exit(code)
