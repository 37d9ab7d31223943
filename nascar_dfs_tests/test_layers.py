"""The layout's import rules: the science knows nothing of Dagster or HTTP, and nascar_dfs never the API."""

from __future__ import annotations

import ast
from pathlib import Path

import nascar_dfs

PACKAGE = Path(nascar_dfs.__file__).parent


def _imports(path: Path) -> set[str]:
    """Top-level package of every module `path` imports, including imports inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _offenders(root: Path, forbidden: set[str]) -> dict[str, set[str]]:
    found = {str(p.relative_to(PACKAGE)): _imports(p) & forbidden for p in sorted(root.rglob("*.py"))}
    return {path: names for path, names in found.items() if names}


def test_the_science_imports_neither_dagster_nor_the_web_stack() -> None:
    assert _offenders(PACKAGE / "core", {"dagster", "fastapi", "starlette", "uvicorn", "api"}) == {}


def test_nascar_dfs_never_imports_the_api_package() -> None:
    assert _offenders(PACKAGE, {"api"}) == {}
