"""Which Lake project a file's proofs are searched in: the user's own, when there is one.

A `.lean` file that imports the user's modules only elaborates in the user's project, with its
toolchain. The choice, in order: the project named by the user (`--lean-project`, the `leanProject`
option, `$LLEMMA_PROVE_LEAN_PROJECT`); else the Lake projects that enclose the file (the nearest
folder with a `lakefile.lean` or `lakefile.toml`, up to the editor's workspace root, which counts
too), the nearest one whose REPL is built; else the bundled project. When an enclosing project
exists but its REPL is not built, the bundled project is used and `advice` says what to run so the
file's own project is used next time. The REPL then runs with that project's `lake env`, so with its
own toolchain (`lean-toolchain`) and its own built modules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..provers.lean.project import REPL_PACKAGE, REPL_URL, read_toolchain, repl_binary
from ..assembly import LEAN_PROJECT_ENV, lean_project_dir
from .backends import EditorConfig

LAKEFILES = ("lakefile.lean", "lakefile.toml")


@dataclass(frozen=True)
class ProjectChoice:
    """The project to search in, why, and what to run to make the file's own project usable."""

    directory: Path | None  # None: no project at all (the Lean backend reports what to install)
    source: str  # option | environment | enclosing | bundled
    advice: str = ""  # non-empty when an enclosing project was passed over because its REPL is not built

    @property
    def message(self) -> str:
        where = f"{self.directory}" if self.directory else "no Lake project"
        return f"Lean project: {where} ({self.source})" + (f"; {self.advice}" if self.advice else "")


def is_lake_project(folder: Path) -> bool:
    return any((folder / name).is_file() for name in LAKEFILES)


def enclosing_projects(path: Path, workspace_root: Path | None = None) -> list[Path]:
    """Lake projects enclosing `path`, nearest first; the search stops at the workspace root (which is
    included when it is a Lake project) or at the file system's root."""
    start = Path(os.path.abspath(path))
    folder = start if start.is_dir() else start.parent
    root = Path(os.path.abspath(workspace_root)) if workspace_root else None
    found: list[Path] = []
    while True:
        if is_lake_project(folder):
            found.append(folder)
        if root is not None and folder == root:
            break
        if folder.parent == folder:
            break
        folder = folder.parent
    if root is not None and is_lake_project(root) and root not in found:
        found.append(root)
    return found


def repl_built(project: Path) -> bool:
    binary = repl_binary(project)
    return binary.is_file() and os.access(binary, os.X_OK)


def build_advice(project: Path) -> str:
    """What to run so that `project` gets the Lean REPL, at the tag of its own toolchain."""
    toolchain = read_toolchain(project) or ""
    tag = toolchain.rsplit(":", 1)[-1] if ":" in toolchain else "<your Lean version, e.g. v4.24.0>"
    if (project / "lakefile.toml").is_file() and not (project / "lakefile.lean").is_file():
        require = (f'[[require]] name = "{REPL_PACKAGE}", git = "{REPL_URL}", rev = "{tag}" to lakefile.toml')
    else:
        require = f'require {REPL_PACKAGE} from git "{REPL_URL}" @ "{tag}" to lakefile.lean'
    return (f"the Lake project {project} has no built REPL, so the bundled project is used instead; to search in "
            f"your project, add {require}, then run `lake update {REPL_PACKAGE} && lake build {REPL_PACKAGE}/repl` "
            f"in {project}")


def choose_project(file: Path, config: EditorConfig, workspace_root: Path | None = None) -> ProjectChoice:
    """The project for `file` (see the module docstring)."""
    if config.lean_project is not None:
        return ProjectChoice(config.lean_project, "option")
    if os.environ.get(LEAN_PROJECT_ENV):
        return ProjectChoice(Path(os.environ[LEAN_PROJECT_ENV]).expanduser(), "environment")
    candidates = enclosing_projects(file, workspace_root)
    for project in candidates:
        if repl_built(project):
            return ProjectChoice(project, "enclosing")
    bundled = lean_project_dir(EditorConfig().lean_project)
    advice = build_advice(candidates[0]) if candidates and candidates[0] != bundled else ""
    return ProjectChoice(bundled, "bundled", advice)


__all__ = ["ProjectChoice", "build_advice", "choose_project", "enclosing_projects", "is_lake_project", "repl_built"]
