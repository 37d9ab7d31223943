"""The one Dagster code location of nascar_dfs: the folders of `nascar_dfs/defs/`, loaded as `dg`
loads a project (every module's assets, checks, jobs, schedules and sensors, and what a module's
`@dg.definitions` function returns), merged with the platform's resources.

`dg.load_from_defs_folder` finds the defs folder through pyproject.toml, which an installed image
(`pip install .`, deploy/k8s/README.md) does not carry beside the package; the component tree it
builds is built here from the package itself, so a checkout and an image load the same thing
(nascar_dfs_tests/test_definitions.py compares the two). Resources are merged per call of
`build_definitions`, so tests and their code locations can replace them by key.
"""

import functools
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

# Beta/preview APIs used on purpose (MultiToSingleDimensionPartitionMapping); silence them at import
# as dagster-open-platform does, so logs show the warnings that matter.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

import nascar_dfs.defs  # noqa: E402
from nascar_dfs.platform.hooks import PhaseHooks  # noqa: E402
from nascar_dfs.platform.io_manager import NascarIOManager  # noqa: E402
from nascar_dfs.platform.resources import CheckSettings, FileStorage, FitSettings, NascarData  # noqa: E402

PROJECT_ROOT = Path(nascar_dfs.__file__).resolve().parent.parent


@functools.cache
def area_definitions() -> dg.Definitions:
    """Everything under nascar_dfs/defs/ (built once per process: the modules load once anyway)."""
    return dg.ComponentTree.from_module(defs_module=nascar_dfs.defs, project_root=PROJECT_ROOT).build_defs()


def default_resources(storage: FileStorage | None = None) -> dict[str, Any]:
    storage = storage or FileStorage()
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
    return dg.Definitions.merge(area_definitions(), dg.Definitions(resources=merged))


defs = build_definitions()
