"""What the Lean REPL driver adds per tactic round trip, against a raw pipe echo in the same run.

Both sides talk to the same kind of stand-in REPL process (tests/doubles/fake_repl.py, a test double
answering from its synthetic world, so Lean's own time is out of the picture):
- raw: write the request bytes to the pipe, read until the blank line; nothing else;
- driver: `LeanReplSession.step` (JSON encoding, the pool's queue, the per-request time limit,
  response parsing into typed values, outcome classification, the session's state bookkeeping).
Rounds alternate between the two so drift hits both. The last line is `overhead_ms: <float>`,
the driver's median minus the raw median, per round trip.

    python benchmarks/repl_overhead.py [--rounds 6] [--per-round 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llemma_prove.processes import ChildProcess, ProcessSpec  # noqa: E402
from llemma_prove.provers.lean import LeanOptions, LeanReplProver  # noqa: E402
from llemma_prove.types import OutcomeKind, Theorem  # noqa: E402

FAKE = ROOT / "tests" / "doubles" / "fake_repl.py"
COMMAND = [sys.executable, "-S", str(FAKE), "--synthetic"]
THEOREM = Theorem("bench", "theorem bench : True := by sorry", header="")
TACTIC = "simp"


async def raw_client() -> tuple[ChildProcess, asyncio.StreamWriter, asyncio.StreamReader]:
    child = ChildProcess(ProcessSpec(argv=COMMAND))
    await child.start()
    assert child.proc is not None and child.proc.stdin is not None and child.proc.stdout is not None
    writer, reader = child.proc.stdin, child.proc.stdout
    writer.write(b'{"cmd": "theorem bench : True := by sorry"}\n\n')
    await writer.drain()
    await reader.readuntil(b"\n\n")
    return child, writer, reader


async def raw_round(writer: asyncio.StreamWriter, reader: asyncio.StreamReader, n: int) -> list[float]:
    request = f'{{"tactic": "{TACTIC}", "proofState": 0}}\n\n'.encode()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        writer.write(request)
        await writer.drain()
        await reader.readuntil(b"\n\n")
        times.append(time.perf_counter() - started)
    return times


async def driver_round(session, root, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        outcome = await session.step(root, TACTIC)
        times.append(time.perf_counter() - started)
        assert outcome.kind is OutcomeKind.GOALS
    return times


async def main(rounds: int, per_round: int) -> None:
    child, writer, reader = await raw_client()
    prover = LeanReplProver(LeanOptions(repl_command=COMMAND, header="", workers=1, memory_limit_mb=0,
                                        max_requests_per_process=10**9))
    await prover.start()
    try:
        session = await prover.open(THEOREM)
        root = await session.initial_state()
        await raw_round(writer, reader, 50)  # warm up both paths
        await driver_round(session, root, 50)
        raw: list[float] = []
        driver: list[float] = []
        for _ in range(rounds):
            raw += await raw_round(writer, reader, per_round)
            driver += await driver_round(session, root, per_round)
    finally:
        await prover.close()
        await child.stop()
    raw_ms = statistics.median(raw) * 1000
    driver_ms = statistics.median(driver) * 1000
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"stand-in REPL (test double): {' '.join(Path(c).name for c in COMMAND[1:])}; {len(raw)} round trips per side")
    print(f"raw pipe echo:  median {raw_ms:.4f} ms, p90 {_p90(raw):.4f} ms")
    print(f"driver step:    median {driver_ms:.4f} ms, p90 {_p90(driver):.4f} ms")
    print(f"ratio driver/raw: {driver_ms / raw_ms:.2f}")
    print(f"overhead_ms: {driver_ms - raw_ms:.4f}")


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))] * 1000


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.per_round))
