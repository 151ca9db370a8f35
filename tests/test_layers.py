"""The package's layers, read from its source: imports run downward only, and no module imports itself back.

The layers, from the bottom: ``errors``/``tls``, ``core``, ``simulator``, ``agent``, then ``serving``
and ``remote`` (side by side, neither imports the other), ``notebook``, and at the top ``cli``, the
Jupyter extension (``workbench_server_ext``) and the package root, which wires them. Every import
counts, type-only and function-level ones too: a cycle postponed to call time is still a cycle.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEVELS = {
    "errors": 0, "tls": 0, "py": 0,
    "core": 1, "simulator": 2, "agent": 3, "serving": 4, "remote": 4,
    "notebook": 5, "cli": 6, "workbench_server_ext": 6,
    "workbench": 7, "events": 7,  # the package root, and workbench.events: its public name for core.events
}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for base, package in ((ROOT, "workbench"), (ROOT / "server_ext", "workbench_server_ext")):
        for path in (base / package).rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(tree: ast.AST) -> Iterator[str]:
    """Every module of ours that ``tree`` imports (``from a import b`` names ``a.b`` when it is a module)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{alias.name}" for alias in node.names]
            yield from [m for m in submodules if m in MODULES] or [node.module]
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        imports = {m for m in _imported(ast.parse(path.read_text())) if m in MODULES and m != name}
        # importing a module imports its packages' __init__ first: that is no edge of this module's own
        graph[name] = {m for m in imports if not name.startswith(m + ".")}
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "workbench" and len(parts) > 1:
        return parts[1]
    return parts[0]


def test_every_module_belongs_to_a_layer() -> None:
    assert {_layer(m) for m in MODULES} <= set(LEVELS), sorted({_layer(m) for m in MODULES} - set(LEVELS))


def test_layers_import_only_the_layers_below_them() -> None:
    upward = []
    for module, imports in _graph().items():
        for imported in imports:
            mine, theirs = _layer(module), _layer(imported)
            if mine != theirs and LEVELS[theirs] >= LEVELS[mine] and LEVELS[theirs] > 0:
                upward.append(f"{module} imports {imported}")
    assert upward == []


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert cycles == []


def _code_outside_the_package() -> Iterator[tuple[str, str]]:
    for path in [*ROOT.glob("tests/*.py"), *ROOT.glob("bench/**/*.py"), ROOT / "conftest.py"]:
        yield str(path.relative_to(ROOT)), path.read_text()
    for path in ROOT.glob("notebooks/*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        yield str(path.relative_to(ROOT)), "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@pytest.mark.parametrize(("where", "source"), list(_code_outside_the_package()), ids=lambda v: v if "/" in v else "")
def test_nothing_outside_the_package_imports_a_private_module(where: str, source: str) -> None:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a notebook cell with a magic: check its import lines alone
        tree = ast.parse("\n".join(line for line in source.splitlines() if line.lstrip().startswith(("import ", "from "))))
    private = [m for m in _imported(tree)
               if m.split(".")[0] in {"workbench", "workbench_server_ext"}
               and any(part.startswith("_") and part != "__main__" for part in m.split("."))]
    assert private == []
