"""Verifies that imports between luo-verify's modules go one way: no cycles, and the
model never imports the properties, the checkers or the reference implementation.

Every import statement of every module counts, including imports inside functions;
imports under ``if TYPE_CHECKING:`` do not (they never run). A package's ``__init__`` is
a module of its own: ``from luoverify.model import state`` is an edge to
``luoverify.model.state``, ``from luoverify.model import Design`` one to
``luoverify.model`` (the ``__init__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
#: package -> folder, as pyproject.toml maps them
PACKAGES = {
    "luoverify.model": "model",
    "luoverify.reference": "reference",
    "luoverify.specs": "specs",
    "luoverify.checks": "checks",
}


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for pkg, folder in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            mods[".".join([pkg, *parts])] = path
    return mods


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING"))


def _imports(tree: ast.AST) -> list[tuple[str, list[str]]]:
    """(module, names) of every import statement outside TYPE_CHECKING blocks."""
    found: list[tuple[str, list[str]]] = []

    def walk(node: ast.AST) -> None:
        if _type_checking_block(node):
            assert isinstance(node, ast.If)
            for child in node.orelse:
                walk(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"relative import of {node.module!r}: use the full name"
            assert node.module is not None
            found.append((node.module, [alias.name for alias in node.names]))
        for child in ast.iter_child_nodes(node):
            walk(child)

    walk(tree)
    return found


def import_graph() -> nx.DiGraph:
    mods = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(mods)
    for mod, path in mods.items():
        for target, names in _imports(ast.parse(path.read_text(), str(path))):
            if not target.startswith("luoverify."):
                continue
            targets = [f"{target}.{n}" for n in names if f"{target}.{n}" in mods]
            if len(targets) < len(names) or not names:
                targets.append(target)  # a name defined in the module (or __init__)
            for t in targets:
                assert t in mods, f"{mod} imports {t}, which is not a module of the project"
                if t != mod:
                    graph.add_edge(mod, t)
    return graph


def test_graph_sees_every_module() -> None:
    graph = import_graph()
    assert {"luoverify.model", "luoverify.model.luo", "luoverify.reference.driver",
            "luoverify.checks.cli", "luoverify.specs.properties"} <= set(graph)
    assert graph.number_of_edges() > 50


def test_no_import_cycle() -> None:
    cycles = sorted(sorted(c) for c in nx.strongly_connected_components(import_graph())
                    if len(c) > 1)
    assert not cycles, f"import cycles: {cycles}"


def test_model_imports_only_the_model() -> None:
    graph = import_graph()
    wrong = sorted((a, b) for a, b in graph.edges
                   if a.startswith("luoverify.model") and not b.startswith("luoverify.model"))
    assert not wrong, f"the model imports from outside it: {wrong}"


#: which packages each package may import (besides itself): the layers of README.md
ALLOWED = {
    "luoverify.model": set(),
    "luoverify.reference": {"luoverify.model"},
    "luoverify.specs": {"luoverify.model"},
    "luoverify.checks": {"luoverify.model", "luoverify.reference", "luoverify.specs"},
}


def _package(module: str) -> str:
    return next(p for p in PACKAGES if module == p or module.startswith(p + "."))


def test_layers() -> None:
    """Verifies the layering: reference and specs are peers that import only the model,
    and only the checkers import all three."""
    graph = import_graph()
    wrong = sorted((a, b) for a, b in graph.edges
                   if _package(a) != _package(b) and _package(b) not in ALLOWED[_package(a)])
    assert not wrong, f"imports across layers: {wrong}"


def test_a_cycle_is_found() -> None:
    """The checker itself: an import inside a function closes a cycle it reports."""
    tree = ast.parse("def f():\n    from luoverify.checks import cli\n"
                     "if TYPE_CHECKING:\n    import luoverify.specs\n")
    assert _imports(tree) == [("luoverify.checks", ["cli"])]
