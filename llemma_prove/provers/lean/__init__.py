"""Lean 4 backend: the REPL driver and worker pool, the sound final check, the pinned Lake project,
and the optional LeanDojo adapter (`dojo.py`, extra `dojo`)."""

from .options import LeanOptions
from .project import lean_health
from .prover import LeanReplProver, LeanReplSession
from .setup import setup_lean

__all__ = ["LeanOptions", "LeanReplProver", "LeanReplSession", "lean_health", "setup_lean"]
