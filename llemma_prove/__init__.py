"""llemma-prove: LLEMMA language models + Lean 4 / Isabelle proof assistants for neural theorem proving."""

__version__ = "0.1.0"
