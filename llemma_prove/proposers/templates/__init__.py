"""Prompt templates shipped with the package (JSON, the shape of the paper's prompt file)."""
