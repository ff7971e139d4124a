"""Scripted proof worlds for the pipelining tests: test doubles with branching, dead ends and delays.

Each theorem gets a small tree of states; which tactic proves, fails, times out or opens a new state,
and how long each step takes, is fixed by crc32 of the names, so a test can run the same world twice
(alone and under concurrency) and compare. Delays differ per step so that concurrent searches finish
their steps in scrambled order.
"""

from __future__ import annotations

import zlib

from llemma_prove.types import Theorem
from tests.doubles.scripted import ScriptedProposer, ScriptedProver, fails, goes_to, proves, times_out

TACTICS = ("simp", "linarith", "norm_num", "omega")


def _u(*parts: str) -> float:
    return zlib.crc32("\x00".join(parts).encode()) / 2**32


def world(count: int, depth: int = 3, max_delay_s: float = 0.006) -> tuple[list[Theorem], ScriptedProver, ScriptedProposer]:
    script: dict[str, dict] = {}
    table: dict[str, list[tuple[str, float]]] = {}
    roots: dict[str, str] = {}
    theorems = []
    for i in range(count):
        name = f"thm_{i:02d}"
        theorems.append(Theorem(name, f"theorem {name} : P{i} := by sorry"))
        roots[name] = root = f"⊢ P{i}"
        frontier = [(root, 0)]
        while frontier:
            state, level = frontier.pop()
            edges, rows = {}, []
            for tactic in TACTICS:
                u = _u(name, state, tactic)
                delay = max_delay_s * _u("delay", state, tactic)
                rows.append((tactic, -round(5 * _u("score", state, tactic), 3)))
                if level == depth - 1 and u < 0.3:
                    edges[tactic] = proves(delay)
                elif level < depth - 1 and u < 0.55:
                    child = f"{state}\nh{level}_{tactic} : step"
                    edges[tactic] = goes_to(child, delay)
                    frontier.append((child, level + 1))
                elif u > 0.93:
                    edges[tactic] = times_out(delay)
                else:
                    edges[tactic] = fails("no progress", delay)
            script[state], table[state] = edges, rows
    return theorems, ScriptedProver(script, roots), ScriptedProposer(table)
