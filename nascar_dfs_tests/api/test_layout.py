"""The API's layout holds: no import cycle between its modules or its parts, each part imports only
the parts below it (docs/api.md, "Layout"), and nascar_dfs is reached only through its public
surface."""

from __future__ import annotations

import pytest

from nascar_dfs_tests.import_graph import (
    by_unit,
    cycles,
    importing,
    internal,
    module_imports,
    within,
)

# Each part of api/ (a subpackage, or a module directly in api/) -> the parts it may import.
MAY_IMPORT: dict[str, set[str]] = {
    "api": set(),
    "api.core": set(),
    "api.models": {"api.core"},
    "api.services": {"api.core", "api.models"},
    "api.orchestration": {"api.core", "api.models", "api.services"},
    "api.observability": {"api.core", "api.models", "api.orchestration"},
    "api.context": {"api.core", "api.observability", "api.orchestration", "api.services"},
    "api.deps": {"api.context", "api.core", "api.services"},
    "api.routes": {"api.context", "api.core", "api.deps", "api.models", "api.observability", "api.services"},
    "api.problem_handlers": {"api.core", "api.services"},
    "api.openapi": {"api.core", "api.observability"},
    "api.app": {
        "api.context",
        "api.core",
        "api.observability",
        "api.openapi",
        "api.orchestration",
        "api.problem_handlers",
        "api.routes",
    },
    "api.keys_cli": {"api.core", "api.services"},
}
# What api/ may use of nascar_dfs: the science, the platform library's read and launch surface,
# the graph store and the CLI's error type (the api-keys command plugs into `nascar-dfs`).
NASCAR_DFS_SURFACE = (
    "nascar_dfs.core",
    "nascar_dfs.platform.reads",
    "nascar_dfs.platform.launch",
    "nascar_dfs.platform.race_week",
    "nascar_dfs.graph",
    "nascar_dfs.cli",
)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return module_imports("api")


def test_no_module_of_the_api_imports_itself_back(graph: dict[str, set[str]]) -> None:
    assert cycles(internal(graph, "api")) == []


def test_each_part_of_the_api_imports_only_the_parts_below_it(graph: dict[str, set[str]]) -> None:
    parts = by_unit(internal(graph, "api"), 2)
    assert set(parts) == set(MAY_IMPORT), "a part of api/ came or went: place it in MAY_IMPORT"
    upward = {part: imports - MAY_IMPORT[part] for part, imports in parts.items()}
    assert {part: names for part, names in upward.items() if names} == {}
    assert cycles(MAY_IMPORT) == []


def test_the_api_uses_nascar_dfs_only_through_its_public_surface(graph: dict[str, set[str]]) -> None:
    beyond = {
        module: sorted(name for name in names if not within(name, NASCAR_DFS_SURFACE))
        for module, names in importing(graph, ["nascar_dfs"]).items()
    }
    assert {module: names for module, names in beyond.items() if names} == {}
