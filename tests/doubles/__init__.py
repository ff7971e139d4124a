"""Test doubles: stand-ins for Lean, Isabelle and models that tests drive. Never used by the product."""
