"""The harness layer's imports: sparsity modules only at module level, never the CLI, and no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import sparsity

ROOT = Path(sparsity.__file__).parent
FILES = [*sorted((ROOT / "harness").glob("*.py")), ROOT / "cli" / "_run.py"]


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, path: Path) -> list[tuple[str, ast.AST]]:
    """(imported sparsity name, node) for every import of a sparsity module in ``tree``, relative ones resolved."""
    found = []
    package = _module(path).split(".") if path.name == "__init__.py" else _module(path).split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node) for a in node.names if a.name.split(".")[0] == "sparsity"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] == "sparsity":
                found += [(f"{base}.{a.name}", node) for a in node.names]
    return found


def test_no_function_level_imports_of_sparsity_and_no_cli_import():
    for path in FILES:
        tree = ast.parse(path.read_text(), str(path))
        module_level = set(map(id, tree.body))
        for name, node in _imports(tree, path):
            assert id(node) in module_level, f"{path.name}:{node.lineno} imports {name} inside a function"
            if path.parent.name == "harness":
                assert not name.startswith("sparsity.cli"), f"{path.name} imports the CLI ({name})"


def test_harness_modules_import_no_cycle():
    graph: dict[str, set[str]] = {}
    modules = set(map(_module, FILES))
    for path in FILES:
        names = {n for n, _ in _imports(ast.parse(path.read_text()), path)}
        # "from sparsity.harness import catalog" names the module itself, "from ...cases import x" its module
        graph[_module(path)] = {n if n in modules else n.rsplit(".", 1)[0] for n in names} & modules
    done: set[str] = set()

    def visit(node: str, stack: tuple[str, ...]) -> None:
        assert node not in stack, "import cycle: " + " -> ".join((*stack, node))
        if node in done:
            return
        for dep in graph.get(node, ()):
            visit(dep, (*stack, node))
        done.add(node)

    for module in graph:
        visit(module, ())
    assert graph["sparsity.harness.runner"] >= {"sparsity.harness.cases", "sparsity.harness.report"}
