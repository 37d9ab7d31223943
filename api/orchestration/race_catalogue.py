"""Which races exist: Dagster's dynamic "race" partitions, plus races.csv of the data dir."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from api.orchestration.launcher import Launcher, LauncherError

log = logging.getLogger("api.races")


class RaceCatalogue:
    def __init__(self, launcher: Launcher, data_dir: Path | None) -> None:
        self.launcher = launcher
        self.data_dir = data_dir
        self._from_file: list[str] | None = None

    def _file_races(self) -> list[str]:
        if self._from_file is None:
            races: list[str] = []
            path = self.data_dir / "races.csv" if self.data_dir else None
            if path is not None and path.exists():
                with path.open(newline="", encoding="utf-8") as fh:
                    races = [row["race_id"] for row in csv.DictReader(fh) if row.get("race_id")]
            self._from_file = races
        return self._from_file

    def all(self) -> list[str]:
        try:
            dagster = self.launcher.races()
        except LauncherError as exc:
            log.warning("dagster race partitions unavailable: %s", exc)
            dagster = []
        return sorted(set(dagster) | set(self._file_races()))

    def exists(self, race_id: str) -> bool:
        return race_id in set(self.all())
