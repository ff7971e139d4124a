"""Single theorems from an editor: `sorry` targets in .lean/.thy files, `prove FILE`, the language server.

Modules: `targets` (where the proofs go and what each one must prove), `session` (one target through
the search and the final check), `prove_file` (the `prove` command), `writeback` (exact, atomic
in-place edits), `backends` (configuration, provers and model kept between requests), `lsp_server`
(pygls; imported only by `llemma-prove lsp`).
"""

from .backends import Backends, DefaultBackends, EditorConfig, load_backends
from .errors import (EditorError, FileChanged, NoTarget, ReadOnlySource, SourceNotFound, UnsupportedSource,
                     UnsupportedTarget)
from .prove_file import FileReport, prove_file
from .session import TargetOutcome, prove_target
from .targets import HoleKind, LocatedFile, Target, TextEdit, apply_edits, language_for, locate, proof_edit, select_targets

__all__ = [
    "Backends",
    "DefaultBackends",
    "EditorConfig",
    "EditorError",
    "FileChanged",
    "FileReport",
    "HoleKind",
    "LocatedFile",
    "NoTarget",
    "ReadOnlySource",
    "SourceNotFound",
    "Target",
    "TargetOutcome",
    "TextEdit",
    "UnsupportedSource",
    "UnsupportedTarget",
    "apply_edits",
    "language_for",
    "load_backends",
    "locate",
    "proof_edit",
    "prove_file",
    "prove_target",
    "select_targets",
]
