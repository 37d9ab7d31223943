"""The import graph of the project's packages, read from their source without importing them, for
the layout tests: which module imports which, its cycles, and the same graph one level up (a
package's subpackages as single nodes).

Every import counts: at module level, inside functions and under TYPE_CHECKING, since an import
moved into a function to dodge a cycle is still that cycle.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterable
from pathlib import Path

Graph = dict[str, set[str]]


def package_root(package: str) -> Path:
    """The folder of a top-level package (found, not imported)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not a package")
    return Path(next(iter(spec.submodule_search_locations)))


def is_module(dotted: str) -> bool:
    """Whether `dotted` names a module or package of the tree its top-level package is in."""
    top, *rest = dotted.split(".")
    try:
        base = package_root(top).joinpath(*rest)
    except ModuleNotFoundError:
        return False
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _modules(package: str) -> dict[str, Path]:
    root = package_root(package)
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(module: str, path: Path) -> set[str]:
    """Dotted names `module` imports: `from x import y` is x.y when that is a module, else x."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if is_module(f"{base}.{alias.name}") else base)
    return out


def module_imports(package: str) -> Graph:
    """Every module of `package` -> the dotted names it imports (inside the package or not)."""
    return {module: _imported(module, path) for module, path in _modules(package).items()}


def internal(graph: Graph, package: str) -> Graph:
    """The graph restricted to imports of `package`'s own modules."""
    inside = set(graph)
    return {m: {t for t in targets if t in inside and t != m} for m, targets in graph.items()}


def by_unit(graph: Graph, depth: int) -> Graph:
    """One level up: each module becomes its first `depth` name parts (a subpackage, or a module
    directly in the package), and imports inside one unit disappear."""

    def unit(name: str) -> str:
        return ".".join(name.split(".")[:depth])

    out: Graph = {}
    for module, targets in graph.items():
        out.setdefault(unit(module), set()).update(unit(t) for t in targets if unit(t) != unit(module))
    return out


def cycles(graph: Graph) -> list[list[str]]:
    """The import cycles: strongly connected components of more than one node, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def within(name: str, prefixes: Iterable[str]) -> bool:
    """Whether the dotted `name` is one of `prefixes` or inside one (whole parts: a.b is not in a.bc)."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def importing(graph: Graph, prefixes: Iterable[str]) -> Graph:
    """For each module that imports anything within `prefixes`, those imported names."""
    wanted = tuple(prefixes)
    found = {m: {t for t in targets if within(t, wanted)} for m, targets in graph.items()}
    return {m: targets for m, targets in found.items() if targets}
