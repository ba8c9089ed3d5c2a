"""The package's shape, checked: layers import only downwards, no import cycles, no function-level imports of
sparsity modules, `import sparsity` stays light, and modules stay small (DESIGN.md, Layout)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "sparsity"

# rank of each top-level part of the package: a module may import from a lower rank, or from inside its own
# part (a package's modules import each other; cycles are checked separately).
RANKS = {
    "_version": 0,
    "_array_api": 0,
    "_threads": 0,
    "_checks": 0,
    "_input": 1,
    "curves": 2,
    "measures": 2,
    "synthetic": 2,
    "weights": 2,
    "expected": 3,
    "tails": 3,
    "linalg": 3,
    "layers": 4,
    "harness": 5,
    "cli": 6,
    "__main__": 7,
    "__init__": 7,
}
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80  # code lines, the docstring not counted


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path) -> tuple[set[str], list[tuple[int, str]]]:
    """(sparsity modules imported at module level, [(line, target)] imported inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top: set[str] = set()
    inner: list[tuple[int, str]] = []

    def targets(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        assert isinstance(node, ast.ImportFrom)
        base = _resolve(node, module, path.name == "__init__.py")
        # `from sparsity.tails import _fit` imports the submodule sparsity.tails._fit
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for t in targets(child):
                    if t == "sparsity" or t.startswith("sparsity."):
                        (inner.append((child.lineno, t)) if in_function else top.add(t))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return top, inner


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_has_a_rank():
    assert {_part(m) for m in MODULES} <= set(RANKS), sorted({_part(m) for m in MODULES} - set(RANKS))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_layers_import_only_downwards(module):
    own = _part(module)
    bad = []
    for target in sorted(GRAPH[module][0]):
        other = _part(target)
        if other != own and RANKS[other] >= RANKS[own]:
            bad.append(f"{target} (rank {RANKS[other]} >= {own}'s {RANKS[own]})")
    assert not bad, f"{module} imports upwards or sideways: {bad}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_function_level_imports_of_sparsity(module):
    assert not GRAPH[module][1], f"{module} imports inside functions: {GRAPH[module][1]}"


def test_no_import_cycles():
    def deps(m: str) -> set[str]:
        # importing a.b.c runs a.b's __init__ too; both count as edges
        out = set()
        for t in GRAPH[m][0]:
            while t not in MODULES and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in MODULES and t != m and not m.startswith(t + "."):
                out.add(t)
        return out

    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(deps(m)):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(d) :], d]))
            if d not in state:
                dfs(d)
        stack.pop()
        state[m] = 2

    for m in sorted(MODULES):
        if m not in state:
            dfs(m)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_stay_small(module):
    path = MODULES[module]
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{path.name}: {text.count(chr(10))} lines; split it"
    long = [
        f"{node.name} ({n} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (n := _code_lines(node)) > MAX_FUNCTION_LINES
    ]
    assert not long, f"{module}: functions over {MAX_FUNCTION_LINES} code lines: {long}"


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function without its docstring."""
    total = (node.end_lineno or node.lineno) - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        total -= (first.end_lineno or first.lineno) - first.lineno + 1
    return total


def test_import_stays_light():
    code = (
        "import sys, sparsity\n"
        "heavy = ('cupy', 'torch', 'powerlaw', 'weightwatcher', 'scipy.stats', 'scipy.optimize', 'scipy.interpolate',\n"
        "         'scipy.integrate', 'matplotlib', 'pandas', 'dask')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import sparsity imported: {out.stdout.strip()}"
