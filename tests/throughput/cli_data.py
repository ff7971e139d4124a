"""A small local statements file for the command-line tests of the engine flags."""

from __future__ import annotations

import json
from pathlib import Path

NAMES = [f"mathd_algebra_{i}" for i in range(1, 9)]
HEADER = "import Mathlib\n\n"


def write_statements(path: Path, names=NAMES) -> Path:
    rows = [{"name": n, "split": "test", "header": HEADER, "formal_statement": f"theorem {n} (x : ℕ) : x = x := by sorry"}
            for n in names]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
