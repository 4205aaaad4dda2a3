"""The house rules of docs/architecture.md, checked on the source: no import circles, each layer
imports only layers below it, sub-packages are entered through their public API, and the Prefect
flows are imported by the command line only.

Imports are read from the syntax tree, so function-level and ``TYPE_CHECKING`` imports count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

#: layer of each sub-package of bmsc_dge (and of the flows); a layer imports lower layers only
LAYERS: dict[str, int] = {
    # 0: the domain errors
    "errors": 0,
    # 1: foundations, importing at most the errors
    "bmsc_dge": 1,
    "calls": 1,
    "_atomic": 1,
    "_fork": 1,
    "engines": 1,
    "config": 1,
    "simulate": 1,
    "testing": 1,
    "_prefect_server": 1,
    "_workers": 1,
    # 2: files, gene sets, the engine, plotting; the background server's supervisor
    "_supervisor": 2,
    "io": 2,
    "genesets": 2,
    "deseq2": 2,
    "pl": 2,
    # 3: on top of the engine
    "pp": 3,
    "enrichment": 3,
    "runs": 3,
    # 4: a study assembled; targets ranked
    "study": 4,
    "targets": 4,
    # 5-6: several studies; one contrast end to end (the shared code path)
    "meta": 5,
    "tl": 6,
    # 7-9: outputs, orchestration, the command line
    "report": 7,
    "flows": 8,
    "cli": 9,
    # 10: the console script, which hands a command to a warm worker or runs it in its process
    "_warm": 10,
}


def _modules() -> dict[str, Path]:
    mods = {}
    for base, prefix in ((ROOT / "src" / "bmsc_dge", "bmsc_dge"), (ROOT / "flows", "flows")):
        for p in base.rglob("*.py"):
            parts = [prefix, *p.relative_to(base).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = p
    return mods


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module -> library modules it imports (the most specific module each import names)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        package = m if path.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                names = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
            for n in names:
                if n.split(".")[0] in ("bmsc_dge", "flows"):
                    target = _resolve(n, mods)
                    if target and target != m:
                        graph[m].add(target)
    return graph


def _package(module: str) -> str:
    parts = module.split(".")
    return "flows" if parts[0] == "flows" else (parts[1] if len(parts) > 1 else "bmsc_dge")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    assert _cycles(import_graph()) == []


def test_every_package_has_a_layer_and_imports_only_lower_layers():
    graph = import_graph()
    packages = {_package(m) for m in graph}
    assert packages <= set(LAYERS), f"add {sorted(packages - set(LAYERS))} to LAYERS and docs/architecture.md"
    wrong = sorted(
        f"{m} -> {t}"
        for m, targets in graph.items()
        for t in targets
        if _package(m) != _package(t) and LAYERS[_package(t)] >= LAYERS[_package(m)]
    )
    assert wrong == []


def test_other_packages_use_a_sub_package_through_its_public_api():
    graph = import_graph()
    private = sorted(
        f"{m} -> {t}"
        for m, targets in graph.items()
        for t in targets
        if _package(m) != _package(t) and any(p.startswith("_") for p in t.split(".")[2:])
    )
    assert private == []


def test_flows_are_imported_by_the_command_line_only():
    graph = import_graph()
    users = sorted(m for m, targets in graph.items() if any(_package(t) == "flows" for t in targets))
    assert all(m.startswith(("bmsc_dge.cli", "flows")) for m in users), users


def test_the_check_sees_a_circle_when_there_is_one():
    """The cycle finder is not vacuous."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
