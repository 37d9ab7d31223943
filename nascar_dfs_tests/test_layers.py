"""The layout's import rules, read from the source (every import, including those inside functions):

    api/  ->  nascar_dfs.platform (reads, launch)  ->  nascar_dfs.core
               nascar_dfs.defs  ->  nascar_dfs.platform, nascar_dfs.core

`core` is the science and knows nothing of Dagster, HTTP or the platform; `platform` is what the
definitions share and never imports them; nothing of nascar_dfs imports the API; no import cycle
anywhere in product code; the benchmarks stand on the product alone, not on the tests.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import nascar_dfs

PACKAGE = Path(nascar_dfs.__file__).parent
REPO = PACKAGE.parent
PRODUCT = ("nascar_dfs", "api")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST, inside_functions: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run: not under `if TYPE_CHECKING`, and in function bodies only when asked."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _import_nodes(ast.Module(body=node.orelse, type_ignores=[]), inside_functions)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            if inside_functions:
                yield from _import_nodes(node, inside_functions)
        else:
            yield from _import_nodes(node, inside_functions)


def _is_module(name: str) -> bool:
    where = REPO.joinpath(*name.split("."))
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def _imported(path: Path, inside_functions: bool = True) -> set[str]:
    """Every module `path` imports: `from a.b import c` is a.b.c when c is a module of this tree
    (a submodule import needs nothing else of the package), else a.b."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    names: set[str] = set()
    for node in _import_nodes(tree, inside_functions):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            names.add(f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base)
    return names


def _sources(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py"))


def _offenders(root: Path, forbidden: tuple[str, ...]) -> dict[str, set[str]]:
    """Files under `root` importing a module that is, or lies under, one of `forbidden`."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        hits = {m for m in _imported(path) if any(m == f or m.startswith(f"{f}.") for f in forbidden)}
        if hits:
            found[str(path.relative_to(REPO))] = hits
    return found


def _cycles(inside_functions: bool, *roots: str) -> list[list[str]]:
    """Strongly connected groups of more than one module (or a module importing itself)."""
    files = {_module_name(p): p for p in _sources(*roots)}
    edges = {
        m: {i for i in _imported(p, inside_functions) if i in files and i != m} for m, p in files.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(edges[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(files):
        if module not in index:
            visit(module)
    return groups


def test_the_science_imports_neither_dagster_nor_the_web_stack_nor_the_platform() -> None:
    forbidden = ("dagster", "dagster_graphql", "dagster_postgres", "dagster_k8s", "fastapi", "starlette",
                 "uvicorn", "api", "nascar_dfs.platform", "nascar_dfs.defs", "nascar_dfs.definitions",
                 "nascar_dfs.commands", "nascar_dfs.cli")  # fmt: skip
    assert _offenders(PACKAGE / "core", forbidden) == {}


def test_the_platform_library_never_imports_the_definitions() -> None:
    assert _offenders(PACKAGE / "platform", ("nascar_dfs.defs", "nascar_dfs.definitions")) == {}


def test_nascar_dfs_never_imports_the_api_package() -> None:
    assert _offenders(PACKAGE, ("api",)) == {}


def test_no_import_cycle_in_product_code_at_module_level() -> None:
    assert _cycles(False, *PRODUCT) == []


def test_no_import_cycle_in_product_code_even_through_imports_inside_functions() -> None:
    assert _cycles(True, *PRODUCT) == []


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from loop import b\n")
    (package / "b.py").write_text("def later():\n    from loop.a import thing\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from loop import a\n"
    )
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    assert _cycles(False, "loop") == []
    assert _cycles(True, "loop") == [["loop.a", "loop.b"]]


def test_no_benchmark_uses_the_tests() -> None:
    offenders = _offenders(REPO / "benchmarks", ("nascar_dfs_tests",))
    # Nor as a module name handed to a subprocess (a code location for `dagster -m`); prose is fine.
    named = set()
    for path in _sources("benchmarks"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        prose = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
        if any(
            isinstance(n, ast.Constant) and isinstance(n.value, str) and "nascar_dfs_tests" in n.value
            for n in ast.walk(tree)
            if id(n) not in prose
        ):
            named.add(str(path.relative_to(REPO)))
    assert offenders == {} and named == set()
