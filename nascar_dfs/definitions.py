"""The one Dagster code location of nascar_dfs.

Every `nascar_dfs.defs.<area>.definitions` module exposing a module-level `defs` is merged here
(found with pkgutil, so a new area needs no edit of this file), together with the shared
resources. Resources are built per call of `build_definitions` so tests can swap them.
"""

import importlib
import pkgutil
import warnings
from collections.abc import Mapping
from typing import Any

import dagster as dg

# Beta/preview APIs used on purpose (MultiToSingleDimensionPartitionMapping); silence them at import
# as dagster-open-platform does, so logs show the warnings that matter.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

import nascar_dfs.defs  # noqa: E402
from nascar_dfs.platform.hooks import PhaseHooks  # noqa: E402
from nascar_dfs.platform.io_manager import NascarIOManager  # noqa: E402
from nascar_dfs.platform.resources import CheckSettings, FitSettings, NascarData, NascarStorage  # noqa: E402


def area_modules() -> list[str]:
    """Names of the `nascar_dfs.defs.<area>.definitions` modules that exist."""
    names = []
    for info in pkgutil.iter_modules(nascar_dfs.defs.__path__):
        if info.ispkg and importlib.util.find_spec(f"nascar_dfs.defs.{info.name}.definitions"):
            names.append(f"nascar_dfs.defs.{info.name}.definitions")
    return sorted(names)


def area_definitions() -> list[dg.Definitions]:
    found = []
    for name in area_modules():
        area = getattr(importlib.import_module(name), "defs", None)
        if not isinstance(area, dg.Definitions):
            raise TypeError(f"{name} must define a module-level `defs = dg.Definitions(...)`")
        found.append(area)
    return found


def default_resources(storage: NascarStorage | None = None) -> dict[str, Any]:
    storage = storage or NascarStorage()
    return {
        "storage": storage,
        "io_manager": NascarIOManager(storage=storage),
        "nascar_data": NascarData(),
        "fit_settings": FitSettings(),
        "check_settings": CheckSettings(),
        "phase_hooks": PhaseHooks(),
    }


def build_definitions(resources: Mapping[str, Any] | None = None) -> dg.Definitions:
    """All areas merged with the platform resources (`resources` replaces defaults by key)."""
    merged = {**default_resources(resources.get("storage") if resources else None), **(resources or {})}
    return dg.Definitions.merge(*area_definitions(), dg.Definitions(resources=merged))


defs = build_definitions()
