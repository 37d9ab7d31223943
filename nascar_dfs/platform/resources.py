"""Resources: where the data and files live, how to fit, and the thresholds of the checks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import dagster as dg

from nascar_dfs.platform import science
from nascar_dfs.platform.storage import resolve_base_path

DATA_DIR_ENV = "NASCAR_DFS_DATA_DIR"
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


class NascarStorage(dg.ConfigurableResource):
    """Base folder of every stored output, spec and uploaded slate (see storage.py)."""

    base_path: str = ""

    def root(self) -> Path:
        return resolve_base_path(self.base_path)

    def slate_upload(self, race: str) -> Path:
        return self.root() / "slates" / f"{race}.csv"


class FitSettings(dg.ConfigurableResource):
    """Options forwarded to FitConfig; unset ones keep the model's defaults.

    Tests and the demo set a short chain here instead of touching the model's defaults.
    """

    chains: int | None = None
    tune: int | None = None
    draws: int | None = None
    seed: int | None = None
    cores: int | None = None
    window_seasons: float | None = None
    half_life_seasons: float | None = None
    max_divergences: int | None = None
    max_rhat: float | None = None
    min_ess_bulk: float | None = None
    sampler: str | None = None

    def options(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class CheckSettings(dg.ConfigurableResource):
    """Thresholds of the asset checks and the reuse window of scenario sets."""

    rejection_warn: float = 0.20
    rejection_error: float = 0.50
    crps_eval_races: int = 3  # completed races after the training cutoff scored per model
    crps_eval_scenarios: int = 1000
    crps_drift_window: int = 10  # earlier CRPS values the band is computed from
    crps_drift_sigmas: float = 3.0
    crps_drift_min_history: int = 3
    model_max_age_days: float = 7.0
    scenario_ttl_hours: float = 24.0
    # Largest gap between a simulated contest field's ownership and the projection (fractions); a
    # driver may also stray by 4 binomial standard errors of the field's size (sampling noise).
    ownership_tolerance: float = 0.03
