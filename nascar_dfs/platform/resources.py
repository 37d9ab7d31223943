"""Resources: where the data and files live, how to fit, and the thresholds of the checks."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import typing
from pathlib import Path
from typing import Any

import dagster as dg

from nascar_dfs.platform import science
from nascar_dfs.platform.storage import SLATES_DIR, resolve_base_path, slate_upload_path

DATA_DIR_ENV = "NASCAR_DFS_DATA_DIR"
SCENARIO_TTL_ENV = "NASCAR_DFS_SCENARIO_TTL_HOURS"
DEFAULT_SCENARIO_TTL_HOURS = 24.0
DATA_FILES = ("races.csv", "cup_results.csv", "loop_data.csv", "tracks.csv", "track_configurations.csv")


class NascarData(dg.ConfigurableResource):
    """The history folder (shared layout). Default: $NASCAR_DFS_DATA_DIR, else the packaged demo data."""

    data_dir: str = ""
    feed_dir: str = ""  # watch folder for weekend feed JSON files; default <data_dir>/feeds

    def root(self) -> Path:
        configured = self.data_dir or os.environ.get(DATA_DIR_ENV, "")
        folder = Path(configured).expanduser() if configured else science.demo_data_dir()
        if not folder.is_dir():
            raise FileNotFoundError(f"NASCAR data folder {folder} does not exist (set {DATA_DIR_ENV})")
        return folder

    def feeds(self) -> Path:
        return Path(self.feed_dir).expanduser() if self.feed_dir else self.root() / "feeds"

    def fingerprint(self) -> str:
        """Content hash of the data files: the race history's data version."""
        digest = hashlib.sha256()
        for name in DATA_FILES:
            path = self.root() / name
            if path.exists():
                digest.update(name.encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()[:16]


class FileStorage(dg.ConfigurableResource):
    """The platform's file storage: the base folder of every stored output, spec and uploaded slate
    (layout in storage.py). Dagster's own run and event storage is the instance's (dagster.yaml)."""

    base_path: str = ""

    def root(self) -> Path:
        return resolve_base_path(self.base_path)

    def slate_upload(self, race: str) -> Path:
        return slate_upload_path(self.root(), race)

    def slates_dir(self) -> Path:
        """The content-addressed slate store (slate_store.py)."""
        return self.root() / SLATES_DIR


def _fit_config_settings() -> dict[str, type]:
    """FitConfig's scalar fields (sampler, chain length, window, diagnostics thresholds) and their
    types; its priors are part of the model, not a setting of a deployment."""
    from nascar_dfs.core.model.fit import FitConfig  # plain Python: PyMC is imported only by a fit

    hints = typing.get_type_hints(FitConfig)
    found: dict[str, type] = {}
    for spec in dataclasses.fields(FitConfig):
        kind = hints[spec.name]
        if typing.get_origin(kind) is typing.Literal:  # sampler: FitConfig itself checks the value
            kind = type(typing.get_args(kind)[0])
        if kind in (bool, int, float, str):
            found[spec.name] = kind
    return found


class _FitOverrides(dg.ConfigurableResource):
    def options(self) -> dict[str, Any]:
        """The settings that were set, as FitConfig keyword arguments."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


# One optional field per FitConfig setting, derived from FitConfig itself, so a new setting of the
# model is configurable here (and in the UI's launchpad) without a second edit.
_FIT_FIELDS = _fit_config_settings()
FitSettings = type(
    "FitSettings",
    (_FitOverrides,),
    {
        "__module__": __name__,
        "__qualname__": "FitSettings",
        "__doc__": "FitConfig overrides; unset ones keep the model's defaults. Tests and the demo set a "
        "short chain here instead of touching the model's defaults.",
        "__annotations__": {name: kind | None for name, kind in _FIT_FIELDS.items()},
        **dict.fromkeys(_FIT_FIELDS),
    },
)


class CheckSettings(dg.ConfigurableResource):
    """Thresholds of the asset checks."""

    rejection_warn: float = 0.20
    rejection_error: float = 0.50
    crps_eval_races: int = 3  # completed races after the training cutoff scored per model
    crps_eval_scenarios: int = 1000
    crps_drift_window: int = 10  # earlier CRPS values the band is computed from
    crps_drift_sigmas: float = 3.0
    crps_drift_min_history: int = 3
    model_max_age_days: float = 7.0
    # Largest gap between a simulated contest field's ownership and the projection (fractions); a
    # driver may also stray by 4 binomial standard errors of the field's size (sampling noise).
    ownership_tolerance: float = 0.03


def scenario_ttl_hours(env: typing.Mapping[str, str] | None = None) -> float:
    """How long a scenario set is reused by lineup requests: $NASCAR_DFS_SCENARIO_TTL_HOURS, else 24 h.

    The one setting of it: the CLI, the benchmarks and the API plan with this value.
    """
    raw = (os.environ if env is None else env).get(SCENARIO_TTL_ENV, "")
    if not raw:
        return DEFAULT_SCENARIO_TTL_HOURS
    try:
        hours = float(raw)
    except ValueError:
        hours = float("nan")
    if not hours > 0:
        raise ValueError(f"{SCENARIO_TTL_ENV}={raw!r}: expected a number of hours above 0")
    return hours
