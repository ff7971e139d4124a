"""The package's layering, read from the source with `ast`: nothing imports upward, the providers do
not import each other, no module outside `commands/` and `cli.py` imports them, and the package never
imports `tests`. Every import counts, also those inside functions (a lazy import is still a dependency).

Layers, bottom to top (a module may import its own layer's group or any lower layer):
values and protocols -> statement data and config values -> providers (search | proposers | provers,
side by side) -> engine (runner, store, report, ...) -> assembly (and the plug-in registry) ->
services that assemble runs (editor, distributed, doctor) -> commands and cli.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "llemma_prove"

# (module prefix, layer rank, group). Longest prefix wins. Same rank, different group: peers that must
# not import each other.
LAYERS: list[tuple[str, int, str]] = [
    ("llemma_prove", 0, "values"),  # the package's __init__ (its version) only
    ("llemma_prove.types", 0, "values"),
    ("llemma_prove.interfaces", 0, "values"),
    ("llemma_prove.errors", 0, "values"),
    ("llemma_prove.textscan", 0, "values"),
    ("llemma_prove.waits", 0, "values"),
    ("llemma_prove.processes", 0, "values"),
    ("llemma_prove.vocabulary", 0, "values"),
    ("llemma_prove.console", 0, "values"),  # the one stderr console that logs and progress bars share
    ("llemma_prove.sizing", 0, "values"),  # machine facts and the default concurrency rule
    ("llemma_prove.search.config", 1, "data"),
    ("llemma_prove.search.result", 1, "data"),
    ("llemma_prove.autoformalize.holes", 1, "data"),
    ("llemma_prove.autoformalize.protocols", 1, "data"),
    ("llemma_prove.data", 1, "data"),
    ("llemma_prove.config", 2, "config"),
    ("llemma_prove.search", 3, "search"),
    ("llemma_prove.proposers", 3, "proposers"),
    ("llemma_prove.provers", 3, "provers"),
    # statement loading that reads theory files with the Isabelle parser
    ("llemma_prove.data.isabelle_minif2f", 4, "engine"),
    ("llemma_prove.runner", 4, "engine"),
    ("llemma_prove.store", 4, "engine"),
    ("llemma_prove.report", 4, "engine"),
    ("llemma_prove.plots", 4, "engine"),
    ("llemma_prove.compare", 4, "engine"),
    ("llemma_prove.viewer", 4, "engine"),
    ("llemma_prove.autoformalize", 4, "engine"),
    ("llemma_prove.learning", 4, "engine"),  # datasets from runs, training, the expert-iteration loop
    ("llemma_prove.plugins", 5, "assembly"),
    ("llemma_prove.builtin_plugins", 5, "assembly"),
    ("llemma_prove.assembly", 5, "assembly"),
    ("llemma_prove.editor", 6, "services"),
    ("llemma_prove.distributed", 6, "services"),
    ("llemma_prove.doctor", 6, "services"),
    ("llemma_prove.commands", 7, "commands"),
    ("llemma_prove.cli", 7, "commands"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, name: str | None = None) -> set[str]:
    """Every module `path` imports (absolute names; `from X import y` counts as X and X.y)."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> tuple[int, str] | None:
    best = None
    for prefix, rank, group in LAYERS:
        if module == prefix or (prefix != "llemma_prove" and module.startswith(prefix + ".")):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, rank, group)
    return None if best is None else (best[1], best[2])


def known_module(name: str, modules: set[str]) -> str | None:
    """The package module an imported name refers to (`a.b.C` -> `a.b` when `C` is not a module)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def package_edges() -> list[tuple[str, str]]:
    edges = graph()
    modules = set(edges)
    out = set()
    for source, targets in edges.items():
        for target in targets:
            resolved = known_module(target, modules) if target.startswith("llemma_prove") else None
            if resolved and resolved != source:
                out.add((source, resolved))
    return sorted(out)


def test_every_module_has_a_layer():
    unplaced = [m for m in graph() if layer(m) is None]
    assert not unplaced, f"modules with no layer in tests/test_layers.py: {unplaced}"


def test_the_package_never_imports_tests():
    offenders = sorted(f"{m} imports {t}" for m, ts in graph().items() for t in ts
                       if t == "tests" or t.startswith("tests."))
    assert not offenders, offenders


def test_only_commands_and_cli_import_commands_or_cli():
    offenders = []
    for source, target in package_edges():
        if target.startswith(("llemma_prove.commands", "llemma_prove.cli")) and not source.startswith(
            ("llemma_prove.commands", "llemma_prove.cli")
        ):
            offenders.append(f"{source} imports {target}")
    assert not offenders, offenders


def test_nothing_imports_upward_or_sideways():
    offenders = []
    for source, target in package_edges():
        (s_rank, s_group), (t_rank, t_group) = layer(source), layer(target)  # type: ignore[misc]
        if t_rank > s_rank or (t_rank == s_rank and t_group != s_group):
            offenders.append(f"{source} ({s_group}) imports {target} ({t_group})")
    assert not offenders, "\n".join(offenders)


def test_the_layer_graph_has_no_cycle():
    """Redundant with the rank rule while every edge goes down, but it states the property itself."""
    groups: dict[str, set[str]] = defaultdict(set)
    for source, target in package_edges():
        a, b = layer(source)[1], layer(target)[1]  # type: ignore[index]
        if a != b:
            groups[a].add(b)
    seen: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in groups.get(node, ()):
            assert seen.get(nxt) != 1, f"layer cycle: {' -> '.join(path + [node, nxt])}"
            if nxt not in seen:
                visit(nxt, path + [node])
        seen[node] = 2

    for node in list(groups):
        if node not in seen:
            visit(node, [])


def test_the_checker_sees_a_planted_upward_import(tmp_path):
    """The parser itself: a relative import from inside a function is found and resolved."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..commands import minif2f\n", encoding="utf-8")
    found = imports(probe, "llemma_prove.distributed.probe")
    assert "llemma_prove.commands.minif2f" in found
    assert layer("llemma_prove.distributed.probe")[0] < layer("llemma_prove.commands.minif2f")[0]
