"""Single theorems from an editor: `sorry` targets in .lean/.thy files, `prove FILE`, the language server.

Modules: `targets` with `lean_targets` / `isabelle_targets` (where the proofs go and what each one
must prove), `session` (targets through the search and the final check; suggestions), `prove_file`
(the `prove` command), `reanchor` (a proof moved onto a changed text), `project` (the user's Lake
project), `writeback` (exact, atomic in-place edits), `backends` (configuration, provers and model
kept between requests), `lsp_server` (pygls; only for `llemma-prove lsp`), `mcp_server` (the `mcp`
SDK; only for `llemma-prove mcp`).
"""

from .backends import Backends, DefaultBackends, EditorConfig, load_backends
from .errors import (EditorError, FileChanged, NoTarget, ReadOnlySource, SourceNotFound, UnsupportedSource,
                     UnsupportedTarget)
from .prove_file import FileReport, prove_file
from .project import ProjectChoice, choose_project
from .session import Suggestion, TargetOutcome, prove_declaration, prove_target, recheck, suggest_steps
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
    "ProjectChoice",
    "Suggestion",
    "ReadOnlySource",
    "SourceNotFound",
    "Target",
    "TargetOutcome",
    "TextEdit",
    "UnsupportedSource",
    "UnsupportedTarget",
    "apply_edits",
    "choose_project",
    "language_for",
    "load_backends",
    "locate",
    "proof_edit",
    "prove_declaration",
    "prove_file",
    "prove_target",
    "recheck",
    "select_targets",
    "suggest_steps",
]
